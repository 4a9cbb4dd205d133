//! Reading event files: JSON (one document or a stream) or YAML (one or
//! more documents). Events are read leniently — the cluster-info dump
//! spelling is not a Kubernetes object — so this is not the manifest loader.
//!
//! JSON is streamed: a list's items are handed over one at a time and
//! dropped, so a file of a million Events never sits in memory as a tree.
//! YAML is read whole (serde-saphyr has no streaming reader).

use std::fmt;
use std::io::{BufRead, BufReader, Read};

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Where an item came from: 1-based document, 0-based item within a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub document: usize,
    pub item: usize,
}

/// Call `each` with every Event-shaped value of `reader`: the items of each
/// list document (`EventList` of either API, `List`, the dump's `Items`, a
/// bare JSON array), or the document itself. Returns a readable error for
/// text that is not JSON or YAML; the values before it were handed over.
pub fn for_each_event(
    reader: impl Read,
    each: &mut dyn FnMut(Position, Value),
) -> Result<(), String> {
    let mut reader = BufReader::with_capacity(256 * 1024, reader);
    let start = skip_blank(&mut reader).map_err(|e| e.to_string())?;
    match start {
        None => Ok(()),
        Some(b'{' | b'[') => json_stream(reader, each),
        Some(_) => {
            let mut text = String::new();
            reader
                .read_to_string(&mut text)
                .map_err(|e| e.to_string())?;
            for (i, doc) in documents(&text)?.into_iter().enumerate() {
                split(doc, i + 1, each);
            }
            Ok(())
        }
    }
}

/// Skip a byte-order mark and white space; the next byte, if any.
fn skip_blank(reader: &mut impl BufRead) -> std::io::Result<Option<u8>> {
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(None);
        }
        let bom = buf.starts_with(b"\xEF\xBB\xBF");
        let skip = if bom {
            3
        } else {
            buf.iter().take_while(|b| b.is_ascii_whitespace()).count()
        };
        if skip == 0 {
            return Ok(Some(buf[0]));
        }
        reader.consume(skip);
    }
}

fn json_stream(
    mut reader: impl BufRead,
    each: &mut dyn FnMut(Position, Value),
) -> Result<(), String> {
    let mut document = 0;
    // Line numbers in errors count from the document's start.
    while skip_blank(&mut reader)
        .map_err(|e| e.to_string())?
        .is_some()
    {
        document += 1;
        let mut de = serde_json::Deserializer::from_reader(&mut reader);
        let whole = DocumentSeed {
            document,
            each: &mut *each,
        }
        .deserialize(&mut de)
        .map_err(|e| format!("document {document}: not valid JSON: {e}"))?;
        if let Some(v) = whole {
            each(Position { document, item: 0 }, v);
        }
    }
    Ok(())
}

/// Hand over the items of a list document, or the document.
fn split(doc: Value, document: usize, each: &mut dyn FnMut(Position, Value)) {
    match doc {
        Value::Object(mut obj) => match take_items(&mut obj) {
            Some(items) => {
                for (item, v) in items.into_iter().enumerate() {
                    each(Position { document, item }, v);
                }
            }
            None => each(Position { document, item: 0 }, Value::Object(obj)),
        },
        Value::Array(items) => {
            for (item, v) in items.into_iter().enumerate() {
                each(Position { document, item }, v);
            }
        }
        other => each(Position { document, item: 0 }, other),
    }
}

fn is_items(key: &str) -> bool {
    key == "items" || key == "Items"
}

fn take_items(obj: &mut Map<String, Value>) -> Option<Vec<Value>> {
    let key = obj.keys().find(|k| is_items(k))?.clone();
    match obj.remove(&key) {
        Some(Value::Array(items)) => Some(items),
        Some(other) => {
            obj.insert(key, other);
            None
        }
        None => None,
    }
}

/// Reads one JSON document; a list's items go to `each` as they are read
/// and `None` is returned, anything else is returned whole.
struct DocumentSeed<'a> {
    document: usize,
    each: &'a mut dyn FnMut(Position, Value),
}

impl<'de> DeserializeSeed<'de> for DocumentSeed<'_> {
    type Value = Option<Value>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for DocumentSeed<'_> {
    type Value = Option<Value>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an Event, a list of Events or an array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        ItemsSeed {
            document: self.document,
            each: self.each,
        }
        .visit_seq(seq)?;
        Ok(None)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut obj = Map::new();
        let mut streamed = false;
        while let Some(key) = map.next_key::<String>()? {
            if is_items(&key) && !streamed {
                map.next_value_seed(ItemsSeed {
                    document: self.document,
                    each: &mut *self.each,
                })?;
                streamed = true;
            } else {
                obj.insert(key, map.next_value()?);
            }
        }
        Ok((!streamed).then_some(Value::Object(obj)))
    }

    // Scalars are not Events; they are handed over to be reported as such.
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Some(Value::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(Value::from(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(Value::from(v)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Some(Value::from(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(Value::from(v)))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Some(Value::Null))
    }
}

/// The items array: each element goes to `each` as soon as it is read.
struct ItemsSeed<'a> {
    document: usize,
    each: &'a mut dyn FnMut(Position, Value),
}

impl<'de> DeserializeSeed<'de> for ItemsSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ItemsSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of Events")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut item = 0;
        while let Some(v) = seq.next_element::<Value>()? {
            (self.each)(
                Position {
                    document: self.document,
                    item,
                },
                v,
            );
            item += 1;
        }
        Ok(())
    }

    // `items: null` (an empty list as Go writes it).
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

/// Every document of `text` as JSON; null documents are dropped.
pub fn documents(text: &str) -> Result<Vec<Value>, String> {
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        let mut out = Vec::new();
        for v in serde_json::Deserializer::from_str(trimmed).into_iter::<Value>() {
            out.push(v.map_err(|e| format!("not valid JSON: {e}"))?);
        }
        return Ok(out);
    }
    let docs: Vec<Value> = kplug::yaml::from_multiple(text).map_err(|e| {
        let at = e
            .location()
            .map_or(String::new(), |l| format!("line {}: ", l.line()));
        format!("{at}{}", kplug::yaml::message(&e))
    })?;
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Vec<(usize, usize, String)>, String> {
        let mut out = Vec::new();
        for_each_event(text.as_bytes(), &mut |p, v| {
            out.push((p.document, p.item, v.to_string()))
        })?;
        Ok(out)
    }

    #[test]
    fn json_streams_and_yaml_documents() {
        assert_eq!(documents("{\"a\": 1} {\"b\": 2}").unwrap().len(), 2);
        assert_eq!(documents("a: 1\n---\nb: 2\n---\n").unwrap().len(), 2);
        assert!(documents("{").unwrap_err().starts_with("not valid JSON"));
        assert!(documents("a: [1\n").is_err());
    }

    #[test]
    fn lists_are_split_into_items_in_every_shape() {
        let list = r#"{"kind": "EventList", "metadata": {}, "items": [{"a": 1}, {"b": 2}]}"#;
        assert_eq!(
            read(list).unwrap(),
            [(1, 0, r#"{"a":1}"#.into()), (1, 1, r#"{"b":2}"#.into())]
        );
        // Items first or last, the Go spelling, a stream, a bare array, a BOM.
        let stream = "\u{feff}\n{\"Items\": [{\"a\": 1}], \"Kind\": \"EventList\"}\n{\"c\": 3}\n[{\"d\": 4}]";
        assert_eq!(
            read(stream).unwrap(),
            [
                (1, 0, r#"{"a":1}"#.into()),
                (2, 0, r#"{"c":3}"#.into()),
                (3, 0, r#"{"d":4}"#.into())
            ]
        );
        assert_eq!(read("{\"items\": null}").unwrap(), []);
        let yaml = "kind: List\nitems:\n- a: 1\n- b: 2\n---\nc: 3\n";
        assert_eq!(read(yaml).unwrap().len(), 3);
        assert_eq!(read("  \n").unwrap(), []);
    }

    #[test]
    fn broken_json_says_where_and_keeps_what_came_before() {
        let mut seen = 0;
        let err = for_each_event(
            "{\"items\": [{\"a\": 1},\n {\"b\": }]}".as_bytes(),
            &mut |_, _| seen += 1,
        )
        .unwrap_err();
        assert_eq!(seen, 1);
        assert!(err.contains("line 2"), "{err}");
    }
}
