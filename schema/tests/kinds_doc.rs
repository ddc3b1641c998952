//! `docs/test-kinds.md` must be exactly what the kind catalogue renders, so the reference
//! never disagrees with what the server accepts. `UPDATE_DOCS=1` rewrites it instead.

use streamswarm_schema::kinds::{REGENERATE_KINDS_DOC, markdown};

#[test]
fn docs_test_kinds_md_is_generated_from_the_kind_files() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/test-kinds.md");
    let expected = markdown();
    if std::env::var_os("UPDATE_DOCS").is_some_and(|v| v == "1") {
        std::fs::write(path, &expected).unwrap();
        return;
    }
    let actual = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        actual == expected,
        "docs/test-kinds.md is stale (or missing): it must be generated from \
         schema/kinds/*.toml. Regenerate it with:\n\n    {REGENERATE_KINDS_DOC}\n"
    );
}
