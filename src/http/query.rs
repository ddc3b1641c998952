//! `GET|POST /query`: InfluxDB 1.x's query endpoint on the embedded time-series store
//! (`timeseries::embedded::influxql` answers the statements).
//!
//! Parameters, from the URL or (POST) a form body: `q` (required), `db`, `epoch`
//! (`h`, `m`, `s`, `ms`, `u`/`µ`, `ns`: integer times instead of RFC 3339 strings),
//! `chunked=true` with `chunk_size` (one JSON object per line, at most `chunk_size`
//! rows each), `pretty=true`. Credentials go in the `Authorization` header (a token
//! with the viewer role or above, as `Token`, `Bearer` or Basic's password); `u`/`p`
//! in the URL are refused, as on `/write`.
//!
//! | outcome | status | body |
//! |---|---|---|
//! | answered (statement errors included, as InfluxDB does) | 200 | `{"results": [{"statement_id": 0, "series": […]}]}` or `…, "error": "…"` |
//! | no `q`, a parse error, a bad `epoch` or `chunk_size` | 400 | `{"error": "…"}` |
//! | no, bad or URL credentials | 401 | `{"error": "…"}` |
//! | an agent credential (agents only write) | 403 | `{"error": "…"}` |
//! | the server writes to an external InfluxDB (no embedded store) | 404 | `{"error": "…"}` |

use super::Ctx;
use crate::error::{Error, Result};
use crate::timeseries::embedded::RetentionDays;
use crate::timeseries::embedded::influxql::{self, Cell, ResultSeries, StatementResult};
use serde_json::{Map, Value as Json, json};
use streamswarm_tsdb::query::Value;
use warp::http::{HeaderValue, StatusCode, header};
use warp::reply::Response;

const DEFAULT_CHUNK_SIZE: usize = 10_000;

pub async fn query(ctx: Ctx) -> Result<Response> {
    let mut params: Vec<(String, String)> = url::form_urlencoded::parse(ctx.query.as_bytes())
        .into_owned()
        .collect();
    let form = ctx
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if form {
        params.extend(url::form_urlencoded::parse(&ctx.body).into_owned());
    }
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let Some(q) = param("q").filter(|q| !q.trim().is_empty()) else {
        return Err(Error::BadRequest("missing required parameter \"q\"".into()));
    };
    let epoch = match param("epoch") {
        None | Some("") => None,
        Some(e) => Some(epoch_divisor(e).ok_or_else(|| {
            Error::BadRequest(format!(
                "epoch must be one of h, m, s, ms, u, ns; got {e:?}"
            ))
        })?),
    };
    let chunked = param("chunked") == Some("true");
    let chunk_size = match param("chunk_size") {
        None | Some("") => DEFAULT_CHUNK_SIZE,
        Some(n) => n.parse::<usize>().ok().filter(|n| *n > 0).ok_or_else(|| {
            Error::BadRequest(format!("chunk_size must be a positive integer, got {n:?}"))
        })?,
    };
    let pretty = param("pretty") == Some("true");
    let statements = influxql::parse(q).map_err(Error::BadRequest)?;
    let Some(store) = ctx.state.timeseries.embedded() else {
        return Err(Error::NotFound(
            "the embedded time-series store (disabled: this server is configured with \
             [influx]; query that InfluxDB)"
                .into(),
        ));
    };
    let settings = ctx.state.settings.get(&ctx.state.store).await?;
    let retention = RetentionDays::from_settings(&settings);
    let now = ctx.state.store.clock().now_ns();
    let results = store
        .influxql(
            statements,
            param("db").map(str::to_owned),
            now,
            retention.raw,
        )
        .await
        .map_err(|e| Error::Internal(anyhow::anyhow!(e)))?;
    let encode = |v: &Json| -> String {
        if pretty {
            serde_json::to_string_pretty(v).expect("JSON encodes")
        } else {
            serde_json::to_string(v).expect("JSON encodes")
        }
    };
    let body = if chunked {
        let mut out = String::new();
        for (i, r) in results.iter().enumerate() {
            for chunk in chunks(i, r, chunk_size, epoch) {
                out.push_str(&encode(&json!({ "results": [chunk] })));
                out.push('\n');
            }
        }
        out
    } else {
        let results: Vec<Json> = results
            .iter()
            .enumerate()
            .map(|(i, r)| statement_json(i, r, epoch))
            .collect();
        let mut s = encode(&json!({ "results": results }));
        s.push('\n');
        s
    };
    let mut resp = Response::new(body.into());
    *resp.status_mut() = StatusCode::OK;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp.headers_mut().insert(
        "x-influxdb-version",
        HeaderValue::from_static(concat!("streamswarm-", env!("CARGO_PKG_VERSION"))),
    );
    Ok(resp)
}

/// Nanoseconds per unit of an `epoch` parameter.
fn epoch_divisor(e: &str) -> Option<i64> {
    Some(match e {
        "ns" | "n" => 1,
        "u" | "µ" | "us" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return None,
    })
}

/// A time as InfluxDB writes it: RFC 3339 with as many fraction digits as needed.
pub fn rfc3339(ns: i64) -> String {
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ns)) else {
        return ns.to_string();
    };
    let mut s = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    let nanos = t.nanosecond();
    if nanos > 0 {
        let frac = format!("{nanos:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

fn cell_json(c: &Cell, epoch: Option<i64>) -> Json {
    match c {
        Cell::Null => Json::Null,
        Cell::Time(t) => match epoch {
            Some(d) => json!(t / d),
            None => json!(rfc3339(*t)),
        },
        Cell::Value(v) => match v {
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
            Value::Integer(i) => json!(i),
            Value::Unsigned(u) => json!(u),
            Value::Bool(b) => json!(b),
            Value::String(s) => json!(s),
        },
    }
}

fn series_json(s: &ResultSeries, rows: &[Vec<Cell>], epoch: Option<i64>, partial: bool) -> Json {
    let mut o = Map::new();
    if let Some(n) = &s.name {
        o.insert("name".into(), json!(n));
    }
    if !s.tags.is_empty() {
        o.insert("tags".into(), json!(s.tags));
    }
    o.insert("columns".into(), json!(s.columns));
    o.insert(
        "values".into(),
        Json::Array(
            rows.iter()
                .map(|r| Json::Array(r.iter().map(|c| cell_json(c, epoch)).collect()))
                .collect(),
        ),
    );
    if partial {
        o.insert("partial".into(), json!(true));
    }
    Json::Object(o)
}

fn statement_json(i: usize, r: &StatementResult, epoch: Option<i64>) -> Json {
    let mut o = Map::new();
    o.insert("statement_id".into(), json!(i));
    if !r.series.is_empty() {
        o.insert(
            "series".into(),
            Json::Array(
                r.series
                    .iter()
                    .map(|s| series_json(s, &s.rows, epoch, false))
                    .collect(),
            ),
        );
    }
    if let Some(e) = &r.error {
        o.insert("error".into(), json!(e));
    }
    Json::Object(o)
}

/// A statement's result in chunks of at most `size` rows: a series split over chunks
/// is `"partial": true` in all but its last, and every chunk but the statement's last
/// is `"partial": true` too.
fn chunks(i: usize, r: &StatementResult, size: usize, epoch: Option<i64>) -> Vec<Json> {
    if r.error.is_some() || r.series.is_empty() {
        return vec![statement_json(i, r, epoch)];
    }
    let mut pieces: Vec<Json> = Vec::new();
    for s in &r.series {
        let n = s.rows.len().max(1);
        let mut start = 0;
        while start < n {
            let end = (start + size).min(s.rows.len());
            pieces.push(series_json(
                s,
                &s.rows[start..end],
                epoch,
                end < s.rows.len(),
            ));
            start += size;
        }
    }
    let last = pieces.len() - 1;
    pieces
        .into_iter()
        .enumerate()
        .map(|(k, p)| {
            let mut o = Map::new();
            o.insert("statement_id".into(), json!(i));
            o.insert("series".into(), json!([p]));
            if k < last {
                o.insert("partial".into(), json!(true));
            }
            Json::Object(o)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_as_influxdb_does() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_500_000_000), "1970-01-01T00:00:01.5Z");
        assert_eq!(
            rfc3339(1_700_000_000_000_000_123),
            "2023-11-14T22:13:20.000000123Z"
        );
        assert_eq!(epoch_divisor("ms"), Some(1_000_000));
        assert_eq!(epoch_divisor("x"), None);
    }
}
