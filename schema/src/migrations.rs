//! Versioned metadata-store migrations, one SQL file per version and backend.
//!
//! Both backends carry the same versions with the same meaning; the SQL differs only in
//! types (PostgreSQL `BIGINT GENERATED … AS IDENTITY`/`BOOLEAN` vs SQLite `INTEGER`).
//! Times are stored as Unix milliseconds (`BIGINT`) in both so the store code is shared.

/// One migration: its version (strictly increasing from 1), a short name and its SQL.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

macro_rules! migrations {
    ($dir:literal: $(($v:literal, $name:literal, $file:literal)),* $(,)?) => {
        &[$(Migration {
            version: $v,
            name: $name,
            sql: include_str!(concat!("../migrations/", $dir, "/", $file)),
        }),*]
    };
}

pub const POSTGRES: &[Migration] = migrations!("postgres":
    (1, "init", "0001_init.sql"),
    (2, "token_creators", "0002_token_creators.sql"),
    (3, "paths", "0003_paths.sql"),
    (4, "insights", "0004_insights.sql"),
);
pub const SQLITE: &[Migration] = migrations!("sqlite":
    (1, "init", "0001_init.sql"),
    (2, "token_creators", "0002_token_creators.sql"),
    (3, "paths", "0003_paths.sql"),
    (4, "insights", "0004_insights.sql"),
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_backends_have_the_same_versions_in_order() {
        let pg: Vec<_> = POSTGRES.iter().map(|m| (m.version, m.name)).collect();
        let lite: Vec<_> = SQLITE.iter().map(|m| (m.version, m.name)).collect();
        assert_eq!(pg, lite);
        for (i, m) in POSTGRES.iter().enumerate() {
            assert_eq!(m.version, i as i64 + 1, "versions must be 1, 2, 3, …");
        }
    }

    #[test]
    fn every_migration_file_is_listed() {
        for dir in ["postgres", "sqlite"] {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/");
            let listed = if dir == "postgres" { POSTGRES } else { SQLITE };
            let files = std::fs::read_dir(format!("{path}{dir}")).unwrap().count();
            assert_eq!(
                files,
                listed.len(),
                "a file in migrations/{dir} is not listed in migrations.rs"
            );
        }
    }
}
