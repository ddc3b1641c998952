//! `docs/metrics.md` must be exactly what the schema renders, so the human reference
//! never disagrees with what agents write. `UPDATE_DOCS=1` rewrites it instead of failing.

use streamswarm_schema::measurements::{REGENERATE_DOCS, markdown};

#[test]
fn docs_metrics_md_is_generated_from_the_schema() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/metrics.md");
    let expected = markdown();
    if std::env::var_os("UPDATE_DOCS").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs")).unwrap();
        std::fs::write(path, &expected).unwrap();
        return;
    }
    let actual = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        actual == expected,
        "docs/metrics.md is stale (or missing): it must be generated from \
         schema/measurements.toml. Regenerate it with:\n\n    {REGENERATE_DOCS}\n"
    );
}
