//! How NFD's decoder (sigs.k8s.io/yaml over go-yaml v2) reads a plain scalar:
//! YAML 1.1 typing, then the number or boolean turned back into text when the
//! Go field is a string. `0200` becomes "128", `2.0` "2", `yes` "true".
//! Quoted scalars are always kept as written.

/// The YAML 1.1 type go-yaml v2 gives a plain scalar.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolved {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    /// A date like `2024-01-02` (its text; the JSON form is kept for keys).
    Timestamp(String),
    Str,
}

/// Resolve a plain scalar as go-yaml v2 does.
pub fn resolve(text: &str) -> Resolved {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Resolved::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Resolved::Bool(true);
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Resolved::Bool(false);
        }
        ".nan" | ".NaN" | ".NAN" => return Resolved::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Resolved::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Resolved::Float(f64::NEG_INFINITY),
        _ => {}
    }
    let first = text.as_bytes()[0];
    match first {
        b'.' => match parse_go_float(text) {
            Some(f) => Resolved::Float(f),
            None => Resolved::Str,
        },
        b'0'..=b'9' | b'+' | b'-' => {
            if let Some(ts) = timestamp(text) {
                return Resolved::Timestamp(ts);
            }
            let plain: String = text.chars().filter(|&c| c != '_').collect();
            if let Some(i) = parse_go_int(&plain) {
                return Resolved::Int(i);
            }
            if is_yaml_float(&plain)
                && let Some(f) = parse_go_float(&plain)
            {
                return Resolved::Float(f);
            }
            if let Some(bits) = plain.strip_prefix("0b") {
                if let Ok(v) = u64::from_str_radix(bits, 2) {
                    return Resolved::Int(v.into());
                }
            } else if let Some(bits) = plain.strip_prefix("-0b")
                && let Ok(v) = i64::from_str_radix(&format!("-{bits}"), 2)
            {
                return Resolved::Int(v.into());
            }
            Resolved::Str
        }
        _ => Resolved::Str,
    }
}

/// The string a Go `string` field receives for a plain scalar, or `None` for
/// null (the field keeps its zero value).
pub fn go_string(text: &str) -> Option<String> {
    match resolve(text) {
        Resolved::Null => None,
        Resolved::Bool(b) => Some(b.to_string()),
        Resolved::Int(i) => Some(i.to_string()),
        Resolved::Float(f) => Some(format_float32_g(f)),
        // sigs.k8s.io/yaml v1.6 hands a string field the date as written
        // (checked against NFD in the end-to-end corpus).
        Resolved::Timestamp(_) | Resolved::Str => Some(text.to_string()),
    }
}

/// A plain mapping key as sigs.k8s.io/yaml turns it into a JSON key: `None`
/// for null, an error for a key it refuses (an integer only `uint64` holds),
/// floats in go-yaml's spelling (`1e3` is "1000", `.inf` stays ".inf").
pub fn go_key(text: &str) -> Option<Result<String, String>> {
    Some(Ok(match resolve(text) {
        Resolved::Null => return None,
        Resolved::Int(i) if i > i64::MAX as i128 => {
            return Some(Err(format!(
                "mapping key {text} is an unsigned 64-bit integer, which NFD's decoder refuses (unsupported map key of type uint64)"
            )));
        }
        Resolved::Float(f) if f.is_nan() => ".nan".into(),
        Resolved::Float(f) if f.is_infinite() => if f > 0.0 { ".inf" } else { "-.inf" }.into(),
        _ => return go_string(text).map(Ok),
    }))
}

/// The integer a Go `int` field receives, or why it cannot.
pub fn go_int(text: &str, plain: bool) -> Result<Option<i64>, String> {
    if !plain {
        return Err(format!("cannot unmarshal string {text:?} into an integer"));
    }
    match resolve(text) {
        Resolved::Null => Ok(None),
        Resolved::Int(i) => i64::try_from(i)
            .map(Some)
            .map_err(|_| format!("integer {text} overflows")),
        Resolved::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(Some(f as i64)),
        Resolved::Float(_) => Err(format!("cannot unmarshal number {text} into an integer")),
        Resolved::Bool(_) => Err(format!("cannot unmarshal bool {text} into an integer")),
        _ => Err(format!("cannot unmarshal string {text:?} into an integer")),
    }
}

/// Go `strconv.ParseInt(s, 0, 64)` then `ParseUint`: sign, `0x`/`0o`/`0b`
/// prefixes and a leading `0` for octal.
fn parse_go_int(s: &str) -> Option<i128> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if body.is_empty() {
        return None;
    }
    let (radix, digits) =
        if let Some(d) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
            (16, d)
        } else if let Some(d) = body.strip_prefix("0o").or_else(|| body.strip_prefix("0O")) {
            (8, d)
        } else if let Some(d) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
            (2, d)
        } else if body.len() > 1 && body.starts_with('0') {
            (8, &body[1..])
        } else {
            (10, body)
        };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = u128::from_str_radix(digits, radix).ok()?;
    let value = if neg {
        -(magnitude as i128)
    } else {
        magnitude as i128
    };
    let fits = if neg {
        value >= i64::MIN as i128
    } else {
        value <= u64::MAX as i128
    };
    fits.then_some(value)
}

/// go-yaml's `yamlStyleFloat`: `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_yaml_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'-' | b'+')));
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Go `strconv.ParseFloat(s, 64)` for the decimal forms go-yaml passes it.
fn parse_go_float(s: &str) -> Option<f64> {
    if !s
        .bytes()
        .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return None;
    }
    // Go's ParseFloat fails with ErrRange where Rust gives infinity, and
    // go-yaml then keeps the scalar as text (`1e400`).
    s.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// go-yaml v2's timestamp forms, rendered as Go's `time.Time` JSON (RFC 3339).
/// Only the date form is reproduced; date-times stay text (rare in specs).
fn timestamp(text: &str) -> Option<String> {
    let parts: Vec<&str> = text.split('-').collect();
    if parts.len() != 3 || parts[0].len() != 4 {
        return None;
    }
    let ok = |p: &str, max: usize| {
        !p.is_empty() && p.len() <= max && p.bytes().all(|c| c.is_ascii_digit())
    };
    if !(ok(parts[0], 4) && ok(parts[1], 2) && ok(parts[2], 2)) {
        return None;
    }
    let (m, d): (u32, u32) = (parts[1].parse().ok()?, parts[2].parse().ok()?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    Some(format!("{}-{m:02}-{d:02}T00:00:00Z", parts[0]))
}

/// Go `strconv.FormatFloat(f, 'g', -1, 32)`: the shortest float32 digits, in
/// exponent form when the decimal exponent is below -4 or at least 6 (Go fixes
/// the switch point at 6 for shortest formatting).
pub fn format_float32_g(f: f64) -> String {
    let f = f as f32;
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    // Shortest round-trip digits and decimal exponent from Rust's `{:e}`.
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').expect("{:e} has an exponent");
    let exp: i32 = exp.parse().expect("exponent is an integer");
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let nd = digits.len() as i32;
    let sign = if negative { "-" } else { "" };
    if !(-4..6).contains(&exp) {
        let mut out = String::from(sign);
        out.push_str(&digits[..1]);
        if nd > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", exp.abs()));
        return out;
    }
    let point = exp + 1; // digits before the decimal point
    let mut out = String::from(sign);
    if point <= 0 {
        out.push_str("0.");
        out.push_str(&"0".repeat((-point) as usize));
        out.push_str(&digits);
    } else if point >= nd {
        out.push_str(&digits);
        out.push_str(&"0".repeat((point - nd) as usize));
    } else {
        out.push_str(&digits[..point as usize]);
        out.push('.');
        out.push_str(&digits[point as usize..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_1_1_scalars_as_go_strings() {
        for (input, want) in [
            ("0200", Some("128")),
            ("0x1F", Some("31")),
            ("0o17", Some("15")),
            ("0b101", Some("5")),
            ("-0b11", Some("-3")),
            ("+12", Some("12")),
            ("1_000", Some("1000")),
            ("09", Some("9")),
            ("2.0", Some("2")),
            ("5.15", Some("5.15")),
            ("1.10", Some("1.1")),
            ("1e3", Some("1000")),
            ("1000000.0", Some("1e+06")),
            ("123456.0", Some("123456")),
            ("0.0001", Some("0.0001")),
            ("0.00001", Some("1e-05")),
            ("3.14159265", Some("3.1415927")),
            (".5", Some("0.5")),
            (".inf", Some("+Inf")),
            ("yes", Some("true")),
            ("On", Some("true")),
            ("n", Some("false")),
            ("OFF", Some("false")),
            ("~", None),
            ("null", None),
            ("2024-01-02", Some("2024-01-02")),
            ("1e400", Some("1e400")),
            ("5.15.0", Some("5.15.0")),
            ("0eee", Some("0eee")),
            ("0200x", Some("0200x")),
            ("Intel", Some("Intel")),
            ("-", Some("-")),
            ("18446744073709551615", Some("18446744073709551615")),
            ("18446744073709551616", Some("1.8446744e+19")),
        ] {
            assert_eq!(go_string(input).as_deref(), want, "{input}");
        }
    }

    #[test]
    fn integers_for_int_fields() {
        assert_eq!(go_int("10", true), Ok(Some(10)));
        assert_eq!(go_int("0x10", true), Ok(Some(16)));
        assert_eq!(go_int("~", true), Ok(None));
        assert!(go_int("10", false).is_err());
        assert!(go_int("1.5", true).is_err());
        assert!(go_int("yes", true).is_err());
    }
}
