//! JSON text exactly as the original Python emulator put it on the wire.
//!
//! The original posted each row with `requests.post(url, json=row)`, which serialises with
//! `json.dumps` defaults: `", "` and `": "` separators, every non-ASCII character escaped as
//! `\uXXXX` (lower-case hex, surrogate pairs above U+FFFF), and floats written by Python's
//! `repr`. Writing the same bytes keeps pinpipe's emulator a drop-in replacement: a server (or a
//! test) sees byte for byte what the course's emulator would send for the same row.
//!
//! Hand-written because no serde formatter produces Python's float `repr` (`1e-05`, `1e+16`,
//! `45.0`) and its `ensure_ascii` escaping together; it is small and tested against Python's
//! output below.

use serde_json::Value;

/// Appends `{"col": value, ...}` with the columns in the given order.
pub fn write_row(columns: &[String], values: &[Value], out: &mut Vec<u8>) {
    out.push(b'{');
    for (i, (column, value)) in columns.iter().zip(values).enumerate() {
        if i > 0 {
            out.extend_from_slice(b", ");
        }
        write_str(column, out);
        out.extend_from_slice(b": ");
        write_value(value, out);
    }
    out.push(b'}');
}

/// Appends one JSON value.
pub fn write_value(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(number) => {
            if let Some(f) = number.as_f64().filter(|_| number.is_f64()) {
                write_float(f, out);
            } else {
                // Integers (i64 or u64) print the same in both languages.
                out.extend_from_slice(number.to_string().as_bytes());
            }
        }
        Value::String(text) => write_str(text, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b", ");
                }
                write_value(item, out);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            out.push(b'{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b", ");
                }
                write_str(key, out);
                out.extend_from_slice(b": ");
                write_value(item, out);
            }
            out.push(b'}');
        }
    }
}

/// A JSON string with `ensure_ascii=True` escaping.
pub fn write_str(text: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let escape_unit = |unit: u16, out: &mut Vec<u8>| {
        out.extend_from_slice(b"\\u");
        for shift in [12, 8, 4, 0] {
            out.push(HEX[usize::from((unit >> shift) & 0xf)]);
        }
    };
    out.push(b'"');
    for c in text.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            ' '..='~' => out.push(c as u8),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    escape_unit(*unit, out);
                }
            }
        }
    }
    out.push(b'"');
}

/// A float as Python's `repr` writes it: the shortest digits that read back to the same value,
/// positional for decimal exponents -4..=15, otherwise `d.ddde±XX`. Non-finite values are
/// written as `null` (Python would write `NaN`, which is not JSON).
pub fn write_float(f: f64, out: &mut Vec<u8>) {
    if !f.is_finite() {
        out.extend_from_slice(b"null");
        return;
    }
    // Rust's `{:e}` gives the shortest round-trip digits too, as `d.ddde-7`.
    let sci = format!("{f:e}");
    let (mantissa, exponent) = sci.split_once('e').expect("{:e} always has an exponent");
    let exponent: i32 = exponent.parse().expect("{:e} exponent is an integer");
    let (negative, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if negative {
        out.push(b'-');
    }
    if !(-4..16).contains(&exponent) {
        out.extend_from_slice(mantissa.as_bytes());
        let sign = if exponent < 0 { '-' } else { '+' };
        out.extend_from_slice(format!("e{sign}{:02}", exponent.abs()).as_bytes());
    } else if exponent < 0 {
        out.extend_from_slice(b"0.");
        for _ in 0..(-exponent - 1) {
            out.push(b'0');
        }
        out.extend_from_slice(digits.as_bytes());
    } else {
        let integer_digits = usize::try_from(exponent).expect("exponent is 0..16") + 1;
        if digits.len() <= integer_digits {
            out.extend_from_slice(digits.as_bytes());
            for _ in digits.len()..integer_digits {
                out.push(b'0');
            }
            out.extend_from_slice(b".0");
        } else {
            out.extend_from_slice(&digits.as_bytes()[..integer_digits]);
            out.push(b'.');
            out.extend_from_slice(&digits.as_bytes()[integer_digits..]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn float(f: f64) -> String {
        let mut out = Vec::new();
        write_float(f, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn floats_are_written_as_python_repr() {
        // Expected values printed by CPython 3.11: repr(x).
        let cases = [
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (45.0, "45.0"),
            (-73.123456, "-73.123456"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (0.000015, "1.5e-05"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (123456789.125, "123456789.125"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1e-7, "1e-07"),
            (-1e300, "-1e+300"),
            (5e-324, "5e-324"),
            (89.99999999999999, "89.99999999999999"),
            (f64::NAN, "null"),
        ];
        for (value, expected) in cases {
            assert_eq!(float(value), expected, "repr({value:?})");
        }
    }

    #[test]
    fn strings_are_escaped_as_json_dumps_does() {
        // Expected values printed by CPython 3.11: json.dumps(s).
        let cases = [
            ("plain", r#""plain""#),
            ("café", r#""caf\u00e9""#),
            ("東京", r#""\u6771\u4eac""#),
            ("🎄", r#""\ud83c\udf84""#),
            ("a\"b\\c", r#""a\"b\\c""#),
            ("\n\r\t\u{8}\u{c}", r#""\n\r\t\b\f""#),
            ("\u{1c}\u{7f}", r#""\u001c\u007f""#),
            ("/", r#""/""#),
        ];
        for (text, expected) in cases {
            let mut out = Vec::new();
            write_str(text, &mut out);
            assert_eq!(String::from_utf8(out).unwrap(), expected, "{text:?}");
        }
    }

    #[test]
    fn rows_use_python_separators_and_column_order() {
        let columns = ["index", "title", "tags", "downloaded", "lat"].map(String::from);
        let values = [
            json!(7),
            json!("Zürich"),
            json!(["a", null]),
            json!(1),
            json!(-12.5),
        ];
        let mut out = Vec::new();
        write_row(&columns, &values, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"index": 7, "title": "Z\u00fcrich", "tags": ["a", null], "downloaded": 1, "lat": -12.5}"#
        );
    }

    proptest::proptest! {
        #[test]
        fn any_float_reads_back_exactly(f in proptest::num::f64::NORMAL | proptest::num::f64::SUBNORMAL | proptest::num::f64::ZERO) {
            let text = float(f);
            let back: f64 = text.parse().unwrap();
            proptest::prop_assert_eq!(back.to_bits(), f.to_bits(), "{}", text);
        }

        #[test]
        fn any_string_reads_back_exactly_and_is_ascii(s in ".*") {
            let mut out = Vec::new();
            write_str(&s, &mut out);
            proptest::prop_assert!(out.is_ascii());
            let back: String = serde_json::from_slice(&out).unwrap();
            proptest::prop_assert_eq!(back, s);
        }
    }
}
