//! `docs/test-kinds.md`, the reference of every test kind, rendered from the catalogue.
//! A test compares the checked-in file with this output, so it cannot drift from
//! `schema/kinds/*.toml`.

use super::{KindDef, ParamDef, ParamType, TargetSyntax, all};
use std::fmt::Write as _;

/// The command that rewrites `docs/test-kinds.md`; printed by the test when it is stale.
pub const REGENERATE_KINDS_DOC: &str =
    "UPDATE_DOCS=1 cargo test -p streamswarm-schema --test kinds_doc";

fn target(t: TargetSyntax) -> &'static str {
    match t {
        TargetSyntax::None => "none (leave empty: the agent measures itself)",
        TargetSyntax::Host => "a host name or IP address",
        TargetSyntax::HostPort => "`host:port` (IPv6 as `[addr]:port`)",
        TargetSyntax::DnsName => "a DNS name (an IP address for PTR queries)",
        TargetSyntax::Url => "an `http://` or `https://` URL",
    }
}

fn type_name(p: &ParamDef) -> String {
    let scalar = |t: ParamType| match t {
        ParamType::U8 => "integer (u8)",
        ParamType::U16 => "integer (u16)",
        ParamType::U32 => "integer (u32)",
        ParamType::Bool => "bool",
        ParamType::String => "string",
        ParamType::Enum => "one of",
        ParamType::List => "list",
    };
    let mut s = match (p.param_type, p.items) {
        (ParamType::List, Some(items)) => format!("list of {}", scalar(items)),
        (ParamType::Enum, _) => {
            let values: Vec<String> = p.values.iter().map(|v| format!("`{v}`")).collect();
            format!("one of {}", values.join(", "))
        }
        (t, _) => scalar(t).to_owned(),
    };
    if let Some(f) = p.format {
        write!(s, ", format `{}`", format!("{f:?}").to_lowercase()).unwrap();
    }
    s
}

fn limits(p: &ParamDef) -> String {
    let mut parts = Vec::new();
    match (p.min, p.max) {
        (Some(lo), Some(hi)) => parts.push(format!("{lo}–{hi}")),
        (Some(lo), None) => parts.push(format!("≥ {lo}")),
        (None, Some(hi)) => parts.push(format!("≤ {hi}")),
        (None, None) => {}
    }
    if let Some(n) = p.max_items {
        parts.push(format!("≤ {n} items"));
    }
    if let Some(n) = p.max_len {
        parts.push(format!("≤ {n} characters"));
    }
    parts.join(", ")
}

fn kind_section(out: &mut String, k: &KindDef) {
    writeln!(out, "## `{}` — {}\n", k.kind, k.label).unwrap();
    writeln!(out, "{}\n", k.description).unwrap();
    writeln!(out, "- Target: {}.", target(k.target)).unwrap();
    let measurements: Vec<String> = k
        .measurements
        .iter()
        .map(|m| format!("[`{m}`](metrics.md#{m})"))
        .collect();
    if !measurements.is_empty() {
        writeln!(out, "- Writes: {}.", measurements.join(", ")).unwrap();
    }
    writeln!(
        out,
        "- Declared in [`schema/kinds/{0}.toml`](../schema/kinds/{0}.toml).\n",
        k.kind
    )
    .unwrap();
    if k.params.is_empty() {
        out.push_str("No parameters.\n\n");
    } else {
        out.push_str("| parameter | type | default | limits | description |\n");
        out.push_str("|---|---|---|---|---|\n");
        for p in k.params {
            let default = if p.optional {
                "absent".to_owned()
            } else {
                format!("`{}`", p.default)
            };
            writeln!(
                out,
                "| `{}` | {} | {default} | {} | {} |",
                p.name,
                type_name(p),
                limits(p),
                p.description
            )
            .unwrap();
        }
        out.push('\n');
    }
    if !k.charts.is_empty() {
        out.push_str("Charts: ");
        let charts: Vec<String> = k
            .charts
            .iter()
            .map(|c| {
                let fields: Vec<String> = c
                    .fields
                    .iter()
                    .map(|f| format!("{}(`{}`)", f.aggregate, f.field))
                    .collect();
                format!(
                    "{} ({}, {} of `{}`)",
                    c.title,
                    c.style,
                    fields.join(", "),
                    c.measurement
                )
            })
            .collect();
        out.push_str(&charts.join("; "));
        out.push_str(".\n\n");
    }
}

/// Renders the test-kind reference (the content of `docs/test-kinds.md`).
pub fn markdown() -> String {
    let mut out = String::from("# Test kinds\n\n");
    writeln!(
        out,
        "<!-- Generated from schema/kinds/*.toml by streamswarm_schema::kinds::markdown().\n     Do not edit: change the kind files, then run `{REGENERATE_KINDS_DOC}`. -->\n"
    )
    .unwrap();
    out.push_str(
        "Every kind of test an agent runs, with its target, its parameters (the `params` \
object of `POST /api/v1/tests`; unknown keys are refused, absent keys take their default) \
and the charts that show its results. How to add a kind: \
[`schema/kinds/README.md`](../schema/kinds/README.md).\n\n",
    );
    for k in all() {
        kind_section(&mut out, k);
    }
    out
}
