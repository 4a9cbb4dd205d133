//! JSON written the way Go's `encoding/json` writes it, so output meant to be
//! byte-identical to NFD's is: `<`, `>`, `&`, U+2028 and U+2029 escaped as
//! `\u003c`…, `\b`/`\f` as `\u0008`/`\u000c`, and `MarshalIndent` layout.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::ser::{CharEscape, CompactFormatter, Formatter, PrettyFormatter};

/// Go `json.Marshal`: compact.
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> String {
    write(
        value,
        GoFormatter {
            inner: Layout::Compact(CompactFormatter),
        },
    )
}

/// Go `json.MarshalIndent(v, "", "    ")`.
pub fn to_string_indented<T: Serialize + ?Sized>(value: &T) -> String {
    write(
        value,
        GoFormatter {
            inner: Layout::Pretty(PrettyFormatter::with_indent(b"    ")),
        },
    )
}

fn write<T: Serialize + ?Sized>(value: &T, formatter: GoFormatter) -> String {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
    value
        .serialize(&mut ser)
        .expect("serialising to memory cannot fail");
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

enum Layout {
    Compact(CompactFormatter),
    Pretty(PrettyFormatter<'static>),
}

struct GoFormatter {
    inner: Layout,
}

macro_rules! forward {
    ($($name:ident($($arg:ident: $ty:ty),*);)*) => {
        $(
            fn $name<W: ?Sized + Write>(&mut self, writer: &mut W $(, $arg: $ty)*) -> io::Result<()> {
                match &mut self.inner {
                    Layout::Compact(f) => f.$name(writer $(, $arg)*),
                    Layout::Pretty(f) => f.$name(writer $(, $arg)*),
                }
            }
        )*
    };
}

impl Formatter for GoFormatter {
    forward! {
        begin_array();
        end_array();
        begin_array_value(first: bool);
        end_array_value();
        begin_object();
        end_object();
        begin_object_key(first: bool);
        begin_object_value();
        end_object_value();
    }

    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            let escape = match c {
                '<' => "\\u003c",
                '>' => "\\u003e",
                '&' => "\\u0026",
                '\u{2028}' => "\\u2028",
                '\u{2029}' => "\\u2029",
                _ => continue,
            };
            writer.write_all(&fragment.as_bytes()[start..i])?;
            writer.write_all(escape.as_bytes())?;
            start = i + c.len_utf8();
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }

    fn write_char_escape<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        escape: CharEscape,
    ) -> io::Result<()> {
        match escape {
            CharEscape::Backspace => writer.write_all(b"\\u0008"),
            CharEscape::FormFeed => writer.write_all(b"\\u000c"),
            other => CompactFormatter.write_char_escape(writer, other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_go() {
        let v = serde_json::json!({"a": "<x> & \u{2028}\u{8}\u{c}\n\"é"});
        assert_eq!(
            to_string(&v),
            r#"{"a":"\u003cx\u003e \u0026 \u2028\u0008\u000c\n\"é"}"#
        );
    }

    #[test]
    fn indents_like_marshal_indent() {
        let v = serde_json::json!({"a": {"b": {}}, "c": [], "d": [1]});
        assert_eq!(
            to_string_indented(&v),
            "{\n    \"a\": {\n        \"b\": {}\n    },\n    \"c\": [],\n    \"d\": [\n        1\n    ]\n}"
        );
    }
}
