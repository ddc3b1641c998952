//! Applies the versioned migrations in `schema/migrations/` and records them in
//! `schema_migrations`.
//!
//! Safe to run twice and from several replicas at once (PostgreSQL takes an advisory
//! lock; SQLite a write transaction). Refuses a database whose schema is newer than this
//! binary, and a database where an applied migration's text has changed.

use super::StoreError;
use super::db::Db;
use sha2::{Digest, Sha256};
use streamswarm_schema::migrations::{self, Migration};

/// Versions applied by this call.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Applied(pub Vec<i64>);

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version BIGINT PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at BIGINT NOT NULL)";

/// An arbitrary constant naming StreamSwarm's migration lock.
const PG_LOCK_KEY: i64 = 0x5354_5245_414d;

fn checksum(m: &Migration) -> String {
    hex::encode(Sha256::digest(m.sql.as_bytes()))
}

/// What to apply given what the database has recorded.
fn plan<'a>(
    recorded: &[(i64, String)],
    known: &'a [Migration],
) -> Result<Vec<&'a Migration>, StoreError> {
    let binary = known.last().map_or(0, |m| m.version);
    if let Some(newest) = recorded.iter().map(|(v, _)| *v).max()
        && newest > binary
    {
        return Err(StoreError::SchemaTooNew {
            database: newest,
            binary,
        });
    }
    for (version, sum) in recorded {
        let m = known
            .iter()
            .find(|m| m.version == *version)
            .ok_or(StoreError::MigrationChanged { version: *version })?;
        if checksum(m) != *sum {
            return Err(StoreError::MigrationChanged { version: *version });
        }
    }
    Ok(known
        .iter()
        .filter(|m| !recorded.iter().any(|(v, _)| *v == m.version))
        .collect())
}

pub async fn run(db: &Db) -> Result<Applied, StoreError> {
    let now = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
    match db {
        Db::Sqlite(pool) => {
            pool.with_conn(move |conn| {
                conn.execute_batch(CREATE_TABLE)?;
                let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                let recorded = {
                    let mut stmt = tx.prepare("SELECT version, checksum FROM schema_migrations")?;
                    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<Vec<_>, _>>()?
                };
                let mut applied = Vec::new();
                for m in plan(&recorded, migrations::SQLITE)? {
                    tx.execute_batch(m.sql)?;
                    tx.execute(
                        "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?1, ?2, ?3, ?4)",
                        rusqlite::params![m.version, m.name, checksum(m), now],
                    )?;
                    applied.push(m.version);
                }
                tx.commit()?;
                Ok(Applied(applied))
            })
            .await
        }
        Db::Postgres(pool) => {
            let mut client = pool.get().await?;
            // Lock first: concurrent `CREATE TABLE IF NOT EXISTS` can fail on PostgreSQL
            // (a unique violation in pg_type) when two replicas start at once.
            client.execute("SELECT pg_advisory_lock($1)", &[&PG_LOCK_KEY]).await?;
            let result = async {
                client.batch_execute(CREATE_TABLE).await?;
                let recorded: Vec<(i64, String)> = client
                    .query("SELECT version, checksum FROM schema_migrations", &[])
                    .await?
                    .iter()
                    .map(|r| (r.get(0), r.get(1)))
                    .collect();
                let mut applied = Vec::new();
                for m in plan(&recorded, migrations::POSTGRES)? {
                    let tx = client.transaction().await?;
                    tx.batch_execute(m.sql).await?;
                    tx.execute(
                        "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)",
                        &[&m.version, &m.name, &checksum(m), &now],
                    )
                    .await?;
                    tx.commit().await?;
                    applied.push(m.version);
                }
                Ok::<_, StoreError>(Applied(applied))
            }
            .await;
            client.execute("SELECT pg_advisory_unlock($1)", &[&PG_LOCK_KEY]).await?;
            result
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_refuses_newer_and_edited_schemas() {
        let known = migrations::SQLITE;
        assert_eq!(plan(&[], known).unwrap().len(), known.len());
        let all: Vec<_> = known.iter().map(|m| (m.version, checksum(m))).collect();
        assert!(plan(&all, known).unwrap().is_empty());
        let mut newer = all.clone();
        newer.push((known.len() as i64 + 1, "x".into()));
        assert!(matches!(
            plan(&newer, known),
            Err(StoreError::SchemaTooNew { .. })
        ));
        let edited = vec![(1, "0000".to_string())];
        assert!(matches!(
            plan(&edited, known),
            Err(StoreError::MigrationChanged { version: 1 })
        ));
    }
}
