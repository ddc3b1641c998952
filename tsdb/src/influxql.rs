//! Rendering the product's [`Query`] values as InfluxQL text.
//!
//! **Invariant: every name and every value in the text is quoted by this module**, and
//! no caller-supplied text reaches InfluxQL any other way. InfluxQL has no bind
//! parameters that every server generation supports, so quoting is the only defence
//! against injection and is done in exactly two functions:
//!
//! | kind | quoted as | escaped inside |
//! |---|---|---|
//! | identifier (measurement, field, tag key, retention policy, alias) | `"…"` | `\` → `\\`, `"` → `\"`, newline → `\n` |
//! | string literal (tag value) | `'…'` | `\` → `\\`, `'` → `\'`, newline → `\n` |
//!
//! These are the escapes InfluxQL's scanner (`ScanString` in influxql/scanner.go)
//! understands; it rejects a raw newline inside quotes, hence `\n`. Everything else,
//! unicode included, may appear literally. Numbers are rendered by Rust from typed
//! values (time bounds as integer nanoseconds, which InfluxQL reads as nanoseconds,
//! durations as integer duration literals, percentiles as decimal literals), never from
//! text. `tests/influxdb.rs` proves on a real InfluxDB that hostile names and values
//! only ever match themselves.
//!
//! Shape of the statements:
//! - aggregate: `SELECT mean("f") AS "mean_f", … FROM "m" WHERE time >= S AND time < E
//!   AND (filters) [GROUP BY [time(I)][, "tag"…]] [fill(none|null)]`;
//! - raw: `SELECT "f"::field, … FROM "m" WHERE … [GROUP BY "tag"…] ORDER BY time ASC
//!   LIMIT n` (InfluxQL's `LIMIT` counts per series, which is what [`RawQuery::limit`]
//!   means);
//! - tag values: `SHOW TAG VALUES FROM "m" WITH KEY = "t" [WHERE filters]`.
//!
//! A filter is `("t"::tag = 'a' OR "t"::tag = 'b')`: the `::tag` cast keeps a tag from
//! being read as a field of the same name. A filter with no values must match nothing,
//! and InfluxQL has no `false`, so it renders as `("t"::tag = '' AND "t"::tag != '')`.

use crate::query::{
    Aggregate, AggregateQuery, Fill, Query, RawQuery, Selector, TagFilter, TagValuesQuery,
};
use std::fmt::Write as _;
use std::time::Duration;

/// A query that cannot be asked; the reader turns it into `ReadError::Invalid`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidQuery(pub String);

fn invalid(message: impl Into<String>) -> InvalidQuery {
    InvalidQuery(message.into())
}

/// `name` as an InfluxQL identifier: always double-quoted, so keywords (`time`,
/// `select`), spaces and punctuation are plain names.
pub fn quote_ident(name: &str) -> String {
    quote(name, '"')
}

/// `value` as an InfluxQL string literal.
pub fn quote_string(value: &str) -> String {
    quote(value, '\'')
}

fn quote(text: &str, mark: char) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push(mark);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c == mark => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push(mark);
    out
}

/// A duration as an InfluxQL duration literal in the largest unit that divides it
/// exactly (`1w`, `90m`, `1500ms`, `7ns`).
pub fn duration_literal(d: Duration) -> Result<String, InvalidQuery> {
    let nanos =
        i64::try_from(d.as_nanos()).map_err(|_| invalid(format!("interval {d:?} is too long")))?;
    if nanos == 0 {
        return Err(invalid("interval must be longer than 0"));
    }
    const UNITS: [(i64, &str); 8] = [
        (7 * 86_400_000_000_000, "w"),
        (86_400_000_000_000, "d"),
        (3_600_000_000_000, "h"),
        (60_000_000_000, "m"),
        (1_000_000_000, "s"),
        (1_000_000, "ms"),
        (1_000, "u"),
        (1, "ns"),
    ];
    let (size, unit) = UNITS
        .into_iter()
        .find(|(size, _)| nanos % size == 0)
        .expect("every integer is a multiple of 1");
    Ok(format!("{}{unit}", nanos / size))
}

/// The column name of an aggregate, as `query` fixes it: `mean_rtt_avg_ms`, `p99_…`.
pub fn column_name(field: &str, aggregate: Aggregate) -> String {
    format!("{}_{field}", aggregate.label())
}

/// Renders `query`. `retention_policy` qualifies the measurement of `SELECT`s
/// (`"rp"."m"`); `SHOW TAG VALUES` reads the database's index, which has none.
pub fn render(query: &Query, retention_policy: Option<&str>) -> Result<String, InvalidQuery> {
    match query {
        Query::Aggregate(q) => render_aggregate(q, retention_policy),
        Query::Raw(q) => render_raw(q, retention_policy),
        Query::TagValues(q) => render_tag_values(q),
    }
}

fn check_name(what: &str, name: &str) -> Result<(), InvalidQuery> {
    if name.is_empty() {
        return Err(invalid(format!("{what} must not be empty")));
    }
    Ok(())
}

fn aggregate_call(field: &str, aggregate: Aggregate) -> Result<String, InvalidQuery> {
    let f = quote_ident(field);
    Ok(match aggregate {
        Aggregate::Mean => format!("mean({f})"),
        Aggregate::Min => format!("min({f})"),
        Aggregate::Max => format!("max({f})"),
        Aggregate::Count => format!("count({f})"),
        Aggregate::Sum => format!("sum({f})"),
        Aggregate::First => format!("first({f})"),
        Aggregate::Last => format!("last({f})"),
        Aggregate::Percentile(p) => {
            if !(p.is_finite() && p > 0.0 && p <= 100.0) {
                return Err(invalid(format!("percentile must be in (0, 100], got {p}")));
            }
            // `Display` of an f64 never uses an exponent, which InfluxQL could not read.
            format!("percentile({f}, {p})")
        }
    })
}

fn render_aggregate(q: &AggregateQuery, rp: Option<&str>) -> Result<String, InvalidQuery> {
    if q.fields.is_empty() {
        return Err(invalid("an aggregate query needs at least one field"));
    }
    let mut sql = String::from("SELECT ");
    let mut seen = std::collections::HashSet::new();
    for (i, (field, aggregate)) in q.fields.iter().enumerate() {
        check_name("field name", field)?;
        let column = column_name(field, *aggregate);
        if !seen.insert(column.clone()) {
            return Err(invalid(format!("column {column:?} is requested twice")));
        }
        if i > 0 {
            sql.push_str(", ");
        }
        let call = aggregate_call(field, *aggregate)?;
        let _ = write!(sql, "{call} AS {}", quote_ident(&column));
    }
    push_from_where(&mut sql, &q.selector, rp)?;
    let mut group_by = Vec::new();
    if let Some(interval) = q.interval {
        group_by.push(format!("time({})", duration_literal(interval)?));
    }
    for tag in &q.group_by_tags {
        check_name("group-by tag", tag)?;
        group_by.push(quote_ident(tag));
    }
    if !group_by.is_empty() {
        let _ = write!(sql, " GROUP BY {}", group_by.join(", "));
    }
    if q.interval.is_some() {
        sql.push_str(match q.fill {
            Fill::None => " fill(none)",
            Fill::Null => " fill(null)",
        });
    }
    Ok(sql)
}

fn render_raw(q: &RawQuery, rp: Option<&str>) -> Result<String, InvalidQuery> {
    if q.fields.is_empty() {
        return Err(invalid("a raw query needs at least one field"));
    }
    if q.limit == 0 {
        return Err(invalid("a raw query's limit must be at least 1"));
    }
    let mut seen = std::collections::HashSet::new();
    let mut columns = Vec::with_capacity(q.fields.len());
    for field in &q.fields {
        check_name("field name", field)?;
        if !seen.insert(field) {
            return Err(invalid(format!("field {field:?} is requested twice")));
        }
        // `::field` so that a tag of the same name is not selected instead.
        columns.push(format!("{}::field", quote_ident(field)));
    }
    let mut sql = format!("SELECT {}", columns.join(", "));
    push_from_where(&mut sql, &q.selector, rp)?;
    if !q.group_by_tags.is_empty() {
        let mut tags = Vec::with_capacity(q.group_by_tags.len());
        for tag in &q.group_by_tags {
            check_name("group-by tag", tag)?;
            tags.push(quote_ident(tag));
        }
        let _ = write!(sql, " GROUP BY {}", tags.join(", "));
    }
    let _ = write!(sql, " ORDER BY time ASC LIMIT {}", q.limit);
    Ok(sql)
}

fn render_tag_values(q: &TagValuesQuery) -> Result<String, InvalidQuery> {
    check_name("measurement", &q.measurement)?;
    check_name("tag", &q.tag)?;
    let mut sql = format!(
        "SHOW TAG VALUES FROM {} WITH KEY = {}",
        quote_ident(&q.measurement),
        quote_ident(&q.tag)
    );
    let filters = render_filters(&q.filters)?;
    if !filters.is_empty() {
        let _ = write!(sql, " WHERE {}", filters.join(" AND "));
    }
    Ok(sql)
}

fn push_from_where(sql: &mut String, s: &Selector, rp: Option<&str>) -> Result<(), InvalidQuery> {
    check_name("measurement", &s.measurement)?;
    sql.push_str(" FROM ");
    if let Some(rp) = rp {
        let _ = write!(sql, "{}.", quote_ident(rp));
    }
    sql.push_str(&quote_ident(&s.measurement));
    let _ = write!(
        sql,
        " WHERE time >= {} AND time < {}",
        s.range.start_ns, s.range.end_ns
    );
    for filter in render_filters(&s.filters)? {
        let _ = write!(sql, " AND {filter}");
    }
    Ok(())
}

fn render_filters(filters: &[TagFilter]) -> Result<Vec<String>, InvalidQuery> {
    filters
        .iter()
        .map(|f| {
            check_name("filter tag", &f.tag)?;
            let tag = format!("{}::tag", quote_ident(&f.tag));
            if f.values.is_empty() {
                return Ok(format!("({tag} = '' AND {tag} != '')"));
            }
            let alternatives: Vec<String> = f
                .values
                .iter()
                .map(|v| format!("{tag} = {}", quote_string(v)))
                .collect();
            Ok(format!("({})", alternatives.join(" OR ")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::TimeRange;

    fn selector(filters: Vec<TagFilter>) -> Selector {
        Selector {
            measurement: "ping".into(),
            filters,
            range: TimeRange {
                start_ns: 1_000,
                end_ns: 61_000_000_001_000,
            },
        }
    }

    fn aggregate(
        fields: &[(&str, Aggregate)],
        interval: Option<Duration>,
        tags: &[&str],
        fill: Fill,
    ) -> Query {
        Query::Aggregate(AggregateQuery {
            selector: selector(vec![]),
            fields: fields.iter().map(|(f, a)| (f.to_string(), *a)).collect(),
            interval,
            group_by_tags: tags.iter().map(|t| t.to_string()).collect(),
            fill,
        })
    }

    #[track_caller]
    fn check(query: &Query, expected: &str) {
        assert_eq!(render(query, None).unwrap(), expected);
    }

    #[test]
    fn quoting() {
        assert_eq!(quote_ident("rtt_avg_ms"), r#""rtt_avg_ms""#);
        assert_eq!(quote_ident(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(quote_ident("it's"), r#""it's""#);
        assert_eq!(quote_string("it's"), r"'it\'s'");
        assert_eq!(quote_string(r#"a"b"#), r#"'a"b'"#);
        assert_eq!(
            quote_string("x\\'; DROP DATABASE x; --"),
            r"'x\\\'; DROP DATABASE x; --'"
        );
        assert_eq!(quote_string("two\nlines"), r"'two\nlines'");
        assert_eq!(quote_string("tab\there ünï ✓"), "'tab\there ünï ✓'");
        assert_eq!(quote_string(""), "''");
    }

    #[test]
    fn durations() {
        let lit = |d| duration_literal(d).unwrap();
        assert_eq!(lit(Duration::from_secs(7 * 86_400)), "1w");
        assert_eq!(lit(Duration::from_secs(2 * 86_400)), "2d");
        assert_eq!(lit(Duration::from_secs(7_200)), "2h");
        assert_eq!(lit(Duration::from_secs(5_400)), "90m");
        assert_eq!(lit(Duration::from_secs(10)), "10s");
        assert_eq!(lit(Duration::from_millis(1_500)), "1500ms");
        assert_eq!(lit(Duration::from_micros(3)), "3u");
        assert_eq!(lit(Duration::from_nanos(7)), "7ns");
        assert!(duration_literal(Duration::ZERO).is_err());
        assert!(duration_literal(Duration::from_secs(u64::MAX)).is_err());
    }

    #[test]
    fn aggregate_over_the_whole_range() {
        check(
            &aggregate(&[("rtt_avg_ms", Aggregate::Mean)], None, &[], Fill::None),
            r#"SELECT mean("rtt_avg_ms") AS "mean_rtt_avg_ms" FROM "ping" WHERE time >= 1000 AND time < 61000000001000"#,
        );
    }

    #[test]
    fn aggregate_by_interval_and_tags_with_fill() {
        check(
            &aggregate(
                &[
                    ("rtt_avg_ms", Aggregate::Percentile(99.0)),
                    ("rtt_avg_ms", Aggregate::Percentile(99.9)),
                    ("loss_percent", Aggregate::Max),
                    ("sent", Aggregate::Count),
                ],
                Some(Duration::from_secs(60)),
                &["agent", "target"],
                Fill::Null,
            ),
            concat!(
                r#"SELECT percentile("rtt_avg_ms", 99) AS "p99_rtt_avg_ms", "#,
                r#"percentile("rtt_avg_ms", 99.9) AS "p99_9_rtt_avg_ms", "#,
                r#"max("loss_percent") AS "max_loss_percent", count("sent") AS "count_sent" "#,
                r#"FROM "ping" WHERE time >= 1000 AND time < 61000000001000 "#,
                r#"GROUP BY time(1m), "agent", "target" fill(null)"#
            ),
        );
        check(
            &aggregate(
                &[
                    ("a", Aggregate::Min),
                    ("a", Aggregate::Sum),
                    ("a", Aggregate::First),
                    ("a", Aggregate::Last),
                ],
                Some(Duration::from_millis(250)),
                &[],
                Fill::None,
            ),
            concat!(
                r#"SELECT min("a") AS "min_a", sum("a") AS "sum_a", first("a") AS "first_a", last("a") AS "last_a" "#,
                r#"FROM "ping" WHERE time >= 1000 AND time < 61000000001000 GROUP BY time(250ms) fill(none)"#
            ),
        );
        check(
            &aggregate(&[("a", Aggregate::Last)], None, &["agent"], Fill::Null),
            r#"SELECT last("a") AS "last_a" FROM "ping" WHERE time >= 1000 AND time < 61000000001000 GROUP BY "agent""#,
        );
    }

    #[test]
    fn filters_and_retention_policy() {
        let q = Query::Aggregate(AggregateQuery {
            selector: selector(vec![
                TagFilter {
                    tag: "target".into(),
                    values: vec!["a.example".into(), "it's".into()],
                },
                TagFilter::eq("agent", "x"),
                TagFilter {
                    tag: "never".into(),
                    values: vec![],
                },
            ]),
            fields: vec![("v".into(), Aggregate::Mean)],
            interval: None,
            group_by_tags: vec![],
            fill: Fill::None,
        });
        assert_eq!(
            render(&q, Some("one week")).unwrap(),
            concat!(
                r#"SELECT mean("v") AS "mean_v" FROM "one week"."ping" WHERE time >= 1000 AND time < 61000000001000"#,
                r#" AND ("target"::tag = 'a.example' OR "target"::tag = 'it\'s')"#,
                r#" AND ("agent"::tag = 'x')"#,
                r#" AND ("never"::tag = '' AND "never"::tag != '')"#
            )
        );
    }

    #[test]
    fn raw_rows() {
        check(
            &Query::Raw(RawQuery {
                selector: selector(vec![TagFilter::eq("agent", "a")]),
                fields: vec!["rtt_avg_ms".into(), "time".into()],
                group_by_tags: vec!["target".into()],
                limit: 10,
            }),
            concat!(
                r#"SELECT "rtt_avg_ms"::field, "time"::field FROM "ping" WHERE time >= 1000 AND time < 61000000001000"#,
                r#" AND ("agent"::tag = 'a') GROUP BY "target" ORDER BY time ASC LIMIT 10"#
            ),
        );
    }

    #[test]
    fn tag_values() {
        check(
            &Query::TagValues(TagValuesQuery {
                measurement: "ping".into(),
                tag: "target".into(),
                filters: vec![],
            }),
            r#"SHOW TAG VALUES FROM "ping" WITH KEY = "target""#,
        );
        check(
            &Query::TagValues(TagValuesQuery {
                measurement: "ping".into(),
                tag: "target".into(),
                filters: vec![TagFilter::eq("agent", "a\"b")],
            }),
            r#"SHOW TAG VALUES FROM "ping" WITH KEY = "target" WHERE ("agent"::tag = 'a"b')"#,
        );
    }

    #[test]
    fn invalid_queries_are_refused() {
        let bad = [
            aggregate(&[], None, &[], Fill::None),
            aggregate(&[("a", Aggregate::Percentile(0.0))], None, &[], Fill::None),
            aggregate(
                &[("a", Aggregate::Percentile(100.5))],
                None,
                &[],
                Fill::None,
            ),
            aggregate(
                &[("a", Aggregate::Percentile(f64::NAN))],
                None,
                &[],
                Fill::None,
            ),
            aggregate(
                &[("a", Aggregate::Mean), ("a", Aggregate::Mean)],
                None,
                &[],
                Fill::None,
            ),
            aggregate(&[("", Aggregate::Mean)], None, &[], Fill::None),
            aggregate(
                &[("a", Aggregate::Mean)],
                Some(Duration::ZERO),
                &[],
                Fill::None,
            ),
            aggregate(&[("a", Aggregate::Mean)], None, &[""], Fill::None),
            Query::Raw(RawQuery {
                selector: selector(vec![]),
                fields: vec!["a".into()],
                group_by_tags: vec![],
                limit: 0,
            }),
            Query::Raw(RawQuery {
                selector: selector(vec![]),
                fields: vec![],
                group_by_tags: vec![],
                limit: 1,
            }),
            Query::TagValues(TagValuesQuery {
                measurement: String::new(),
                tag: "t".into(),
                filters: vec![],
            }),
        ];
        for q in bad {
            assert!(render(&q, None).is_err(), "{q:?}");
        }
        assert_eq!(
            render(
                &aggregate(
                    &[("a", Aggregate::Percentile(100.0))],
                    None,
                    &[],
                    Fill::None
                ),
                None
            )
            .unwrap(),
            r#"SELECT percentile("a", 100) AS "p100_a" FROM "ping" WHERE time >= 1000 AND time < 61000000001000"#
        );
    }

    #[test]
    fn hostile_text_never_leaves_its_quotes() {
        // Whatever the text, the rendered literal must scan back (per InfluxQL's
        // ScanString rules) to exactly the original, consuming the whole literal.
        let hostile = [
            "'; DROP DATABASE x; --",
            "\"; DROP DATABASE x; --",
            "\\",
            "\\'",
            "a\\\"b",
            "line\nbreak",
            "\u{0}\u{7f}é✓🚀",
            "' OR '1'='1",
            "\") OR (\"a\" = \"a",
        ];
        for text in hostile {
            for (quoted, mark) in [(quote_string(text), '\''), (quote_ident(text), '"')] {
                assert_eq!(
                    scan_string(&quoted, mark),
                    Some(text.to_owned()),
                    "{quoted}"
                );
            }
        }
    }

    /// InfluxQL's `ScanString`, transcribed: reads a quoted literal that must span the
    /// whole input.
    fn scan_string(input: &str, mark: char) -> Option<String> {
        let mut chars = input.chars();
        if chars.next()? != mark {
            return None;
        }
        let mut out = String::new();
        loop {
            match chars.next()? {
                c if c == mark => return chars.next().is_none().then_some(out),
                '\n' => return None,
                '\\' => match chars.next()? {
                    'n' => out.push('\n'),
                    '\\' => out.push('\\'),
                    '"' => out.push('"'),
                    '\'' => out.push('\''),
                    _ => return None,
                },
                c => out.push(c),
            }
        }
    }
}
