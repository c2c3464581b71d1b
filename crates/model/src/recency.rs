//! "Last received wins": the one recency rule of every layer.
//!
//! data.md: when a key was received more than once, the whole record received last (highest log
//! position) wins. A log position is a partition and an offset, and offsets order records only
//! within their partition; across partitions only the receive time orders them. So the rule is
//! defined on the set of a key's records:
//!
//! 1. in each partition, the record at the highest offset is that partition's last;
//! 2. of those, the one with the latest receive time wins, a tie going to the higher partition.
//!
//! [`latest`] states it over a set; [`LogPosition::is_later_than`] is its pairwise form, used by
//! the speed layer one micro-batch at a time ([`crate::LatestByKey`]) and by the serving DB's
//! upsert (its SQL twin, tested against this module in crates/serving/tests). The batch layer's
//! SQL (pinpipe_batch::job::curated_sql) and `pinpipe clean --dedup` (one stream: one
//! partition, offsets = line numbers) mirror it, each tested equal to [`latest`].
//!
//! Applied record by record in log order, the pairwise form gives [`latest`]'s answer whenever a
//! key stays in one partition (pinpipe puts every key in one; offsets decide alone), or receive
//! times never go backwards within a partition (then the rule is a total order). Only a key
//! that changes partition *and* a partition whose receive times go backwards (a foreign
//! producer's timestamps) can make the speed layer keep another record than the batch for a
//! while; `pinpipe reconcile` reports such a key.

use chrono::{DateTime, Utc};

/// Where a record is in the log, and when it was received.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LogPosition {
    /// Log partition.
    pub partition: u32,
    /// Offset within the partition.
    pub offset: u64,
    /// Receive time (the log record's timestamp).
    pub received_at: DateTime<Utc>,
}

impl LogPosition {
    /// A position in a single ordered stream (one partition; receive time unknown), such as the
    /// lines of `pinpipe clean --dedup`'s input.
    pub fn in_stream(index: u64) -> LogPosition {
        LogPosition {
            partition: 0,
            offset: index,
            received_at: DateTime::<Utc>::UNIX_EPOCH,
        }
    }

    /// Whether a record at `self` was received after one of the same key at `other`: by offset
    /// within a partition, else by receive time, then by partition.
    pub fn is_later_than(&self, other: &LogPosition) -> bool {
        if self.partition == other.partition {
            self.offset > other.offset
        } else {
            (self.received_at, self.partition) > (other.received_at, other.partition)
        }
    }
}

/// The winning position among one key's records (the rule over a whole set, in any order);
/// `None` for no records.
pub fn latest<'a>(positions: impl IntoIterator<Item = &'a LogPosition>) -> Option<&'a LogPosition> {
    let mut last_per_partition: Vec<&LogPosition> = Vec::new();
    for position in positions {
        match last_per_partition
            .iter_mut()
            .find(|held| held.partition == position.partition)
        {
            Some(held) if position.offset > held.offset => *held = position,
            Some(_) => {}
            None => last_per_partition.push(position),
        }
    }
    last_per_partition
        .into_iter()
        .max_by_key(|p| (p.received_at, p.partition))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(partition: u32, offset: u64, ms: i64) -> LogPosition {
        LogPosition {
            partition,
            offset,
            received_at: DateTime::from_timestamp_millis(ms).unwrap(),
        }
    }

    #[test]
    fn the_rule_case_by_case() {
        // (later?, a, b, why)
        let cases = [
            (
                true,
                at(0, 5, 0),
                at(0, 4, 9),
                "same partition: the higher offset, whatever the times",
            ),
            (
                false,
                at(0, 4, 9),
                at(0, 5, 0),
                "same partition: a lower offset never wins",
            ),
            (
                false,
                at(0, 4, 0),
                at(0, 4, 0),
                "the same record is not later than itself",
            ),
            (
                true,
                at(1, 0, 10),
                at(0, 99, 9),
                "across partitions: the later receive time",
            ),
            (
                true,
                at(1, 0, 10),
                at(0, 0, 10),
                "across partitions, same time: the higher partition",
            ),
            (
                false,
                at(0, 99, 10),
                at(1, 0, 10),
                "... and not the lower one",
            ),
        ];
        for (later, a, b, why) in cases {
            assert_eq!(a.is_later_than(&b), later, "{why}: {a:?} vs {b:?}");
        }
        let set = [at(0, 1, 10), at(0, 2, 5), at(1, 0, 7)];
        assert_eq!(
            latest(&set),
            Some(&at(1, 0, 7)),
            "partition 0's last is offset 2 (time 5)"
        );
        assert_eq!(latest(&[]), None);
    }

    /// One key's records as the log holds them: per partition, offsets increasing, receive times
    /// non-decreasing (as pinpipe's ingest stamps them, up to concurrent requests) when `monotone`.
    fn partitions(monotone: bool) -> impl Strategy<Value = Vec<Vec<LogPosition>>> {
        proptest::collection::vec(proptest::collection::vec((1u64..3, 0i64..4), 0..6), 1..4)
            .prop_map(move |parts| {
                parts
                    .into_iter()
                    .enumerate()
                    .map(|(p, steps)| {
                        let (mut offset, mut ms) = (0u64, 0i64);
                        steps
                            .into_iter()
                            .map(|(gap, dt)| {
                                offset += gap;
                                ms = if monotone { ms + dt } else { dt * 3 };
                                at(p as u32, offset, ms)
                            })
                            .collect()
                    })
                    .collect()
            })
    }

    /// Applies the pairwise rule record by record in one interleaving of the partitions (each
    /// partition in its own order, as a consumer reads them).
    fn apply_pairwise(parts: &[Vec<LogPosition>], order: &[usize]) -> Option<LogPosition> {
        let mut next = vec![0usize; parts.len()];
        let mut held: Option<LogPosition> = None;
        let mut pick = order.iter().cycle();
        let total: usize = parts.iter().map(Vec::len).sum();
        let mut taken = 0;
        while taken < total {
            // The picked partition, or the next one with records left.
            let first = pick.next().unwrap() % parts.len();
            let p = (0..parts.len())
                .map(|i| (first + i) % parts.len())
                .find(|&p| next[p] < parts[p].len())
                .unwrap();
            let position = &parts[p][next[p]];
            next[p] += 1;
            taken += 1;
            if held.is_none_or(|h| position.is_later_than(&h)) {
                held = Some(*position);
            }
        }
        held
    }

    proptest! {
        /// With receive times that never go backwards within a partition, every interleaving of
        /// the pairwise rule gives the set rule's winner.
        #[test]
        fn pairwise_equals_the_set_rule_in_any_reading_order(
            parts in partitions(true),
            order in proptest::collection::vec(0usize..4, 1..12),
        ) {
            let all: Vec<LogPosition> = parts.iter().flatten().copied().collect();
            prop_assert_eq!(apply_pairwise(&parts, &order), latest(&all).copied());
        }

        /// A key in one partition: the highest offset wins whatever the receive times.
        #[test]
        fn in_one_partition_the_highest_offset_wins(parts in partitions(false)) {
            let one = &parts[0];
            let winner = latest(one).copied();
            prop_assert_eq!(winner, one.iter().max_by_key(|p| p.offset).copied());
            prop_assert_eq!(apply_pairwise(std::slice::from_ref(one), &[0]), winner);
        }

        /// The set rule does not depend on the order of its input.
        #[test]
        fn the_set_rule_is_order_free(parts in partitions(false), seed in any::<u64>()) {
            let mut all: Vec<LogPosition> = parts.iter().flatten().copied().collect();
            let winner = latest(&all).copied();
            let n = all.len().max(1);
            all.rotate_left((seed as usize) % n);
            all.reverse();
            prop_assert_eq!(latest(&all).copied(), winner);
        }
    }
}
