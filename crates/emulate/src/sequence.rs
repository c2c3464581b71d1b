//! The order in which rows are sent: a seeded, replayable sequence of records (a pin with its
//! geo and user rows), sampled with replacement as the original emulator did, or each row once.

use bytes::Bytes;
use pinpipe_model::EventType;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::config::Order;
use crate::table::Bodies;

/// The ChaCha stream of the event sequence (the data set uses stream 0).
const SEQUENCE_STREAM: u64 = 1;

/// One event to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Its type.
    pub kind: EventType,
    /// Its row number in the source.
    pub row: usize,
    /// The request body (one JSON object).
    pub body: Bytes,
}

/// Records in a seeded order. The same seed, source and kinds give the same records.
pub struct Sequence<'a> {
    bodies: &'a Bodies,
    kinds: Vec<EventType>,
    order: Order,
    rng: ChaCha8Rng,
    next_row: usize,
    records: usize,
}

impl<'a> Sequence<'a> {
    /// A sequence over `bodies`, sending `kinds` of each record.
    pub fn new(bodies: &'a Bodies, kinds: &[EventType], order: Order, seed: u64) -> Sequence<'a> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(SEQUENCE_STREAM);
        Sequence {
            bodies,
            kinds: kinds.to_vec(),
            order,
            rng,
            next_row: 0,
            records: bodies.records(),
        }
    }

    /// The next record's events (pin, then geo, then user, as the original posted them), or
    /// `None` when a sequential run has sent every row. Never empty.
    pub fn next_record(&mut self) -> Option<Vec<Event>> {
        // A row may lack some kinds (tables of different lengths); such rows are skipped. The
        // loader guarantees at least one row has one of the kinds, so this ends.
        loop {
            let row = match self.order {
                Order::Random => self.rng.random_range(0..self.records),
                Order::Sequential => {
                    if self.next_row >= self.records {
                        return None;
                    }
                    self.next_row += 1;
                    self.next_row - 1
                }
            };
            let events: Vec<Event> = self
                .kinds
                .iter()
                .filter_map(|&kind| {
                    self.bodies.of(kind).get(row).map(|body| Event {
                        kind,
                        row,
                        body: body.clone(),
                    })
                })
                .collect();
            if !events.is_empty() {
                return Some(events);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bodies(n: usize) -> Bodies {
        let make = |p: &str| {
            (0..n)
                .map(|i| Bytes::from(format!("{{\"{p}\": {i}}}")))
                .collect()
        };
        Bodies::new(make("index"), make("ind"), make("ind"))
    }

    #[test]
    fn same_seed_same_records() {
        let b = bodies(100);
        let all = EventType::ALL;
        let take = |seed| {
            let mut s = Sequence::new(&b, &all, Order::Random, seed);
            (0..50)
                .map(|_| s.next_record().unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(take(1), take(1));
        assert_ne!(take(1), take(2));
        let record = &take(1)[0];
        assert_eq!(record.iter().map(|e| e.kind).collect::<Vec<_>>(), all);
        assert!(record.iter().all(|e| e.row == record[0].row));
    }

    #[test]
    fn random_order_repeats_rows_and_sequential_sends_each_once() {
        let b = bodies(10);
        let mut s = Sequence::new(&b, &[EventType::Pin], Order::Random, 3);
        let rows: Vec<usize> = (0..100).map(|_| s.next_record().unwrap()[0].row).collect();
        let distinct: std::collections::BTreeSet<_> = rows.iter().collect();
        assert!(distinct.len() <= 10 && rows.len() == 100);
        let mut s = Sequence::new(&b, &[EventType::Geo], Order::Sequential, 3);
        let rows: Vec<usize> = std::iter::from_fn(|| s.next_record())
            .map(|r| r[0].row)
            .collect();
        assert_eq!(rows, (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn rows_missing_a_kind_send_the_others() {
        let b = Bodies::new(
            vec![Bytes::from_static(b"{}"); 3],
            vec![Bytes::from_static(b"{}")],
            vec![],
        );
        let mut s = Sequence::new(&b, &EventType::ALL, Order::Sequential, 0);
        let sizes: Vec<usize> = std::iter::from_fn(|| s.next_record())
            .map(|r| r.len())
            .collect();
        assert_eq!(sizes, [2, 1, 1]);
    }
}
