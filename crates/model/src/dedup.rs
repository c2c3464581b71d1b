//! "Last received wins" de-duplication.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::Hash;

/// Keeps, per key, the whole record with the highest log position seen.
///
/// Records may be offered in any order; fields are never merged across records. The speed layer
/// uses it within a batch, the batch layer over a day, and `pinpipe clean --dedup` over its input.
///
/// ```
/// use pinpipe_model::LatestByKey;
/// let mut latest = LatestByKey::new();
/// latest.offer(5, "a", "fifth");
/// latest.offer(2, "a", "second");
/// latest.offer(3, "b", "third");
/// assert_eq!(latest.into_winners(), vec![(3, "third"), (5, "fifth")]);
/// ```
#[derive(Debug, Clone)]
pub struct LatestByKey<K, R> {
    winners: HashMap<K, (u64, R)>,
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

    /// Offers the record received at `position` under `key`; it wins if no record of the same key
    /// was received later. At equal positions the later offer wins.
    pub fn offer(&mut self, position: u64, key: K, record: R) {
        match self.winners.entry(key) {
            Entry::Occupied(mut slot) => {
                if position >= slot.get().0 {
                    slot.insert((position, record));
                }
            }
            Entry::Vacant(slot) => {
                slot.insert((position, record));
            }
        }
    }

    /// The winning records with their positions, in position order.
    pub fn into_winners(self) -> Vec<(u64, R)> {
        let mut winners: Vec<(u64, R)> = self.winners.into_values().collect();
        winners.sort_unstable_by_key(|(position, _)| *position);
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
                latest.offer(position as u64, *key, *value);
            }
            let mut expected: Vec<(u64, u32)> = Vec::new();
            for (position, (key, value)) in records.iter().enumerate() {
                let last = records.iter().rposition(|(k, _)| k == key).unwrap();
                if last == position {
                    expected.push((position as u64, *value));
                }
            }
            prop_assert_eq!(latest.into_winners(), expected);
        }
    }
}
