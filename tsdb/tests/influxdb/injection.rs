//! No InfluxQL injection: hostile measurement, tag and field names and tag values are
//! written to a REAL InfluxDB, then queried through the renderer. Each must match
//! exactly itself, and the statements they try to smuggle in (`DROP DATABASE …`) must
//! never run.

use crate::require_influx;
use crate::support::TestDb;
use std::collections::BTreeMap;
use streamswarm_tsdb::influxql;
use streamswarm_tsdb::query::{
    Aggregate, AggregateQuery, Fill, Query, RawQuery, Reader as _, Selector, TagFilter,
    TagValuesQuery, TimeRange, Value,
};
use streamswarm_tsdb::{Point, Timestamp};

#[tokio::test]
async fn real_influxdb_hostile_names_and_values_only_ever_match_themselves() {
    let url = require_influx!("real_influxdb_hostile_names_and_values_only_ever_match_themselves");
    let db = TestDb::create(&url).await;
    // A second database that the hostile text tries to drop.
    let canary = TestDb::create(&url).await;
    let c = &canary.name;

    let measurement = format!("m'; DROP DATABASE \"{c}\"; --\"");
    let tag = format!("k\"ey'); DROP DATABASE \"{c}\" --");
    let field = "f\"ld' OR 1=1 -- ünï".to_owned();
    let hostile: Vec<String> = vec![
        format!("'; DROP DATABASE \"{c}\"; --"),
        format!("\"; DROP DATABASE \"{c}\"; --"),
        format!("x') OR (\"{tag}\" != 'x"),
        "' OR '1'='1".into(),
        "' OR \"k\"::tag =~ /.*/ OR 'x".into(),
        "a\\'b".into(),
        "a\\\"b".into(),
        "C:\\Windows\\system32".into(),
        "ünïcödé ✓ 🚀 \u{202e}txt.exe".into(),
        "comma, equals= and space".into(),
        "decoy".into(),
        "'".into(),
        "\"".into(),
    ];

    let writer = db.writer();
    let mut lines = Vec::new();
    for (i, value) in hostile.iter().enumerate() {
        Point::new_dynamic(measurement.clone())
            .tag_dynamic(tag.clone(), value.clone())
            .field_dynamic(field.clone(), i as f64 + 0.5)
            .timestamp(Timestamp::from_nanos(1_000 + i as i64))
            .encode(&mut lines, writer.precision())
            .unwrap_or_else(|e| panic!("{value:?} must be writable: {e}"));
    }
    let report = writer.send_splitting(&lines).await;
    assert_eq!(
        writer.stats().lines_accepted as usize,
        hostile.len(),
        "{:?}",
        report.events
    );

    let reader = db.reader();
    let selector = |values: Vec<String>| Selector {
        measurement: measurement.clone(),
        filters: vec![TagFilter {
            tag: tag.clone(),
            values,
        }],
        range: TimeRange {
            start_ns: 0,
            end_ns: 1_000_000,
        },
    };

    for (i, value) in hostile.iter().enumerate() {
        let raw = Query::Raw(RawQuery {
            selector: selector(vec![value.clone()]),
            fields: vec![field.clone()],
            group_by_tags: vec![tag.clone()],
            limit: 100,
        });
        let series = reader.query(&raw).await.unwrap_or_else(|e| {
            panic!("{value:?}: {e}\n{}", influxql::render(&raw, None).unwrap())
        });
        assert_eq!(series.len(), 1, "{value:?} → {series:?}");
        assert_eq!(series[0].name, measurement);
        assert_eq!(
            series[0].tags,
            BTreeMap::from([(tag.clone(), value.clone())]),
            "the tag reads back exactly"
        );
        assert_eq!(
            series[0].rows.len(),
            1,
            "{value:?} matched more than itself"
        );
        assert_eq!(
            series[0].rows[0].values,
            [Some(Value::Float(i as f64 + 0.5))]
        );

        let count = Query::Aggregate(AggregateQuery {
            selector: selector(vec![value.clone()]),
            fields: vec![(field.clone(), Aggregate::Count)],
            interval: None,
            group_by_tags: vec![],
            fill: Fill::None,
        });
        let series = reader.query(&count).await.unwrap();
        assert_eq!(
            series[0].rows[0].values,
            [Some(Value::Integer(1))],
            "{value:?}"
        );
    }

    // Text that was never written matches nothing — and breaks nothing. Newlines
    // cannot be written as tag values, but they can be asked for.
    for absent in [
        "",
        "decoy ",
        "\\",
        "''",
        "' OR ''='",
        "a'b",
        "x\n'; DROP DATABASE x; --",
        "\n",
        "\\n",
    ] {
        let raw = Query::Raw(RawQuery {
            selector: selector(vec![absent.to_owned()]),
            fields: vec![field.clone()],
            group_by_tags: vec![],
            limit: 100,
        });
        let series = reader.query(&raw).await.unwrap();
        assert!(series.is_empty(), "{absent:?} matched {series:?}");
    }

    // All values at once, and SHOW TAG VALUES, give back exactly what was written.
    let everything = Query::Aggregate(AggregateQuery {
        selector: selector(hostile.clone()),
        fields: vec![(field.clone(), Aggregate::Count)],
        interval: None,
        group_by_tags: vec![],
        fill: Fill::None,
    });
    let series = reader.query(&everything).await.unwrap();
    assert_eq!(
        series[0].rows[0].values,
        [Some(Value::Integer(hostile.len() as i64))]
    );
    let tag_values = reader
        .query(&Query::TagValues(TagValuesQuery {
            measurement: measurement.clone(),
            tag: tag.clone(),
            filters: vec![TagFilter {
                tag: tag.clone(),
                values: hostile.clone(),
            }],
        }))
        .await
        .unwrap();
    let mut want = hostile.clone();
    want.sort();
    let got: Vec<String> = tag_values[0]
        .rows
        .iter()
        .map(|r| match &r.values[0] {
            Some(Value::String(s)) => s.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(got, want);

    // Nothing was dropped.
    let databases = db.databases().await;
    assert!(databases.contains(&db.name), "{databases:?}");
    assert!(databases.contains(&canary.name), "{databases:?}");
}
