//! Reading the Prometheus text exposition back (the overview sampler reads the recorder's own
//! output, so the dashboard and `/metrics` can never disagree).
//!
//! Hand-written: the format is a line per sample, and the crates that parse it
//! (`prometheus-parse`) are unmaintained or pull a PromQL engine.

use std::collections::BTreeMap;

/// One sample line: `name{label="value",…} value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The series name (with `_bucket`, `_sum`, `_count` suffixes as written).
    pub name: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Its value.
    pub value: f64,
}

/// A parsed exposition.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scrape {
    /// Every sample, in order.
    pub samples: Vec<Sample>,
    /// `# TYPE` of each family.
    pub types: BTreeMap<String, String>,
}

impl Scrape {
    /// Parses exposition text; lines that are not samples or `# TYPE` are skipped.
    pub fn parse(text: &str) -> Scrape {
        let mut scrape = Scrape::default();
        for line in text.lines() {
            let line = line.trim();
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let mut parts = rest.split_whitespace();
                if let (Some(name), Some(kind)) = (parts.next(), parts.next()) {
                    scrape.types.insert(name.to_owned(), kind.to_owned());
                }
                continue;
            }
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(sample) = parse_sample(line) {
                scrape.samples.push(sample);
            }
        }
        scrape
    }

    /// The sum of `name`'s samples whose labels include every `(label, value)` of `filter`.
    pub fn sum(&self, name: &str, filter: &[(&str, &str)]) -> f64 {
        self.matching(name, filter).map(|s| s.value).sum()
    }

    /// The largest of those samples (0 when there is none).
    pub fn max(&self, name: &str, filter: &[(&str, &str)]) -> f64 {
        self.matching(name, filter)
            .map(|s| s.value)
            .fold(0.0, f64::max)
    }

    /// Whether any sample of `name` exists.
    pub fn has(&self, name: &str) -> bool {
        self.samples.iter().any(|s| s.name == name)
    }

    /// `name`'s samples matching `filter`.
    pub fn matching<'a>(
        &'a self,
        name: &'a str,
        filter: &'a [(&'a str, &'a str)],
    ) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples.iter().filter(move |s| {
            s.name == name
                && filter
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).is_some_and(|have| have == v))
        })
    }

    /// A histogram's cumulative buckets summed over its series: `(le, count)` by ascending `le`.
    pub fn buckets(&self, histogram: &str) -> Vec<(f64, f64)> {
        let name = format!("{histogram}_bucket");
        let mut by_le: BTreeMap<u64, (f64, f64)> = BTreeMap::new();
        for s in self.samples.iter().filter(|s| s.name == name) {
            let Some(le) = s.labels.get("le").and_then(|le| parse_value(le)) else {
                continue;
            };
            let entry = by_le.entry(order_key(le)).or_insert((le, 0.0));
            entry.1 += s.value;
        }
        by_le.into_values().collect()
    }
}

/// A key that sorts non-negative floats (and +Inf) in numeric order.
fn order_key(value: f64) -> u64 {
    if value.is_infinite() {
        u64::MAX
    } else {
        value.max(0.0).to_bits()
    }
}

/// The `q`-quantile (0–1) of the observations between two readings of one histogram's
/// cumulative buckets, interpolated within the bucket as PromQL's `histogram_quantile` does;
/// `None` when nothing was observed in between.
pub fn quantile(before: &[(f64, f64)], after: &[(f64, f64)], q: f64) -> Option<f64> {
    let delta: Vec<(f64, f64)> = after
        .iter()
        .map(|(le, count)| {
            let was = before
                .iter()
                .find(|(l, _)| l == le)
                .map_or(0.0, |(_, c)| *c);
            (*le, (count - was).max(0.0))
        })
        .collect();
    let total = delta.last().map(|(_, c)| *c)?;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let mut lower = (0.0, 0.0);
    for (le, count) in &delta {
        if *count >= rank {
            if le.is_infinite() {
                return Some(lower.0);
            }
            let width = count - lower.1;
            let share = if width > 0.0 {
                (rank - lower.1) / width
            } else {
                1.0
            };
            return Some(lower.0 + (le - lower.0) * share);
        }
        lower = (*le, *count);
    }
    Some(lower.0)
}

fn parse_value(text: &str) -> Option<f64> {
    match text {
        "+Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        other => other.parse().ok(),
    }
}

fn parse_sample(line: &str) -> Option<Sample> {
    let (name, labels, rest) = match line.find('{') {
        Some(open) => {
            let (labels, after) = parse_labels(&line[open + 1..])?;
            (&line[..open], labels, after)
        }
        None => {
            let end = line.find(char::is_whitespace)?;
            (&line[..end], BTreeMap::new(), &line[end..])
        }
    };
    let value = parse_value(rest.split_whitespace().next()?)?;
    Some(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

/// Parses `a="x",b="y"}` and returns the labels and what follows the `}`.
fn parse_labels(text: &str) -> Option<(BTreeMap<String, String>, &str)> {
    let mut labels = BTreeMap::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start_matches([',', ' ']);
        if let Some(after) = rest.strip_prefix('}') {
            return Some((labels, after));
        }
        let eq = rest.find('=')?;
        let key = rest[..eq].trim().to_owned();
        let mut chars = rest[eq + 1..].char_indices();
        if chars.next()?.1 != '"' {
            return None;
        }
        let mut value = String::new();
        let mut end = None;
        let mut escaped = false;
        for (i, c) in chars {
            if escaped {
                value.push(match c {
                    'n' => '\n',
                    other => other,
                });
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                end = Some(eq + 1 + i + 1);
                break;
            } else {
                value.push(c);
            }
        }
        labels.insert(key, value);
        rest = &rest[end?..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# HELP a_total things\n# TYPE a_total counter\n\
        a_total{topic=\"pins\",reason=\"in\\\"valid\"} 3\na_total{topic=\"geos\",reason=\"x\"} 4\n\
        # TYPE h histogram\nh_bucket{le=\"0.1\"} 1\nh_bucket{le=\"1\"} 3\nh_bucket{le=\"+Inf\"} 4\n\
        h_sum 2.5\nh_count 4\nplain 7.5\n";

    #[test]
    fn samples_labels_and_types_are_read() {
        let scrape = Scrape::parse(TEXT);
        assert_eq!(scrape.types["a_total"], "counter");
        assert_eq!(scrape.types["h"], "histogram");
        assert_eq!(scrape.sum("a_total", &[]), 7.0);
        assert_eq!(scrape.sum("a_total", &[("reason", "in\"valid")]), 3.0);
        assert_eq!(scrape.max("a_total", &[]), 4.0);
        assert_eq!(scrape.sum("plain", &[]), 7.5);
        assert!(!scrape.has("missing"));
        assert_eq!(
            scrape.buckets("h"),
            vec![(0.1, 1.0), (1.0, 3.0), (f64::INFINITY, 4.0)]
        );
    }

    #[test]
    fn quantiles_interpolate_within_the_bucket_of_the_deltas() {
        let before = [(0.1, 1.0), (1.0, 1.0), (f64::INFINITY, 1.0)];
        let after = [(0.1, 1.0), (1.0, 5.0), (f64::INFINITY, 5.0)];
        // Four new observations, all in (0.1, 1]: the median is half-way through that bucket.
        let p50 = quantile(&before, &after, 0.5).unwrap();
        assert!((p50 - 0.55).abs() < 1e-9, "{p50}");
        assert_eq!(quantile(&after, &after, 0.5), None);
    }
}
