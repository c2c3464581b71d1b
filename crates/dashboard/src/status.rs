//! Green, amber or red for a stage of the pipeline strip, from its overview numbers. The
//! dashboard's script applies the same thresholds when it redraws the strip
//! (`assets/dashboard.js`, `health`).

use chrono::{DateTime, Utc};
use serde_json::Value;

/// A stage's state at a glance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Working, caught up.
    Green,
    /// Errors, or falling behind.
    Amber,
    /// Far behind, saturated, or no successful batch for a day.
    Red,
}

impl Health {
    /// The CSS class.
    pub fn class(self) -> &'static str {
        match self {
            Health::Green => "green",
            Health::Amber => "amber",
            Health::Red => "red",
        }
    }
}

/// Lag in seconds beyond which the speed layer is amber, red.
const STREAM_LAG: (f64, f64) = (10.0, 60.0);
/// The lake writer rolls files every few seconds to minutes: its lag thresholds are wider.
const LAKE_LAG: (f64, f64) = (120.0, 600.0);
/// Pending appends over their limit beyond which the log is amber, red.
const PENDING: (f64, f64) = (0.5, 0.8);
/// Hours since the last successful batch beyond which batch is red (the alert's 26 h).
const BATCH_HOURS: i64 = 26;

fn f(stage: &Value, key: &str) -> f64 {
    stage.get(key).and_then(Value::as_f64).unwrap_or(0.0)
}

/// The health of stage `name` (`ingest`, `log`, `stream`, `lake`, `batch`) given its overview
/// object, at time `now`.
pub fn stage_health(name: &str, stage: &Value, now: DateTime<Utc>) -> Health {
    let errors = f(stage, "errors_per_min");
    let lag = |(amber, red): (f64, f64)| {
        let seconds = f(stage, "lag_seconds");
        if seconds > red {
            Health::Red
        } else if seconds > amber || errors > 0.0 {
            Health::Amber
        } else {
            Health::Green
        }
    };
    match name {
        "stream" => lag(STREAM_LAG),
        "lake" => lag(LAKE_LAG),
        "log" => {
            let limit = f(stage, "pending_limit");
            let share = if limit > 0.0 {
                f(stage, "pending") / limit
            } else {
                0.0
            };
            if share > PENDING.1 {
                Health::Red
            } else if share > PENDING.0 {
                Health::Amber
            } else {
                Health::Green
            }
        }
        "batch" => match stage
            .get("last_success")
            .and_then(Value::as_str)
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        {
            None => Health::Amber,
            Some(t) if (now - t.with_timezone(&Utc)).num_hours() >= BATCH_HOURS => Health::Red,
            Some(_) => Health::Green,
        },
        _ => {
            if errors > 0.0 {
                Health::Amber
            } else {
                Health::Green
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn thresholds() {
        let now = Utc::now();
        let cases = [
            (
                "ingest",
                json!({"rate": 5.0, "errors_per_min": 0.0}),
                Health::Green,
            ),
            (
                "ingest",
                json!({"rate": 5.0, "errors_per_min": 3.0}),
                Health::Amber,
            ),
            ("stream", json!({"lag_seconds": 0.0}), Health::Green),
            ("stream", json!({"lag_seconds": 11.0}), Health::Amber),
            (
                "stream",
                json!({"lag_seconds": 0.0, "errors_per_min": 1.0}),
                Health::Amber,
            ),
            ("stream", json!({"lag_seconds": 61.0}), Health::Red),
            ("lake", json!({"lag_seconds": 61.0}), Health::Green),
            ("lake", json!({"lag_seconds": 601.0}), Health::Red),
            (
                "log",
                json!({"pending": 10, "pending_limit": 100}),
                Health::Green,
            ),
            (
                "log",
                json!({"pending": 60, "pending_limit": 100}),
                Health::Amber,
            ),
            (
                "log",
                json!({"pending": 90, "pending_limit": 100}),
                Health::Red,
            ),
            ("batch", json!({"last_success": null}), Health::Amber),
            (
                "batch",
                json!({"last_success": (now - chrono::Duration::hours(1)).to_rfc3339()}),
                Health::Green,
            ),
            (
                "batch",
                json!({"last_success": (now - chrono::Duration::hours(27)).to_rfc3339()}),
                Health::Red,
            ),
        ];
        for (name, stage, want) in cases {
            assert_eq!(stage_health(name, &stage, now), want, "{name} {stage}");
        }
    }
}
