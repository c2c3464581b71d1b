//! The lake's layout (architecture.md), every folder named here once:
//!
//! - `raw/<pins|geos|users>/dt=YYYY-MM-DD/pPPPPP-FIRST-LAST.parquet`: events as received;
//! - `curated/<pins|geos|users>/`: the clean, de-duplicated Delta tables of the batch job;
//! - `analytics/<name>/dt=YYYY-MM-DD/part-00000.parquet`: the daily results;
//! - `work/<date>-<run id>/`: a batch run's intermediate results.

use pinpipe_model::EventType;

/// The raw zone's folder.
pub const RAW: &str = "raw";
/// The curated tables' folder.
pub const CURATED: &str = "curated";
/// The analytics' folder.
pub const ANALYTICS: &str = "analytics";
/// The batch runs' work area.
pub const WORK: &str = "work";

/// The folder (and table) name of each event type under `raw/` and `curated/`, in
/// [`EventType::ALL`] order: `pins`, `geos`, `users`.
pub const KINDS: [&str; 3] = [
    EventType::Pin.plural(),
    EventType::Geo.plural(),
    EventType::User.plural(),
];

/// `raw/<kind>`.
pub fn raw_folder(kind: &str) -> String {
    format!("{RAW}/{kind}")
}

/// `curated/<kind>`: a curated Delta table.
pub fn curated_table(kind: &str) -> String {
    format!("{CURATED}/{kind}")
}

/// `analytics/<name>`: every date of one analytic.
pub fn analytics_folder(name: &str) -> String {
    format!("{ANALYTICS}/{name}")
}

/// `analytics/<name>/dt=<date>/part-00000.parquet`: one date's result of one analytic.
pub fn analytics_file(name: &str, date: impl std::fmt::Display) -> String {
    format!("{ANALYTICS}/{name}/dt={date}/part-00000.parquet")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_topics_are_the_lake_folders_in_event_type_order() {
        let topics = pinpipe_log::LogConfig::default();
        assert_eq!(topics.topic_names(), KINDS);
        for (kind, folder) in EventType::ALL.into_iter().zip(KINDS) {
            assert_eq!(EventType::from_name(folder), Some(kind));
            assert_eq!(EventType::from_name(kind.as_str()), Some(kind));
        }
        assert_eq!(raw_folder("pins"), "raw/pins");
        assert_eq!(curated_table("geos"), "curated/geos");
        assert_eq!(
            analytics_file("top_tags", "2026-12-01"),
            "analytics/top_tags/dt=2026-12-01/part-00000.parquet"
        );
    }
}
