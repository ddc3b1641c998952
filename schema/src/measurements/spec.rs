//! The model of `schema/measurements.toml` and the rules it must follow.
//!
//! This file is compiled twice: by `build.rs`, which refuses to build when a rule is
//! broken and then generates the Rust constants, and by this crate's tests, which check
//! the rules themselves on small broken schemas. Keeping one copy means the rules the
//! tests exercise are exactly the ones the build enforces.

// Compiled twice (build.rs and the tests), each reading different parts of the model.
#![allow(dead_code)]

use serde::Deserialize;
use std::collections::HashSet;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaFile {
    pub tags: Vec<TagSpec>,
    pub measurements: Vec<MeasurementSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagSpec {
    pub name: String,
    pub description: String,
    pub cardinality: String,
    /// The closed set of values, when there is one (address family, TCP state).
    #[serde(default)]
    pub values: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeasurementSpec {
    pub name: String,
    pub description: String,
    pub written_by: String,
    pub tags: Vec<String>,
    #[serde(default)]
    pub optional_tags: Vec<String>,
    pub fields: Vec<FieldSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    pub name: String,
    #[serde(rename = "type")]
    pub field_type: TypeSpec,
    pub unit: String,
    pub description: String,
    #[serde(default)]
    pub optional: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TypeSpec {
    Float,
    Integer,
    Unsigned,
    Bool,
    String,
}

/// The tag every measurement must carry, so every series can be traced to an agent.
pub const AGENT_TAG: &str = "agent";

/// Keys InfluxDB reserves: a point using one as a tag or field key is dropped or refused.
pub const RESERVED_NAMES: &[&str] = &["time"];

/// `[a-z][a-z0-9_]*`: safe unescaped in line protocol, InfluxQL, Flux and Rust
/// identifiers, and free of the case ambiguities InfluxDB would keep as separate keys.
pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// The unit a field's name promises by its suffix, or that a unit demands of the name.
/// Both directions are checked so `rtt_avg_ms` cannot carry seconds and a millisecond
/// field cannot hide its unit.
fn unit_class_of_name(name: &str) -> Option<&'static str> {
    const SUFFIXES: &[(&str, &str)] = &[
        ("_bytes_per_s", "bytes/s"),
        ("_per_s", "/s"),
        ("_percent", "%"),
        ("_celsius", "°C"),
        ("_bytes", "bytes"),
        ("_ms", "ms"),
        ("_s", "s"),
    ];
    SUFFIXES
        .iter()
        .find(|(suffix, _)| name.ends_with(suffix))
        .map(|(_, class)| *class)
}

fn unit_class_of_unit(unit: &str) -> Option<&'static str> {
    const UNITS: &[&str] = &["bytes/s", "%", "°C", "bytes", "ms", "s"];
    UNITS
        .iter()
        .find(|u| **u == unit)
        .copied()
        .or_else(|| unit.ends_with("/s").then_some("/s"))
}

/// Checks every rule listed at the top of `measurements.toml`. Returns one message per
/// problem, each naming where it is.
pub fn check(schema: &SchemaFile) -> Vec<String> {
    let mut problems = Vec::new();
    let mut problem = |msg: String| problems.push(msg);

    check_names(
        "tag",
        schema.tags.iter().map(|t| t.name.as_str()),
        &mut problem,
    );
    let vocabulary: HashSet<&str> = schema.tags.iter().map(|t| t.name.as_str()).collect();
    for tag in &schema.tags {
        let at = format!("tag `{}`", tag.name);
        check_description(&at, &tag.description, &mut problem);
        check_text(&at, "cardinality", &tag.cardinality, &mut problem);
        check_names(
            &format!("{at} value"),
            tag.values.iter().map(String::as_str),
            &mut problem,
        );
    }

    if schema.measurements.is_empty() {
        problem("the schema lists no measurement".into());
    }
    check_names(
        "measurement",
        schema.measurements.iter().map(|m| m.name.as_str()),
        &mut problem,
    );
    let mut used_tags = HashSet::new();
    for m in &schema.measurements {
        let at = format!("measurement `{}`", m.name);
        check_description(&at, &m.description, &mut problem);
        check_text(&at, "written_by", &m.written_by, &mut problem);

        let all_tags: Vec<&str> = m
            .tags
            .iter()
            .chain(&m.optional_tags)
            .map(String::as_str)
            .collect();
        let mut seen = HashSet::new();
        for tag in &all_tags {
            if !seen.insert(*tag) {
                problem(format!("{at}: tag `{tag}` is listed twice"));
            }
            if !vocabulary.contains(tag) {
                problem(format!(
                    "{at}: tag `{tag}` is not in the [[tags]] vocabulary"
                ));
            }
            used_tags.insert(*tag);
        }
        if !m.tags.iter().any(|t| t == AGENT_TAG) {
            problem(format!(
                "{at}: every measurement carries the `{AGENT_TAG}` tag (in `tags`, not `optional_tags`)"
            ));
        }

        if m.fields.is_empty() {
            problem(format!("{at} has no field"));
        } else if m.fields.iter().all(|f| f.optional) {
            problem(format!(
                "{at}: every field is optional, so a point could have none; make one required"
            ));
        }
        check_names(
            &format!("{at} field"),
            m.fields.iter().map(|f| f.name.as_str()),
            &mut problem,
        );
        for f in &m.fields {
            let at = format!("{at} field `{}`", f.name);
            if all_tags.contains(&f.name.as_str()) {
                problem(format!(
                    "{at}: a tag of the same name exists; InfluxQL could not tell them apart"
                ));
            }
            check_description(&at, &f.description, &mut problem);
            check_text(&at, "unit", &f.unit, &mut problem);
            let (by_name, by_unit) = (unit_class_of_name(&f.name), unit_class_of_unit(&f.unit));
            if by_name != by_unit {
                problem(format!(
                    "{at}: unit `{}` does not match the name (a name ending in _ms/_s/_bytes/_per_s/_percent/_celsius carries ms/s/bytes/…/s/%/°C, and those units need that suffix)",
                    f.unit
                ));
            }
        }
    }
    for tag in &schema.tags {
        if !used_tags.contains(tag.name.as_str()) {
            problem(format!(
                "tag `{}` is in the vocabulary but no measurement uses it",
                tag.name
            ));
        }
    }
    problems
}

fn check_names<'a>(
    what: &str,
    names: impl Iterator<Item = &'a str>,
    problem: &mut impl FnMut(String),
) {
    let mut seen = HashSet::new();
    for name in names {
        if !is_identifier(name) {
            problem(format!(
                "{what} `{name}` is not a name of the form [a-z][a-z0-9_]*"
            ));
        }
        if RESERVED_NAMES.contains(&name) {
            problem(format!("{what} `{name}` is reserved by InfluxDB"));
        }
        if !seen.insert(name) {
            problem(format!("{what} `{name}` is defined twice"));
        }
    }
}

/// Text that ends up in a Markdown table cell and in doc comments: present, one line, no
/// `|` that would split the cell.
fn check_text(at: &str, what: &str, text: &str, problem: &mut impl FnMut(String)) {
    if text.trim().is_empty() {
        problem(format!("{at}: {what} is empty"));
    }
    if text.contains('\n') {
        problem(format!("{at}: {what} must be one line"));
    }
    if text.contains('|') {
        problem(format!(
            "{at}: {what} contains `|`, which would break the Markdown table"
        ));
    }
}

fn check_description(at: &str, text: &str, problem: &mut impl FnMut(String)) {
    check_text(at, "description", text, problem);
    if !text.trim_end().ends_with('.') {
        problem(format!(
            "{at}: description should be a sentence ending with `.`"
        ));
    }
}

// ---------------------------------------------------------------------------------------
// Test kinds: `schema/kinds/<kind>.toml` (format: `schema/kinds/README.md`)
// ---------------------------------------------------------------------------------------

pub use super::syntax::{ParamFormat, ParamType, TargetSyntax};

/// One test kind, declared once: its parameters, the measurements its probe writes and
/// the charts that show them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KindFile {
    pub kind: String,
    pub label: String,
    pub description: String,
    pub target: TargetSyntax,
    #[serde(default)]
    pub params: Vec<ParamSpec>,
    #[serde(default)]
    pub measurements: Vec<MeasurementSpec>,
    #[serde(default)]
    pub charts: Vec<ChartSpec>,
    /// Names of `measurements`, kept when `parse_all` moves them into the schema.
    #[serde(skip)]
    pub measurements_names: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamSpec {
    pub name: String,
    #[serde(rename = "type")]
    pub param_type: ParamType,
    /// Element type of a `list`.
    pub items: Option<ParamType>,
    /// Rust type name of an `enum` (shared by kinds that use the same name).
    #[serde(rename = "enum")]
    pub enum_name: Option<String>,
    /// The values of an `enum`, as they appear in JSON.
    #[serde(default)]
    pub values: Vec<String>,
    /// The value when the key is absent (every non-optional parameter has one).
    pub default: Option<toml::Value>,
    /// Absent means "not set" (`Option<T>`); such parameters have no default.
    #[serde(default)]
    pub optional: bool,
    pub min: Option<i64>,
    pub max: Option<i64>,
    pub max_items: Option<u32>,
    pub max_len: Option<u32>,
    pub format: Option<ParamFormat>,
    pub label: String,
    pub description: String,
}

/// A chart of a kind's results: one line per field (and per agent on a test page, per
/// `group_by` value when set).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChartSpec {
    pub key: String,
    pub title: String,
    /// Unit of the values, as stored.
    pub unit: String,
    pub measurement: String,
    /// Tag equalities every point of the chart has (e.g. `{ cpu = "total" }`).
    #[serde(default)]
    pub filter: std::collections::BTreeMap<String, String>,
    pub fields: Vec<ChartFieldSpec>,
    /// A tag whose values each get their own line (e.g. `resolver`, `interface`).
    pub group_by: Option<String>,
    /// How the lines are drawn: `line`, `band` (the first field is the lower edge, the
    /// last the upper, those between lines), `bar`, or `stacked` (bars stacked per series:
    /// the phases of one request).
    #[serde(default = "line_style")]
    pub style: String,
}

fn line_style() -> String {
    "line".into()
}

pub const CHART_STYLES: &[&str] = &["line", "band", "bar", "stacked"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChartFieldSpec {
    pub field: String,
    /// Legend label (empty: the group's value alone).
    #[serde(default)]
    pub label: String,
    /// How the runs in a bucket combine: `mean`, `min`, `max`, `sum` or `count`.
    pub aggregate: String,
}

pub const AGGREGATES: &[&str] = &["mean", "min", "max", "sum", "count"];

/// Parses `measurements.toml` and the kind files (`(file name, text)`), merges the
/// kinds' measurements after the file's own, and applies every rule of both.
pub fn parse_all(
    measurements_text: &str,
    kind_files: &[(String, String)],
) -> Result<(SchemaFile, Vec<KindFile>), Vec<String>> {
    let mut schema: SchemaFile =
        toml::from_str(measurements_text).map_err(|e| vec![format!("measurements.toml: {e}")])?;
    let mut kinds = Vec::new();
    let mut problems = Vec::new();
    for (file, text) in kind_files {
        match toml::from_str::<KindFile>(text) {
            Ok(kind) => {
                if format!("{}.toml", kind.kind) != *file {
                    problems.push(format!(
                        "kinds/{file}: declares kind `{}`; the file must be named {}.toml",
                        kind.kind, kind.kind
                    ));
                }
                kinds.push(kind);
            }
            Err(e) => problems.push(format!("kinds/{file}: {e}")),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    for kind in &mut kinds {
        kind.measurements_names = kind.measurements.iter().map(|m| m.name.clone()).collect();
        schema.measurements.append(&mut kind.measurements);
    }
    let mut problems = check(&schema);
    problems.extend(check_kinds(&schema, &kinds));
    if problems.is_empty() {
        Ok((schema, kinds))
    } else {
        Err(problems)
    }
}

/// The rules of kind files (see `schema/kinds/README.md`).
pub fn check_kinds(schema: &SchemaFile, kinds: &[KindFile]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut problem = |msg: String| problems.push(msg);
    check_names("kind", kinds.iter().map(|k| k.kind.as_str()), &mut problem);
    let mut enums: std::collections::HashMap<&str, &Vec<String>> = Default::default();
    for kind in kinds {
        let at = format!("kind `{}`", kind.kind);
        check_text(&at, "label", &kind.label, &mut problem);
        check_description(&at, &kind.description, &mut problem);
        check_names(
            &format!("{at} parameter"),
            kind.params.iter().map(|p| p.name.as_str()),
            &mut problem,
        );
        for p in &kind.params {
            let at = format!("{at} parameter `{}`", p.name);
            check_text(&at, "label", &p.label, &mut problem);
            check_description(&at, &p.description, &mut problem);
            check_param(&at, p, &mut problem);
            if let Some(name) = &p.enum_name {
                match enums.get(name.as_str()) {
                    Some(values) if **values != p.values => problem(format!(
                        "{at}: enum `{name}` is declared elsewhere with other values"
                    )),
                    _ => {
                        enums.insert(name, &p.values);
                    }
                }
            }
        }
        check_names(
            &format!("{at} chart"),
            kind.charts.iter().map(|c| c.key.as_str()),
            &mut problem,
        );
        for c in &kind.charts {
            let at = format!("{at} chart `{}`", c.key);
            check_text(&at, "title", &c.title, &mut problem);
            let Some(m) = schema.measurements.iter().find(|m| m.name == c.measurement) else {
                problem(format!(
                    "{at}: measurement `{}` is not in the schema",
                    c.measurement
                ));
                continue;
            };
            let has_tag = |t: &str| m.tags.iter().chain(&m.optional_tags).any(|x| x == t);
            for tag in c.filter.keys().chain(&c.group_by) {
                if !has_tag(tag) {
                    problem(format!("{at}: `{}` has no tag `{tag}`", m.name));
                }
            }
            if c.fields.is_empty() {
                problem(format!("{at} shows no field"));
            }
            if !CHART_STYLES.contains(&c.style.as_str()) {
                problem(format!(
                    "{at}: style `{}` is not one of {CHART_STYLES:?}",
                    c.style
                ));
            } else if c.style == "band" && c.fields.len() < 2 {
                problem(format!("{at}: a band needs a lower and an upper field"));
            }
            for f in &c.fields {
                match m.fields.iter().find(|x| x.name == f.field) {
                    None => problem(format!("{at}: `{}` has no field `{}`", m.name, f.field)),
                    Some(x) if matches!(x.field_type, TypeSpec::String) => {
                        problem(format!("{at}: field `{}` is text, not a number", f.field))
                    }
                    Some(_) => {}
                }
                if !AGGREGATES.contains(&f.aggregate.as_str()) {
                    problem(format!(
                        "{at}: aggregate `{}` is not one of {AGGREGATES:?}",
                        f.aggregate
                    ));
                }
            }
        }
    }
    problems
}

fn check_param(at: &str, p: &ParamSpec, problem: &mut impl FnMut(String)) {
    use ParamType as T;
    let is_int = |t: ParamType| matches!(t, T::U8 | T::U16 | T::U32);
    let element = match p.param_type {
        T::List => match p.items {
            Some(T::List) | Some(T::Enum) | None => {
                problem(format!(
                    "{at}: a list needs `items` of u8, u16, u32, bool or string"
                ));
                return;
            }
            Some(items) => items,
        },
        t => {
            if p.items.is_some() || p.max_items.is_some() {
                problem(format!("{at}: `items`/`max_items` belong to lists only"));
            }
            t
        }
    };
    if (p.param_type == T::Enum) != (p.enum_name.is_some() && !p.values.is_empty()) {
        problem(format!(
            "{at}: `enum` (the Rust type name) and `values` go together, on enums only"
        ));
    }
    if (p.min.is_some() || p.max.is_some()) && !is_int(element) {
        problem(format!("{at}: `min`/`max` apply to integers only"));
    }
    if let Some(max) = p.max {
        let limit = match element {
            T::U8 => i64::from(u8::MAX),
            T::U16 => i64::from(u16::MAX),
            _ => i64::from(u32::MAX),
        };
        if max > limit || p.min.is_some_and(|min| min < 0 || min > max) {
            problem(format!("{at}: min/max do not fit the type"));
        }
    }
    if (p.max_len.is_some() || p.format.is_some()) && element != T::String {
        problem(format!("{at}: `max_len`/`format` apply to strings only"));
    }
    match (&p.default, p.optional) {
        (Some(_), true) => problem(format!("{at}: an optional parameter has no default")),
        (None, false) => problem(format!("{at}: needs a `default` (or `optional = true`)")),
        (Some(value), false) => {
            if let Err(why) = check_default(p, value) {
                problem(format!("{at}: default {value}: {why}"));
            }
        }
        (None, true) => {}
    }
}

fn check_default(p: &ParamSpec, value: &toml::Value) -> Result<(), String> {
    fn scalar(p: &ParamSpec, t: ParamType, v: &toml::Value) -> Result<(), String> {
        match (t, v) {
            (ParamType::Bool, toml::Value::Boolean(_)) => Ok(()),
            (ParamType::String, toml::Value::String(s)) => match p.max_len {
                Some(max) if s.chars().count() > max as usize => Err("longer than max_len".into()),
                _ => Ok(()),
            },
            (ParamType::Enum, toml::Value::String(s)) if p.values.contains(s) => Ok(()),
            (ParamType::U8 | ParamType::U16 | ParamType::U32, toml::Value::Integer(i)) => {
                let (lo, hi) = (p.min.unwrap_or(0), p.max.unwrap_or(i64::MAX));
                if (lo..=hi).contains(i) {
                    Ok(())
                } else {
                    Err("outside min..max".into())
                }
            }
            _ => Err(format!("is not a value of type {t:?}")),
        }
    }
    match (p.param_type, value) {
        (ParamType::List, toml::Value::Array(items)) => {
            if p.max_items.is_some_and(|max| items.len() > max as usize) {
                return Err("more items than max_items".into());
            }
            let t = p.items.unwrap_or(ParamType::String);
            items.iter().try_for_each(|v| scalar(p, t, v))
        }
        (ParamType::List, _) => Err("a list's default is an array".into()),
        (t, v) => scalar(p, t, v),
    }
}
