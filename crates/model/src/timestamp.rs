//! Timestamps as the source writes them, normalised to UTC whole seconds.

use std::fmt;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use serde::{Serialize, Serializer};

/// A UTC instant with whole-second precision, in years 0000–9999.
///
/// Displays and serialises as RFC 3339 UTC, `YYYY-MM-DDTHH:MM:SSZ`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    /// The instant, in UTC.
    pub fn as_datetime(self) -> DateTime<Utc> {
        self.0
    }

    /// Parses one of the three formats of data.md, after trimming:
    /// `YYYY-MM-DD HH:MM:SS` and `YYYY:MM:DD HH:MM:SS` (both UTC), and
    /// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, converted to UTC with the fraction truncated.
    /// Impossible dates and anything else give `None`.
    ///
    /// ```
    /// use pinpipe_model::Timestamp;
    /// let t = Timestamp::parse("2020-12-31T23:30:00.9-01:00").unwrap();
    /// assert_eq!(t.to_string(), "2021-01-01T00:30:00Z");
    /// assert_eq!(Timestamp::parse("2020:08:28 03:52:47").unwrap().to_string(), "2020-08-28T03:52:47Z");
    /// assert_eq!(Timestamp::parse("2020-02-30 00:00:00"), None);
    /// ```
    pub fn parse(text: &str) -> Option<Timestamp> {
        let b = crate::text::trim(text).as_bytes();
        if b.len() < 19 || b[4] != b[7] {
            return None;
        }
        let date =
            NaiveDate::from_ymd_opt(digits(b, 0, 4)? as i32, digits(b, 5, 2)?, digits(b, 8, 2)?)?;
        let time =
            NaiveTime::from_hms_opt(digits(b, 11, 2)?, digits(b, 14, 2)?, digits(b, 17, 2)?)?;
        if b[13] != b':' || b[16] != b':' {
            return None;
        }
        let local = NaiveDateTime::new(date, time);
        let utc = match (b[4], b[10]) {
            (b'-' | b':', b' ') if b.len() == 19 => local,
            (b'-', b'T') => local.checked_sub_offset(zone(skip_fraction(&b[19..])?)?)?,
            _ => return None,
        };
        (0..=9999)
            .contains(&utc.year())
            .then(|| Timestamp(utc.and_utc()))
    }
}

/// `n` ASCII digits starting at `at`, as a number.
fn digits(b: &[u8], at: usize, n: usize) -> Option<u32> {
    b.get(at..at + n)?.iter().try_fold(0u32, |acc, &d| {
        d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0'))
    })
}

/// Skips an optional `.digits` fraction (at least one digit), returning the rest.
fn skip_fraction(rest: &[u8]) -> Option<&[u8]> {
    match rest.split_first() {
        Some((b'.', after)) => {
            let n = after.iter().take_while(|d| d.is_ascii_digit()).count();
            (n > 0).then(|| &after[n..])
        }
        _ => Some(rest),
    }
}

/// `Z` or `±HH:MM` (HH 00–23, MM 00–59) and nothing after it.
fn zone(rest: &[u8]) -> Option<FixedOffset> {
    match rest {
        b"Z" => FixedOffset::east_opt(0),
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (hours, minutes) = (digits(rest, 1, 2)?, digits(rest, 4, 2)?);
            if hours > 23 || minutes > 59 {
                return None;
            }
            let seconds = (hours * 3600 + minutes * 60) as i32;
            FixedOffset::east_opt(if *sign == b'-' { -seconds } else { seconds })
        }
        _ => None,
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%dT%H:%M:%SZ"))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(text: &str) -> Option<String> {
        Timestamp::parse(text).map(|t| t.to_string())
    }

    #[test]
    fn table_of_formats() {
        let cases: &[(&str, Option<&str>)] = &[
            ("2020-08-28 03:52:47", Some("2020-08-28T03:52:47Z")),
            ("2020:08:28 03:52:47", Some("2020-08-28T03:52:47Z")),
            ("  2020-08-28 03:52:47\n", Some("2020-08-28T03:52:47Z")),
            ("2020-08-28T03:52:47Z", Some("2020-08-28T03:52:47Z")),
            ("2020-08-28T03:52:47.999999Z", Some("2020-08-28T03:52:47Z")),
            ("2020-08-28T03:52:47+05:30", Some("2020-08-27T22:22:47Z")),
            ("2020-12-31T20:00:00-08:00", Some("2021-01-01T04:00:00Z")),
            ("2020-01-01T00:30:00+01:00", Some("2019-12-31T23:30:00Z")),
            ("2020-02-29 12:00:00", Some("2020-02-29T12:00:00Z")),
            ("9999-12-31T23:59:59Z", Some("9999-12-31T23:59:59Z")),
            ("0000-01-01 00:00:00", Some("0000-01-01T00:00:00Z")),
            ("9999-12-31T23:59:59-00:01", None),
            ("0000-01-01T00:00:00+00:01", None),
            ("2019-02-29 12:00:00", None),
            ("2020-02-30 00:00:00", None),
            ("2020-13-01 00:00:00", None),
            ("2020-08-28 24:00:00", None),
            ("2020-08-28 23:60:00", None),
            ("2020-08-28 23:59:60", None),
            ("2020-08-28T03:52:47", None),
            ("2020-08-28t03:52:47Z", None),
            ("2020-08-28T03:52:47z", None),
            ("2020-08-28T03:52:47.Z", None),
            ("2020-08-28T03:52:47+0530", None),
            ("2020-08-28T03:52:47+24:00", None),
            ("2020-08-28T03:52:47+05:60", None),
            ("2020-08-28T03:52:47Z ", Some("2020-08-28T03:52:47Z")),
            ("2020:08:28T03:52:47Z", None),
            ("2020-08:28 03:52:47", None),
            ("2020-08-28 03:52:47Z", None),
            ("2020-08-28 03:52:47.5", None),
            ("2020-8-28 03:52:47", None),
            ("20-08-28 03:52:47", None),
            ("+2020-08-28 03:52:47", None),
            ("2020-08-28 03-52-47", None),
            ("2020/08/28 03:52:47", None),
            ("", None),
            ("not a date", None),
        ];
        for (text, expected) in cases {
            assert_eq!(parse(text).as_deref(), *expected, "input {text:?}");
        }
    }

    proptest! {
        #[test]
        fn never_panics(text in any::<String>()) {
            let _ = Timestamp::parse(&text);
        }

        #[test]
        fn never_panics_on_near_misses(text in "[0-9]{4}[-:][0-9]{2}[-:][0-9]{2}[ T][0-9:]{8}(\\.[0-9]{0,3})?([Z+-][0-9:]{0,6})?") {
            let _ = Timestamp::parse(&text);
        }

        #[test]
        fn all_formats_agree(secs in -62_167_219_200i64..253_402_300_800, offset_min in -(23 * 60 + 59)..=(23 * 60 + 59)) {
            let utc = DateTime::from_timestamp(secs, 0).unwrap();
            let expected = utc.format("%Y-%m-%dT%H:%M:%SZ").to_string();
            for pattern in ["%Y-%m-%d %H:%M:%S", "%Y:%m:%d %H:%M:%S", "%Y-%m-%dT%H:%M:%SZ"] {
                prop_assert_eq!(parse(&utc.format(pattern).to_string()), Some(expected.clone()));
            }
            let zone = FixedOffset::east_opt(offset_min * 60).unwrap();
            let local = utc.with_timezone(&zone);
            if (0..=9999).contains(&local.year()) {
                let text = local.format("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string();
                prop_assert_eq!(parse(&text), Some(expected));
            }
        }
    }
}
