//! Loading Kubernetes objects from files, directories, stdin, multi-document
//! YAML, JSON and `kind: List` (what `helm template` and `kustomize build` print).
//! Every error names the file, the document and the line.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::errors::Error;

/// Where an object came from. `document` and `line` are 1-based; `item` is the
/// 0-based index inside a `kind: List`.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct Source {
    pub file: String,
    pub document: usize,
    pub line: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<usize>,
    /// The YAML text of the document, for tools that rewrite it in place
    /// (keeping comments and key order); `None` for JSON and list items.
    #[serde(skip)]
    pub text: Option<std::sync::Arc<str>>,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)?;
        if let Some(item) = self.item {
            write!(f, " (item {item})")?;
        }
        Ok(())
    }
}

/// One object as loaded, untyped: plugins deserialise what they need.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    pub value: Value,
    pub source: Source,
}

impl Object {
    fn str_at(&self, pointer: &str) -> &str {
        self.value
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or("")
    }
    pub fn api_version(&self) -> &str {
        self.str_at("/apiVersion")
    }
    pub fn kind(&self) -> &str {
        self.str_at("/kind")
    }
    pub fn name(&self) -> &str {
        match self.str_at("/metadata/name") {
            "" => self.str_at("/metadata/generateName"),
            name => name,
        }
    }
    pub fn namespace(&self) -> Option<&str> {
        Some(self.str_at("/metadata/namespace")).filter(|s| !s.is_empty())
    }
    pub fn labels(&self) -> BTreeMap<String, String> {
        string_map(self.value.pointer("/metadata/labels"))
    }
}

/// A JSON object of strings as a map; other values are skipped.
pub fn string_map(value: Option<&Value>) -> BTreeMap<String, String> {
    value
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// A manifest that could not be read as Kubernetes objects.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ManifestError {
    pub file: String,
    pub document: usize,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: document {}: {}",
            self.file, self.line, self.document, self.message
        )
    }
}

/// What `-f` names: a file, a directory, or `-` for stdin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Stdin,
    Path(PathBuf),
}

impl From<&str> for Input {
    fn from(arg: &str) -> Self {
        if arg == "-" {
            Input::Stdin
        } else {
            Input::Path(PathBuf::from(arg))
        }
    }
}

impl From<PathBuf> for Input {
    fn from(path: PathBuf) -> Self {
        Input::Path(path)
    }
}

/// Name shown for stdin in errors and sources.
pub const STDIN_NAME: &str = "<stdin>";

/// Load every object from these inputs, in order. Directories are walked
/// recursively (files ending in .yaml, .yml or .json, sorted by path).
pub fn load(inputs: &[Input]) -> Result<Vec<Object>, Error> {
    let mut objects = Vec::new();
    for input in inputs {
        match input {
            Input::Stdin => {
                let mut text = String::new();
                std::io::stdin()
                    .read_to_string(&mut text)
                    .map_err(|source| Error::Io {
                        path: PathBuf::from(STDIN_NAME),
                        source,
                    })?;
                objects.extend(parse_str(&text, STDIN_NAME)?);
            }
            Input::Path(path) => {
                for file in files_under(path)? {
                    let bytes = std::fs::read(&file).map_err(|source| Error::Io {
                        path: file.clone(),
                        source,
                    })?;
                    let name = file.display().to_string();
                    let text = String::from_utf8(bytes).map_err(|e| ManifestError {
                        file: name.clone(),
                        document: 1,
                        line: line_of_offset(e.as_bytes(), e.utf8_error().valid_up_to()),
                        message: "file is not UTF-8 text".into(),
                    })?;
                    objects.extend(parse_str(&text, &name)?);
                }
            }
        }
    }
    Ok(objects)
}

fn line_of_offset(bytes: &[u8], offset: usize) -> usize {
    1 + bytes[..offset].iter().filter(|&&b| b == b'\n').count()
}

fn is_manifest_file(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json")
    )
}

/// The files a path stands for: itself, or the manifest files below a directory.
fn files_under(path: &Path) -> Result<Vec<PathBuf>, Error> {
    let meta = std::fs::metadata(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|source| Error::Io {
            path: dir.clone(),
            source,
        })?;
        for entry in entries {
            let entry = entry.map_err(|source| Error::Io {
                path: dir.clone(),
                source,
            })?;
            let p = entry.path();
            // As kubectl's `-f DIR`: links to directories are not followed
            // (a link to `.` would loop), links to files are read.
            let file_type = entry.file_type().map_err(|source| Error::Io {
                path: p.clone(),
                source,
            })?;
            if file_type.is_dir() {
                stack.push(p);
            } else if is_manifest_file(&p) && !(file_type.is_symlink() && p.is_dir()) {
                files.push(p);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// One `---`-separated piece of a YAML stream and the line it starts on.
#[derive(Debug)]
struct Chunk {
    text: String,
    first_line: usize,
}

/// Splits a YAML stream into documents as lines arrive. A line starting
/// with `---` (followed by nothing or whitespace) starts a document, and what
/// follows the marker on that line belongs to it; `...` ends one; `%`
/// directives are dropped. Only the current document is held.
struct Splitter {
    current: Chunk,
    line: usize,
}

impl Splitter {
    fn new() -> Self {
        Splitter {
            current: Chunk {
                text: String::new(),
                first_line: 1,
            },
            line: 0,
        }
    }

    /// Take one line (without its newline); a finished document, if any.
    fn feed(&mut self, line: &str) -> Option<Chunk> {
        self.line += 1;
        let number = self.line;
        let next = |first_line| Chunk {
            text: String::new(),
            first_line,
        };
        let done = if let Some(rest) = marker(line, "---") {
            let done = std::mem::replace(&mut self.current, next(number));
            self.current.text.push_str(rest);
            self.current.text.push('\n');
            Some(done)
        } else if marker(line, "...").is_some() {
            Some(std::mem::replace(&mut self.current, next(number + 1)))
        } else {
            if line.starts_with('%') && is_blank(&self.current.text) {
                self.current.text.push('\n');
            } else {
                self.current.text.push_str(line);
                self.current.text.push('\n');
            }
            None
        };
        done.filter(|c| !is_blank(&c.text))
    }

    fn finish(self) -> Option<Chunk> {
        Some(self.current).filter(|c| !is_blank(&c.text))
    }
}

/// Split a whole YAML stream into documents.
fn split_documents(text: &str) -> Vec<Chunk> {
    let mut splitter = Splitter::new();
    let mut chunks: Vec<Chunk> = text.split('\n').filter_map(|l| splitter.feed(l)).collect();
    chunks.extend(splitter.finish());
    chunks
}

/// What follows a document marker (`---`, `...`) that starts `line`, if it does.
fn marker<'a>(line: &'a str, m: &str) -> Option<&'a str> {
    line.strip_prefix(m)
        .filter(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '\r']))
}

/// Only whitespace and comments.
fn is_blank(text: &str) -> bool {
    text.lines().all(|l| {
        let t = l.trim();
        t.is_empty() || t.starts_with('#')
    })
}

/// Parse text holding one or more manifests. `file` names it in sources and errors.
pub fn parse_str(text: &str, file: &str) -> Result<Vec<Object>, ManifestError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim_start().starts_with(['{', '[']) {
        return parse_json_stream(text, file);
    }
    let mut out = Vec::new();
    for (index, chunk) in split_documents(text).into_iter().enumerate() {
        parse_chunk(chunk, index + 1, file, &mut out)?;
    }
    Ok(out)
}

/// One YAML document's objects (several for a `List`).
fn parse_chunk(
    chunk: Chunk,
    document: usize,
    file: &str,
    out: &mut Vec<Object>,
) -> Result<(), ManifestError> {
    let error = |line: usize, message: String| ManifestError {
        file: file.to_string(),
        document,
        line,
        message,
    };
    let value: Value = crate::yaml::from_str(&chunk.text).map_err(|e| {
        let line = e.location().map_or(chunk.first_line, |l| {
            chunk.first_line + l.line() as usize - 1
        });
        error(line, crate::yaml::message(&e))
    })?;
    let source = Source {
        file: file.to_string(),
        document,
        line: first_content_line(&chunk),
        item: None,
        text: Some(chunk.text.as_str().into()),
    };
    push_objects(value, source, out).map_err(|(line, message)| error(line, message))
}

/// One document of a stream, not parsed yet: parsing (most of the work) can
/// happen on another thread, in any order; [`Piece::parse`] gives the same
/// objects and errors as [`load`].
#[derive(Debug)]
pub struct Piece(PieceKind);

#[derive(Debug)]
enum PieceKind {
    Yaml {
        chunk: Chunk,
        document: usize,
        file: std::sync::Arc<str>,
    },
    /// A JSON file, parsed as it was read.
    Parsed(Vec<Object>),
}

impl Piece {
    pub fn parse(self) -> Result<Vec<Object>, ManifestError> {
        match self.0 {
            PieceKind::Yaml {
                chunk,
                document,
                file,
            } => {
                let mut objects = Vec::new();
                parse_chunk(chunk, document, &file, &mut objects)?;
                Ok(objects)
            }
            PieceKind::Parsed(objects) => Ok(objects),
        }
    }
}

/// Like [`load`], but hands over the documents one at a time, unparsed,
/// without holding the rest: a YAML file is read line by line, so memory
/// stays flat however long the stream (JSON files are read whole). `each`
/// may stop the stream with an error, which is returned.
pub fn for_each_piece<E: From<Error>>(
    inputs: &[Input],
    mut each: impl FnMut(Piece) -> Result<(), E>,
) -> Result<(), E> {
    for input in inputs {
        match input {
            Input::Stdin => stream_reader(std::io::stdin().lock(), STDIN_NAME, &mut each)?,
            Input::Path(path) => {
                for file in files_under(path)? {
                    let f = std::fs::File::open(&file).map_err(|source| Error::Io {
                        path: file.clone(),
                        source,
                    })?;
                    let name = file.display().to_string();
                    stream_reader(std::io::BufReader::new(f), &name, &mut each)?;
                }
            }
        }
    }
    Ok(())
}

fn stream_reader<E: From<Error>>(
    mut reader: impl std::io::BufRead,
    file: &str,
    each: &mut dyn FnMut(Piece) -> Result<(), E>,
) -> Result<(), E> {
    let io = |source| Error::Io {
        path: PathBuf::from(file),
        source,
    };
    let shared: std::sync::Arc<str> = file.into();
    let mut splitter = Splitter::new();
    let mut line = String::new();
    let mut document = 0;
    let mut first = true;
    let mut emit = |chunk: Chunk, document: usize| {
        each(Piece(PieceKind::Yaml {
            chunk,
            document,
            file: shared.clone(),
        }))
    };
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                return Err(Error::from(ManifestError {
                    file: file.to_string(),
                    document: document + 1,
                    line: splitter.line + 1,
                    message: "file is not UTF-8 text".into(),
                })
                .into());
            }
            Err(e) => return Err(io(e).into()),
        }
        let mut text = line.strip_suffix('\n').unwrap_or(&line);
        if first {
            text = text.strip_prefix('\u{feff}').unwrap_or(text);
            if text.trim_start().starts_with(['{', '[']) {
                // JSON: read whole (objects may span any number of lines).
                let mut rest = text.to_string();
                rest.push('\n');
                reader.read_to_string(&mut rest).map_err(io)?;
                let objects = parse_json_stream(&rest, file).map_err(Error::from)?;
                return each(Piece(PieceKind::Parsed(objects)));
            }
            first = text.trim().is_empty();
        }
        if let Some(chunk) = splitter.feed(text) {
            document += 1;
            emit(chunk, document)?;
        }
    }
    if let Some(chunk) = splitter.finish() {
        emit(chunk, document + 1)?;
    }
    Ok(())
}

fn first_content_line(chunk: &Chunk) -> usize {
    let skipped = chunk
        .text
        .lines()
        .take_while(|l| {
            let t = l.trim();
            t.is_empty() || t.starts_with('#')
        })
        .count();
    chunk.first_line + skipped
}

fn parse_json_stream(text: &str, file: &str) -> Result<Vec<Object>, ManifestError> {
    let mut out = Vec::new();
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    let mut document = 0;
    // Lines are counted incrementally: rescanning from the start would be quadratic.
    let (mut counted_to, mut line) = (0, 1);
    loop {
        // The next value starts after the previous one and any whitespace.
        let offset = stream.byte_offset();
        let rest = &text[offset..];
        let start = offset + (rest.len() - rest.trim_start().len());
        let Some(item) = stream.next() else { break };
        document += 1;
        line += text[counted_to..start].matches('\n').count();
        counted_to = start;
        let error = |line: usize, message: String| ManifestError {
            file: file.to_string(),
            document,
            line,
            message,
        };
        let value = item.map_err(|e| error(e.line(), strip_json_position(&e.to_string())))?;
        let source = Source {
            file: file.to_string(),
            document,
            line,
            item: None,
            text: None,
        };
        push_objects(value, source, &mut out).map_err(|(line, message)| error(line, message))?;
    }
    Ok(out)
}

fn strip_json_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// Check a document is an object (or a list of them) and collect it.
fn push_objects(
    value: Value,
    source: Source,
    out: &mut Vec<Object>,
) -> Result<(), (usize, String)> {
    let line = source.line;
    let map = match value {
        Value::Null => return Ok(()),
        Value::Object(map) => map,
        Value::Array(_) => {
            return Err((
                line,
                "expected a Kubernetes object (a mapping with apiVersion and kind), found a list; wrap it in `kind: List` with `items:`".into(),
            ));
        }
        other => {
            return Err((
                line,
                format!(
                    "expected a Kubernetes object (a mapping with apiVersion and kind), found {}",
                    json_type(&other)
                ),
            ));
        }
    };
    let kind = map.get("kind").and_then(Value::as_str).unwrap_or("");
    let api_version = map.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    if kind.is_empty() {
        return Err((line, "object has no kind".into()));
    }
    if api_version.is_empty() {
        return Err((
            line,
            format!("object of kind {} has no apiVersion", shown(kind)),
        ));
    }
    let is_list = kind == "List" || (kind.ends_with("List") && map.get("items").is_some());
    if !is_list {
        out.push(Object {
            value: Value::Object(map),
            source,
        });
        return Ok(());
    }
    let items = match map.get("items") {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Array(items)) => items.clone(),
        Some(other) => {
            return Err((
                line,
                format!(
                    "{}.items must be a list, found {}",
                    shown(kind),
                    json_type(other)
                ),
            ));
        }
    };
    for (i, item) in items.into_iter().enumerate() {
        let item_source = Source {
            item: Some(i),
            text: None,
            ..source.clone()
        };
        push_objects(item, item_source, out)
            .map_err(|(l, m)| (l, format!("{} item {i}: {m}", shown(kind))))?;
    }
    Ok(())
}

/// A user-supplied name fit for a one-line message: quoted when it holds
/// anything but plain printable characters.
fn shown(text: &str) -> String {
    if text.chars().all(|c| !c.is_control()) {
        text.to_string()
    } else {
        format!("{text:?}")
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO: &str = "\
# leading comment
apiVersion: v1
kind: Pod
metadata:
  name: a
---
# second
apiVersion: apps/v1
kind: Deployment
metadata:
  name: b
  namespace: web
";

    #[test]
    fn multi_document_yaml_with_lines() {
        let objs = parse_str(TWO, "x.yaml").unwrap();
        assert_eq!(objs.len(), 2);
        assert_eq!(objs[0].kind(), "Pod");
        assert_eq!(objs[0].source.line, 2);
        assert_eq!(objs[1].name(), "b");
        assert_eq!(objs[1].namespace(), Some("web"));
        assert_eq!(objs[1].source.document, 2);
        assert_eq!(objs[1].source.line, 8);
    }

    #[test]
    fn helm_style_streams() {
        // helm template: leading `---`, `# Source:` comments, empty documents.
        let text = "---\n# Source: chart/templates/a.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\n---\n# Source: empty.yaml\n--- # trailing\napiVersion: v1\nkind: Service\nmetadata:\n  name: s\n...\n";
        let objs = parse_str(text, "helm").unwrap();
        assert_eq!(
            objs.iter().map(|o| o.kind()).collect::<Vec<_>>(),
            ["ConfigMap", "Service"]
        );
        assert_eq!(objs[1].source.document, 2);
        assert_eq!(objs[1].source.line, 11);
    }

    #[test]
    fn kind_list_is_flattened() {
        let text = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: p}\n- apiVersion: batch/v1\n  kind: Job\n  metadata: {name: j}\n";
        let objs = parse_str(text, "l.yaml").unwrap();
        assert_eq!(objs.len(), 2);
        assert_eq!(objs[1].kind(), "Job");
        assert_eq!(objs[1].source.item, Some(1));
        let typed = r#"{"apiVersion":"v1","kind":"PodList","items":[{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"}}]}"#;
        assert_eq!(parse_str(typed, "p.json").unwrap()[0].name(), "p");
    }

    #[test]
    fn json_documents_and_streams() {
        let text = "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\"}}\n\n{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"b\"}}\n";
        let objs = parse_str(text, "s.json").unwrap();
        assert_eq!(objs.len(), 2);
        assert_eq!(objs[1].source.document, 2);
        assert_eq!(objs[1].source.line, 3);
        let err = parse_str(
            "{\n  \"kind\": \"Pod\",\n  \"apiVersion\": v1\n}",
            "bad.json",
        )
        .unwrap_err();
        assert_eq!(err.line, 3);
        assert!(
            err.to_string().starts_with("bad.json:3: document 1: "),
            "{err}"
        );
    }

    #[test]
    fn streamed_pieces_parse_as_the_whole_file_does() {
        let dir = tempfile::tempdir().unwrap();
        let yaml = dir.path().join("a.yaml");
        let text = "# lead\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: a}\n---\n---\napiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Pod, metadata: {name: b}}\n...\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: c}\n";
        std::fs::write(&yaml, text).unwrap();
        let json = dir.path().join("b.json");
        std::fs::write(
            &json,
            "{\"apiVersion\": \"v1\", \"kind\": \"Pod\",\n \"metadata\": {\"name\": \"d\"}}\n",
        )
        .unwrap();
        let inputs = [Input::Path(dir.path().to_path_buf())];
        let whole = load(&inputs).unwrap();
        let mut streamed = Vec::new();
        for_each_piece(&inputs, |piece| -> Result<(), Error> {
            streamed.extend(piece.parse()?);
            Ok(())
        })
        .unwrap();
        let key = |o: &Object| {
            (
                o.name().to_string(),
                o.source.file.clone(),
                o.source.document,
                o.source.line,
                o.source.item,
            )
        };
        assert_eq!(
            streamed.iter().map(key).collect::<Vec<_>>(),
            whole.iter().map(key).collect::<Vec<_>>()
        );
        assert_eq!(streamed.len(), 4);
        // Not UTF-8: the line is named, as load names it.
        std::fs::write(
            &yaml,
            b"apiVersion: v1\nkind: Pod\nmetadata: {name: \xff}\n",
        )
        .unwrap();
        let err = for_each_piece(&inputs, |_| Ok::<(), Error>(())).unwrap_err();
        assert!(err.to_string().contains("a.yaml:3"), "{err}");
        assert!(err.to_string().contains("not UTF-8"), "{err}");
    }

    #[test]
    fn yaml_errors_name_file_document_and_line() {
        let text = "apiVersion: v1\nkind: Pod\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: [unclosed\n";
        let err = parse_str(text, "bad.yaml").unwrap_err();
        assert_eq!(err.file, "bad.yaml");
        assert_eq!(err.document, 2);
        assert!((7..=8).contains(&err.line), "{err:?}");
        assert!(!err.message.contains('\n'), "{:?}", err.message);
        let err = parse_str("apiVersion: v1\nkind: Pod\n  bad: indent\n", "i.yaml").unwrap_err();
        assert_eq!(err.document, 1);
        assert!((2..=3).contains(&err.line), "{err:?}");
    }

    #[test]
    fn objects_need_kind_and_api_version() {
        let err = parse_str("---\nmetadata: {name: x}\n", "k.yaml").unwrap_err();
        assert_eq!((err.line, err.message.as_str()), (2, "object has no kind"));
        let err = parse_str("kind: Pod\n", "k.yaml").unwrap_err();
        assert_eq!(err.message, "object of kind Pod has no apiVersion");
        let err = parse_str("just a string\n", "k.yaml").unwrap_err();
        assert!(err.message.contains("found a string"));
        let err = parse_str("- a\n- b\n", "k.yaml").unwrap_err();
        assert!(err.message.contains("found a list"));
        let err = parse_str("apiVersion: v1\nkind: List\nitems:\n- 3\n", "k.yaml").unwrap_err();
        assert!(err.message.starts_with("List item 0: "), "{}", err.message);
    }

    #[test]
    fn large_lists_and_alias_bombs() {
        // A List of 10,000 objects (over serde-saphyr's default node budget).
        let mut text = String::from("apiVersion: v1\nkind: List\nitems:\n");
        for i in 0..10_000 {
            text.push_str(&format!(
                "- apiVersion: v1\n  kind: Pod\n  metadata: {{name: p{i}, labels: {{a: b, c: d}}}}\n  spec: {{containers: [{{name: c, image: i, ports: [{{containerPort: 80}}]}}]}}\n"
            ));
        }
        assert_eq!(parse_str(&text, "big.yaml").unwrap().len(), 10_000);
        let bomb = crate::yaml::alias_bomb("apiVersion: v1\nkind: Pod\n");
        let err = parse_str(&bomb, "bomb.yaml").unwrap_err();
        assert!(err.message.contains("KPLUG_MAX_YAML_ALIAS_NODES"), "{err}");
    }

    #[test]
    fn empty_and_comment_only_inputs() {
        assert!(parse_str("", "e").unwrap().is_empty());
        assert!(parse_str("# nothing\n---\n\n", "e").unwrap().is_empty());
        assert!(parse_str("null\n", "e").unwrap().is_empty());
    }

    #[test]
    fn files_and_directories() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("nested/deeper");
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(dir.path().join("a.yaml"), TWO).unwrap();
        std::fs::write(
            sub.join("b.json"),
            r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"c"}}"#,
        )
        .unwrap();
        std::fs::write(sub.join("notes.txt"), "not a manifest").unwrap();
        let objs = load(&[Input::Path(dir.path().to_path_buf())]).unwrap();
        assert_eq!(
            objs.iter().map(|o| o.name()).collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
        assert!(objs[2].source.file.ends_with("b.json"));

        // Links to directories are not followed: a loop reads nothing twice.
        std::os::unix::fs::symlink(".", dir.path().join("nested/loop")).unwrap();
        std::os::unix::fs::symlink("..", sub.join("up")).unwrap();
        std::os::unix::fs::symlink("a.yaml", dir.path().join("link.yaml")).unwrap();
        let objs = load(&[Input::Path(dir.path().to_path_buf())]).unwrap();
        assert_eq!(
            objs.iter().map(|o| o.name()).collect::<Vec<_>>(),
            ["a", "b", "a", "b", "c"],
            "the files once each, and the link to a file"
        );

        let missing = load(&[Input::from("/nonexistent/x.yaml")]).unwrap_err();
        assert!(missing.to_string().contains("/nonexistent/x.yaml"));
        std::fs::write(dir.path().join("bin.yaml"), [0x61u8, 0x0a, 0xff, 0xfe]).unwrap();
        let err = load(&[Input::Path(dir.path().join("bin.yaml"))]).unwrap_err();
        assert!(err.to_string().contains("not UTF-8"), "{err}");
    }

    #[test]
    fn never_panics_on_hostile_text() {
        for text in [
            "---",
            "...",
            "--- |\n  x",
            "&a [*a]",
            "a: &x\n  b: *x\n",
            "{",
            "[",
            "\u{feff}",
            "%YAML 1.2\n---\napiVersion: v1\nkind: Pod\n",
            "a: b: c",
            "? x\n: y",
            "!!binary aGk=",
            "- [}",
            "\"\\u{zz}\"",
        ] {
            let _ = parse_str(text, "fuzz");
        }
        let objs = parse_str("%YAML 1.2\n---\napiVersion: v1\nkind: Pod\n", "d").unwrap();
        assert_eq!(objs.len(), 1);
    }
}
