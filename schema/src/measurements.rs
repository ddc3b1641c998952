//! The measurement schema: every time series StreamSwarm writes, generated from
//! `schema/measurements.toml` by `build.rs`.
//!
//! Two views of the same file:
//! - **Typed keys** for writers: `measurements::ping::MEASUREMENT`,
//!   `ping::tags::TARGET`, `ping::fields::RTT_AVG_MS` (a `FieldKey<Ping, f64>`). A key
//!   only fits points of its own measurement and only takes a value of its field's type,
//!   so a misspelt name, a field of another measurement or a wrong type does not compile.
//! - **The runtime catalogue** ([`CATALOGUE`], [`find`]) for validators, docs
//!   ([`markdown`]), dashboards and readers that need names, types and units as data.
//!
//! [`check_point`] compares what a writer produced with the catalogue; the encoder crate
//! (`streamswarm-tsdb`) wraps it for whole points, and tests run every point through it.

use std::fmt;
use std::marker::PhantomData;

mod markdown;
#[cfg(test)]
mod spec;
// `spec.rs` names the kind files' vocabularies as `super::syntax`, as in `build.rs`.
#[cfg(test)]
use crate::kinds::syntax;

pub use markdown::{REGENERATE_DOCS, markdown};

/// A field's value type, as line protocol distinguishes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldType {
    /// 64-bit IEEE float, written bare (`1.5`, `1.0`).
    Float,
    /// Signed 64-bit integer, written with an `i` suffix (`3i`).
    Integer,
    /// Unsigned 64-bit integer, written with a `u` suffix (`3u`); InfluxDB 1.x rejects it.
    Unsigned,
    /// `true` / `false`.
    Bool,
    /// Double-quoted string.
    String,
}

impl FieldType {
    /// The name used in `measurements.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::Float => "float",
            FieldType::Integer => "integer",
            FieldType::Unsigned => "unsigned",
            FieldType::Bool => "bool",
            FieldType::String => "string",
        }
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A tag of the vocabulary: one meaning wherever it is used.
#[derive(Debug)]
pub struct TagDef {
    pub name: &'static str,
    pub description: &'static str,
    /// How many values to expect, in words: the number that decides whether this may be
    /// a tag at all.
    pub cardinality: &'static str,
    /// The closed set of values, or empty when the set is open (but bounded).
    pub values: &'static [&'static str],
}

/// A tag as one measurement uses it.
#[derive(Debug)]
pub struct TagUse {
    pub def: &'static TagDef,
    /// Whether a point of this measurement may lack the tag.
    pub optional: bool,
}

#[derive(Debug)]
pub struct FieldDef {
    pub name: &'static str,
    pub field_type: FieldType,
    /// `ms`, `bytes`, `%`, `1` for ratios, a count noun for counts, `text` for strings.
    pub unit: &'static str,
    pub description: &'static str,
    /// Whether a point may omit the field; the description says when.
    pub optional: bool,
}

#[derive(Debug)]
pub struct MeasurementDef {
    pub name: &'static str,
    pub description: &'static str,
    /// Which component and probe writes it.
    pub written_by: &'static str,
    pub tags: &'static [TagUse],
    pub fields: &'static [FieldDef],
}

impl MeasurementDef {
    pub fn tag(&self, name: &str) -> Option<&'static TagUse> {
        self.tags.iter().find(|t| t.def.name == name)
    }

    pub fn field(&self, name: &str) -> Option<&'static FieldDef> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// Implemented by the marker type of each measurement (`ping::Ping`, …).
pub trait Measurement: Copy + Send + Sync + 'static {
    fn def() -> &'static MeasurementDef;
}

/// A tag key of measurement `M`.
pub struct TagKey<M> {
    name: &'static str,
    measurement: PhantomData<fn() -> M>,
}

impl<M> TagKey<M> {
    #[doc(hidden)]
    pub const fn new(name: &'static str) -> Self {
        Self {
            name,
            measurement: PhantomData,
        }
    }

    pub const fn name(self) -> &'static str {
        self.name
    }
}

/// A field key of measurement `M` whose values are `T` (`f64`, `i64`, `u64`, `bool` or
/// `String`).
pub struct FieldKey<M, T> {
    name: &'static str,
    types: PhantomData<fn() -> (M, T)>,
}

impl<M, T> FieldKey<M, T> {
    #[doc(hidden)]
    pub const fn new(name: &'static str) -> Self {
        Self {
            name,
            types: PhantomData,
        }
    }

    pub const fn name(self) -> &'static str {
        self.name
    }
}

// Manual impls: derives would demand `M: Copy` and `T: Copy`, and `String` is not.
impl<M> Clone for TagKey<M> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<M> Copy for TagKey<M> {}
impl<M> fmt::Debug for TagKey<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TagKey({})", self.name)
    }
}
impl<M, T> Clone for FieldKey<M, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<M, T> Copy for FieldKey<M, T> {}
impl<M, T> fmt::Debug for FieldKey<M, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FieldKey({})", self.name)
    }
}

/// The Rust types that stand for the schema's field types.
pub trait FieldRustType: sealed::Sealed {
    const FIELD_TYPE: FieldType;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f64 {}
    impl Sealed for i64 {}
    impl Sealed for u64 {}
    impl Sealed for bool {}
    impl Sealed for String {}
}

impl FieldRustType for f64 {
    const FIELD_TYPE: FieldType = FieldType::Float;
}
impl FieldRustType for i64 {
    const FIELD_TYPE: FieldType = FieldType::Integer;
}
impl FieldRustType for u64 {
    const FIELD_TYPE: FieldType = FieldType::Unsigned;
}
impl FieldRustType for bool {
    const FIELD_TYPE: FieldType = FieldType::Bool;
}
impl FieldRustType for String {
    const FIELD_TYPE: FieldType = FieldType::String;
}

include!(concat!(env!("OUT_DIR"), "/measurements.rs"));

/// The measurement of this name, if the schema lists it.
pub fn find(name: &str) -> Option<&'static MeasurementDef> {
    CATALOGUE.iter().copied().find(|m| m.name == name)
}

/// One way a point departs from the schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaViolation {
    #[error("measurement `{0}` is not in schema/measurements.toml")]
    UnknownMeasurement(String),
    #[error("`{measurement}` has no tag `{tag}` in schema/measurements.toml")]
    UnknownTag { measurement: String, tag: String },
    #[error("`{measurement}` tag `{tag}` = `{value}` is not one of {allowed:?}")]
    TagValueNotAllowed {
        measurement: String,
        tag: String,
        value: String,
        allowed: &'static [&'static str],
    },
    #[error("`{measurement}` requires tag `{tag}`")]
    MissingTag { measurement: String, tag: String },
    #[error("`{measurement}` has no field `{field}` in schema/measurements.toml")]
    UnknownField { measurement: String, field: String },
    #[error("`{measurement}` field `{field}` is {expected} in the schema, not {found}")]
    WrongFieldType {
        measurement: String,
        field: String,
        expected: FieldType,
        found: FieldType,
    },
    #[error("`{measurement}` requires field `{field}`")]
    MissingField { measurement: String, field: String },
}

/// Compares one point with the schema: every tag and field listed, tag values within
/// their closed sets, field types as declared, required tags and fields present.
/// Returns every violation, not just the first. Empty tag values count as absent, as
/// they do in InfluxDB.
pub fn check_point<'a>(
    measurement: &str,
    tags: impl IntoIterator<Item = (&'a str, &'a str)>,
    fields: impl IntoIterator<Item = (&'a str, FieldType)>,
) -> Result<(), Vec<SchemaViolation>> {
    let Some(def) = find(measurement) else {
        return Err(vec![SchemaViolation::UnknownMeasurement(
            measurement.to_owned(),
        )]);
    };
    let m = || measurement.to_owned();
    let mut violations = Vec::new();

    let mut present_tags = Vec::new();
    for (tag, value) in tags {
        if value.is_empty() {
            continue;
        }
        present_tags.push(tag);
        match def.tag(tag) {
            None => violations.push(SchemaViolation::UnknownTag {
                measurement: m(),
                tag: tag.to_owned(),
            }),
            Some(u) if !u.def.values.is_empty() && !u.def.values.contains(&value) => violations
                .push(SchemaViolation::TagValueNotAllowed {
                    measurement: m(),
                    tag: tag.to_owned(),
                    value: value.to_owned(),
                    allowed: u.def.values,
                }),
            Some(_) => {}
        }
    }
    for t in def.tags.iter().filter(|t| !t.optional) {
        if !present_tags.contains(&t.def.name) {
            violations.push(SchemaViolation::MissingTag {
                measurement: m(),
                tag: t.def.name.to_owned(),
            });
        }
    }

    let mut present_fields = Vec::new();
    for (field, found) in fields {
        present_fields.push(field);
        match def.field(field) {
            None => violations.push(SchemaViolation::UnknownField {
                measurement: m(),
                field: field.to_owned(),
            }),
            Some(f) if f.field_type != found => violations.push(SchemaViolation::WrongFieldType {
                measurement: m(),
                field: field.to_owned(),
                expected: f.field_type,
                found,
            }),
            Some(_) => {}
        }
    }
    for f in def.fields.iter().filter(|f| !f.optional) {
        if !present_fields.contains(&f.name) {
            violations.push(SchemaViolation::MissingField {
                measurement: m(),
                field: f.name.to_owned(),
            });
        }
    }

    if violations.is_empty() {
        Ok(())
    } else {
        Err(violations)
    }
}

#[cfg(test)]
mod tests;
