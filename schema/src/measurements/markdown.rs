//! `docs/metrics.md`, the human reference, rendered from the catalogue. A test compares
//! the checked-in file with this output, so the reference cannot drift from the schema.

use super::{CATALOGUE, FieldDef, MeasurementDef, TAGS, TagUse};
use std::fmt::Write as _;

/// The command that rewrites `docs/metrics.md`; printed by the test when it is stale.
pub const REGENERATE_DOCS: &str =
    "UPDATE_DOCS=1 cargo test -p streamswarm-schema --test metrics_doc";

/// Renders the metrics reference (the content of `docs/metrics.md`).
pub fn markdown() -> String {
    let mut out = String::new();
    out.push_str("# Metrics reference\n\n");
    writeln!(
        out,
        "<!-- Generated from schema/measurements.toml and schema/kinds/*.toml by streamswarm_schema::measurements::markdown().\n     Do not edit: change the schema, then run `{REGENERATE_DOCS}`. -->\n"
    )
    .unwrap();
    out.push_str(
        "Every time series StreamSwarm writes, with its tags and fields. The single source of \
truth is [`schema/measurements.toml`](../schema/measurements.toml) and each test kind's \
`[[measurements]]` in [`schema/kinds/`](../schema/kinds/); the agent's encoder only accepts \
the names and types listed there.\n\n\
Conventions:\n\n\
- Tags hold bounded metadata (agent, test, target, address family, device names); values \
and unbounded identifiers such as addresses and error messages are fields.\n\
- Every measurement carries the `agent` tag; test measurements also carry `test`.\n\
- Units are part of field names: `_ms`, `_s`, `_bytes`, `_per_s`, `_percent`, `_celsius`.\n\
- Fields ending in `_total` count since the agent process started and restart from zero \
with it: read them with `non_negative_difference()`. Other fields are gauges, or rates \
over the interval since the previous sample.\n\
- Line protocol types: float `1.5`, integer `3i`, unsigned `3u`, bool `true`, string \
`\"text\"`.\n\
- An optional tag or field may be absent from a point; its description says when.\n\n",
    );

    out.push_str("## Measurements\n\n");
    out.push_str("| measurement | tags | fields | written by | description |\n");
    out.push_str("|---|---|---|---|---|\n");
    for m in CATALOGUE {
        let tags: Vec<String> = m.tags.iter().map(tag_label).collect();
        writeln!(
            out,
            "| [`{name}`](#{name}) | {} | {} | {} | {} |",
            tags.join(", "),
            m.fields.len(),
            m.written_by,
            m.description,
            name = m.name,
        )
        .unwrap();
    }
    let fields: usize = CATALOGUE.iter().map(|m| m.fields.len()).sum();
    writeln!(
        out,
        "\n{} measurements, {fields} fields. A tag marked `?` is optional.\n",
        CATALOGUE.len()
    )
    .unwrap();

    for m in CATALOGUE {
        measurement(&mut out, m);
    }

    out.push_str("## Tag vocabulary\n\n");
    out.push_str("Each tag name has one meaning in every measurement that uses it.\n\n");
    out.push_str("| tag | cardinality | values | description |\n|---|---|---|---|\n");
    for t in TAGS {
        let values = if t.values.is_empty() {
            "any".to_owned()
        } else {
            t.values
                .iter()
                .map(|v| format!("`{v}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        writeln!(
            out,
            "| `{}` | {} | {values} | {} |",
            t.name, t.cardinality, t.description
        )
        .unwrap();
    }
    out
}

fn tag_label(t: &TagUse) -> String {
    let optional = if t.optional { "?" } else { "" };
    format!("`{}`{optional}", t.def.name)
}

fn presence(optional: bool) -> &'static str {
    if optional { "optional" } else { "always" }
}

fn measurement(out: &mut String, m: &MeasurementDef) {
    writeln!(out, "## `{}`\n", m.name).unwrap();
    writeln!(out, "{}\n", m.description).unwrap();
    writeln!(out, "Written by: {}.\n", m.written_by).unwrap();
    out.push_str("| tag | presence | description |\n|---|---|---|\n");
    for t in m.tags {
        writeln!(
            out,
            "| `{}` | {} | {} |",
            t.def.name,
            presence(t.optional),
            t.def.description
        )
        .unwrap();
    }
    out.push('\n');
    out.push_str("| field | type | unit | presence | description |\n|---|---|---|---|---|\n");
    for f in m.fields {
        field(out, f);
    }
    out.push('\n');
}

fn field(out: &mut String, f: &FieldDef) {
    writeln!(
        out,
        "| `{}` | {} | {} | {} | {} |",
        f.name,
        f.field_type,
        f.unit,
        presence(f.optional),
        f.description
    )
    .unwrap();
}
