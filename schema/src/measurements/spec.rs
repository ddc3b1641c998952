//! The model of `schema/measurements.toml` and the rules it must follow.
//!
//! This file is compiled twice: by `build.rs`, which refuses to build when a rule is
//! broken and then generates the Rust constants, and by this crate's tests, which check
//! the rules themselves on small broken schemas. Keeping one copy means the rules the
//! tests exercise are exactly the ones the build enforces.

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

/// Parses the schema file and applies every rule; `Err` lists every problem found, not
/// just the first, so one build run shows everything to fix.
pub fn parse(text: &str) -> Result<SchemaFile, Vec<String>> {
    let schema: SchemaFile = toml::from_str(text).map_err(|e| vec![e.to_string()])?;
    let problems = check(&schema);
    if problems.is_empty() {
        Ok(schema)
    } else {
        Err(problems)
    }
}

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
