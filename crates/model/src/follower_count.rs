//! Follower counts as the source writes them: `"848"`, `"1,234"`, `"35k"`, `"4.35k"`, `"2M"`.

/// Parses a follower count string by the rule of data.md.
///
/// After trimming, the value is plain ASCII digits, digits in correct thousands groups
/// (`"1,234,567"`), or `digits[.digits]` immediately followed by one suffix `k`/`K` (×1,000),
/// `M` (×1,000,000) or `B` (×1,000,000,000), computed exactly and truncated toward zero.
/// Anything else, or a value beyond `i64::MAX`, is `None`.
///
/// ```
/// use pinpipe_model::follower_count::parse_follower_count;
/// assert_eq!(parse_follower_count(" 4.35k "), Some(4350));
/// assert_eq!(parse_follower_count("1.2345k"), Some(1234));
/// assert_eq!(parse_follower_count("1,234,567"), Some(1_234_567));
/// assert_eq!(parse_follower_count("1,23"), None);
/// assert_eq!(parse_follower_count("User Info Error"), None);
/// ```
pub fn parse_follower_count(text: &str) -> Option<i64> {
    let text = crate::text::trim(text).as_bytes();
    let (&last, body) = text.split_last()?;
    let scale_digits = match last {
        b'k' | b'K' => 3,
        b'M' => 6,
        b'B' => 9,
        _ => return parse_grouped(text),
    };
    parse_suffixed(body, scale_digits)
}

/// `digits` or `d{1,3}(,ddd)+`.
fn parse_grouped(text: &[u8]) -> Option<i64> {
    let mut groups = text.split(|&b| b == b',');
    let first = groups.next()?;
    let mut value = parse_digits(first)?;
    let mut grouped = false;
    for group in groups {
        if group.len() != 3 {
            return None;
        }
        grouped = true;
        value = value.checked_mul(1000)?.checked_add(parse_digits(group)?)?;
    }
    if grouped && first.len() > 3 {
        return None;
    }
    Some(value)
}

/// `digits[.digits]` times `10^scale_digits`, truncated toward zero.
fn parse_suffixed(body: &[u8], scale_digits: usize) -> Option<i64> {
    let (whole, fraction) = match body.iter().position(|&b| b == b'.') {
        Some(dot) => (&body[..dot], Some(&body[dot + 1..])),
        None => (body, None),
    };
    let mut value = parse_digits(whole)?;
    for _ in 0..scale_digits {
        value = value.checked_mul(10)?;
    }
    if let Some(fraction) = fraction {
        // The fraction must itself be digits; only its first `scale_digits` digits survive the
        // truncation, padded with zeros when it is shorter.
        if fraction.is_empty() || !fraction.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let mut part: i64 = 0;
        for i in 0..scale_digits {
            let digit = fraction.get(i).map_or(0, |d| i64::from(d - b'0'));
            part = part * 10 + digit;
        }
        value = value.checked_add(part)?;
    }
    Some(value)
}

/// One or more ASCII digits as an `i64`, `None` when empty, not digits, or too large.
fn parse_digits(digits: &[u8]) -> Option<i64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0i64, |acc, &b| {
        if b.is_ascii_digit() {
            acc.checked_mul(10)?.checked_add(i64::from(b - b'0'))
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn table_of_data_md() {
        let cases: &[(&str, Option<i64>)] = &[
            ("848", Some(848)),
            ("0", Some(0)),
            ("007", Some(7)),
            ("35k", Some(35_000)),
            ("942k", Some(942_000)),
            ("35K", Some(35_000)),
            ("2M", Some(2_000_000)),
            ("1B", Some(1_000_000_000)),
            ("1.5k", Some(1_500)),
            ("4.35k", Some(4_350)),
            ("1.2345k", Some(1_234)),
            ("1.9999M", Some(1_999_900)),
            ("0.0001k", Some(0)),
            ("1,234", Some(1_234)),
            ("1,234,567", Some(1_234_567)),
            (" \t12k\u{3000}", Some(12_000)),
            ("9223372036854775807", Some(i64::MAX)),
            ("9,223,372,036,854,775,807", Some(i64::MAX)),
            ("9223372036854775.807k", Some(i64::MAX)),
            ("9223372036.854775807B", Some(i64::MAX)),
            ("9223372036854775808", None),
            ("9223372036854775.808k", None),
            ("1,23", None),
            ("12,3456", None),
            ("1234,567", None),
            (",123", None),
            ("1,", None),
            ("1,,234", None),
            ("User Info Error", None),
            ("", None),
            ("   ", None),
            ("-5", None),
            ("+5", None),
            ("5.0", None),
            ("1e3", None),
            ("35 k", None),
            ("10m", None),
            ("1.5b", None),
            ("1.5kk", None),
            (".5k", None),
            ("5.k", None),
            ("1,234k", None),
            ("k", None),
            ("1.2.3k", None),
            ("1.000000000000000000000000001k", Some(1_000)),
            ("١٢٣", None),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_follower_count(text), *expected, "input {text:?}");
        }
    }

    fn with_thousands_groups(n: u64) -> String {
        let digits = n.to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        out
    }

    proptest! {
        #[test]
        fn never_panics(text in any::<String>()) {
            let _ = parse_follower_count(&text);
        }

        #[test]
        fn plain_and_grouped_digits_round_trip(n in 0..=i64::MAX) {
            prop_assert_eq!(parse_follower_count(&n.to_string()), Some(n));
            prop_assert_eq!(parse_follower_count(&with_thousands_groups(n as u64)), Some(n));
        }

        #[test]
        fn thousands_suffix_is_exact(whole in 0i64..1_000_000, frac in 0u32..1000) {
            let text = format!("{whole}.{frac:03}k");
            prop_assert_eq!(parse_follower_count(&text), Some(whole * 1000 + i64::from(frac)));
        }
    }
}
