//! Answering the product's queries from InfluxDB over InfluxQL: [`InfluxReader`].
//!
//! `POST /query?db=&rp=&epoch=ns` with the statement in the form body (long filters
//! never hit URL length limits, and statements stay out of access logs). InfluxDB 1.x,
//! 2.x (v1 compatibility API, token) and 3.x all serve it. The JSON answer
//! (`results[].series[]` of name, tags, columns, values) becomes typed [`Series`] with
//! the semantics `query` fixes:
//!
//! - **Types.** InfluxDB's JSON loses the integer/float distinction (a float `2.0` is
//!   written `2`), so the type of each column is decided from the query, not the text:
//!   `count` is an integer and `mean` a float whatever the field; every other column
//!   (`min`, `max`, `sum`, `first`, `last`, percentiles, raw values) has the field's
//!   type. The field's type comes from the schema catalogue
//!   (`streamswarm_schema::measurements`) when it lists the field, else from the store
//!   itself (`SHOW FIELD KEYS`, cached per measurement), else — a field whose type
//!   differs between shards — from the JSON text (integer literal → `Integer`, other
//!   number → `Float`). A value that does not fit the decided type (a schema that
//!   disagrees with stored data) is read by its JSON text rather than refused.
//! - **Times.** Without an interval, InfluxQL gives a selector (`first`, `last`, `min`,
//!   `max`, `percentile`) the time of the selected point; `query` says the row's time is
//!   the range start, so it is set to that.
//! - **Order.** Series are sorted by their tags (values compared in tag-key order).
//! - **Tag values** come back as one series named after the measurement, without tags,
//!   with one column named after the tag; each row holds one value (time 0), sorted.
//!   No matching series: no series at all.

use crate::influx::{ConfigError, InfluxClient, InfluxConfig};
use crate::influxql::{self, column_name};
use crate::query::{Aggregate, BoxFuture, Query, ReadError, Reader, Row, Series, Value};
use crate::write::{describe, error_message};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use streamswarm_schema::measurements::{self, FieldType};

/// The largest query answer read; beyond it the query is refused as too large rather
/// than exhausting memory. Dashboards ask for bucketed data far below this.
const MAX_ANSWER_BYTES: usize = 256 * 1024 * 1024;

/// Field types of one measurement as the store reports them; `None` where shards
/// disagree.
type FieldTypes = HashMap<String, Option<FieldType>>;

/// Answers [`Query`]s from an InfluxDB. Cheap to clone; clones share the connection
/// pool and the field-type cache.
#[derive(Debug, Clone)]
pub struct InfluxReader {
    client: InfluxClient,
    field_types: Arc<Mutex<HashMap<String, Arc<FieldTypes>>>>,
}

impl InfluxReader {
    pub fn new(config: InfluxConfig) -> Result<Self, ConfigError> {
        Ok(Self::from_client(InfluxClient::new(config)?))
    }

    /// A reader sharing `client`'s connection pool (e.g. with a `Writer`).
    pub fn from_client(client: InfluxClient) -> Self {
        InfluxReader {
            client,
            field_types: Default::default(),
        }
    }

    /// The client it reads with (a `Writer` can share it).
    pub fn client(&self) -> &InfluxClient {
        &self.client
    }

    /// Renders and runs `query`.
    pub async fn run(&self, query: &Query) -> Result<Vec<Series>, ReadError> {
        let text = influxql::render(query, self.client.config().retention_policy())
            .map_err(|e| ReadError::Invalid(e.0))?;
        let raw = self.execute(&text).await?;
        match query {
            Query::TagValues(q) => Ok(tag_values(&q.measurement, &q.tag, raw)),
            Query::Aggregate(q) => {
                let mut columns = Vec::with_capacity(q.fields.len());
                for (field, aggregate) in &q.fields {
                    let kind = match aggregate {
                        Aggregate::Count => Some(FieldType::Integer),
                        Aggregate::Mean => Some(FieldType::Float),
                        _ => self.field_type(&q.selector.measurement, field).await?,
                    };
                    columns.push((column_name(field, *aggregate), kind));
                }
                let mut series = typed_series(raw, &columns)?;
                if q.interval.is_none() {
                    for row in series.iter_mut().flat_map(|s| s.rows.iter_mut()) {
                        row.time_ns = q.selector.range.start_ns;
                    }
                }
                Ok(series)
            }
            Query::Raw(q) => {
                let mut columns = Vec::with_capacity(q.fields.len());
                for field in &q.fields {
                    let kind = self.field_type(&q.selector.measurement, field).await?;
                    columns.push((field.clone(), kind));
                }
                typed_series(raw, &columns)
            }
        }
    }

    /// Runs one InfluxQL statement and returns its series as InfluxDB sent them.
    async fn execute(&self, influxql: &str) -> Result<Vec<RawSeries>, ReadError> {
        let response = self
            .client
            .post_query(influxql)
            .send()
            .await
            .map_err(|e| ReadError::Unreachable(describe(&e)))?;
        let status = response.status().as_u16();
        let body = read_limited(response, MAX_ANSWER_BYTES).await?;
        if !(200..300).contains(&status) {
            return Err(ReadError::Server {
                status,
                message: error_message(&body),
            });
        }
        let answer: Answer = serde_json::from_slice(&body)
            .map_err(|e| ReadError::Decode(format!("not an InfluxQL answer: {e}")))?;
        if let Some(message) = answer.error {
            return Err(ReadError::Server { status, message });
        }
        let mut series = Vec::new();
        for result in answer.results {
            if let Some(message) = result.error {
                return Err(ReadError::Server { status, message });
            }
            series.extend(result.series);
        }
        Ok(series)
    }

    /// The type of `field` of `measurement`: the schema's, else the store's.
    async fn field_type(
        &self,
        measurement: &str,
        field: &str,
    ) -> Result<Option<FieldType>, ReadError> {
        if let Some(def) = measurements::find(measurement).and_then(|m| m.field(field)) {
            return Ok(Some(def.field_type));
        }
        let cached = self.cached_types(measurement);
        if let Some(known) = cached.as_ref().and_then(|t| t.get(field)) {
            return Ok(*known);
        }
        // Unknown or new field: ask the store (fields appear as data arrives).
        let types = Arc::new(self.show_field_keys(measurement).await?);
        let answer = types.get(field).copied().flatten();
        self.field_types
            .lock()
            .expect("field-type cache lock")
            .insert(measurement.to_owned(), types);
        Ok(answer)
    }

    fn cached_types(&self, measurement: &str) -> Option<Arc<FieldTypes>> {
        self.field_types
            .lock()
            .expect("field-type cache lock")
            .get(measurement)
            .cloned()
    }

    async fn show_field_keys(&self, measurement: &str) -> Result<FieldTypes, ReadError> {
        let mut from = String::new();
        if let Some(rp) = self.client.config().retention_policy() {
            from.push_str(&influxql::quote_ident(rp));
            from.push('.');
        }
        from.push_str(&influxql::quote_ident(measurement));
        let raw = self
            .execute(&format!("SHOW FIELD KEYS FROM {from}"))
            .await?;
        let mut types = FieldTypes::new();
        for series in raw {
            let (Some(k), Some(t)) = (series.column("fieldKey"), series.column("fieldType")) else {
                return Err(ReadError::Decode(
                    "SHOW FIELD KEYS answered without fieldKey/fieldType columns".into(),
                ));
            };
            for row in &series.values {
                let (Some(name), Some(kind)) = (
                    row.get(k).and_then(|v| v.as_str()),
                    row.get(t).and_then(|v| v.as_str()),
                ) else {
                    continue;
                };
                let kind = match kind {
                    "float" => Some(FieldType::Float),
                    "integer" => Some(FieldType::Integer),
                    "unsigned" => Some(FieldType::Unsigned),
                    "boolean" => Some(FieldType::Bool),
                    "string" => Some(FieldType::String),
                    _ => None,
                };
                types
                    .entry(name.to_owned())
                    // A field listed twice has different types in different shards.
                    .and_modify(|known| {
                        if *known != kind {
                            *known = None
                        }
                    })
                    .or_insert(kind);
            }
        }
        Ok(types)
    }
}

impl Reader for InfluxReader {
    fn query<'a>(&'a self, q: &'a Query) -> BoxFuture<'a, Result<Vec<Series>, ReadError>> {
        Box::pin(self.run(q))
    }
}

async fn read_limited(mut response: reqwest::Response, cap: usize) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| ReadError::Unreachable(describe(&e)))?
    {
        if body.len() + chunk.len() > cap {
            return Err(ReadError::Decode(format!(
                "the answer is larger than {cap} bytes; ask for a shorter range or a longer interval"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[derive(Debug, Deserialize)]
struct Answer {
    #[serde(default)]
    results: Vec<StatementResult>,
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
struct StatementResult {
    #[serde(default)]
    series: Vec<RawSeries>,
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawSeries {
    #[serde(default)]
    name: String,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    columns: Vec<String>,
    #[serde(default)]
    values: Vec<Vec<serde_json::Value>>,
}

impl RawSeries {
    fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }
}

/// Turns raw series into typed ones with exactly `columns` (name and type) after
/// `time`, sorted by tags.
fn typed_series(
    raw: Vec<RawSeries>,
    columns: &[(String, Option<FieldType>)],
) -> Result<Vec<Series>, ReadError> {
    let mut out = Vec::with_capacity(raw.len());
    for series in raw {
        let time = series.column("time").ok_or_else(|| {
            ReadError::Decode(format!("series {:?} has no time column", series.name))
        })?;
        let positions = columns
            .iter()
            .map(|(name, _)| {
                series.column(name).ok_or_else(|| {
                    ReadError::Decode(format!(
                        "series {:?} lacks column {name:?} (has {:?})",
                        series.name, series.columns
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut rows = Vec::with_capacity(series.values.len());
        for values in &series.values {
            let time_ns = values
                .get(time)
                .and_then(serde_json::Value::as_i64)
                .ok_or_else(|| {
                    ReadError::Decode(format!(
                        "a row of {:?} has no integer time (is epoch=ns set?)",
                        series.name
                    ))
                })?;
            let values = positions
                .iter()
                .zip(columns)
                .map(|(&i, (_, kind))| {
                    typed_value(values.get(i).unwrap_or(&serde_json::Value::Null), *kind)
                })
                .collect::<Result<Vec<_>, _>>()?;
            rows.push(Row { time_ns, values });
        }
        out.push(Series {
            name: series.name,
            tags: series.tags,
            columns: columns.iter().map(|(name, _)| name.clone()).collect(),
            rows,
        });
    }
    out.sort_by(|a, b| a.tags.cmp(&b.tags));
    Ok(out)
}

/// One JSON value as `kind` (see the module doc for the rules).
fn typed_value(
    json: &serde_json::Value,
    kind: Option<FieldType>,
) -> Result<Option<Value>, ReadError> {
    use serde_json::Value as J;
    let typed = match (kind, json) {
        (_, J::Null) => return Ok(None),
        (Some(FieldType::Float), J::Number(n)) => n.as_f64().map(Value::Float),
        (Some(FieldType::Integer), J::Number(n)) => n.as_i64().map(Value::Integer),
        (Some(FieldType::Unsigned), J::Number(n)) => n.as_u64().map(Value::Unsigned),
        (Some(FieldType::Bool), J::Bool(b)) => Some(Value::Bool(*b)),
        (Some(FieldType::String), J::String(s)) => Some(Value::String(s.clone())),
        _ => None,
    };
    if typed.is_some() {
        return Ok(typed);
    }
    // No type known, or the value does not fit it: go by the JSON text.
    match json {
        J::Number(n) => {
            if let Some(i) = n.as_i64() {
                Ok(Some(Value::Integer(i)))
            } else if let Some(u) = n.as_u64() {
                Ok(Some(Value::Unsigned(u)))
            } else {
                Ok(n.as_f64().map(Value::Float))
            }
        }
        J::Bool(b) => Ok(Some(Value::Bool(*b))),
        J::String(s) => Ok(Some(Value::String(s.clone()))),
        other => Err(ReadError::Decode(format!("unexpected value {other}"))),
    }
}

/// `SHOW TAG VALUES` answers `key`/`value` rows per measurement.
fn tag_values(measurement: &str, tag: &str, raw: Vec<RawSeries>) -> Vec<Series> {
    let mut values: Vec<String> = raw
        .iter()
        .filter_map(|s| s.column("value").map(|i| (s, i)))
        .flat_map(|(s, i)| {
            s.values
                .iter()
                .filter_map(move |row| row.get(i).and_then(|v| v.as_str()).map(str::to_owned))
        })
        .collect();
    if values.is_empty() {
        return Vec::new();
    }
    values.sort();
    values.dedup();
    vec![Series {
        name: measurement.to_owned(),
        tags: BTreeMap::new(),
        columns: vec![tag.to_owned()],
        rows: values
            .into_iter()
            .map(|v| Row {
                time_ns: 0,
                values: vec![Some(Value::String(v))],
            })
            .collect(),
    }]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(json: &str) -> Vec<RawSeries> {
        let answer: Answer = serde_json::from_str(json).unwrap();
        answer.results.into_iter().flat_map(|r| r.series).collect()
    }

    #[test]
    fn columns_are_typed_by_the_query_not_the_json_text() {
        let series = typed_series(
            raw(r#"{"results":[{"statement_id":0,"series":[{"name":"m","tags":{"h":"b"},
                "columns":["time","count_v","mean_v","max_v"],"values":[[10,2,2,3],[20,0,null,null]]},
                {"name":"m","tags":{"h":"a"},"columns":["time","count_v","mean_v","max_v"],"values":[[10,1,1.5,1.5]]}]}]}"#),
            &[
                ("count_v".into(), Some(FieldType::Integer)),
                ("mean_v".into(), Some(FieldType::Float)),
                ("max_v".into(), Some(FieldType::Float)),
            ],
        )
        .unwrap();
        assert_eq!(series.len(), 2);
        assert_eq!(series[0].tags["h"], "a", "sorted by tags");
        let b = &series[1];
        assert_eq!(
            b.rows[0].values,
            [
                Some(Value::Integer(2)),
                Some(Value::Float(2.0)),
                Some(Value::Float(3.0))
            ]
        );
        assert_eq!(b.rows[1].values, [Some(Value::Integer(0)), None, None]);
    }

    #[test]
    fn untyped_values_go_by_json_text() {
        let j = |s: &str| serde_json::from_str::<serde_json::Value>(s).unwrap();
        let t = |s: &str, k| typed_value(&j(s), k).unwrap();
        assert_eq!(t("3", None), Some(Value::Integer(3)));
        assert_eq!(t("3.5", None), Some(Value::Float(3.5)));
        assert_eq!(
            t("18446744073709551615", None),
            Some(Value::Unsigned(u64::MAX))
        );
        assert_eq!(t("true", None), Some(Value::Bool(true)));
        assert_eq!(t("\"x\"", None), Some(Value::String("x".into())));
        assert_eq!(t("null", Some(FieldType::Float)), None);
        // A schema that disagrees with the stored value does not lose the value.
        assert_eq!(t("3.5", Some(FieldType::Integer)), Some(Value::Float(3.5)));
        assert_eq!(
            t("\"x\"", Some(FieldType::Float)),
            Some(Value::String("x".into()))
        );
        assert_eq!(t("7", Some(FieldType::Unsigned)), Some(Value::Unsigned(7)));
        assert!(typed_value(&j("[1]"), None).is_err());
    }

    #[test]
    fn missing_columns_and_times_are_decode_errors() {
        let cols = [("mean_v".to_owned(), Some(FieldType::Float))];
        let no_col = raw(
            r#"{"results":[{"series":[{"name":"m","columns":["time","mean"],"values":[[1,2]]}]}]}"#,
        );
        assert!(matches!(
            typed_series(no_col, &cols),
            Err(ReadError::Decode(_))
        ));
        let rfc3339 = raw(
            r#"{"results":[{"series":[{"name":"m","columns":["time","mean_v"],"values":[["1970-01-01T00:00:00Z",2]]}]}]}"#,
        );
        assert!(matches!(
            typed_series(rfc3339, &cols),
            Err(ReadError::Decode(_))
        ));
    }

    #[test]
    fn tag_values_become_one_sorted_series() {
        let got = tag_values(
            "m",
            "host",
            raw(
                r#"{"results":[{"series":[{"name":"m","columns":["key","value"],"values":[["host","b"],["host","a"]]}]}]}"#,
            ),
        );
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].columns, ["host"]);
        let values: Vec<_> = got[0].rows.iter().map(|r| r.values[0].clone()).collect();
        assert_eq!(
            values,
            [
                Some(Value::String("a".into())),
                Some(Value::String("b".into()))
            ]
        );
        assert!(tag_values("m", "host", raw(r#"{"results":[{"statement_id":0}]}"#)).is_empty());
    }
}
