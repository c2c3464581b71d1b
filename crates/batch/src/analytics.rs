//! The 11 daily analytics of data.md, as SQL over the curated tables (plain DataFusion plans:
//! joins, aggregates and window functions only, so they run on a Ballista cluster as they are).

/// One analytic: its name (also its table's), its columns in data.md's order, and its query.
#[derive(Debug, Clone, Copy)]
pub struct Analytic {
    /// Name, as in data.md (`category_by_country`, ...).
    pub name: &'static str,
    /// Output columns, in order.
    pub columns: &'static [&'static str],
    /// The query, over the view `joined` ([`JOINED`]).
    pub query: Query,
}

/// How an analytic is computed.
#[derive(Debug, Clone, Copy)]
pub enum Query {
    /// This SQL.
    Sql(&'static str),
    /// The most popular category per value of this column of `joined` (non-null), with its
    /// count; ties go to the first category in code-point order.
    MostPopularCategoryBy(&'static str),
}

impl Analytic {
    /// The analytic's SQL over the view `joined`.
    pub fn sql(&self) -> String {
        match self.query {
            Query::Sql(sql) => sql.to_owned(),
            Query::MostPopularCategoryBy(group) => format!(
                "SELECT {group}, category, category_count FROM (
  SELECT {group}, category, category_count,
         row_number() OVER (PARTITION BY {group} ORDER BY category_count DESC, category ASC) AS rn
  FROM (SELECT {group}, category, COUNT(*) AS category_count FROM joined
        WHERE {group} IS NOT NULL AND category IS NOT NULL GROUP BY {group}, category) counted
) ranked WHERE rn = 1 ORDER BY {group}"
            ),
        }
    }
}

/// The inner join of the curated pins, geos and users on `ind`, with the derived columns the
/// analytics group by: `age_group` (18-24, 25-35, 36-50, 50+ = older than 50; else null),
/// `post_year` (UTC year of the geo timestamp) and `join_year` (UTC year of `date_joined`).
pub const JOINED: &str = r#"
SELECT p.ind, p.unique_id, p.poster_name, p.follower_count, p.tag_list, p.media_type,
       p.category, g.country, u.user_name, u.age, u.date_joined,
       CASE WHEN u.age BETWEEN 18 AND 24 THEN '18-24'
            WHEN u.age BETWEEN 25 AND 35 THEN '25-35'
            WHEN u.age BETWEEN 36 AND 50 THEN '36-50'
            WHEN u.age > 50 THEN '50+' END AS age_group,
       CAST(date_part('year', g."timestamp") AS BIGINT) AS post_year,
       CAST(date_part('year', u.date_joined) AS BIGINT) AS join_year
FROM pins p
JOIN geos g ON p.ind = g.ind
JOIN users u ON p.ind = u.ind
"#;

/// All analytics, in data.md's order.
pub const ANALYTICS: [Analytic; 11] = [
    Analytic {
        name: "category_by_country",
        columns: &["country", "category", "category_count"],
        query: Query::MostPopularCategoryBy("country"),
    },
    Analytic {
        name: "category_by_year",
        columns: &["post_year", "category", "category_count"],
        query: Query::MostPopularCategoryBy("post_year"),
    },
    Analytic {
        name: "top_user_by_country",
        columns: &["country", "poster_name", "follower_count"],
        query: Query::Sql(
            r#"
SELECT country, poster_name, follower_count FROM (
  SELECT country, poster_name, follower_count,
         row_number() OVER (PARTITION BY country ORDER BY follower_count DESC, poster_name ASC) AS rn
  FROM joined
  WHERE country IS NOT NULL AND poster_name IS NOT NULL AND follower_count IS NOT NULL
) ranked WHERE rn = 1 ORDER BY country"#,
        ),
    },
    Analytic {
        name: "top_user",
        columns: &["country", "poster_name", "follower_count"],
        query: Query::Sql(
            r#"
SELECT country, poster_name, follower_count FROM joined
WHERE country IS NOT NULL AND poster_name IS NOT NULL AND follower_count IS NOT NULL
ORDER BY follower_count DESC, poster_name ASC, country ASC LIMIT 1"#,
        ),
    },
    Analytic {
        name: "category_by_age_group",
        columns: &["age_group", "category", "category_count"],
        query: Query::MostPopularCategoryBy("age_group"),
    },
    Analytic {
        name: "median_followers_by_age_group",
        columns: &["age_group", "median_follower_count"],
        query: Query::Sql(
            r#"
SELECT age_group, median(CAST(follower_count AS DOUBLE)) AS median_follower_count
FROM joined WHERE age_group IS NOT NULL GROUP BY age_group ORDER BY age_group"#,
        ),
    },
    // A join year with joined rows but no user with both a name and a join date counts 0, as a
    // median with no follower counts is null: groups come from the key (contract note 35).
    Analytic {
        name: "users_joined_by_year",
        columns: &["join_year", "number_users_joined"],
        query: Query::Sql(
            r#"
SELECT years.join_year, COALESCE(counted.n, 0) AS number_users_joined
FROM (SELECT DISTINCT join_year FROM joined WHERE join_year IS NOT NULL) years
LEFT JOIN (
  SELECT join_year, COUNT(*) AS n FROM (
    SELECT DISTINCT join_year, user_name, date_joined FROM joined
    WHERE user_name IS NOT NULL AND date_joined IS NOT NULL
  ) users GROUP BY join_year
) counted ON years.join_year = counted.join_year
ORDER BY years.join_year"#,
        ),
    },
    Analytic {
        name: "median_followers_by_join_year",
        columns: &["join_year", "median_follower_count"],
        query: Query::Sql(
            r#"
SELECT join_year, median(CAST(follower_count AS DOUBLE)) AS median_follower_count
FROM joined WHERE join_year IS NOT NULL GROUP BY join_year ORDER BY join_year"#,
        ),
    },
    Analytic {
        name: "median_followers_by_join_year_and_age_group",
        columns: &["join_year", "age_group", "median_follower_count"],
        query: Query::Sql(
            r#"
SELECT join_year, age_group, median(CAST(follower_count AS DOUBLE)) AS median_follower_count
FROM joined WHERE join_year IS NOT NULL AND age_group IS NOT NULL
GROUP BY join_year, age_group ORDER BY join_year, age_group"#,
        ),
    },
    Analytic {
        name: "category_summary",
        columns: &[
            "category",
            "pins",
            "images",
            "videos",
            "median_follower_count",
        ],
        query: Query::Sql(
            r#"
SELECT category, COUNT(*) AS pins,
       CAST(SUM(CASE WHEN media_type = 'image' THEN 1 ELSE 0 END) AS BIGINT) AS images,
       CAST(SUM(CASE WHEN media_type = 'video' THEN 1 ELSE 0 END) AS BIGINT) AS videos,
       median(CAST(follower_count AS DOUBLE)) AS median_follower_count
FROM joined WHERE category IS NOT NULL GROUP BY category ORDER BY category"#,
        ),
    },
    // A tag counts once per pin: each pin's tags made distinct, then counted. `unique_id` is the
    // curated pins' key, so every joined row is a different pin, and no set of (tag, pin) pairs
    // has to be held (a COUNT(DISTINCT unique_id) per tag would keep one in memory).
    Analytic {
        name: "top_tags",
        columns: &["tag", "pins"],
        query: Query::Sql(
            r#"
SELECT tag, COUNT(*) AS pins FROM (
  SELECT unnest(array_distinct(tag_list)) AS tag FROM joined
) tags GROUP BY tag ORDER BY pins DESC, tag ASC LIMIT 20"#,
        ),
    },
];

/// The analytic called `name`.
pub fn by_name(name: &str) -> Option<&'static Analytic> {
    ANALYTICS.iter().find(|a| a.name == name)
}
