//! `SHOW …` statements, answered from the catalog in InfluxDB 1.x's shapes: one series
//! per measurement (`SHOW TAG KEYS`, `TAG VALUES`, `FIELD KEYS`), values sorted,
//! `LIMIT`/`OFFSET` applied to each series' values.
//!
//! A `WHERE` clause selects series by their tags. Time conditions in it are refused:
//! InfluxDB 1.x answers them per shard (whole days or weeks), which a store without
//! shards cannot reproduce.

use super::cond::{Cond, Operand};
use super::{Cell, DATABASE, Env, Fail, ResultSeries};
use crate::timeseries::embedded::storage::{Catalog, SeriesInfo};
use influxdb_influxql_parser::common::{
    LimitClause, MeasurementName, OffsetClause, QualifiedMeasurementName, WhereClause,
};
use influxdb_influxql_parser::show_field_keys::ShowFieldKeysStatement;
use influxdb_influxql_parser::show_measurements::{
    ShowMeasurementsStatement, WithMeasurementClause,
};
use influxdb_influxql_parser::show_series::ShowSeriesStatement;
use influxdb_influxql_parser::show_tag_keys::ShowTagKeysStatement;
use influxdb_influxql_parser::show_tag_values::{ShowTagValuesStatement, WithKeyClause};
use influxdb_influxql_parser::simple_from_clause::ShowFromClause;
use influxdb_influxql_parser::time_range::has_time_range;
use regex::Regex;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use streamswarm_schema::measurements::FieldType;

pub fn databases() -> Vec<ResultSeries> {
    vec![ResultSeries {
        name: Some("databases".into()),
        tags: BTreeMap::new(),
        columns: vec!["name".into()],
        rows: vec![vec![DATABASE.into()]],
    }]
}

pub fn retention_policies(env: Env<'_>) -> Vec<ResultSeries> {
    let duration = if env.raw_retention_days <= 0 {
        "0s".to_owned()
    } else {
        format!("{}h0m0s", env.raw_retention_days * 24)
    };
    vec![ResultSeries {
        name: None,
        tags: BTreeMap::new(),
        columns: [
            "name",
            "duration",
            "shardGroupDuration",
            "replicaN",
            "default",
        ]
        .map(String::from)
        .to_vec(),
        rows: vec![vec![
            "autogen".into(),
            duration.as_str().into(),
            "168h0m0s".into(),
            Cell::Value(streamswarm_tsdb::query::Value::Integer(1)),
            Cell::Value(streamswarm_tsdb::query::Value::Bool(true)),
        ]],
    }]
}

/// Compiles a SHOW statement's `WHERE` (tags only).
fn condition(w: Option<&WhereClause>) -> Result<Option<Cond>, Fail> {
    let Some(w) = w else { return Ok(None) };
    if has_time_range(w) {
        return Err(Fail::unsupported(
            "time conditions in SHOW statements (the store has no shards to answer them by)",
        ));
    }
    Cond::compile(w).map(Some)
}

fn passes(cond: Option<&Cond>, s: &SeriesInfo) -> bool {
    cond.is_none_or(|c| c.eval(&|name| Operand::Tag(s.tag(name))))
}

/// A test of names: equal to one, or matching a regex.
pub(super) type NameTest = Box<dyn Fn(&str) -> bool>;

pub(super) fn name_matches(q: &QualifiedMeasurementName) -> Result<NameTest, Fail> {
    Ok(match &q.name {
        MeasurementName::Name(n) => {
            let n = n.as_str().to_owned();
            Box::new(move |m: &str| m == n)
        }
        MeasurementName::Regex(r) => {
            let re = Regex::new(r.as_str())
                .map_err(|e| Fail::Invalid(format!("invalid regex {r}: {e}")))?;
            Box::new(move |m: &str| re.is_match(m))
        }
    })
}

/// The catalog's measurements a `FROM` names (all without one), sorted.
fn measurements_from(
    catalog: &Catalog,
    from: Option<&ShowFromClause>,
) -> Result<Vec<String>, Fail> {
    let mut all: Vec<String> = catalog.series.keys().cloned().collect();
    all.sort();
    let Some(from) = from else { return Ok(all) };
    let mut tests = Vec::new();
    for q in from.iter() {
        tests.push(name_matches(q)?);
    }
    all.retain(|m| tests.iter().any(|t| t(m)));
    Ok(all)
}

fn page<T>(rows: Vec<T>, limit: Option<&LimitClause>, offset: Option<&OffsetClause>) -> Vec<T> {
    let skip = offset.map_or(0, |o| **o as usize);
    let take = limit.map_or(usize::MAX, |l| **l as usize);
    rows.into_iter().skip(skip).take(take).collect()
}

fn series_of<'c>(
    catalog: &'c Catalog,
    measurement: &str,
    cond: Option<&Cond>,
) -> impl Iterator<Item = &'c Arc<SeriesInfo>> {
    catalog
        .series_of(measurement)
        .iter()
        .filter(move |s| passes(cond, s))
}

pub fn measurements(
    catalog: &Catalog,
    s: &ShowMeasurementsStatement,
) -> Result<Vec<ResultSeries>, Fail> {
    let cond = condition(s.condition.as_ref())?;
    let test = match &s.with_measurement {
        None => None,
        Some(WithMeasurementClause::Equals(q) | WithMeasurementClause::Regex(q)) => {
            Some(name_matches(q)?)
        }
    };
    let names: Vec<String> = measurements_from(catalog, None)?
        .into_iter()
        .filter(|m| test.as_ref().is_none_or(|t| t(m)))
        .filter(|m| series_of(catalog, m, cond.as_ref()).next().is_some())
        .collect();
    let names = page(names, s.limit.as_ref(), s.offset.as_ref());
    if names.is_empty() {
        return Ok(Vec::new());
    }
    Ok(vec![ResultSeries {
        name: Some("measurements".into()),
        tags: BTreeMap::new(),
        columns: vec!["name".into()],
        rows: names.iter().map(|n| vec![n.as_str().into()]).collect(),
    }])
}

pub fn tag_keys(catalog: &Catalog, s: &ShowTagKeysStatement) -> Result<Vec<ResultSeries>, Fail> {
    let cond = condition(s.condition.as_ref())?;
    let mut out = Vec::new();
    for m in measurements_from(catalog, s.from.as_ref())? {
        let keys: BTreeSet<&str> = series_of(catalog, &m, cond.as_ref())
            .flat_map(|s| s.tags.iter().map(|(k, _)| k))
            .collect();
        let keys = page(
            keys.into_iter().collect(),
            s.limit.as_ref(),
            s.offset.as_ref(),
        );
        if !keys.is_empty() {
            out.push(ResultSeries {
                name: Some(m.clone()),
                tags: BTreeMap::new(),
                columns: vec!["tagKey".into()],
                rows: keys.into_iter().map(|k| vec![k.into()]).collect(),
            });
        }
    }
    Ok(out)
}

pub fn tag_values(
    catalog: &Catalog,
    s: &ShowTagValuesStatement,
) -> Result<Vec<ResultSeries>, Fail> {
    let cond = condition(s.condition.as_ref())?;
    let key_test: NameTest = match &s.with_key {
        WithKeyClause::Eq(k) => {
            let k = k.as_str().to_owned();
            Box::new(move |x| x == k)
        }
        WithKeyClause::NotEq(k) => {
            let k = k.as_str().to_owned();
            Box::new(move |x| x != k)
        }
        WithKeyClause::EqRegex(r) | WithKeyClause::NotEqRegex(r) => {
            let re = Regex::new(r.as_str())
                .map_err(|e| Fail::Invalid(format!("invalid regex {r}: {e}")))?;
            let want = matches!(s.with_key, WithKeyClause::EqRegex(_));
            Box::new(move |x| re.is_match(x) == want)
        }
        WithKeyClause::In(list) => {
            let keys: Vec<String> = list.iter().map(|k| k.as_str().to_owned()).collect();
            Box::new(move |x| keys.iter().any(|k| k == x))
        }
    };
    let mut out = Vec::new();
    for m in measurements_from(catalog, s.from.as_ref())? {
        let pairs: BTreeSet<(&str, &str)> = series_of(catalog, &m, cond.as_ref())
            .flat_map(|s| s.tags.iter().filter(|(k, _)| key_test(k)))
            .collect();
        let pairs = page(
            pairs.into_iter().collect(),
            s.limit.as_ref(),
            s.offset.as_ref(),
        );
        if !pairs.is_empty() {
            out.push(ResultSeries {
                name: Some(m.clone()),
                tags: BTreeMap::new(),
                columns: vec!["key".into(), "value".into()],
                rows: pairs
                    .into_iter()
                    .map(|(k, v)| vec![k.into(), v.into()])
                    .collect(),
            });
        }
    }
    Ok(out)
}

pub fn field_keys(
    catalog: &Catalog,
    s: &ShowFieldKeysStatement,
) -> Result<Vec<ResultSeries>, Fail> {
    let mut out = Vec::new();
    for m in measurements_from(catalog, s.from.as_ref())? {
        let Some(fields) = catalog.fields.get(&m) else {
            continue;
        };
        let mut keys: Vec<(&String, &'static str)> = fields
            .iter()
            .map(|(name, f)| (name, influx_type(f.field_type)))
            .collect();
        keys.sort();
        let keys = page(keys, s.limit.as_ref(), s.offset.as_ref());
        if !keys.is_empty() {
            out.push(ResultSeries {
                name: Some(m.clone()),
                tags: BTreeMap::new(),
                columns: vec!["fieldKey".into(), "fieldType".into()],
                rows: keys
                    .into_iter()
                    .map(|(k, t)| vec![k.as_str().into(), t.into()])
                    .collect(),
            });
        }
    }
    Ok(out)
}

/// A series key as InfluxDB writes it: `measurement,tag=value,…`, with `,`, ` ` and
/// `=` escaped by a backslash (only `,` and ` ` in the measurement).
pub fn series_key(s: &SeriesInfo) -> String {
    let esc = |x: &str, eq: bool| {
        let mut o = String::with_capacity(x.len());
        for c in x.chars() {
            if c == ',' || c == ' ' || (eq && c == '=') {
                o.push('\\');
            }
            o.push(c);
        }
        o
    };
    let mut key = esc(&s.measurement, false);
    for (k, v) in s.tags.iter() {
        key.push(',');
        key.push_str(&esc(k, true));
        key.push('=');
        key.push_str(&esc(v, true));
    }
    key
}

pub fn series(catalog: &Catalog, s: &ShowSeriesStatement) -> Result<Vec<ResultSeries>, Fail> {
    let cond = condition(s.condition.as_ref())?;
    let mut keys: Vec<String> = Vec::new();
    for m in measurements_from(catalog, s.from.as_ref())? {
        keys.extend(series_of(catalog, &m, cond.as_ref()).map(|s| series_key(s)));
    }
    keys.sort();
    let keys = page(keys, s.limit.as_ref(), s.offset.as_ref());
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    Ok(vec![ResultSeries {
        name: None,
        tags: BTreeMap::new(),
        columns: vec!["key".into()],
        rows: keys.iter().map(|k| vec![k.as_str().into()]).collect(),
    }])
}

/// A field type as InfluxDB names it in `SHOW FIELD KEYS`.
fn influx_type(t: FieldType) -> &'static str {
    match t {
        FieldType::Bool => "boolean",
        other => other.as_str(),
    }
}
