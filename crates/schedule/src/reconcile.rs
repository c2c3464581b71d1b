//! Reconciliation: the two pipelines check each other. For a date D, the serving DB's `pins`,
//! `geos` and `users` (the speed layer's) are compared with the lake's curated tables (the batch
//! layer's), key by key and column by column over data.md's clean columns.
//!
//! Both sides keep one row per key, its newest record. A key whose newest record, on either side,
//! arrived after the end of D is set aside and counted: the other side may rightly hold an older
//! or a newer version of it. Every other key must be on both sides with equal columns.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Days, NaiveDate, Utc};
use pinpipe_batch::BatchConfig;
use pinpipe_lake::{KINDS, Lake};
use pinpipe_model::EventType;
use serde::Serialize;
use serde_json::Value;

/// Sample keys kept per table and kind of difference.
pub const SAMPLES: usize = 10;

/// What reconciling one table found.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TableReport {
    /// `pins`, `geos` or `users`.
    pub table: String,
    /// Keys on both sides with equal columns.
    pub matched: u64,
    /// Keys on both sides whose columns differ.
    pub mismatched: u64,
    /// Keys only the serving DB has.
    pub only_in_serving: u64,
    /// Keys only the lake has.
    pub only_in_lake: u64,
    /// Keys whose newest record arrived after the date, on either side.
    pub set_aside: u64,
    /// Some of the differences: the key and the columns that differ (`*` for a missing row).
    pub samples: Vec<Difference>,
}

/// One key that differs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Difference {
    /// The key (`unique_id` or `ind`).
    pub key: String,
    /// `mismatch`, `only_in_serving` or `only_in_lake`.
    pub kind: &'static str,
    /// The columns that differ (all of them for a missing row).
    pub columns: Vec<String>,
}

/// What reconciling a date found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The date.
    pub date: NaiveDate,
    /// Per table, in the order pins, geos, users.
    pub tables: Vec<TableReport>,
}

impl Report {
    /// True when every compared key matched.
    pub fn is_equal(&self) -> bool {
        self.tables
            .iter()
            .all(|t| t.mismatched == 0 && t.only_in_serving == 0 && t.only_in_lake == 0)
    }

    /// One line for logs and the run history.
    pub fn summary(&self) -> String {
        let parts: Vec<String> = self
            .tables
            .iter()
            .map(|t| {
                let mut line = format!(
                    "{}: {} matched, {} mismatched, {} only in serving, {} only in lake, {} set aside",
                    t.table, t.matched, t.mismatched, t.only_in_serving, t.only_in_lake, t.set_aside
                );
                if let Some(first) = t.samples.first() {
                    line.push_str(&format!(
                        " (e.g. {} {}: {})",
                        first.kind,
                        first.key,
                        first.columns.join(", ")
                    ));
                }
                line
            })
            .collect();
        parts.join("; ")
    }
}

/// A side's rows by key: the contract columns' values and the newest record's receive time.
type Side = BTreeMap<String, (Vec<Value>, Option<DateTime<Utc>>)>;

fn received_at(value: &Value) -> Option<DateTime<Utc>> {
    value
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

fn key_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Rows of `columns` (and `received_at`) by key, from a result whose columns are named.
fn side(
    result: &pinpipe_serving::query::Rows,
    columns: &[String],
    key: &str,
) -> Result<Side, String> {
    // The serving DB names no columns when a table is empty.
    if result.rows.is_empty() {
        return Ok(BTreeMap::new());
    }
    let index = |name: &str| {
        result
            .columns
            .iter()
            .position(|c| c == name)
            .ok_or_else(|| format!("no column {name} in {:?}", result.columns))
    };
    let picks = columns
        .iter()
        .map(|c| index(c))
        .collect::<Result<Vec<_>, _>>()?;
    let (key_at, received) = (index(key)?, index("received_at")?);
    let mut rows = BTreeMap::new();
    for row in &result.rows {
        let values = picks.iter().map(|&i| row[i].clone()).collect();
        rows.insert(
            key_text(&row[key_at]),
            (values, received_at(&row[received])),
        );
    }
    Ok(rows)
}

/// Compares the serving DB at `serving_url` with the lake's curated tables for `date`.
pub async fn reconcile(
    serving_url: &str,
    lake: &Lake,
    batch: &BatchConfig,
    date: NaiveDate,
) -> Result<Report, String> {
    let end = (date + Days::new(1))
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc())
        .ok_or("date out of range")?;
    let mut tables = Vec::new();
    for (kind, table) in EventType::ALL.into_iter().zip(KINDS) {
        // data.md's clean columns, as the lake's contract tables give them.
        let contract = pinpipe_batch::query::query(
            lake,
            batch,
            &format!("SELECT * FROM {table} LIMIT 0"),
            None,
        )
        .await
        .map_err(|e| format!("the lake's {table}: {e}"))?
        .columns;
        let lake_rows = pinpipe_batch::query::query(
            lake,
            batch,
            &format!("SELECT * FROM curated_{table}"),
            None,
        )
        .await
        .map_err(|e| format!("the lake's curated_{table}: {e}"))?;
        let serving_rows =
            pinpipe_serving::query::query(serving_url, &format!("SELECT * FROM {table}"))
                .await
                .map_err(|e| format!("the serving DB's {table}: {e}"))?;
        let key = kind.key_field();
        let lake_side = side(&lake_rows, &contract, key)?;
        let serving_side = side(&serving_rows, &contract, key)?;
        tables.push(compare(table, &contract, &serving_side, &lake_side, end));
    }
    Ok(Report { date, tables })
}

fn compare(
    table: &str,
    columns: &[String],
    serving: &Side,
    lake: &Side,
    end: DateTime<Utc>,
) -> TableReport {
    let mut report = TableReport {
        table: table.to_owned(),
        ..TableReport::default()
    };
    let late = |row: Option<&(Vec<Value>, Option<DateTime<Utc>>)>| {
        row.is_some_and(|(_, at)| at.is_none_or(|at| at >= end))
    };
    let keys: BTreeSet<&String> = serving.keys().chain(lake.keys()).collect();
    for key in keys {
        let (s, l) = (serving.get(key), lake.get(key));
        if late(s) || late(l) {
            report.set_aside += 1;
            continue;
        }
        let difference = match (s, l) {
            (Some((a, _)), Some((b, _))) => {
                let differ: Vec<String> = columns
                    .iter()
                    .zip(a.iter().zip(b))
                    .filter(|(_, (x, y))| x != y)
                    .map(|(c, _)| c.clone())
                    .collect();
                if differ.is_empty() {
                    report.matched += 1;
                    None
                } else {
                    report.mismatched += 1;
                    Some(("mismatch", differ))
                }
            }
            (Some(_), None) => {
                report.only_in_serving += 1;
                Some(("only_in_serving", vec!["*".to_owned()]))
            }
            (None, Some(_)) => {
                report.only_in_lake += 1;
                Some(("only_in_lake", vec!["*".to_owned()]))
            }
            (None, None) => None,
        };
        if let Some((kind, columns)) = difference
            && report.samples.len() < SAMPLES
        {
            report.samples.push(Difference {
                key: key.clone(),
                kind,
                columns,
            });
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(s: &str) -> Option<DateTime<Utc>> {
        received_at(&json!(s))
    }

    #[test]
    fn keys_are_matched_compared_column_by_column_or_set_aside() {
        let columns = vec!["ind".to_owned(), "age".to_owned()];
        let end = at("2026-12-02T00:00:00Z").unwrap();
        let row = |age: i64, when: &str| (vec![json!(1), json!(age)], at(when));
        let serving: Side = [
            ("1".to_owned(), row(20, "2026-12-01T10:00:00Z")),
            ("2".to_owned(), row(30, "2026-12-01T10:00:00Z")),
            ("3".to_owned(), row(40, "2026-12-01T10:00:00Z")),
            ("4".to_owned(), row(50, "2026-12-02T00:00:00Z")),
        ]
        .into();
        let lake: Side = [
            ("1".to_owned(), row(20, "2026-12-01T10:00:00Z")),
            ("2".to_owned(), row(31, "2026-12-01T10:00:00Z")),
            ("4".to_owned(), row(49, "2026-12-01T09:00:00Z")),
            ("5".to_owned(), row(60, "2026-12-01T09:00:00Z")),
        ]
        .into();
        let report = compare("users", &columns, &serving, &lake, end);
        assert_eq!(
            (
                report.matched,
                report.mismatched,
                report.only_in_serving,
                report.only_in_lake,
                report.set_aside
            ),
            (1, 1, 1, 1, 1)
        );
        assert_eq!(report.samples[0].key, "2");
        assert_eq!(report.samples[0].columns, vec!["age".to_owned()]);
        let whole = Report {
            date: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
            tables: vec![report],
        };
        assert!(!whole.is_equal());
        assert!(
            whole.summary().contains("mismatch 2: age"),
            "{}",
            whole.summary()
        );
    }
}
