//! The built-in source: a synthetic, seeded stand-in for the course's database of spoof Pinterest
//! data (three tables of about 11,150 rows sharing `ind`).
//!
//! It reproduces the shapes and the dirty values of `shared/docs/data.md`: the title, description
//! and poster placeholders, follower counts such as `"848"`, `"35k"` and `"2M"` (and `"User Info
//! Error"`), the comma-spelled tag placeholder, story-format videos with broken image links, the
//! three timestamp formats, and a few database NULLs. Values are what the original emulator read
//! from its MySQL tables: text for follower counts, integers for `index`/`ind`/`downloaded`/`age`,
//! floats for coordinates, timestamps as `str(datetime)`.
//!
//! Everything comes from one ChaCha8 stream seeded with `seed`, so a seed always gives the same
//! tables, byte for byte, on every platform.

use chrono::{DateTime, Duration, FixedOffset, Utc};
use pinpipe_model::EventType;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use crate::table::Table;

/// Rows in each table by default: `ind` 0 … 11153, as in the source data.
pub const DEFAULT_ROWS: usize = 11_154;

/// The ChaCha stream of the data set (the event sequence and pacing use others).
const DATASET_STREAM: u64 = 0;

mod vocabulary;

use vocabulary::*;

/// The placeholders of data.md, as the source data spells them.
pub mod placeholder {
    /// `title`.
    pub const TITLE: &str = "No Title Data Available";
    /// `description` of story-format pins.
    pub const STORY_DESCRIPTION: &str = "No description available Story format";
    /// `description`.
    pub const DESCRIPTION: &str = "No description available";
    /// `poster_name` and `follower_count`.
    pub const USER_INFO_ERROR: &str = "User Info Error";
    /// `tag_list`.
    pub const TAGS: &str = "N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e";
    /// `image_src`.
    pub const IMAGE_SRC: &str = "Image src error.";
    /// `is_image_or_video` of story-format pins.
    pub const STORY_MEDIA: &str = "multi-video(story page format)";
}

/// The three synthetic tables, `rows` rows each, `ind` 0 … rows-1 in every table.
pub fn generate(seed: u64, rows: usize) -> [Table; 3] {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(DATASET_STREAM);
    let mut g = Gen { rng: &mut rng };
    let mut tables = EventType::ALL.map(Table::new);
    for ind in 0..rows {
        let ind = i64::try_from(ind).expect("row count fits i64");
        let [pins, geos, users] = &mut tables;
        pins.rows.push(g.pin(ind));
        geos.rows.push(g.geo(ind));
        users.rows.push(g.user(ind));
    }
    tables
}

struct Gen<'a> {
    rng: &'a mut ChaCha8Rng,
}

impl Gen<'_> {
    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.rng.random_range(0..items.len())]
    }

    fn category(&mut self) -> &'static str {
        let total: u32 = CATEGORIES.iter().map(|(_, w)| w).sum();
        let mut r = self.rng.random_range(0..total);
        for (name, weight) in CATEGORIES {
            if r < weight {
                return name;
            }
            r -= weight;
        }
        unreachable!("r < total")
    }

    /// A database NULL now and then: the source tables have a few.
    fn maybe_null(&mut self, value: Value) -> Value {
        if self.chance(0.004) {
            Value::Null
        } else {
            value
        }
    }

    fn uuid(&mut self) -> String {
        let bits: u128 = self.rng.random();
        // A version-4, variant-1 UUID, as Python's uuid4() makes.
        let bits = (bits & !(0xF << 76) & !(0x3 << 62)) | (0x4 << 76) | (0x2 << 62);
        let h = format!("{bits:032x}");
        format!(
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        )
    }

    fn title(&mut self, category: &str) -> String {
        let topic = self.pick(topic_words(category));
        let adjective = self.pick(ADJECTIVES);
        let mut title = match self.rng.random_range(0..4) {
            0 => format!(
                "{} {adjective} {topic} {}",
                self.rng.random_range(5..60),
                self.pick(TITLE_TAILS)
            ),
            1 => format!("{adjective} {topic} {}", self.pick(TITLE_TAILS)),
            2 => format!("How to Make {adjective} {topic}"),
            _ => format!("{topic} | {adjective} {}", self.pick(topic_words(category))),
        };
        if self.chance(0.05) {
            title.push_str(" ✨");
        }
        if self.chance(0.01) {
            // Scraped text sometimes keeps its padding.
            title.push_str(" \n");
        }
        title
    }

    fn description(&mut self, category: &str) -> String {
        let topic = self.pick(topic_words(category)).to_lowercase();
        let other = self.pick(topic_words(category)).to_lowercase();
        format!(
            "{} {} {topic} and {other}. {}",
            self.pick(DESCRIPTION_PARTS),
            self.pick(ADJECTIVES).to_lowercase(),
            self.pick(DESCRIPTION_ENDINGS)
        )
    }

    fn poster(&mut self, category: &str) -> String {
        if self.chance(0.5) {
            format!("{} {}", self.pick(FIRST_NAMES), self.pick(LAST_NAMES))
        } else {
            let topic = self.pick(topic_words(category));
            format!("{topic} {}", self.pick(POSTER_SUFFIXES))
        }
    }

    /// Follower counts as the scraper wrote them: `"848"`, `"35k"`, `"2M"`.
    fn follower_count(&mut self) -> String {
        let r: f64 = self.rng.random();
        if r < 0.35 {
            self.rng.random_range(0..1000u32).to_string()
        } else if r < 0.85 {
            format!("{}k", self.rng.random_range(1..1000u32))
        } else if r < 0.97 {
            format!("{}M", self.rng.random_range(1..10u32))
        } else {
            // A few decimals, as some scraped profiles show ("1.5M", "4.35k" cleans to 4350).
            format!(
                "{}.{}M",
                self.rng.random_range(1..10u32),
                self.rng.random_range(1..10u32)
            )
        }
    }

    fn tags(&mut self, category: &str) -> String {
        let words = topic_words(category);
        let n = self.rng.random_range(2..=6);
        let start = self.rng.random_range(0..words.len());
        (0..n)
            .map(|i| words[(start + i * 3) % words.len()])
            .collect::<Vec<_>>()
            .join(",")
    }

    fn image_src(&mut self) -> String {
        let bits: u128 = self.rng.random();
        let h = format!("{bits:032x}");
        let ext = if self.chance(0.9) { "jpg" } else { "png" };
        format!(
            "https://i.pinimg.com/originals/{}/{}/{}/{h}.{ext}",
            &h[..2],
            &h[2..4],
            &h[4..6]
        )
    }

    fn pin(&mut self, ind: i64) -> Vec<Value> {
        let category = self.category();
        let unique_id = self.uuid();
        let story = self.chance(0.05);
        let user_error = self.chance(0.03);
        let title = if self.chance(if story { 0.3 } else { 0.03 }) {
            placeholder::TITLE.to_owned()
        } else {
            self.title(category)
        };
        let description = if story {
            placeholder::STORY_DESCRIPTION.to_owned()
        } else if self.chance(0.02) {
            placeholder::DESCRIPTION.to_owned()
        } else {
            self.description(category)
        };
        let (poster, followers) = if user_error {
            (
                placeholder::USER_INFO_ERROR.to_owned(),
                placeholder::USER_INFO_ERROR.to_owned(),
            )
        } else {
            (self.poster(category), self.follower_count())
        };
        let tags = if self.chance(if story { 0.5 } else { 0.06 }) {
            placeholder::TAGS.to_owned()
        } else {
            self.tags(category)
        };
        let media = if story {
            placeholder::STORY_MEDIA
        } else if self.chance(0.15) {
            "video"
        } else {
            "image"
        };
        let image_src = if (story && self.chance(0.8)) || self.chance(0.02) {
            placeholder::IMAGE_SRC.to_owned()
        } else {
            self.image_src()
        };
        let downloaded = i64::from(self.chance(0.97));
        vec![
            json!(ind),
            json!(unique_id),
            self.maybe_null(json!(title)),
            self.maybe_null(json!(description)),
            self.maybe_null(json!(poster)),
            self.maybe_null(json!(followers)),
            self.maybe_null(json!(tags)),
            self.maybe_null(json!(media)),
            self.maybe_null(json!(image_src)),
            json!(downloaded),
            json!(format!("Local save in /data/{category}")),
            json!(category),
        ]
    }

    /// A time between `from_year` and `to_year` (inclusive) in one of the three source formats:
    /// `2020-08-28 03:52:47` (most), `2020:08:28 03:52:47`, or ISO 8601 with a zone.
    fn timestamp(&mut self, from_year: i32, to_year: i32) -> String {
        let start = year_start(from_year);
        let span = (year_start(to_year + 1) - start).num_seconds();
        let time = start + Duration::seconds(self.rng.random_range(0..span));
        let r: f64 = self.rng.random();
        if r < 0.88 {
            time.format("%Y-%m-%d %H:%M:%S").to_string()
        } else if r < 0.93 {
            time.format("%Y:%m:%d %H:%M:%S").to_string()
        } else {
            let minutes = self.pick(OFFSETS_MINUTES);
            let zone = FixedOffset::east_opt(minutes * 60).expect("offsets are within a day");
            let local = time.with_timezone(&zone);
            if minutes == 0 {
                local.format("%Y-%m-%dT%H:%M:%SZ").to_string()
            } else {
                local.format("%Y-%m-%dT%H:%M:%S%:z").to_string()
            }
        }
    }

    /// A coordinate with six decimals in `-limit..=limit`.
    fn coordinate(&mut self, limit: i64) -> f64 {
        let micro = self
            .rng
            .random_range(-limit * 1_000_000..=limit * 1_000_000);
        // Exact: |micro| < 2^53.
        #[allow(clippy::cast_precision_loss)]
        let value = micro as f64 / 1e6;
        value
    }

    fn geo(&mut self, ind: i64) -> Vec<Value> {
        let timestamp = self.timestamp(2018, 2022);
        let latitude = self.coordinate(90);
        let longitude = self.coordinate(180);
        let country = self.pick(COUNTRIES);
        vec![
            json!(ind),
            json!(timestamp),
            json!(latitude),
            json!(longitude),
            self.maybe_null(json!(country)),
        ]
    }

    fn user(&mut self, ind: i64) -> Vec<Value> {
        let first = self.pick(FIRST_NAMES);
        let last = self.pick(LAST_NAMES);
        // Mostly young adults, a long tail up to 70.
        let age = if self.chance(0.7) {
            self.rng.random_range(18..=35)
        } else {
            self.rng.random_range(36..=70)
        };
        let joined = self.timestamp(2015, 2017);
        vec![
            json!(ind),
            self.maybe_null(json!(first)),
            self.maybe_null(json!(last)),
            self.maybe_null(json!(age)),
            json!(joined),
        ]
    }
}

fn year_start(year: i32) -> DateTime<Utc> {
    chrono::NaiveDate::from_ymd_opt(year, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .expect("a valid date")
        .and_utc()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pinpipe_model::EventType;

    fn strings(table: &Table, column: &str) -> Vec<String> {
        let i = table.columns.iter().position(|c| c == column).unwrap();
        table
            .rows
            .iter()
            .filter_map(|r| r[i].as_str().map(str::to_owned))
            .collect()
    }

    #[test]
    fn same_seed_same_tables_other_seed_other_tables() {
        assert_eq!(generate(7, 500), generate(7, 500));
        assert_ne!(generate(7, 500), generate(8, 500));
    }

    #[test]
    fn tables_share_ind_and_have_the_original_columns() {
        let [pins, geos, users] = generate(1, DEFAULT_ROWS);
        assert_eq!(pins.rows.len(), DEFAULT_ROWS);
        for (i, ((p, g), u)) in pins
            .rows
            .iter()
            .zip(&geos.rows)
            .zip(&users.rows)
            .enumerate()
        {
            assert_eq!(p[0], json!(i));
            assert_eq!(g[0], json!(i));
            assert_eq!(u[0], json!(i));
        }
        assert_eq!(pins.columns.len(), 12);
        assert_eq!(
            geos.columns,
            ["ind", "timestamp", "latitude", "longitude", "country"]
        );
        let ids = strings(&pins, "unique_id");
        let distinct: std::collections::HashSet<_> = ids.iter().collect();
        assert_eq!(
            distinct.len(),
            ids.len(),
            "unique_id is unique in the table"
        );
    }

    #[test]
    fn every_dirty_value_of_data_md_occurs() {
        let [pins, geos, users] = generate(3, DEFAULT_ROWS);
        let has = |table: &Table, column: &str, value: &str| {
            strings(table, column).iter().any(|v| v == value)
        };
        assert!(has(&pins, "title", placeholder::TITLE));
        assert!(has(&pins, "description", placeholder::STORY_DESCRIPTION));
        assert!(has(&pins, "description", placeholder::DESCRIPTION));
        assert!(has(&pins, "poster_name", placeholder::USER_INFO_ERROR));
        assert!(has(&pins, "follower_count", placeholder::USER_INFO_ERROR));
        assert!(has(&pins, "tag_list", placeholder::TAGS));
        assert!(has(&pins, "is_image_or_video", placeholder::STORY_MEDIA));
        assert!(has(&pins, "is_image_or_video", "video"));
        assert!(has(&pins, "image_src", placeholder::IMAGE_SRC));
        assert!(has(
            &geos,
            "country",
            "Antarctica (the territory South of 60 deg S)"
        ));
        let followers = strings(&pins, "follower_count");
        assert!(followers.iter().any(|f| f.ends_with('k')), "\"35k\" style");
        assert!(followers.iter().any(|f| f.ends_with('M')), "\"2M\" style");
        assert!(
            followers
                .iter()
                .any(|f| f.bytes().all(|b| b.is_ascii_digit())),
            "\"848\" style"
        );
        for (table, column) in [(&geos, "timestamp"), (&users, "date_joined")] {
            let values = strings(table, column);
            assert!(
                values
                    .iter()
                    .any(|t| t.as_bytes()[4] == b'-' && t.as_bytes()[10] == b' ')
            );
            assert!(values.iter().any(|t| t.as_bytes()[4] == b':'));
            assert!(values.iter().any(|t| t.contains('T') && t.ends_with('Z')));
            assert!(
                values
                    .iter()
                    .any(|t| t.contains('T') && (t.contains('+') || t.rfind('-') > Some(10)))
            );
        }
        let category = pins.columns.iter().position(|c| c == "category").unwrap();
        let categories: std::collections::BTreeSet<_> = pins
            .rows
            .iter()
            .map(|r| r[category].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(categories.len(), 13);
    }

    #[test]
    fn rows_are_valid_events_that_clean_as_intended() {
        let tables = generate(11, 2000);
        let mut years = std::collections::BTreeSet::new();
        for table in &tables {
            for body in table.bodies() {
                let record = table
                    .kind
                    .clean_json(&body)
                    .unwrap_or_else(|e| panic!("{e:?}: {}", String::from_utf8_lossy(&body)));
                pinpipe_model::validate::validate(table.kind, &body)
                    .unwrap_or_else(|e| panic!("{e:?}"));
                if let pinpipe_model::CleanRecord::User(user) = record {
                    let joined = user.date_joined.expect("every generated date parses");
                    years.insert(joined.to_string()[..4].to_owned());
                }
            }
        }
        assert!(tables[0].kind == EventType::Pin);
        // Zones can move a date across New Year; the source's years are 2015-2017.
        assert!(
            years.iter().all(|y| ("2014".."2019").contains(&y.as_str())),
            "{years:?}"
        );
    }
}
