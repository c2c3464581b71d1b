//! The event log's contract, one suite for every backend: each check is written once and runs
//! against the embedded local log (always) and a Kafka-protocol broker when
//! `TEST_KAFKA_BROKERS=host:port` is set (e.g. `127.0.0.1:9092` with
//! `scripts/services/tansu.sh start DIR`). When it is unset, every test says on stderr that the
//! kafka backend did not run.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pinpipe_log::{
    CommitOffset, Consumer, EventLog, LogConfig, LogError, NewRecord, Position, Record, TopicInfo,
    now_ms, partition_for_key,
};

const PARTITIONS: u32 = 3;
const KAFKA_ENV: &str = "TEST_KAFKA_BROKERS";
/// Longest wait for a consumer group to settle (Kafka rebalances take seconds).
const GROUP_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest time one check may take on one backend.
const CHECK_TIMEOUT: Duration = Duration::from_secs(240);

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Local,
    Kafka,
}

/// One backend to run a check on: its configuration (unique topic names) and a fresh data dir.
struct Backend {
    kind: Kind,
    test: String,
    config: LogConfig,
    dir: tempfile::TempDir,
}

impl Backend {
    fn name(&self) -> &'static str {
        match self.kind {
            Kind::Local => "local",
            Kind::Kafka => "kafka",
        }
    }

    /// Opens (or reopens) the log: same data dir for local, a new client for kafka.
    async fn open(&self) -> EventLog {
        EventLog::open(&self.config, self.dir.path())
            .await
            .unwrap_or_else(|e| panic!("[{}] opening the log: {e}", self.name()))
    }

    fn pins(&self) -> &str {
        &self.config.pins_topic
    }

    /// A consumer-group name nobody else uses.
    fn group(&self, what: &str) -> String {
        format!("{}-{what}-{}", self.test, uuid::Uuid::now_v7().simple())
    }
}

/// Writes a line on the real stderr, bypassing the test harness's capture, so it is seen.
fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn make_backend(kind: Kind, test: &str, tweak: &dyn Fn(&mut LogConfig)) -> Backend {
    let id = uuid::Uuid::now_v7().simple().to_string();
    let mut config = LogConfig {
        partitions: PARTITIONS,
        pins_topic: format!("{test}-{id}-pins"),
        geos_topic: format!("{test}-{id}-geos"),
        users_topic: format!("{test}-{id}-users"),
        ..LogConfig::default()
    };
    if kind == Kind::Kafka {
        let addr = std::env::var(KAFKA_ENV).expect("checked by the caller");
        config.url = format!("kafka://{}", addr.trim());
    }
    tweak(&mut config);
    let dir = tempfile::tempdir().expect("a temporary data dir");
    Backend {
        kind,
        test: test.to_owned(),
        config,
        dir,
    }
}

/// The local backend, plus the kafka backend when `TEST_KAFKA_BROKERS` is set.
fn backends(test: &str) -> Vec<Backend> {
    backends_with(test, |_| {})
}

fn backends_with(test: &str, tweak: impl Fn(&mut LogConfig)) -> Vec<Backend> {
    let mut out = vec![make_backend(Kind::Local, test, &tweak)];
    match std::env::var(KAFKA_ENV) {
        Ok(addr) if !addr.trim().is_empty() => out.push(make_backend(Kind::Kafka, test, &tweak)),
        _ => say(&format!(
            "contract::{test}: kafka backend NOT RUN ({KAFKA_ENV} is unset; set it to e.g. \
             127.0.0.1:9092 to run this test against a Kafka-protocol broker too)"
        )),
    }
    out
}

/// A check that only concerns the local backend.
fn local_only(test: &str, tweak: impl Fn(&mut LogConfig)) -> Backend {
    say(&format!(
        "contract::{test}: local backend only (not part of the kafka contract)"
    ));
    make_backend(Kind::Local, test, &tweak)
}

/// Runs `check` with a time limit and reports which backend ran and how long it took.
async fn run<F: Future<Output = ()>>(b: &Backend, check: impl FnOnce() -> F) {
    let started = Instant::now();
    if tokio::time::timeout(CHECK_TIMEOUT, check()).await.is_err() {
        panic!(
            "[{}] contract::{} did not finish within {CHECK_TIMEOUT:?}",
            b.name(),
            b.test
        );
    }
    say(&format!(
        "contract::{}: {} backend passed in {:.2?}",
        b.test,
        b.name(),
        started.elapsed()
    ));
}

fn record(key: &str, value: &str) -> NewRecord {
    NewRecord {
        key: key.as_bytes().to_vec(),
        value: value.as_bytes().to_vec(),
        timestamp_ms: now_ms(),
        headers: vec![("request_id".to_owned(), format!("req-{value}"))],
    }
}

fn value_of(r: &Record) -> String {
    String::from_utf8(r.value.clone().expect("a value")).expect("a UTF-8 value")
}

async fn topic_info(log: &EventLog, topic: &str) -> TopicInfo {
    log.topics()
        .await
        .expect("topics()")
        .into_iter()
        .find(|t| t.name == topic)
        .unwrap_or_else(|| panic!("topics() does not list {topic}"))
}

/// Reads partition `p` of `topic` from `from` up to (excluding) `to`, in as many reads as needed.
async fn read_range(log: &EventLog, topic: &str, p: u32, from: u64, to: u64) -> Vec<Record> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut out: Vec<Record> = Vec::new();
    let mut next = from;
    while next < to {
        assert!(
            Instant::now() < deadline,
            "reading {topic}/{p} stalled at {next} of {to}"
        );
        // `wait` zero, as `pinpipe tail` reads: records before the end must still come back,
        // since an empty answer means "at the end of the partition".
        let batch = log
            .read(topic, p, next, 1000, Duration::ZERO)
            .await
            .expect("read");
        assert!(
            !batch.is_empty(),
            "read of {topic}/{p} at {next} returned nothing, but the partition ends at {to}"
        );
        for r in batch {
            assert_eq!(
                (r.topic.as_str(), r.partition),
                (topic, p),
                "read returned a foreign record"
            );
            assert!(
                r.offset >= next,
                "read went backwards: {} after {next}",
                r.offset
            );
            if r.offset >= to {
                return out;
            }
            next = r.offset + 1;
            out.push(r);
        }
    }
    out
}

/// Every stored record of one partition, offsets checked to be contiguous.
async fn read_partition(log: &EventLog, topic: &str, p: u32) -> Vec<Record> {
    let info = topic_info(log, topic).await;
    let part = info.partitions[p as usize];
    let records = read_range(log, topic, p, part.start_offset, part.end_offset).await;
    let offsets: Vec<u64> = records.iter().map(|r| r.offset).collect();
    let want: Vec<u64> = (part.start_offset..part.end_offset).collect();
    assert_eq!(
        offsets, want,
        "{topic}/{p}: offsets must be contiguous from start to end"
    );
    records
}

/// Appends `n` records with keys spread over the partitions, in calls of at most `per_call`,
/// and returns them with their positions in append order.
async fn append_spread(
    log: &EventLog,
    topic: &str,
    n: usize,
    per_call: usize,
    tag: &str,
) -> Vec<(NewRecord, Position)> {
    let mut out = Vec::with_capacity(n);
    let mut i = 0;
    while i < n {
        let records: Vec<NewRecord> = (i..n.min(i + per_call))
            .map(|i| record(&format!("key-{}", i % 37), &format!("{tag}-{i}")))
            .collect();
        let positions = log.append(topic, records.clone()).await.expect("append");
        assert_eq!(
            positions.len(),
            records.len(),
            "one position per appended record"
        );
        i += records.len();
        out.extend(records.into_iter().zip(positions));
    }
    out
}

fn per_partition_counts(appended: &[(NewRecord, Position)]) -> BTreeMap<u32, u64> {
    let mut counts = BTreeMap::new();
    for (_, pos) in appended {
        *counts.entry(pos.partition).or_insert(0u64) += 1;
    }
    counts
}

/// Polls one consumer until it has `n` records (failing after `GROUP_TIMEOUT`).
async fn poll_n(c: &mut Consumer, n: usize, what: &str) -> Vec<Record> {
    let deadline = Instant::now() + GROUP_TIMEOUT;
    let mut out = Vec::new();
    while out.len() < n {
        assert!(
            Instant::now() < deadline,
            "{what}: got {} of {n} records within {GROUP_TIMEOUT:?} (assignment {:?})",
            out.len(),
            c.assignment()
        );
        out.extend(c.poll(500, Duration::from_millis(250)).await.expect("poll"));
    }
    assert_eq!(
        out.len(),
        n,
        "{what}: more records than appended were delivered"
    );
    out
}

/// Polls until the consumer owns every partition of `topic`.
async fn wait_for_all_partitions(c: &mut Consumer, topic: &str, what: &str) -> Vec<Record> {
    let all: Vec<(String, u32)> = (0..PARTITIONS).map(|p| (topic.to_owned(), p)).collect();
    let deadline = Instant::now() + GROUP_TIMEOUT;
    let mut got = Vec::new();
    while c.assignment() != all {
        assert!(
            Instant::now() < deadline,
            "{what}: a lone member did not get every partition within {GROUP_TIMEOUT:?}: {:?}",
            c.assignment()
        );
        got.extend(c.poll(500, Duration::from_millis(250)).await.expect("poll"));
    }
    got
}

// ---------------------------------------------------------------------------------------------
// Contract tests (both backends)
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn append_read_ordering_per_partition() {
    for b in backends("append_read_ordering") {
        run(&b, || check_append_read_ordering(&b)).await;
    }
}

async fn check_append_read_ordering(b: &Backend) {
    let log = b.open().await;
    let topic = b.pins();
    let appended = append_spread(&log, topic, 300, 30, "ordering").await;

    // Same key -> same partition, and the partition is the CRC-32 one on both backends.
    let mut key_partitions: BTreeMap<&[u8], BTreeSet<u32>> = BTreeMap::new();
    for (r, pos) in &appended {
        assert_eq!(
            pos.partition,
            partition_for_key(&r.key, PARTITIONS),
            "[{}] key {:?} landed outside partition_for_key",
            b.name(),
            String::from_utf8_lossy(&r.key)
        );
        key_partitions
            .entry(&r.key)
            .or_default()
            .insert(pos.partition);
    }
    assert!(
        key_partitions.values().all(|s| s.len() == 1),
        "a key landed in two partitions"
    );

    let mut expected: BTreeMap<u32, Vec<&(NewRecord, Position)>> = BTreeMap::new();
    for a in &appended {
        expected.entry(a.1.partition).or_default().push(a);
    }
    assert_eq!(
        expected.len(),
        PARTITIONS as usize,
        "the keys should spread over every partition"
    );

    for p in 0..PARTITIONS {
        let read = read_partition(&log, topic, p).await;
        let want = &expected[&p];
        assert_eq!(
            read.len(),
            want.len(),
            "[{}] partition {p}: record count",
            b.name()
        );
        for (i, (got, (sent, pos))) in read.iter().zip(want).enumerate() {
            assert_eq!(
                got.offset, i as u64,
                "partition {p}: offsets start at 0 and are contiguous"
            );
            assert_eq!(
                *pos,
                Position {
                    partition: p,
                    offset: got.offset
                },
                "append's position"
            );
            assert_eq!(
                got.value.as_deref(),
                Some(&sent.value[..]),
                "partition {p}: append order"
            );
            assert_eq!(got.key.as_deref(), Some(&sent.key[..]), "key kept");
            assert_eq!(got.timestamp_ms, sent.timestamp_ms, "timestamp kept");
            assert_eq!(got.headers, sent.headers, "headers kept");
        }
    }
    log.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_from_any_offset() {
    for b in backends("replay") {
        run(&b, || check_replay(&b)).await;
    }
}

async fn check_replay(b: &Backend) {
    let log = b.open().await;
    let topic = b.pins();
    append_spread(&log, topic, 90, 9, "replay").await;
    for p in 0..PARTITIONS {
        let full = read_partition(&log, topic, p).await;
        let end = full.len() as u64;
        assert!(
            end >= 4,
            "partition {p} needs a few records for this test, has {end}"
        );
        for k in [0, 1, end / 2, end - 2, end - 1] {
            let got = log
                .read(topic, p, k, 1000, Duration::from_millis(500))
                .await
                .expect("read");
            assert!(
                !got.is_empty(),
                "[{}] read {p}@{k} returned nothing",
                b.name()
            );
            assert_eq!(
                got[0].offset,
                k,
                "[{}] read {p}@{k} must start at offset {k}",
                b.name()
            );
            assert_eq!(
                got[..],
                full[k as usize..k as usize + got.len()],
                "read {p}@{k}"
            );
            let two = log
                .read(topic, p, k, 2, Duration::from_millis(500))
                .await
                .expect("read");
            let want = (end - k).min(2) as usize;
            assert_eq!(
                two[..],
                full[k as usize..k as usize + want],
                "read {p}@{k} max 2"
            );
        }
        // Available records come back at once: `wait` bounds only the wait for the first one.
        let started = Instant::now();
        let got = log
            .read(topic, p, 0, 1000, Duration::from_secs(5))
            .await
            .expect("read");
        let took = started.elapsed();
        assert_eq!(got[..], full[..got.len()], "read {p}@0");
        assert!(
            took < Duration::from_secs(2),
            "[{}] read of available records took {took:?} (wait 5 s)",
            b.name()
        );
        let past = log
            .read(topic, p, end, 10, Duration::from_millis(200))
            .await
            .expect("read");
        assert!(
            past.is_empty(),
            "read at the end offset returns nothing: {past:?}"
        );
    }
    let err = log
        .read(topic, PARTITIONS, 0, 10, Duration::from_millis(200))
        .await
        .expect_err("reading a partition that does not exist");
    assert!(
        matches!(&err, LogError::UnknownPartition { partition, .. } if *partition == PARTITIONS),
        "[{}] expected UnknownPartition, got {err:?}",
        b.name()
    );
    let err = log
        .append("no-such-topic", vec![record("k", "v")])
        .await
        .expect_err("appending to a topic that is not configured");
    assert!(
        matches!(&err, LogError::UnknownTopic(t) if t == "no-such-topic"),
        "[{}] expected UnknownTopic, got {err:?}",
        b.name()
    );
    log.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_survive_restart() {
    for b in backends("offsets_restart") {
        run(&b, || check_offsets_survive_restart(&b)).await;
    }
}

async fn check_offsets_survive_restart(b: &Backend) {
    let log = b.open().await;
    let topic = b.pins();
    append_spread(&log, topic, 60, 7, "restart").await;
    append_spread(&log, &b.config.geos_topic, 5, 5, "restart-geo").await;
    let before = log.topics().await.expect("topics");
    let mut records = Vec::new();
    for p in 0..PARTITIONS {
        records.push(read_partition(&log, topic, p).await);
    }
    log.close().await.expect("close");
    drop(log);

    let log = b.open().await;
    let after = log.topics().await.expect("topics");
    assert_eq!(
        before,
        after,
        "[{}] topics() changed across a restart",
        b.name()
    );
    for p in 0..PARTITIONS {
        assert_eq!(
            read_partition(&log, topic, p).await,
            records[p as usize],
            "partition {p}"
        );
    }
    // Appends continue where the log left off.
    let key = "after-restart";
    let p = partition_for_key(key.as_bytes(), PARTITIONS);
    let pos = log
        .append(topic, vec![record(key, "after")])
        .await
        .expect("append");
    let end = topic_info(&log, topic).await;
    assert_eq!(
        pos,
        vec![Position {
            partition: p,
            offset: records[p as usize].len() as u64
        }]
    );
    assert_eq!(
        end.partitions[p as usize].end_offset,
        records[p as usize].len() as u64 + 1
    );
    log.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_commits_survive_restart() {
    for b in backends("group_commits") {
        run(&b, || check_group_commits_survive_restart(&b)).await;
    }
}

async fn check_group_commits_survive_restart(b: &Backend) {
    let topic = b.pins().to_owned();
    let group = b.group("g");
    let log = b.open().await;
    let appended = append_spread(&log, &topic, 45, 15, "commit").await;
    let ends = per_partition_counts(&appended);
    assert_eq!(ends.len(), PARTITIONS as usize);

    let mut c = log.consumer(&group, &[&topic]).await.expect("consumer");
    let mut got = wait_for_all_partitions(&mut c, &topic, "first member").await;
    let more = appended.len() - got.len();
    got.extend(poll_n(&mut c, more, "first member").await);
    let delivered: BTreeSet<(u32, u64)> = got.iter().map(|r| (r.partition, r.offset)).collect();
    assert_eq!(
        delivered.len(),
        appended.len(),
        "each record once to the lone member"
    );

    // Commit half of each partition.
    let commits: Vec<CommitOffset> = ends
        .iter()
        .map(|(&p, &end)| CommitOffset {
            topic: topic.clone(),
            partition: p,
            next_offset: end / 2,
        })
        .collect();
    c.commit(&commits).await.expect("commit");
    for o in &commits {
        assert_eq!(
            c.committed(&topic, o.partition).await.expect("committed"),
            Some(o.next_offset)
        );
    }
    c.close().await.expect("consumer close");
    log.close().await.expect("close");
    drop(log);

    let log = b.open().await;
    let mut c = log.consumer(&group, &[&topic]).await.expect("consumer");
    for o in &commits {
        assert_eq!(
            c.committed(&topic, o.partition).await.expect("committed"),
            Some(o.next_offset),
            "[{}] commit of partition {} lost across a restart",
            b.name(),
            o.partition
        );
    }
    let remaining: u64 = commits
        .iter()
        .map(|o| ends[&o.partition] - o.next_offset)
        .sum();
    let got = poll_n(&mut c, remaining as usize, "member after restart").await;
    let mut by_partition: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
    for r in &got {
        by_partition.entry(r.partition).or_default().push(r.offset);
    }
    for o in &commits {
        let want: Vec<u64> = (o.next_offset..ends[&o.partition]).collect();
        let have = by_partition.remove(&o.partition).unwrap_or_default();
        assert_eq!(
            have,
            want,
            "[{}] partition {} resumes at its commit",
            b.name(),
            o.partition
        );
    }
    let extra = c.poll(100, Duration::from_secs(1)).await.expect("poll");
    assert!(extra.is_empty(), "records delivered twice: {extra:?}");
    c.close().await.expect("consumer close");
    log.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_consumers_split_the_partitions() {
    for b in backends("two_consumers") {
        run(&b, || check_two_consumers(&b)).await;
    }
}

async fn check_two_consumers(b: &Backend) {
    let topic = b.pins().to_owned();
    let group = b.group("g");
    let log = b.open().await;
    let mut c1 = log.consumer(&group, &[&topic]).await.expect("consumer 1");
    let mut c2 = log.consumer(&group, &[&topic]).await.expect("consumer 2");
    let all: BTreeSet<(String, u32)> = (0..PARTITIONS).map(|p| (topic.clone(), p)).collect();

    let started = Instant::now();
    let (a1, a2) = loop {
        assert!(
            started.elapsed() < GROUP_TIMEOUT,
            "[{}] the two members did not split the partitions within {GROUP_TIMEOUT:?}: {:?} / {:?}",
            b.name(),
            c1.assignment(),
            c2.assignment()
        );
        let (r1, r2) = tokio::join!(
            c1.poll(100, Duration::from_millis(200)),
            c2.poll(100, Duration::from_millis(200))
        );
        assert!(
            r1.expect("poll 1").is_empty() && r2.expect("poll 2").is_empty(),
            "empty topic"
        );
        let a1: BTreeSet<_> = c1.assignment().into_iter().collect();
        let a2: BTreeSet<_> = c2.assignment().into_iter().collect();
        if !a1.is_empty() && !a2.is_empty() && a1.is_disjoint(&a2) && &a1 | &a2 == all {
            break (a1, a2);
        }
    };
    say(&format!(
        "contract::{}: [{}] group split {a1:?} / {a2:?} after {:.2?}",
        b.test,
        b.name(),
        started.elapsed()
    ));

    let appended = append_spread(&log, &topic, 60, 10, "split").await;
    let mut got1: Vec<Record> = Vec::new();
    let mut got2: Vec<Record> = Vec::new();
    let deadline = Instant::now() + GROUP_TIMEOUT;
    while got1.len() + got2.len() < appended.len() {
        assert!(
            Instant::now() < deadline,
            "[{}] only {} + {} of {} records delivered",
            b.name(),
            got1.len(),
            got2.len(),
            appended.len()
        );
        let (r1, r2) = tokio::join!(
            c1.poll(100, Duration::from_millis(200)),
            c2.poll(100, Duration::from_millis(200))
        );
        got1.extend(r1.expect("poll 1"));
        got2.extend(r2.expect("poll 2"));
    }
    let (r1, r2) = tokio::join!(
        c1.poll(100, Duration::from_millis(500)),
        c2.poll(100, Duration::from_millis(500))
    );
    got1.extend(r1.expect("poll 1"));
    got2.extend(r2.expect("poll 2"));
    assert_eq!(
        c1.assignment().into_iter().collect::<BTreeSet<_>>(),
        a1,
        "stable assignment 1"
    );
    assert_eq!(
        c2.assignment().into_iter().collect::<BTreeSet<_>>(),
        a2,
        "stable assignment 2"
    );

    let mut seen: BTreeMap<(u32, u64), usize> = BTreeMap::new();
    for (member, got, owned) in [(1, &got1, &a1), (2, &got2, &a2)] {
        for r in got {
            assert!(
                owned.contains(&(r.topic.clone(), r.partition)),
                "member {member} got a record of partition {} it does not own",
                r.partition
            );
            *seen.entry((r.partition, r.offset)).or_default() += 1;
        }
    }
    let want: BTreeMap<(u32, u64), usize> = appended
        .iter()
        .map(|(_, p)| ((p.partition, p.offset), 1))
        .collect();
    assert_eq!(
        seen,
        want,
        "[{}] every record goes to exactly one member",
        b.name()
    );

    // A member cannot commit a partition of the other member.
    let theirs = a2.iter().next().expect("member 2 owns a partition").1;
    let mine = a1.iter().next().expect("member 1 owns a partition").1;
    let err = c1
        .commit(&[CommitOffset {
            topic: topic.clone(),
            partition: theirs,
            next_offset: 1,
        }])
        .await
        .expect_err("committing another member's partition must fail");
    assert!(
        matches!(&err, LogError::NotAssigned { topic: t, partition } if *t == topic && *partition == theirs),
        "[{}] expected NotAssigned, got {err:?}",
        b.name()
    );
    c1.commit(&[CommitOffset {
        topic: topic.clone(),
        partition: mine,
        next_offset: 1,
    }])
    .await
    .expect("committing an owned partition");
    assert_eq!(
        c2.committed(&topic, mine).await.expect("committed"),
        Some(1),
        "group-wide"
    );
    assert_eq!(
        c2.committed(&topic, theirs).await.expect("committed"),
        None,
        "refused commit"
    );

    // When one member leaves, the other takes over every partition.
    c1.close().await.expect("close 1");
    let started = Instant::now();
    wait_for_all_partitions(&mut c2, &topic, "remaining member").await;
    say(&format!(
        "contract::{}: [{}] remaining member took over all partitions {:.2?} after the other left",
        b.test,
        b.name(),
        started.elapsed()
    ));
    c2.close().await.expect("close 2");
    log.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_lists_the_three_topics() {
    for b in backends_with("topics", |c| c.partitions = 4) {
        run(&b, || check_topics(&b)).await;
    }
}

async fn check_topics(b: &Backend) {
    let partitions = b.config.partitions;
    let log = b.open().await;
    let counts = [
        (b.config.pins_topic.clone(), 20),
        (b.config.geos_topic.clone(), 7),
    ];
    let mut want: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for name in b.config.topic_names() {
        want.insert(name.to_owned(), vec![0; partitions as usize]);
    }
    for (topic, n) in &counts {
        for i in 0..*n {
            let key = format!("k{i}");
            let pos = log
                .append(topic, vec![record(&key, "v")])
                .await
                .expect("append");
            assert_eq!(
                pos[0].partition,
                partition_for_key(key.as_bytes(), partitions)
            );
            want.get_mut(topic).expect("a configured topic")[pos[0].partition as usize] += 1;
        }
    }
    log.ready().await.expect("ready");
    let topics = log.topics().await.expect("topics");
    let names: Vec<&str> = topics.iter().map(|t| t.name.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted, "topics() is sorted by name");
    let mine: Vec<&TopicInfo> = topics
        .iter()
        .filter(|t| want.contains_key(&t.name))
        .collect();
    assert_eq!(
        mine.len(),
        3,
        "[{}] the three configured topics: {topics:?}",
        b.name()
    );
    for t in mine {
        let ends: Vec<u64> = t.partitions.iter().map(|p| p.end_offset).collect();
        let ids: Vec<u32> = t.partitions.iter().map(|p| p.partition).collect();
        assert_eq!(
            ids,
            (0..partitions).collect::<Vec<_>>(),
            "[{}] {} partitions",
            b.name(),
            t.name
        );
        assert!(
            t.partitions.iter().all(|p| p.start_offset == 0),
            "nothing removed yet: {t:?}"
        );
        assert_eq!(
            ends,
            want[&t.name],
            "[{}] end offsets of {}",
            b.name(),
            t.name
        );
        assert_eq!(t.records(), want[&t.name].iter().sum::<u64>());
    }
    log.close().await.expect("close");
}

// ---------------------------------------------------------------------------------------------
// kill -9 during appends
// ---------------------------------------------------------------------------------------------

/// The `appender` example next to this test binary (`target/<profile>/examples/appender`),
/// brought up to date first with `cargo build --example appender` (a no-op when `cargo test`
/// already built it; cargo holds no build lock while tests run).
fn appender_binary() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let exe = std::env::current_exe().expect("the test binary's path");
            let profile_dir = exe
                .parent()
                .and_then(Path::parent)
                .expect("target/<profile>/deps/<test>");
            let target_dir = profile_dir.parent().expect("target/<profile>");
            let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
                Some("debug") | None => "dev",
                Some(other) => other,
            };
            let status = Command::new(env!("CARGO"))
                .args([
                    "build",
                    "--quiet",
                    "--example",
                    "appender",
                    "-p",
                    "pinpipe-log",
                ])
                .args(["--profile", profile, "--target-dir"])
                .arg(target_dir)
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .stdin(Stdio::null())
                .status()
                .expect("run cargo build --example appender");
            assert!(status.success(), "cargo build --example appender: {status}");
            let bin = profile_dir
                .join("examples")
                .join(format!("appender{}", std::env::consts::EXE_SUFFIX));
            assert!(bin.exists(), "{} was not built", bin.display());
            bin
        })
        .clone()
}

/// Runs the appender until it has acknowledged something, lets it run `run_for`, kills it with
/// SIGKILL and returns the acknowledged `(partition, offset, value)`s it printed.
fn run_and_kill_appender(b: &Backend, run_for: Duration, round: usize) -> Vec<(u32, u64, String)> {
    let stderr_path = b.dir.path().join(format!("appender-{round}.stderr"));
    let stderr = std::fs::File::create(&stderr_path).expect("appender stderr file");
    let c = &b.config;
    let mut child = Command::new(appender_binary())
        .arg(b.dir.path())
        .args(["--log-url", &c.url])
        .args([
            "--topics",
            &format!("{},{},{}", c.pins_topic, c.geos_topic, c.users_topic),
        ])
        .args([
            "--partitions",
            &c.partitions.to_string(),
            "--tasks",
            "8",
            "--max-seconds",
            "120",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("start the appender");
    let mut stdout = child.stdout.take().expect("piped stdout");
    let (first_ack, first_ack_rx) = std::sync::mpsc::channel::<()>();
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut buf = [0u8; 64 << 10];
        let mut signalled = false;
        loop {
            match stdout.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    all.extend_from_slice(&buf[..n]);
                    if !signalled && all.contains(&b'\n') {
                        let _ = first_ack.send(());
                        signalled = true;
                    }
                }
            }
        }
        all
    });
    let started = first_ack_rx.recv_timeout(Duration::from_secs(60)).is_ok();
    let still_running = matches!(child.try_wait(), Ok(None));
    if started && still_running {
        std::thread::sleep(run_for);
    }
    let still_running = still_running && matches!(child.try_wait(), Ok(None));
    // Child::kill sends SIGKILL on Unix: no destructor, no flush, no close.
    let _ = child.kill();
    let status = child.wait().expect("wait for the appender");
    let output = reader.join().expect("stdout reader");
    let log_text = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    assert!(
        started && still_running,
        "[{}] the appender acknowledged nothing or exited early ({status}); its stderr:\n{log_text}",
        b.name()
    );
    // Only complete lines count: the kill may cut the last one.
    let text = String::from_utf8(output).expect("UTF-8 appender output");
    let complete = match text.rfind('\n') {
        Some(i) => &text[..=i],
        None => "",
    };
    complete
        .lines()
        .map(|line| {
            let mut parts = line.split(' ');
            let (Some(p), Some(o), Some(v), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                panic!("bad appender line {line:?}")
            };
            (
                p.parse().expect("partition"),
                o.parse().expect("offset"),
                v.to_owned(),
            )
        })
        .collect()
}

/// Checks every acknowledged record is stored at exactly its acknowledged position.
async fn check_acknowledged(b: &Backend, acks: &[(u32, u64, String)]) {
    let log = b.open().await;
    let topic = b.pins();
    let info = topic_info(&log, topic).await;
    let mut stored: BTreeMap<(u32, u64), String> = BTreeMap::new();
    for p in 0..PARTITIONS {
        for r in read_partition(&log, topic, p).await {
            stored.insert((p, r.offset), value_of(&r));
        }
    }
    let mut lost = Vec::new();
    for (p, o, v) in acks {
        if stored.get(&(*p, *o)) != Some(v) {
            lost.push(format!("{p}@{o}={v} (stored: {:?})", stored.get(&(*p, *o))));
        }
    }
    assert!(
        lost.is_empty(),
        "[{}] {} of {} acknowledged records are not where they were acknowledged, e.g. {:?}; \
         partitions {:?}",
        b.name(),
        lost.len(),
        acks.len(),
        &lost[..lost.len().min(5)],
        info.partitions
    );
    let distinct: BTreeSet<(u32, u64)> = acks.iter().map(|(p, o, _)| (*p, *o)).collect();
    assert_eq!(
        distinct.len(),
        acks.len(),
        "two acknowledgements for one position"
    );
    log.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_nothing_acknowledged() {
    for b in backends("kill9") {
        let rounds = if b.kind == Kind::Local { 3 } else { 2 };
        run(&b, || async {
            if b.kind == Kind::Kafka {
                // Create the topics before the appender starts.
                b.open().await.close().await.expect("close");
            }
            let mut acks = Vec::new();
            for round in 0..rounds {
                let run_for = Duration::from_millis(1000 + 300 * round as u64);
                // Waiting on the child process blocks; keep the runtime's other worker free.
                let new = tokio::task::block_in_place(|| run_and_kill_appender(&b, run_for, round));
                assert!(
                    new.len() >= 10,
                    "[{}] round {round}: only {} acks",
                    b.name(),
                    new.len()
                );
                say(&format!(
                    "contract::kill9: [{}] round {round}: {} acknowledged records before kill -9",
                    b.name(),
                    new.len()
                ));
                acks.extend(new);
                // Everything acknowledged in this and earlier rounds is still there.
                check_acknowledged(&b, &acks).await;
            }
        })
        .await;
    }
}

// ---------------------------------------------------------------------------------------------
// Local-only checks
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_retention_removes_old_records() {
    let b = local_only("retention", |c| {
        c.retention.max_bytes = 1000;
        c.retention.max_age_hours = 1;
        c.retention.check_interval_secs = 1;
    });
    run(&b, || async {
        let log = b.open().await;
        let topic = b.pins();
        // 100 records of 100 bytes, one key: one partition with 10,000 bytes.
        let key = "one-key";
        let p = partition_for_key(key.as_bytes(), PARTITIONS);
        let mut values = Vec::new();
        for i in 0..100 {
            let value = format!("{i:0>100}");
            let pos = log
                .append(topic, vec![record(key, &value)])
                .await
                .expect("append");
            assert_eq!(
                pos,
                vec![Position {
                    partition: p,
                    offset: i
                }]
            );
            values.push(value);
        }
        // Old records (by timestamp) in another topic go entirely.
        let geos = &b.config.geos_topic;
        let old = NewRecord {
            timestamp_ms: now_ms() - 2 * 3_600_000,
            ..record(key, "old")
        };
        log.append(geos, vec![old.clone(), old.clone(), old])
            .await
            .expect("append");

        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let pins = topic_info(&log, topic).await.partitions[p as usize];
            let geo = topic_info(&log, geos).await.partitions[p as usize];
            if pins.start_offset > 0 && geo.start_offset == 3 {
                // 1000 stored bytes hold a few of the newest records of 100-byte values (each
                // also stores its key, time and headers); whole batches, oldest first, went.
                assert!(
                    (80..100).contains(&pins.start_offset) && pins.end_offset == 100,
                    "{pins:?}"
                );
                assert_eq!(geo.end_offset, 3, "{geo:?}");
                break;
            }
            assert!(
                Instant::now() < deadline,
                "retention did not run: {pins:?} {geo:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let read = log
            .read(topic, p, 0, 1000, Duration::ZERO)
            .await
            .expect("read");
        let start = topic_info(&log, topic).await.partitions[p as usize].start_offset;
        let offsets: Vec<u64> = read.iter().map(|r| r.offset).collect();
        assert_eq!(
            offsets,
            (start..100).collect::<Vec<_>>(),
            "the rest keep their offsets"
        );
        for r in &read {
            assert_eq!(value_of(r), values[r.offset as usize]);
        }
        // A read inside what is left starts exactly there.
        let inside = (start + 1).min(99);
        let read = log
            .read(topic, p, inside, 1000, Duration::ZERO)
            .await
            .expect("read");
        assert_eq!(read.first().map(|r| r.offset), Some(inside));
        assert!(
            log.read(geos, p, 0, 10, Duration::ZERO)
                .await
                .expect("read")
                .is_empty()
        );
        let pos = log
            .append(topic, vec![record(key, "next")])
            .await
            .expect("append");
        assert_eq!(
            pos,
            vec![Position {
                partition: p,
                offset: 100
            }],
            "offsets keep counting"
        );
        log.close().await.expect("close");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_group_commit_of_concurrent_appends() {
    let b = local_only("group_commit", |_| {});
    run(&b, || async {
        let log = b.open().await;
        let topic = b.pins().to_owned();
        let mut tasks = Vec::new();
        for i in 0..200 {
            let log = log.clone();
            let topic = topic.clone();
            tasks.push(tokio::spawn(async move {
                let r = record(&format!("key-{i}"), &format!("value-{i}"));
                (r.value.clone(), log.append(&topic, vec![r]).await)
            }));
        }
        let mut by_partition: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
        let mut acked: BTreeMap<(u32, u64), Vec<u8>> = BTreeMap::new();
        for task in tasks {
            let (value, result) = task.await.expect("task");
            let pos = result.expect("every concurrent append succeeds");
            assert_eq!(pos.len(), 1);
            by_partition
                .entry(pos[0].partition)
                .or_default()
                .push(pos[0].offset);
            acked.insert((pos[0].partition, pos[0].offset), value);
        }
        assert_eq!(acked.len(), 200, "distinct positions");
        for (p, mut offsets) in by_partition {
            offsets.sort_unstable();
            assert_eq!(
                offsets,
                (0..offsets.len() as u64).collect::<Vec<_>>(),
                "partition {p}"
            );
            for r in read_partition(&log, &topic, p).await {
                assert_eq!(
                    r.value.as_ref(),
                    acked.get(&(p, r.offset)),
                    "{p}@{}",
                    r.offset
                );
            }
        }
        log.close().await.expect("close");
    })
    .await;
}

/// Batch appends are encoded by the appender (one stored batch per partition) and small ones by
/// the writer; mixed in one commit, into the same partitions, every acknowledged position still
/// reads back its own record, offsets stay dense, and each append keeps its order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_mixed_single_and_batch_appends_in_one_commit() {
    let b = local_only("mixed_appends", |_| {});
    run(&b, || async {
        let log = b.open().await;
        let topic = b.pins().to_owned();
        let mut tasks = Vec::new();
        for task in 0..60usize {
            let log = log.clone();
            let topic = topic.clone();
            tasks.push(tokio::spawn(async move {
                // Every third task sends a batch (100 to 460 records, over the appender-encoding
                // threshold), the others single records.
                let n = if task % 3 == 0 { 100 + task * 6 } else { 1 };
                let records: Vec<NewRecord> = (0..n)
                    .map(|i| {
                        let mut r = record(&format!("k{task}-{i}"), &format!("v{task}-{i}"));
                        r.timestamp_ms += (task * 1000 + i) as i64;
                        r
                    })
                    .collect();
                let positions = log.append(&topic, records.clone()).await;
                (records, positions)
            }));
        }
        let mut acked: BTreeMap<(u32, u64), NewRecord> = BTreeMap::new();
        for task in tasks {
            let (records, result) = task.await.expect("task");
            let positions = result.expect("every append succeeds");
            assert_eq!(positions.len(), records.len(), "a position per record");
            let mut last: BTreeMap<u32, u64> = BTreeMap::new();
            for (r, pos) in records.into_iter().zip(positions) {
                assert_eq!(pos.partition, partition_for_key(&r.key, PARTITIONS));
                if let Some(before) = last.insert(pos.partition, pos.offset) {
                    assert!(before < pos.offset, "an append's records keep their order");
                }
                assert!(
                    acked.insert((pos.partition, pos.offset), r).is_none(),
                    "distinct"
                );
            }
        }
        for p in 0..PARTITIONS {
            let read = read_partition(&log, &topic, p).await;
            let want: Vec<_> = acked.range((p, 0)..(p + 1, 0)).collect();
            assert_eq!(read.len(), want.len(), "partition {p}: records");
            for (i, (got, ((_, offset), sent))) in read.iter().zip(want).enumerate() {
                assert_eq!(got.offset, i as u64, "partition {p}: dense offsets");
                assert_eq!(got.offset, *offset);
                assert_eq!(got.key.as_deref(), Some(&sent.key[..]), "{p}@{offset}");
                assert_eq!(got.value.as_deref(), Some(&sent.value[..]), "{p}@{offset}");
                assert_eq!(got.timestamp_ms, sent.timestamp_ms, "{p}@{offset}");
                assert_eq!(got.headers, sent.headers, "{p}@{offset}");
            }
        }
        // A group member polling a few records at a time (ranges ending inside stored batches
        // and across partitions) gets every record once, in order per partition.
        let mut c = log
            .consumer("mixed-reader", &[&topic])
            .await
            .expect("consumer");
        let mut polled: BTreeMap<(u32, u64), Record> = BTreeMap::new();
        let deadline = Instant::now() + GROUP_TIMEOUT;
        while polled.len() < acked.len() {
            assert!(
                Instant::now() < deadline,
                "polled {} of {}",
                polled.len(),
                acked.len()
            );
            let got = c.poll(37, Duration::from_millis(250)).await.expect("poll");
            assert!(got.len() <= 37, "a poll returns at most what was asked");
            for r in got {
                if let Some(before) = polled.keys().rev().find(|(p, _)| *p == r.partition) {
                    assert_eq!(before.1 + 1, r.offset, "in order, nothing skipped");
                }
                assert!(
                    polled.insert((r.partition, r.offset), r).is_none(),
                    "once each"
                );
            }
        }
        for ((position, got), (acked_at, sent)) in polled.iter().zip(&acked) {
            assert_eq!(position, acked_at);
            assert_eq!(got.value.as_deref(), Some(&sent.value[..]), "{position:?}");
        }
        log.close().await.expect("close");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_saturation_fails_cleanly() {
    let b = local_only("saturation", |c| c.max_pending_appends = 1);
    run(&b, || async {
        let log = b.open().await;
        let topic = b.pins().to_owned();
        let mut tasks = Vec::new();
        for i in 0..500 {
            let log = log.clone();
            let topic = topic.clone();
            tasks.push(tokio::spawn(async move {
                let r = record(&format!("key-{i}"), &format!("value-{i}"));
                (r.value.clone(), log.append(&topic, vec![r]).await)
            }));
        }
        let (mut ok, mut saturated) = (Vec::new(), 0);
        for task in tasks {
            match task.await.expect("task") {
                (value, Ok(pos)) => ok.push((pos[0], value)),
                (_, Err(LogError::Saturated(n))) => {
                    assert_eq!(n, 1, "Saturated reports the configured limit");
                    saturated += 1;
                }
                (_, Err(e)) => panic!("only Saturated may fail an append, got {e:?}"),
            }
        }
        say(&format!(
            "contract::saturation: {} appended, {saturated} saturated",
            ok.len()
        ));
        assert!(!ok.is_empty(), "some appends succeed");
        let mut stored: BTreeMap<(u32, u64), Vec<u8>> = BTreeMap::new();
        for p in 0..PARTITIONS {
            for r in read_partition(&log, &topic, p).await {
                stored.insert((p, r.offset), r.value.expect("value"));
            }
        }
        assert_eq!(
            stored.len(),
            ok.len(),
            "exactly the acknowledged appends are stored"
        );
        for (pos, value) in ok {
            assert_eq!(
                stored.get(&(pos.partition, pos.offset)),
                Some(&value),
                "{pos:?}"
            );
        }
        log.close().await.expect("close");
    })
    .await;
}
