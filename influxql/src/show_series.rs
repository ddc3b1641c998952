//! Types and parsers for the [`SHOW SERIES`][sql] statement.
//!
//! Not part of upstream `influxdb_influxql_parser`: added for StreamSwarm, modelled on
//! [`crate::show_tag_keys`] (see `README.md`).
//!
//! [sql]: https://docs.influxdata.com/influxdb/v1.8/query_language/explore-schema/#show-series

use crate::common::{
    LimitClause, OffsetClause, WhereClause, limit_clause, offset_clause, where_clause, ws1,
};
use crate::internal::ParseResult;
use crate::keywords::keyword;
use crate::show::{OnClause, on_clause};
use crate::simple_from_clause::{ShowFromClause, show_from_clause};
use nom::Parser;
use nom::combinator::opt;
use nom::sequence::preceded;
use std::fmt;
use std::fmt::Formatter;

/// Represents a `SHOW SERIES` InfluxQL statement.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ShowSeriesStatement {
    /// The name of the database to query. If `None`, a default
    /// database will be used.
    pub database: Option<OnClause>,

    /// The measurement or measurements to restrict which series
    /// are retrieved.
    pub from: Option<ShowFromClause>,

    /// A conditional expression to filter the series.
    pub condition: Option<WhereClause>,

    /// A value to restrict the number of series returned.
    pub limit: Option<LimitClause>,

    /// A value to specify an offset to start retrieving series.
    pub offset: Option<OffsetClause>,
}

impl fmt::Display for ShowSeriesStatement {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "SHOW SERIES")?;

        if let Some(ref on_clause) = self.database {
            write!(f, " {on_clause}")?;
        }

        if let Some(ref expr) = self.from {
            write!(f, " {expr}")?;
        }

        if let Some(ref cond) = self.condition {
            write!(f, " {cond}")?;
        }

        if let Some(ref limit) = self.limit {
            write!(f, " {limit}")?;
        }

        if let Some(ref offset) = self.offset {
            write!(f, " {offset}")?;
        }

        Ok(())
    }
}

/// Parse a `SHOW SERIES` statement, starting from the `SERIES` token.
pub(crate) fn show_series(i: &str) -> ParseResult<&str, ShowSeriesStatement> {
    let (
        remaining_input,
        (
            _, // "SERIES"
            database,
            from,
            condition,
            limit,
            offset,
        ),
    ) = (
        keyword("SERIES"),
        opt(preceded(ws1, on_clause)),
        opt(preceded(ws1, show_from_clause)),
        opt(preceded(ws1, where_clause)),
        opt(preceded(ws1, limit_clause)),
        opt(preceded(ws1, offset_clause)),
    )
        .parse(i)?;

    Ok((
        remaining_input,
        ShowSeriesStatement {
            database,
            from,
            condition,
            limit,
            offset,
        },
    ))
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::assert_expect_error;
    use crate::parse_statements;

    #[test]
    fn test_show_series() {
        // No optional clauses
        let (_, got) = show_series("SERIES").unwrap();
        assert_eq!(got.to_string(), "SHOW SERIES");
        assert_eq!(got, ShowSeriesStatement::default());

        let (_, got) = show_series("SERIES ON db").unwrap();
        assert_eq!(got.to_string(), "SHOW SERIES ON db");
        assert_eq!(got.database, Some(OnClause("db".into())));

        // measurement selection using name
        let (_, got) = show_series("SERIES FROM db..foo").unwrap();
        assert_eq!(got.to_string(), "SHOW SERIES FROM db..foo");

        let (_, got) = show_series("SERIES FROM db.rp.foo").unwrap();
        assert_eq!(got.to_string(), "SHOW SERIES FROM db.rp.foo");

        // measurement selection using regex
        let (_, got) = show_series("SERIES FROM /foo/").unwrap();
        assert_eq!(got.to_string(), "SHOW SERIES FROM /foo/");

        // measurement selection using list
        let (_, got) = show_series("SERIES FROM /foo/ , bar, \"foo bar\"").unwrap();
        assert_eq!(got.to_string(), "SHOW SERIES FROM /foo/, bar, \"foo bar\"");

        // tag conditions
        let (_, got) = show_series("SERIES WHERE foo = 'bar'").unwrap();
        assert_eq!(got.to_string(), "SHOW SERIES WHERE foo = 'bar'");

        let (_, got) = show_series("SERIES WHERE host =~ /^west/ AND region != 'eu'").unwrap();
        assert_eq!(
            got.to_string(),
            "SHOW SERIES WHERE host =~ /^west/ AND region != 'eu'"
        );

        // time conditions
        let (_, got) = show_series("SERIES WHERE time > now() - 5m").unwrap();
        assert_eq!(got.to_string(), "SHOW SERIES WHERE time > now() - 5m");

        let (_, got) = show_series("SERIES LIMIT 1").unwrap();
        assert_eq!(got.to_string(), "SHOW SERIES LIMIT 1");

        let (_, got) = show_series("SERIES OFFSET 2").unwrap();
        assert_eq!(got.to_string(), "SHOW SERIES OFFSET 2");

        // all optional clauses
        let (_, got) =
            show_series("SERIES ON db FROM /foo/ WHERE foo = 'bar' LIMIT 1 OFFSET 2").unwrap();
        assert_eq!(
            got.to_string(),
            "SHOW SERIES ON db FROM /foo/ WHERE foo = 'bar' LIMIT 1 OFFSET 2"
        );
        assert!(got.database.is_some());
        assert!(got.from.is_some());
        assert!(got.condition.is_some());
        assert_eq!(got.limit, Some(LimitClause(1)));
        assert_eq!(got.offset, Some(OffsetClause(2)));

        // keywords are case-insensitive and extra whitespace is ignored
        let (_, got) = show_series("series  on db\n from cpu where host = 'a' limit 3").unwrap();
        assert_eq!(
            got.to_string(),
            "SHOW SERIES ON db FROM cpu WHERE host = 'a' LIMIT 3"
        );

        // Fallible cases

        assert_expect_error!(
            show_series("SERIES ON "),
            "invalid ON clause, expected identifier"
        );

        assert_expect_error!(
            show_series("SERIES FROM "),
            "invalid FROM clause, expected identifier or regular expression"
        );

        assert_expect_error!(
            show_series("SERIES LIMIT foo"),
            "invalid LIMIT clause, expected unsigned integer"
        );

        assert_expect_error!(
            show_series("SERIES OFFSET -1"),
            "invalid OFFSET clause, expected unsigned integer"
        );
    }

    /// The `Display` output parses back to the same statement.
    #[test]
    fn test_show_series_round_trip() {
        for sql in [
            "SHOW SERIES",
            "SHOW SERIES ON telegraf",
            "SHOW SERIES ON \"my db\" FROM \"cpu load\"",
            "SHOW SERIES FROM cpu, /^disk/, db.rp.mem",
            "SHOW SERIES WHERE host = 'west' AND time > now() - 5m",
            "SHOW SERIES WHERE \"host\" =~ /^(a|b)$/ OR region <> 'eu'",
            "SHOW SERIES LIMIT 10 OFFSET 20",
            "SHOW SERIES ON db FROM /foo/ WHERE foo = 'bar' LIMIT 1 OFFSET 2",
        ] {
            let (rem, got) = show_series(&sql["SHOW ".len()..]).unwrap();
            assert_eq!(rem, "", "{sql}");
            let displayed = got.to_string();
            let (rem, again) = show_series(&displayed["SHOW ".len()..]).unwrap();
            assert_eq!(rem, "", "{displayed}");
            assert_eq!(again, got, "{sql} displayed as {displayed}");
            assert_eq!(again.to_string(), displayed);
        }
    }

    /// Errors through the public entry point, where unconsumed input is an error.
    #[test]
    fn test_show_series_statement_errors() {
        // `FROM` with nothing after it
        let got = parse_statements("SHOW SERIES FROM").unwrap_err();
        assert_eq!(got.pos, 12, "{got}");

        let got = parse_statements("SHOW SERIES FROM ").unwrap_err();
        assert_eq!(
            got.message,
            "invalid FROM clause, expected identifier or regular expression"
        );

        // a trailing comma in the `FROM` list
        parse_statements("SHOW SERIES FROM cpu,").unwrap_err();

        // `WHERE` with no condition
        parse_statements("SHOW SERIES WHERE").unwrap_err();
        parse_statements("SHOW SERIES WHERE ").unwrap_err();

        // `ON` with no database
        let got = parse_statements("SHOW SERIES ON ").unwrap_err();
        assert_eq!(got.message, "invalid ON clause, expected identifier");

        // clauses out of order
        parse_statements("SHOW SERIES LIMIT 1 FROM cpu").unwrap_err();
        parse_statements("SHOW SERIES WHERE host = 'a' ON db").unwrap_err();

        // anything else after SERIES
        parse_statements("SHOW SERIES foo").unwrap_err();

        // valid statements, for contrast
        let got = parse_statements("SHOW SERIES; SHOW SERIES FROM cpu").unwrap();
        assert_eq!(got[0].to_string(), "SHOW SERIES");
        assert_eq!(got[1].to_string(), "SHOW SERIES FROM cpu");
    }
}
