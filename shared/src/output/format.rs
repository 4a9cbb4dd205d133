//! `-o json|yaml|name` and the table, chosen once from the flags.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::{Value, json};

use super::table::{Table, TableOptions};
use crate::cli::{KubectlArgs, OutputFormat};

/// Prints results in the format the user chose.
#[derive(Debug, Clone, Default)]
pub struct Printer {
    pub format: Option<OutputFormat>,
    pub no_headers: bool,
    pub namespace_column: bool,
}

impl Printer {
    /// The printer for a command's `-o` (any of the shared format enums).
    pub fn new(args: &KubectlArgs, format: Option<impl Into<OutputFormat>>) -> Self {
        Printer {
            format: format.map(Into::into),
            no_headers: args.no_headers,
            namespace_column: args.namespace_column(),
        }
    }

    /// True for json, yaml and name: output that scripts parse.
    pub fn is_machine(&self) -> bool {
        matches!(
            self.format,
            Some(OutputFormat::Json | OutputFormat::Yaml | OutputFormat::Name)
        )
    }

    fn table_options(&self) -> TableOptions {
        TableOptions {
            wide: self.format == Some(OutputFormat::Wide),
            no_headers: self.no_headers,
            namespace_column: self.namespace_column,
        }
    }

    /// Print a table (default and `-o wide`).
    pub fn print_table(&self, table: &Table, out: &mut dyn Write) -> io::Result<()> {
        table.render(self.table_options(), out)
    }

    /// Print a list of objects. JSON and YAML wrap them in a `v1` `List` as
    /// kubectl does; `name` prints `names`; the table comes from `table`.
    pub fn print_list<T: Serialize>(
        &self,
        items: &[T],
        names: impl Fn(&T) -> String,
        table: impl FnOnce() -> Table,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        match self.format {
            Some(OutputFormat::Json | OutputFormat::Yaml) => self.print_value(&list(items)?, out),
            Some(OutputFormat::Name) => {
                for item in items {
                    writeln!(out, "{}", names(item))?;
                }
                Ok(())
            }
            None | Some(OutputFormat::Wide) => self.print_table(&table(), out),
        }
    }

    /// Print one document as JSON or YAML (falls back to JSON for other formats).
    pub fn print_value(&self, value: &Value, out: &mut dyn Write) -> io::Result<()> {
        match self.format {
            Some(OutputFormat::Yaml) => out.write_all(to_yaml(value)?.as_bytes()),
            _ => {
                serde_json::to_writer_pretty(&mut *out, value).map_err(json_io)?;
                out.write_all(b"\n")
            }
        }
    }
}

/// Items as a `v1` `List`, as kubectl prints lists with `-o json|yaml`.
pub fn list<T: Serialize>(items: &[T]) -> io::Result<Value> {
    let items = items
        .iter()
        .map(serde_json::to_value)
        .collect::<Result<Vec<_>, _>>()
        .map_err(io::Error::other)?;
    Ok(
        json!({"apiVersion": "v1", "kind": "List", "items": items, "metadata": {"resourceVersion": ""}}),
    )
}

/// Pretty JSON with sorted keys at every level (a struct's fields too: it
/// goes through serde_json's key-ordered map) and a final newline.
pub fn write_json(value: &impl serde::Serialize, out: &mut dyn Write) -> io::Result<()> {
    let value = serde_json::to_value(value).map_err(io::Error::other)?;
    serde_json::to_writer_pretty(&mut *out, &value).map_err(json_io)?;
    out.write_all(b"\n")
}

/// A JSON writing error as I/O error of the same kind, so a closed pipe
/// stays a closed pipe (and ends the command quietly).
fn json_io(e: serde_json::Error) -> io::Error {
    match e.io_error_kind() {
        Some(kind) => io::Error::new(kind, e),
        None => io::Error::other(e),
    }
}

/// A document as `-o json` (`json`) or `-o yaml` prints it.
pub fn write_document(
    json: bool,
    value: &impl serde::Serialize,
    out: &mut dyn Write,
) -> io::Result<()> {
    if json {
        write_json(value, out)
    } else {
        let value = serde_json::to_value(value).map_err(io::Error::other)?;
        out.write_all(to_yaml(&value)?.as_bytes())
    }
}

/// YAML with sorted keys (serde_json's map is ordered by key), like `kubectl get -o yaml`.
pub fn to_yaml(value: &Value) -> io::Result<String> {
    serde_saphyr::to_string(value).map_err(io::Error::other)
}

/// `kind.group/name` as `kubectl get -o name` prints it: `pod/web`, `deployment.apps/web`.
pub fn object_name(api_version: &str, kind: &str, name: &str) -> String {
    let kind = kind.to_lowercase();
    match api_version.split_once('/') {
        Some((group, _)) => format!("{kind}.{group}/{name}"),
        None => format!("{kind}/{name}"),
    }
}

/// kubectl's notice for an empty result, written to stderr by the caller.
pub fn nothing_found(namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) => format!("No resources found in {ns} namespace."),
        None => "No resources found".to_string(),
    }
}

/// A size as people read it: `812 B`, `4.0 KiB`, `12.3 MiB`, `1.5 GiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_people_write_them() {
        assert_eq!(bytes(812), "812 B");
        assert_eq!(bytes(4096), "4.0 KiB");
        assert_eq!(bytes(12_900_000), "12.3 MiB");
        assert_eq!(bytes(3 << 40), "3.0 TiB");
    }

    #[derive(Serialize)]
    struct Obj {
        name: &'static str,
        n: u32,
    }

    fn objs() -> Vec<Obj> {
        vec![Obj { name: "a", n: 1 }, Obj { name: "b", n: 2 }]
    }

    fn run(format: Option<OutputFormat>) -> String {
        let p = Printer {
            format,
            ..Default::default()
        };
        let mut out = Vec::new();
        p.print_list(
            &objs(),
            |o| object_name("apps/v1", "Deployment", o.name),
            || {
                let mut t = Table::new(&["name", "n"]);
                for o in objs() {
                    t.push([o.name.to_string(), o.n.to_string()]);
                }
                t
            },
            &mut out,
        )
        .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn json_keys_are_sorted_even_for_structs() {
        #[derive(serde::Serialize)]
        struct Out {
            zebra: u8,
            alpha: Inner,
        }
        #[derive(serde::Serialize)]
        struct Inner {
            y: u8,
            b: u8,
        }
        let mut text = Vec::new();
        write_json(
            &Out {
                zebra: 1,
                alpha: Inner { y: 2, b: 3 },
            },
            &mut text,
        )
        .unwrap();
        let text = String::from_utf8(text).unwrap();
        let order: Vec<usize> = ["\"alpha\"", "\"b\"", "\"y\"", "\"zebra\""]
            .iter()
            .map(|k| text.find(k).unwrap())
            .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");
        assert!(text.ends_with("}\n"));
    }

    #[test]
    fn json_is_a_v1_list() {
        let v: Value = serde_json::from_str(&run(Some(OutputFormat::Json))).unwrap();
        assert_eq!(v["kind"], "List");
        assert_eq!(v["apiVersion"], "v1");
        assert_eq!(v["items"][1]["n"], 2);
    }

    #[test]
    fn yaml_round_trips_with_sorted_keys() {
        let text = run(Some(OutputFormat::Yaml));
        let v: Value = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(v["items"][0]["name"], "a");
        let api = text.find("apiVersion").unwrap();
        let kind = text.find("kind").unwrap();
        assert!(api < kind, "{text}");
        assert!(!text.contains('\u{1b}'));
    }

    #[test]
    fn names_and_table() {
        assert_eq!(
            run(Some(OutputFormat::Name)),
            "deployment.apps/a\ndeployment.apps/b\n"
        );
        assert_eq!(run(None), "NAME   N\na      1\nb      2\n");
        assert_eq!(object_name("v1", "Pod", "x"), "pod/x");
    }

    #[test]
    fn empty_notice() {
        assert_eq!(
            nothing_found(Some("default")),
            "No resources found in default namespace."
        );
        assert_eq!(nothing_found(None), "No resources found");
    }
}
