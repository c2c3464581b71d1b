//! "Last received wins" de-duplication, by the one recency rule ([`crate::recency`]).

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::Hash;

use crate::recency::LogPosition;

/// Keeps, per key, the whole record received last ([`LogPosition::is_later_than`]).
///
/// Fields are never merged across records. Offered in log order (each partition in its order),
/// it keeps [`crate::recency::latest`]'s winner (see that module for the one case where the
/// pairwise and the set forms can differ). The speed layer uses it within a micro-batch, and
/// `pinpipe clean --dedup` over its input ([`LogPosition::in_stream`]: one stream of lines).
///
/// ```
/// use pinpipe_model::LatestByKey;
/// use pinpipe_model::recency::LogPosition;
/// let mut latest = LatestByKey::new();
/// latest.offer(LogPosition::in_stream(5), "a", "fifth");
/// latest.offer(LogPosition::in_stream(2), "a", "second");
/// latest.offer(LogPosition::in_stream(3), "b", "third");
/// let winners: Vec<_> = latest.into_winners().into_iter().map(|(p, r)| (p.offset, r)).collect();
/// assert_eq!(winners, vec![(3, "third"), (5, "fifth")]);
/// ```
#[derive(Debug, Clone)]
pub struct LatestByKey<K, R> {
    winners: HashMap<K, (LogPosition, R)>,
}

impl<K: Hash + Eq, R> Default for LatestByKey<K, R> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Hash + Eq, R> LatestByKey<K, R> {
    /// An empty set of winners.
    pub fn new() -> Self {
        LatestByKey {
            winners: HashMap::new(),
        }
    }

    /// Offers the record received at `position` under `key`; it wins unless the held record of
    /// the same key was received later. The same position offered again replaces the held one.
    pub fn offer(&mut self, position: LogPosition, key: K, record: R) {
        match self.winners.entry(key) {
            Entry::Occupied(mut slot) => {
                let held = &slot.get().0;
                if position == *held || position.is_later_than(held) {
                    slot.insert((position, record));
                }
            }
            Entry::Vacant(slot) => {
                slot.insert((position, record));
            }
        }
    }

    /// How many keys are held.
    pub fn len(&self) -> usize {
        self.winners.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.winners.is_empty()
    }

    /// The winning records with their positions, by receive time, partition and offset.
    pub fn into_winners(self) -> Vec<(LogPosition, R)> {
        let mut winners: Vec<(LogPosition, R)> = self.winners.into_values().collect();
        winners.sort_unstable_by_key(|(p, _)| (p.received_at, p.partition, p.offset));
        winners
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Against the definition: for each key, the record at its highest position.
        #[test]
        fn keeps_the_last_received_record_of_each_key(
            records in proptest::collection::vec((0u8..8, any::<u32>()), 0..200),
        ) {
            let mut latest = LatestByKey::new();
            for (position, (key, value)) in records.iter().enumerate().rev() {
                // Offered in reverse order: position, not arrival, must decide.
                latest.offer(LogPosition::in_stream(position as u64), *key, *value);
            }
            let mut expected: Vec<(u64, u32)> = Vec::new();
            for (position, (key, value)) in records.iter().enumerate() {
                let last = records.iter().rposition(|(k, _)| k == key).unwrap();
                if last == position {
                    expected.push((position as u64, *value));
                }
            }
            let winners: Vec<(u64, u32)> = latest.into_winners().into_iter().map(|(p, v)| (p.offset, v)).collect();
            prop_assert_eq!(winners, expected);
        }
    }
}
