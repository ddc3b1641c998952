//! `SELECT`, with InfluxDB 1.x's semantics (checked against InfluxDB 1.6.7 by the
//! differential test, `tests/api/influxql_differential.rs`):
//!
//! - time bounds are inclusive; without an upper bound a `GROUP BY time` query ends
//!   at `now()`, others at the end of time;
//! - buckets are `[k·interval + offset, …)`; a row's time is its bucket's start, or
//!   without `GROUP BY time` the lower bound (the epoch without one) — except a lone
//!   selector (`first`, `last`, `min`, `max`, `percentile`, the only call in the
//!   query) without `GROUP BY time`, whose row has the selected point's time;
//! - `fill` applies to each aggregate's buckets, from the bucket of the lower bound
//!   (of a group's first point without one) to the bucket of the upper bound;
//!   `count` fills `null` with 0; a group with no point in range has no series;
//! - transformations (`derivative`, `difference`, `moving_average`, `cumulative_sum`,
//!   and their `non_negative_` forms) read their input from one interval before the
//!   range and skip null buckets; with `fill(null)` they have rows only where they
//!   have values;
//! - math gives null if either side is null; integers divide into floats; x/0 is 0;
//! - column names: the alias, else the function's name, a field's name, or for math
//!   the names in it joined by `_`; repeats get `_1`, `_2`;
//! - series are ordered by measurement, then group tags; rows by time, then series.

use super::cond::{Cond, Operand, literal_value};
use super::functions::{Func, Op, Transform, arith, is_math, math1};
use super::show::name_matches;
use super::{Cell, Env, Fail, MAX_BUCKETS, MAX_VALUES, ResultSeries};
use crate::timeseries::embedded::query::{Column, Snapshot, aggregate_rows};
use crate::timeseries::embedded::storage::{Catalog, FieldInfo, SeriesInfo, bucket_start};
use influxdb_influxql_parser::common::MeasurementName;
use influxdb_influxql_parser::expression::{
    BinaryOperator, Call, Expr, VarRefDataType, WildcardType,
};
use influxdb_influxql_parser::literal::{Literal, Number};
use influxdb_influxql_parser::select::{
    Dimension, FillClause, MeasurementSelection, SelectStatement,
};
use influxdb_influxql_parser::time_range::{ReduceContext, TimeRange, split_cond};
use regex::Regex;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use streamswarm_schema::measurements::FieldType;
use streamswarm_tsdb::query::Value;

/// A projection, compiled.
#[derive(Debug, Clone)]
enum Node {
    /// A field or tag, by name.
    Ref(String),
    Lit(Value),
    /// The aggregate at this index of [`Plan::aggs`].
    Agg(usize),
    Transform(Transform, Box<Node>),
    Math(String, Box<Node>),
    Bin(Box<Node>, Op, Box<Node>),
}

#[derive(Debug, Clone, PartialEq)]
struct AggSpec {
    func: Func,
    field: String,
}

struct Plan {
    columns: Vec<String>,
    nodes: Vec<Node>,
    aggs: Vec<AggSpec>,
    has_transform: bool,
    /// The most intervals a transformation reads before the range ([`Transform::lead`]).
    lead: i64,
}

/// One source's data for the generic path: series with their rows.
struct SeriesData {
    tags: BTreeMap<String, String>,
    /// Rows in time order: one value per requested field.
    rows: Vec<(i64, Vec<Option<Value>>)>,
}

/// Where a measurement's points come from.
enum Source {
    Stored(String),
    Derived(String, Vec<ResultSeries>),
}

impl Source {
    fn name(&self) -> &str {
        match self {
            Source::Stored(n) | Source::Derived(n, _) => n,
        }
    }
}

struct Grouping {
    tags: Vec<String>,
    all: bool,
    regexes: Vec<Regex>,
    /// The tag keys grouped by, once the sources are known.
    resolved: Vec<String>,
}

impl Grouping {
    fn keys<'a>(&self, tag_keys: impl Iterator<Item = &'a str>) -> Vec<String> {
        let mut keys: BTreeSet<String> = self.tags.iter().cloned().collect();
        for k in tag_keys {
            if self.all || self.regexes.iter().any(|r| r.is_match(k)) {
                keys.insert(k.to_owned());
            }
        }
        keys.into_iter().collect()
    }
}

fn duration(e: &Expr, what: &str) -> Result<i64, Fail> {
    match e {
        Expr::Literal(Literal::Duration(d)) => Ok(**d),
        Expr::Literal(Literal::Integer(i)) => Ok(*i),
        Expr::Nested(inner) => duration(inner, what),
        other => Err(Fail::Invalid(format!(
            "{what} must be a duration, not {other}"
        ))),
    }
}

pub(super) fn select(
    snap: &mut Snapshot<'_>,
    catalog: &Catalog,
    stmt: &SelectStatement,
    env: Env<'_>,
    outer: Option<TimeRange>,
) -> Result<Vec<ResultSeries>, Fail> {
    if stmt.timezone.is_some() {
        return Err(Fail::unsupported("tz() (times are UTC)"));
    }
    let now = chrono::DateTime::from_timestamp_nanos(env.now_ns).fixed_offset();
    let ctx = ReduceContext {
        now: Some(now),
        tz: None,
    };
    let (rest, mut range) = match &stmt.condition {
        Some(w) => split_cond(&ctx, w).map_err(|e| {
            Fail::Invalid(match e {
                influxdb_influxql_parser::time_range::ExprError::Expression(m)
                | influxdb_influxql_parser::time_range::ExprError::Internal(m) => m,
            })
        })?,
        None => (None, TimeRange::default()),
    };
    if let Some(o) = outer {
        range = range.intersected(o);
    }
    let cond = match &rest {
        Some(c) => Some(Cond::compile(c)?),
        None => None,
    };

    // GROUP BY.
    let mut interval: Option<(i64, i64)> = None;
    let mut grouping = Grouping {
        tags: Vec::new(),
        all: false,
        regexes: Vec::new(),
        resolved: Vec::new(),
    };
    if let Some(g) = &stmt.group_by {
        for d in g.iter() {
            match d {
                Dimension::Time(td) => {
                    let iv = duration(&td.interval, "the GROUP BY time interval")?;
                    if iv <= 0 {
                        return Err(Fail::Invalid(
                            "GROUP BY time interval must be positive".into(),
                        ));
                    }
                    let off = match &td.offset {
                        Some(o) => duration(o, "the GROUP BY time offset")?,
                        None => 0,
                    };
                    interval = Some((iv, off.rem_euclid(iv)));
                }
                Dimension::VarRef(v) => grouping.tags.push(v.name.as_str().to_owned()),
                Dimension::Wildcard => grouping.all = true,
                Dimension::Regex(r) => grouping.regexes.push(
                    Regex::new(r.as_str())
                        .map_err(|e| Fail::Invalid(format!("invalid regex {r}: {e}")))?,
                ),
            }
        }
    }
    let fill = stmt.fill.unwrap_or_default();
    if (stmt.series_limit.is_some() || stmt.series_offset.is_some())
        && (grouping.tags.len() > 1 || grouping.all || !grouping.regexes.is_empty())
    {
        // InfluxDB 1.6.7 skips other series than documented there (checked: `GROUP BY
        // a, b SOFFSET 1` returns the first series); one tag key works as documented.
        return Err(Fail::unsupported(
            "SLIMIT or SOFFSET with more than one GROUP BY tag (InfluxDB 1.x applies them inconsistently there)",
        ));
    }

    // Sources, by name.
    let mut sources: Vec<Source> = Vec::new();
    for item in stmt.from.iter() {
        match item {
            MeasurementSelection::Name(q) => {
                let test = name_matches(q)?;
                let mut names: Vec<&String> = catalog.series.keys().filter(|m| test(m)).collect();
                if let MeasurementName::Name(n) = &q.name
                    && names.is_empty()
                    && catalog.fields.contains_key(n.as_str())
                {
                    names.push(
                        catalog
                            .fields
                            .keys()
                            .find(|k| *k == n.as_str())
                            .expect("present"),
                    );
                }
                sources.extend(names.into_iter().map(|n| Source::Stored(n.clone())));
            }
            MeasurementSelection::Subquery(inner) => {
                let results = select(snap, catalog, inner, env, Some(range))?;
                let mut by_name: BTreeMap<String, Vec<ResultSeries>> = BTreeMap::new();
                for r in results {
                    by_name
                        .entry(r.name.clone().unwrap_or_default())
                        .or_default()
                        .push(r);
                }
                sources.extend(by_name.into_iter().map(|(n, s)| Source::Derived(n, s)));
            }
        }
    }
    sources.sort_by(|a, b| a.name().cmp(b.name()));
    sources.dedup_by(|a, b| {
        a.name() == b.name() && matches!((a, b), (Source::Stored(_), Source::Stored(_)))
    });

    // Names each source knows: fields (with types, where stored) and tags.
    let mut field_names: BTreeSet<String> = BTreeSet::new();
    let mut field_types: BTreeMap<String, FieldType> = BTreeMap::new();
    let mut tag_names: BTreeSet<String> = BTreeSet::new();
    for s in &sources {
        match s {
            Source::Stored(m) => {
                if let Some(fs) = catalog.fields.get(m) {
                    field_names.extend(fs.keys().cloned());
                    for (name, f) in fs {
                        field_types.entry(name.clone()).or_insert(f.field_type);
                    }
                }
                for si in catalog.series_of(m) {
                    tag_names.extend(si.tags.iter().map(|(k, _)| k.to_owned()));
                }
            }
            Source::Derived(_, series) => {
                for r in series {
                    field_names.extend(r.columns.iter().skip(1).cloned());
                    tag_names.extend(r.tags.keys().cloned());
                }
            }
        }
    }
    // `GROUP BY *` and regex dimensions: every tag key of the sources' series,
    // whatever the condition (InfluxDB 1.x: of the series in the shards the range
    // touches; this store has no shards).
    grouping.resolved = grouping.keys(tag_names.iter().map(String::as_str));
    let dims_fixed: BTreeSet<String> = grouping.resolved.iter().cloned().collect();
    let plan = plan(stmt, &field_names, &field_types, &tag_names, &dims_fixed)?;

    let aggregate = !plan.aggs.is_empty();
    if !aggregate && interval.is_some() {
        return Err(Fail::Invalid(
            "GROUP BY requires at least one aggregate function".into(),
        ));
    }
    if plan.has_transform && !aggregate && interval.is_some() {
        return Err(Fail::Invalid(
            "aggregate function required inside the call to a transformation".into(),
        ));
    }
    let lower = range.lower;
    let upper = match range.upper {
        Some(u) => u,
        None if interval.is_some() => env.now_ns,
        None => i64::MAX - 1,
    };
    let lo = lower.unwrap_or(i64::MIN / 4);
    if upper < lo {
        return Ok(Vec::new());
    }
    if let (Some((iv, _)), Some(l)) = (interval, lower)
        && (upper - l) / iv > MAX_BUCKETS
    {
        return Err(Fail::Invalid(format!(
            "the query asks for {} buckets per series (at most {MAX_BUCKETS}): use a longer GROUP BY time interval or a shorter range",
            (upper - l) / iv
        )));
    }
    let mut cond_names = Vec::new();
    if let Some(c) = &cond {
        c.names(&mut cond_names);
    }
    let field_cond = cond_names.iter().any(|n| field_names.contains(n));

    let ascending = stmt.order_by().is_ascending();
    let mut out = Vec::new();
    for source in &sources {
        let mut series = if aggregate {
            let bounds = Bounds {
                lower,
                lo,
                hi: upper,
                ascending,
            };
            run_aggregate(
                snap,
                catalog,
                source,
                &plan,
                &grouping,
                cond.as_ref(),
                field_cond,
                interval,
                fill,
                bounds,
            )?
        } else {
            run_raw(
                snap,
                catalog,
                source,
                &plan,
                &grouping,
                cond.as_ref(),
                field_cond,
                lo,
                upper,
                ascending,
            )?
        };
        for s in &mut series {
            if !ascending {
                s.rows.reverse();
            }
            let skip = stmt.offset.as_ref().map_or(0, |o| **o as usize);
            let take = stmt.limit.as_ref().map_or(usize::MAX, |l| **l as usize);
            if skip > 0 || take < s.rows.len() {
                s.rows = std::mem::take(&mut s.rows)
                    .into_iter()
                    .skip(skip)
                    .take(take)
                    .collect();
            }
        }
        series.retain(|s| !s.rows.is_empty());
        out.extend(series);
    }
    // Descending, series come in reverse order too.
    if !ascending {
        out.reverse();
    }
    let skip = stmt.series_offset.as_ref().map_or(0, |o| **o as usize);
    let take = stmt
        .series_limit
        .as_ref()
        .map_or(usize::MAX, |l| **l as usize);
    Ok(out.into_iter().skip(skip).take(take).collect())
}

/// The name InfluxQL gives an unaliased projection.
fn default_name(e: &Expr) -> String {
    fn walk(e: &Expr, out: &mut Vec<String>) {
        match e {
            Expr::VarRef(v) => out.push(v.name.as_str().to_owned()),
            Expr::Call(c) => out.push(c.name.clone()),
            Expr::Binary(b) => {
                walk(&b.lhs, out);
                walk(&b.rhs, out);
            }
            Expr::Nested(inner) => walk(inner, out),
            _ => {}
        }
    }
    match e {
        Expr::Call(c) => c.name.clone(),
        Expr::VarRef(v) => v.name.as_str().to_owned(),
        Expr::Nested(inner) => default_name(inner),
        Expr::Binary(_) => {
            let mut parts = Vec::new();
            walk(e, &mut parts);
            parts.join("_")
        }
        _ => String::new(),
    }
}

/// Compiles the projections: wildcards expanded, names resolved, aggregates listed.
fn plan(
    stmt: &SelectStatement,
    fields: &BTreeSet<String>,
    types: &BTreeMap<String, FieldType>,
    tags: &BTreeSet<String>,
    dims: &BTreeSet<String>,
) -> Result<Plan, Fail> {
    // (expression, alias) after expanding `*` and regexes.
    let mut items: Vec<(Expr, Option<String>)> = Vec::new();
    for f in stmt.fields.iter() {
        let alias = f.alias.as_ref().map(|a| a.as_str().to_owned());
        match &f.expr {
            Expr::Wildcard(t) => {
                let mut names: Vec<&String> = Vec::new();
                if !matches!(t, Some(WildcardType::Tag)) {
                    names.extend(fields.iter());
                }
                if !matches!(t, Some(WildcardType::Field)) {
                    names.extend(
                        tags.iter()
                            .filter(|t| !dims.contains(*t) && !fields.contains(*t)),
                    );
                }
                names.sort();
                names.dedup();
                items.extend(names.into_iter().map(|n| (Expr::VarRef(var(n)), None)));
            }
            Expr::Literal(Literal::Regex(r)) => {
                let re = Regex::new(r.as_str())
                    .map_err(|e| Fail::Invalid(format!("invalid regex {r}: {e}")))?;
                let mut names: Vec<&String> = fields
                    .iter()
                    .chain(tags.iter().filter(|t| !dims.contains(*t)))
                    .filter(|n| re.is_match(n))
                    .collect();
                names.sort();
                names.dedup();
                items.extend(names.into_iter().map(|n| (Expr::VarRef(var(n)), None)));
            }
            Expr::Call(c)
                if c.args.first().is_some_and(|a| {
                    matches!(a, Expr::Wildcard(_) | Expr::Literal(Literal::Regex(_)))
                }) =>
            {
                let re = match &c.args[0] {
                    Expr::Literal(Literal::Regex(r)) => Some(
                        Regex::new(r.as_str())
                            .map_err(|e| Fail::Invalid(format!("invalid regex {r}: {e}")))?,
                    ),
                    _ => None,
                };
                // Only the fields the function applies to (`mean(*)` skips strings).
                let applies = |n: &str| match (Func::parse(&c.name), types.get(n)) {
                    (Some(f), Some(t)) => f.check(n, &field_type_sample(*t)).is_ok(),
                    _ => true,
                };
                for name in fields
                    .iter()
                    .filter(|n| re.as_ref().is_none_or(|r| r.is_match(n)) && applies(n))
                {
                    let mut call = c.clone();
                    call.args[0] = Expr::VarRef(var(name));
                    let alias = format!("{}_{name}", alias.as_deref().unwrap_or(&c.name));
                    items.push((Expr::Call(call), Some(alias)));
                }
            }
            other => items.push((other.clone(), alias)),
        }
    }
    if items.is_empty() {
        return Err(Fail::Invalid(
            "at least 1 non-time field must be queried".into(),
        ));
    }
    // Column names (InfluxQL's `ColumnNames`): aliases first, then generated ones.
    let mut columns: Vec<Option<String>> = items.iter().map(|(_, a)| a.clone()).collect();
    let mut used: BTreeMap<String, usize> = BTreeMap::new();
    for a in columns.iter().flatten() {
        used.insert(a.clone(), 1);
    }
    for (i, (e, _)) in items.iter().enumerate() {
        if columns[i].is_some() {
            continue;
        }
        let mut name = default_name(e);
        if let Some(&count) = used.get(&name) {
            let mut count = count;
            loop {
                let candidate = format!("{name}_{count}");
                if !used.contains_key(&candidate) {
                    used.insert(name.clone(), count + 1);
                    name = candidate;
                    break;
                }
                count += 1;
            }
        }
        *used.entry(name.clone()).or_insert(0) += 1;
        columns[i] = Some(name);
    }
    let mut plan = Plan {
        columns: std::iter::once("time".to_owned())
            .chain(columns.into_iter().flatten())
            .collect(),
        nodes: Vec::new(),
        aggs: Vec::new(),
        has_transform: false,
        lead: 0,
    };
    for (e, _) in &items {
        let node = compile(e, &mut plan, false)?;
        plan.nodes.push(node);
    }
    // Aggregates and raw fields do not mix (InfluxDB refuses it too).
    if !plan.aggs.is_empty() && plan.nodes.iter().any(refs_raw) {
        return Err(Fail::Invalid(
            "mixing aggregate and non-aggregate queries is not supported".into(),
        ));
    }
    Ok(plan)
}

fn var(name: &str) -> influxdb_influxql_parser::expression::VarRef {
    influxdb_influxql_parser::expression::VarRef {
        name: name.into(),
        data_type: None,
    }
}

/// Whether a node reads a field or tag outside an aggregate.
fn refs_raw(n: &Node) -> bool {
    match n {
        Node::Ref(_) => true,
        Node::Lit(_) | Node::Agg(_) => false,
        Node::Transform(_, inner) | Node::Math(_, inner) => refs_raw(inner),
        Node::Bin(a, _, b) => refs_raw(a) || refs_raw(b),
    }
}

fn number_arg(c: &Call, i: usize) -> Result<f64, Fail> {
    match c.args.get(i) {
        Some(Expr::Literal(Literal::Integer(n))) => Ok(*n as f64),
        Some(Expr::Literal(Literal::Unsigned(n))) => Ok(*n as f64),
        Some(Expr::Literal(Literal::Float(n))) => Ok(*n),
        _ => Err(Fail::Invalid(format!(
            "{}() expects a number as argument {}",
            c.name,
            i + 1
        ))),
    }
}

fn compile(e: &Expr, plan: &mut Plan, in_agg: bool) -> Result<Node, Fail> {
    Ok(match e {
        Expr::Nested(inner) => compile(inner, plan, in_agg)?,
        Expr::VarRef(v) => {
            if matches!(v.data_type, Some(t) if t != VarRefDataType::Field && t != VarRefDataType::Tag)
            {
                return Err(Fail::unsupported(format!("the type cast in {v}")));
            }
            Node::Ref(v.name.as_str().to_owned())
        }
        Expr::Literal(l) => Node::Lit(
            literal_value(l)
                .ok_or_else(|| Fail::unsupported(format!("the literal {l} in a projection")))?,
        ),
        Expr::Binary(b) => {
            let op = match b.op {
                BinaryOperator::Add => Op::Add,
                BinaryOperator::Sub => Op::Sub,
                BinaryOperator::Mul => Op::Mul,
                BinaryOperator::Div => Op::Div,
                BinaryOperator::Mod => Op::Mod,
                BinaryOperator::BitwiseAnd => Op::And,
                BinaryOperator::BitwiseOr => Op::Or,
                BinaryOperator::BitwiseXor => Op::Xor,
            };
            Node::Bin(
                Box::new(compile(&b.lhs, plan, in_agg)?),
                op,
                Box::new(compile(&b.rhs, plan, in_agg)?),
            )
        }
        Expr::Call(c) => {
            let name = c.name.as_str();
            if let Some(mut func) = Func::parse(name) {
                if in_agg {
                    return Err(Fail::Invalid(format!(
                        "{name}() cannot be nested in another aggregate"
                    )));
                }
                let field = match c.args.first() {
                    Some(Expr::VarRef(v)) => v.name.as_str().to_owned(),
                    // count(distinct(field)), count(DISTINCT field)
                    Some(Expr::Distinct(f)) if func == Func::Count => {
                        func = Func::CountDistinct;
                        f.as_str().to_owned()
                    }
                    Some(Expr::Call(d))
                        if func == Func::Count
                            && d.name == "distinct"
                            && matches!(d.args.as_slice(), [Expr::VarRef(_)]) =>
                    {
                        func = Func::CountDistinct;
                        let Expr::VarRef(v) = &d.args[0] else {
                            unreachable!()
                        };
                        v.name.as_str().to_owned()
                    }
                    Some(Expr::Distinct(_) | Expr::Call(_)) => {
                        return Err(Fail::unsupported(format!(
                            "{c} (an aggregate of a function)"
                        )));
                    }
                    _ => {
                        return Err(Fail::Invalid(format!(
                            "expected field argument in {name}()"
                        )));
                    }
                };
                let want = if matches!(func, Func::Percentile(_)) {
                    2
                } else {
                    1
                };
                if c.args.len() != want {
                    return Err(Fail::Invalid(format!(
                        "invalid number of arguments for {name}, expected {want}, got {}",
                        c.args.len()
                    )));
                }
                if let Func::Percentile(_) = func {
                    let p = number_arg(c, 1)?;
                    if !(0.0..=100.0).contains(&p) {
                        return Err(Fail::Invalid(format!(
                            "percentile must be between 0 and 100, got {p}"
                        )));
                    }
                    func = Func::Percentile(p);
                }
                let spec = AggSpec { func, field };
                plan.aggs.push(spec);
                Node::Agg(plan.aggs.len() - 1)
            } else if Transform::is_transform(name) {
                let t = match name {
                    "derivative" | "non_negative_derivative" => {
                        let unit_ns = match c.args.get(1) {
                            Some(e) => Some(duration(e, "the derivative's unit")?),
                            None => None,
                        };
                        if c.args.len() > 2 {
                            return Err(Fail::Invalid(format!("too many arguments for {name}")));
                        }
                        Transform::Derivative {
                            unit_ns,
                            non_negative: name.starts_with("non_negative"),
                        }
                    }
                    "difference" | "non_negative_difference" => Transform::Difference {
                        non_negative: name.starts_with("non_negative"),
                    },
                    "moving_average" => {
                        let n = number_arg(c, 1)?;
                        if n <= 1.0 || n.fract() != 0.0 {
                            return Err(Fail::Invalid(
                                "moving_average window must be greater than 1".into(),
                            ));
                        }
                        Transform::MovingAverage(n as usize)
                    }
                    _ => Transform::CumulativeSum,
                };
                let inner = c
                    .args
                    .first()
                    .ok_or_else(|| Fail::Invalid(format!("{name}() needs an argument")))?;
                plan.has_transform = true;
                plan.lead = plan.lead.max(t.lead());
                let inner = compile(inner, plan, in_agg)?;
                if !matches!(inner, Node::Agg(_) | Node::Ref(_)) {
                    return Err(Fail::unsupported(format!(
                        "{c} (a transformation of an expression)"
                    )));
                }
                Node::Transform(t, Box::new(inner))
            } else if is_math(name) {
                if c.args.len() != 1 {
                    return Err(Fail::Invalid(format!("{name}() takes one argument")));
                }
                Node::Math(
                    name.to_owned(),
                    Box::new(compile(&c.args[0], plan, in_agg)?),
                )
            } else {
                return Err(Fail::unsupported(format!("the function {name}()")));
            }
        }
        Expr::Distinct(_) => return Err(Fail::unsupported("DISTINCT")),
        Expr::BindParameter(_) => return Err(Fail::unsupported("bind parameters")),
        Expr::Wildcard(_) => return Err(Fail::Invalid("a wildcard cannot be used here".into())),
    })
}

/// The series of a stored measurement that pass a tag-only condition.
fn stored_series(
    catalog: &Catalog,
    m: &str,
    cond: Option<&Cond>,
    field_cond: bool,
) -> Vec<Arc<SeriesInfo>> {
    catalog
        .series_of(m)
        .iter()
        .filter(|s| field_cond || cond.is_none_or(|c| c.eval(&|n| Operand::Tag(s.tag(n)))))
        .cloned()
        .collect()
}

/// Loads the series of `source` for the generic path: `fields` in `[lo, hi]`, the
/// condition applied to series (tags) and, when it names fields, to rows.
#[allow(clippy::too_many_arguments)]
fn load(
    snap: &mut Snapshot<'_>,
    catalog: &Catalog,
    source: &Source,
    fields: &[String],
    cond: Option<&Cond>,
    field_cond: bool,
    lo: i64,
    hi: i64,
) -> Result<Vec<SeriesData>, Fail> {
    // The fields to read: requested ones and those the condition compares.
    let is_field = is_field_of(catalog, source);
    let mut read: Vec<String> = fields.to_vec();
    if field_cond && let Some(c) = cond {
        let mut names = Vec::new();
        c.names(&mut names);
        for n in names {
            if is_field(&n) && !read.contains(&n) {
                read.push(n);
            }
        }
    }
    let mut out: Vec<SeriesData> = Vec::new();
    let mut total = 0usize;
    match source {
        Source::Stored(m) => {
            let infos: Vec<Option<FieldInfo>> = read.iter().map(|f| catalog.field(m, f)).collect();
            for s in stored_series(catalog, m, cond, field_cond) {
                let mut rows: BTreeMap<i64, Vec<Option<Value>>> = BTreeMap::new();
                for (i, info) in infos.iter().enumerate() {
                    let Some(info) = info else { continue };
                    snap.scan(s.id, *info, lo, hi.saturating_add(1), None, |t, v| {
                        rows.entry(t).or_insert_with(|| vec![None; read.len()])[i] = Some(v);
                    })?;
                    total += rows.len();
                    if total > MAX_VALUES {
                        return Err(too_many());
                    }
                }
                let tags: BTreeMap<String, String> = s
                    .tags
                    .iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect();
                out.push(SeriesData {
                    tags,
                    rows: rows.into_iter().collect(),
                });
            }
        }
        Source::Derived(_, series) => {
            for r in series {
                let idx: Vec<Option<usize>> = read
                    .iter()
                    .map(|f| r.columns.iter().position(|c| c == f))
                    .collect();
                let rows = r
                    .rows
                    .iter()
                    .filter_map(|row| {
                        // Not filtered by time: the subquery ran over the range already,
                        // and its first bucket may start before it (InfluxDB keeps it).
                        let Cell::Time(t) = row[0] else { return None };
                        Some((
                            t,
                            idx.iter()
                                .map(|i| match i.map(|i| &row[i]) {
                                    Some(Cell::Value(v)) => Some(v.clone()),
                                    _ => None,
                                })
                                .collect(),
                        ))
                    })
                    .collect();
                let s = SeriesData {
                    tags: r.tags.clone(),
                    rows,
                };
                if field_cond
                    || cond.is_none_or(|c| {
                        c.eval(&|n| Operand::Tag(s.tags.get(n).map_or("", String::as_str)))
                    })
                {
                    out.push(s);
                }
            }
        }
    }
    if field_cond && let Some(c) = cond {
        for s in &mut out {
            let tags = &s.tags;
            s.rows.retain(|(_, values)| {
                c.eval(&|n| match read.iter().position(|f| f == n) {
                    Some(i) => Operand::Field(values[i].as_ref()),
                    None => Operand::Tag(tags.get(n).map_or("", String::as_str)),
                })
            });
            for (_, values) in &mut s.rows {
                values.truncate(fields.len());
            }
        }
    }
    out.sort_by(|a, b| a.tags.cmp(&b.tags));
    Ok(out)
}

fn too_many() -> Fail {
    Fail::Invalid(format!(
        "the query reads more than {MAX_VALUES} values: narrow the time range or the series, or aggregate with GROUP BY time"
    ))
}

/// Groups series by the values of the grouping's tag keys (absent tags read as '').
fn group<T>(
    items: Vec<T>,
    keys: &[String],
    tags: impl Fn(&T) -> &BTreeMap<String, String>,
) -> BTreeMap<BTreeMap<String, String>, Vec<T>> {
    let mut groups: BTreeMap<BTreeMap<String, String>, Vec<T>> = BTreeMap::new();
    for it in items {
        let t = tags(&it);
        let key = keys
            .iter()
            .map(|k| (k.clone(), t.get(k).cloned().unwrap_or_default()))
            .collect();
        groups.entry(key).or_default().push(it);
    }
    groups
}

/// The fields (not tags) a plan reads, in first-use order.
fn plan_fields(plan: &Plan, is_field: &dyn Fn(&str) -> bool) -> Vec<String> {
    fn walk(n: &Node, plan: &Plan, is_field: &dyn Fn(&str) -> bool, out: &mut Vec<String>) {
        match n {
            Node::Ref(r) if is_field(r) && !out.contains(r) => out.push(r.clone()),
            Node::Agg(i) if !out.contains(&plan.aggs[*i].field) => {
                out.push(plan.aggs[*i].field.clone())
            }
            Node::Transform(_, inner) | Node::Math(_, inner) => walk(inner, plan, is_field, out),
            Node::Bin(a, _, b) => {
                walk(a, plan, is_field, out);
                walk(b, plan, is_field, out);
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for n in &plan.nodes {
        walk(n, plan, is_field, &mut out);
    }
    out
}

fn is_field_of<'a>(catalog: &'a Catalog, source: &'a Source) -> Box<dyn Fn(&str) -> bool + 'a> {
    match source {
        Source::Stored(m) => Box::new(move |n| catalog.field(m, n).is_some()),
        Source::Derived(_, series) => Box::new(move |n| {
            series
                .iter()
                .any(|r| r.columns.iter().skip(1).any(|c| c == n))
        }),
    }
}

fn eval_scalar(n: &Node, lookup: &dyn Fn(&str) -> Option<Value>) -> Option<Value> {
    match n {
        Node::Ref(r) => lookup(r),
        Node::Lit(v) => Some(v.clone()),
        Node::Math(f, inner) => math1(f, &eval_scalar(inner, lookup)?),
        Node::Bin(a, op, b) => arith(&eval_scalar(a, lookup)?, &eval_scalar(b, lookup)?, *op),
        Node::Agg(_) | Node::Transform(..) => None,
    }
}

#[allow(clippy::too_many_arguments)]
fn run_raw(
    snap: &mut Snapshot<'_>,
    catalog: &Catalog,
    source: &Source,
    plan: &Plan,
    grouping: &Grouping,
    cond: Option<&Cond>,
    field_cond: bool,
    lo: i64,
    hi: i64,
    ascending: bool,
) -> Result<Vec<ResultSeries>, Fail> {
    let is_field = is_field_of(catalog, source);
    let fields = plan_fields(plan, &*is_field);
    let data = load(snap, catalog, source, &fields, cond, field_cond, lo, hi)?;
    let keys = grouping.resolved.clone();
    let transforms_only = plan.has_transform;
    if transforms_only && plan.nodes.iter().any(|n| !matches!(n, Node::Transform(..))) {
        return Err(Fail::Invalid(
            "mixing transformations of raw fields with other projections is not supported".into(),
        ));
    }
    let mut out = Vec::new();
    for (gtags, members) in group(data, &keys, |s| &s.tags) {
        // Rows of every member, in time order (then member order).
        let mut rows: Vec<(i64, usize, &Vec<Option<Value>>)> = members
            .iter()
            .enumerate()
            .flat_map(|(mi, s)| s.rows.iter().map(move |(t, v)| (*t, mi, v)))
            .collect();
        rows.sort_by_key(|(t, mi, _)| (*t, *mi));
        let field_at = |name: &str| fields.iter().position(|f| f == name);
        let result_rows: Vec<Vec<Cell>> = if transforms_only {
            let mut cols: Vec<BTreeMap<i64, Value>> = Vec::new();
            for n in &plan.nodes {
                let Node::Transform(t, inner) = n else {
                    unreachable!()
                };
                let Node::Ref(f) = &**inner else {
                    return Err(Fail::Invalid(
                        "a transformation of a raw field needs a field argument".into(),
                    ));
                };
                let Some(i) = field_at(f) else {
                    cols.push(BTreeMap::new());
                    continue;
                };
                let mut points: Vec<(i64, Value)> = rows
                    .iter()
                    .filter_map(|(t, _, v)| v[i].clone().map(|v| (*t, v)))
                    .collect();
                if !ascending {
                    points.reverse();
                }
                cols.push(
                    t.apply(&points, 1_000_000_000, ascending)
                        .into_iter()
                        .collect(),
                );
            }
            let times: BTreeSet<i64> = cols.iter().flat_map(|c| c.keys().copied()).collect();
            times
                .into_iter()
                .map(|t| {
                    std::iter::once(Cell::Time(t))
                        .chain(cols.iter().map(|c| c.get(&t).cloned().into()))
                        .collect()
                })
                .collect()
        } else {
            let mut result = Vec::new();
            for (t, mi, values) in &rows {
                let tags = &members[*mi].tags;
                let lookup = |name: &str| match field_at(name) {
                    Some(i) => values[i].clone(),
                    None => tags.get(name).map(|v| Value::String(v.clone())),
                };
                // A row needs a value in at least one selected field.
                let mut any_field = false;
                let mut row = vec![Cell::Time(*t)];
                for n in &plan.nodes {
                    let v = eval_scalar(n, &lookup);
                    if v.is_some() && node_reads_field(n, &*is_field) {
                        any_field = true;
                    }
                    row.push(v.into());
                }
                if any_field {
                    result.push(row);
                }
                if result.len() > MAX_VALUES {
                    return Err(too_many());
                }
            }
            result
        };
        out.push(ResultSeries {
            name: Some(source.name().to_owned()),
            tags: gtags,
            columns: plan.columns.clone(),
            rows: result_rows,
        });
    }
    Ok(out)
}

fn node_reads_field(n: &Node, is_field: &dyn Fn(&str) -> bool) -> bool {
    match n {
        Node::Ref(r) => is_field(r),
        Node::Lit(_) => false,
        Node::Agg(_) => true,
        Node::Transform(_, i) | Node::Math(_, i) => node_reads_field(i, is_field),
        Node::Bin(a, _, b) => node_reads_field(a, is_field) || node_reads_field(b, is_field),
    }
}

/// The time bounds of a query: the lower one as written, and both as read (`lo`, `hi`,
/// inclusive, defaults applied).
#[derive(Clone, Copy)]
struct Bounds {
    lower: Option<i64>,
    lo: i64,
    hi: i64,
    ascending: bool,
}

/// One aggregate's buckets in one group: value and, for selectors, the point's time.
type Buckets = BTreeMap<i64, (Option<Value>, i64)>;

#[allow(clippy::too_many_arguments)]
fn run_aggregate(
    snap: &mut Snapshot<'_>,
    catalog: &Catalog,
    source: &Source,
    plan: &Plan,
    grouping: &Grouping,
    cond: Option<&Cond>,
    field_cond: bool,
    interval: Option<(i64, i64)>,
    fill: FillClause,
    bounds: Bounds,
) -> Result<Vec<ResultSeries>, Fail> {
    let Bounds {
        lower,
        lo,
        hi,
        ascending,
        ..
    } = bounds;
    let window = |t: i64| match interval {
        Some((iv, off)) => bucket_start(t - off, iv) + off,
        None => 0,
    };
    // Transformations read `lead` intervals before the range (after it, descending).
    let (mut read_lo, mut read_hi) = (lo, hi);
    if let Some((iv, _)) = interval {
        if ascending && lower.is_some() {
            read_lo = lo - plan.lead * iv;
        } else if !ascending {
            read_hi = hi.saturating_add(plan.lead * iv);
        }
    }
    let lone_selector = plan.aggs.len() == 1
        && !plan.has_transform
        && plan.aggs[0].func.is_selector()
        && interval.is_none();
    // Field types (stored sources): aggregates check them up front.
    if let Source::Stored(m) = source {
        for a in &plan.aggs {
            if let Some(info) = catalog.field(m, &a.field) {
                a.func
                    .check(&a.field, &field_type_sample(info.field_type))?;
            }
        }
    }
    // Per group: one bucket map per aggregate.
    let mut groups: Vec<(BTreeMap<String, String>, Vec<Buckets>)> = Vec::new();
    let fast = match source {
        Source::Stored(m) => {
            !field_cond
                && !lone_selector
                && interval.is_none_or(|(_, off)| off == 0)
                && plan
                    .aggs
                    .iter()
                    .all(|a| a.func.as_model().is_some() && catalog.field(m, &a.field).is_some())
        }
        Source::Derived(..) => false,
    };
    if fast {
        let Source::Stored(m) = source else {
            unreachable!()
        };
        let series = stored_series(catalog, m, cond, false);
        let keys = grouping.resolved.clone();
        let whole = cond.is_none() && keys.is_empty();
        let columns: Vec<Column> = plan
            .aggs
            .iter()
            .map(|a| Column {
                aggregate: a.func.as_model().expect("fast path"),
                field: catalog.field(m, &a.field),
            })
            .collect();
        let width = interval.map(|(iv, _)| iv);
        let start = match width {
            Some(w) => read_lo.max(i64::MIN / 4 + w),
            None => read_lo,
        };
        let series_tags = |s: &Arc<SeriesInfo>| -> BTreeMap<String, String> {
            s.tags
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        };
        let tagged: Vec<(BTreeMap<String, String>, Arc<SeriesInfo>)> =
            series.iter().map(|s| (series_tags(s), s.clone())).collect();
        for (gtags, members) in group(tagged, &keys, |(t, _)| t) {
            let mut members: Vec<Arc<SeriesInfo>> = members.into_iter().map(|(_, s)| s).collect();
            members.sort_by(|a, b| a.tags.cmp(&b.tags));
            let rows = aggregate_rows(
                snap,
                &columns,
                &members,
                whole,
                width,
                start,
                read_hi.saturating_add(1),
            )?;
            let mut cols: Vec<Buckets> = vec![BTreeMap::new(); plan.aggs.len()];
            for (bucket, values) in rows {
                let b = if width.is_some() { bucket } else { 0 };
                for (i, v) in values.into_iter().enumerate() {
                    if v.is_some() {
                        cols[i].insert(b, (v, b));
                    }
                }
            }
            groups.push((gtags, cols));
        }
    } else {
        let is_field = is_field_of(catalog, source);
        let fields = plan_fields(plan, &*is_field);
        let data = load(
            snap, catalog, source, &fields, cond, field_cond, read_lo, read_hi,
        )?;
        let keys = grouping.resolved.clone();
        for (gtags, members) in group(data, &keys, |s| &s.tags) {
            let mut cols: Vec<Buckets> = Vec::with_capacity(plan.aggs.len());
            for a in &plan.aggs {
                let Some(fi) = fields.iter().position(|f| *f == a.field) else {
                    cols.push(BTreeMap::new());
                    continue;
                };
                let mut points: Vec<(i64, usize, Value)> = members
                    .iter()
                    .enumerate()
                    .flat_map(|(mi, s)| {
                        s.rows
                            .iter()
                            .filter_map(move |(t, v)| v[fi].clone().map(|v| (*t, mi, v)))
                    })
                    .collect();
                points.sort_by_key(|(t, mi, _)| (*t, *mi));
                if let Some((_, _, sample)) = points.first() {
                    a.func.check(&a.field, sample)?;
                }
                let mut buckets: BTreeMap<i64, Vec<(i64, Value)>> = BTreeMap::new();
                for (t, _, v) in points {
                    buckets.entry(window(t)).or_default().push((t, v));
                }
                cols.push(
                    buckets
                        .into_iter()
                        .filter_map(|(b, pts)| a.func.compute(&pts).map(|(t, v)| (b, (v, t))))
                        .collect(),
                );
            }
            groups.push((gtags, cols));
        }
    }

    let mut out = Vec::new();
    for (gtags, mut cols) in groups {
        if cols.iter().all(BTreeMap::is_empty) {
            continue;
        }
        // Fill each aggregate's buckets.
        let first_bucket = match lower {
            Some(_) => Some(window(read_lo)),
            None => cols.iter().filter_map(|c| c.keys().next().copied()).min(),
        };
        if let (Some((iv, _)), Some(first)) = (interval, first_bucket)
            && fill != FillClause::None
        {
            let last = window(read_hi);
            if (last - first) / iv > MAX_BUCKETS {
                return Err(Fail::Invalid(format!(
                    "the query asks for more than {MAX_BUCKETS} buckets per series: use a longer GROUP BY time interval or a shorter range"
                )));
            }
            for (ai, col) in cols.iter_mut().enumerate() {
                fill_column(col, plan.aggs[ai].func, fill, (first, last, iv), ascending);
            }
        }
        // Evaluate the projections over the buckets.
        let display_start = lower.unwrap_or(0);
        let mut outputs: Vec<Out> = Vec::with_capacity(plan.nodes.len());
        let edges = match interval {
            Some(_) => (lower.map_or(i64::MIN, window), window(hi)),
            None => (i64::MIN, i64::MAX),
        };
        for n in &plan.nodes {
            outputs.push(eval_series(n, &cols, interval, edges, ascending)?);
        }
        let mut times: BTreeSet<i64> = BTreeSet::new();
        for o in &outputs {
            if let Out::Series(s) = o {
                times.extend(
                    s.keys()
                        .copied()
                        .filter(|t| (edges.0..=edges.1).contains(t)),
                );
            }
        }
        let mut rows: Vec<Vec<Cell>> = Vec::with_capacity(times.len());
        let mut any = false;
        for t in times {
            let mut time = t;
            if interval.is_none() {
                time = display_start;
                if lone_selector && let Some((_, sel_t)) = cols[0].get(&t) {
                    time = *sel_t;
                }
            }
            let mut row = vec![Cell::Time(time)];
            for o in &outputs {
                let v = match o {
                    Out::Series(s) => s.get(&t).cloned().flatten(),
                    Out::Scalar(v) => Some(v.clone()),
                };
                any |= v.is_some();
                row.push(v.into());
            }
            rows.push(row);
        }
        if !any {
            continue;
        }
        out.push(ResultSeries {
            name: Some(source.name().to_owned()),
            tags: gtags,
            columns: plan.columns.clone(),
            rows,
        });
    }
    Ok(out)
}

/// Fills one aggregate's absent buckets from `first` to `last` (inclusive bucket
/// starts, `iv` apart). `previous` is the previous bucket in the query's order (the
/// later one, descending).
fn fill_column(
    col: &mut Buckets,
    func: Func,
    fill: FillClause,
    (first, last, iv): (i64, i64, i64),
    ascending: bool,
) {
    let integer = func == Func::Count
        || col
            .values()
            .any(|(v, _)| matches!(v, Some(Value::Integer(_))));
    let known: Vec<(i64, Value)> = col
        .iter()
        .filter_map(|(b, (v, _))| v.clone().map(|v| (*b, v)))
        .collect();
    let mut b = first;
    let mut prev: Option<&(i64, Value)> = None;
    let mut next_i = 0;
    while b <= last {
        while next_i < known.len() && known[next_i].0 <= b {
            prev = Some(&known[next_i]);
            next_i += 1;
        }
        let previous = if ascending {
            prev
        } else {
            known[next_i..].first()
        };
        // Only absent buckets: a present null (a one-point stddev) stays null.
        if let std::collections::btree_map::Entry::Vacant(slot) = col.entry(b) {
            let v = match fill {
                FillClause::Null if matches!(func, Func::Count | Func::CountDistinct) => {
                    Some(Value::Integer(0))
                }
                FillClause::Null | FillClause::None => None,
                FillClause::Value(n) => Some(match n {
                    Number::Integer(i) if integer => Value::Integer(i),
                    Number::Float(f) if integer => Value::Integer(f as i64),
                    Number::Integer(i) => Value::Float(i as f64),
                    Number::Float(f) => Value::Float(f),
                }),
                FillClause::Previous => previous.map(|(_, v)| v.clone()),
                FillClause::Linear => match (prev, known.get(next_i)) {
                    (Some((t0, v0)), Some((t1, v1))) => linear(*t0, v0, *t1, v1, b),
                    _ => None,
                },
            };
            slot.insert((v, b));
        }
        b += iv;
    }
}

fn linear(t0: i64, v0: &Value, t1: i64, v1: &Value, t: i64) -> Option<Value> {
    match (v0, v1) {
        (Value::Integer(a), Value::Integer(b)) => {
            Some(Value::Integer(a + (b - a) * (t - t0) / (t1 - t0)))
        }
        _ => {
            let (a, b) = (v0.as_f64()?, v1.as_f64()?);
            Some(Value::Float(
                a + (b - a) * ((t - t0) as f64 / (t1 - t0) as f64),
            ))
        }
    }
}

enum Out {
    Series(BTreeMap<i64, Option<Value>>),
    Scalar(Value),
}

/// A projection's values by bucket. `edges` are the first and last buckets of the
/// range: a transformation reads its own `lead` of buckets beyond them.
fn eval_series(
    n: &Node,
    cols: &[Buckets],
    interval: Option<(i64, i64)>,
    edges: (i64, i64),
    ascending: bool,
) -> Result<Out, Fail> {
    let eval = |n: &Node| eval_series(n, cols, interval, edges, ascending);
    Ok(match n {
        Node::Lit(v) => Out::Scalar(v.clone()),
        Node::Ref(r) => {
            return Err(Fail::Invalid(format!(
                "mixing aggregate and non-aggregate queries is not supported ({r})"
            )));
        }
        Node::Agg(i) => Out::Series(cols[*i].iter().map(|(b, (v, _))| (*b, v.clone())).collect()),
        Node::Transform(t, inner) => {
            let Out::Series(input) = eval(inner)? else {
                return Err(Fail::Invalid(
                    "a transformation needs a field or aggregate".into(),
                ));
            };
            let unit = interval.map_or(1_000_000_000, |(iv, _)| iv);
            let reach = t.lead() * unit;
            let (from, to) = (
                edges.0.saturating_sub(if ascending { reach } else { 0 }),
                edges.1.saturating_add(if ascending { 0 } else { reach }),
            );
            let mut points: Vec<(i64, Value)> = input
                .into_iter()
                .filter(|(b, _)| (from..=to).contains(b))
                .filter_map(|(b, v)| v.map(|v| (b, v)))
                .collect();
            if !ascending {
                points.reverse();
            }
            Out::Series(
                t.apply(&points, unit, ascending)
                    .into_iter()
                    .map(|(b, v)| (b, Some(v)))
                    .collect(),
            )
        }
        Node::Math(f, inner) => match eval(inner)? {
            Out::Scalar(v) => Out::Scalar(math1(f, &v).unwrap_or(v)),
            Out::Series(s) => Out::Series(
                s.into_iter()
                    .map(|(b, v)| (b, v.and_then(|v| math1(f, &v))))
                    .collect(),
            ),
        },
        Node::Bin(a, op, b) => match (eval(a)?, eval(b)?) {
            (Out::Scalar(x), Out::Scalar(y)) => match arith(&x, &y, *op) {
                Some(v) => Out::Scalar(v),
                None => Out::Series(BTreeMap::new()),
            },
            (Out::Series(s), Out::Scalar(y)) => Out::Series(
                s.into_iter()
                    .map(|(t, v)| (t, v.and_then(|x| arith(&x, &y, *op))))
                    .collect(),
            ),
            (Out::Scalar(x), Out::Series(s)) => Out::Series(
                s.into_iter()
                    .map(|(t, v)| (t, v.and_then(|y| arith(&x, &y, *op))))
                    .collect(),
            ),
            (Out::Series(l), Out::Series(r)) => {
                let times: BTreeSet<i64> = l.keys().chain(r.keys()).copied().collect();
                Out::Series(
                    times
                        .into_iter()
                        .map(|t| {
                            let v = match (
                                l.get(&t).cloned().flatten(),
                                r.get(&t).cloned().flatten(),
                            ) {
                                (Some(x), Some(y)) => arith(&x, &y, *op),
                                _ => None,
                            };
                            (t, v)
                        })
                        .collect(),
                )
            }
        },
    })
}

fn field_type_sample(t: FieldType) -> Value {
    match t {
        FieldType::Float => Value::Float(0.0),
        FieldType::Integer => Value::Integer(0),
        FieldType::Unsigned => Value::Unsigned(0),
        FieldType::Bool => Value::Bool(false),
        FieldType::String => Value::String(String::new()),
    }
}
