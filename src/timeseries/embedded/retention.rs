//! Retention: raw points older than `raw_retention_days`, 1-minute rollups older than
//! `rollup_1m_retention_days` and 1-hour rollups older than `rollup_1h_retention_days`
//! (runtime settings) are deleted by the background task.
//!
//! Deletion walks one field of one series at a time along the primary key (an index
//! range, never a table scan) and deletes at most `batch` rows per statement, each its
//! own transaction, so a writer waits for one small delete at most.

use crate::store::StoreError;
use rusqlite::{OptionalExtension, params};

/// The tables retention trims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Raw,
    Minute,
    Hour,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Raw => "points",
            Table::Minute => "rollup_1m",
            Table::Hour => "rollup_1h",
        }
    }

    fn time(self) -> &'static str {
        match self {
            Table::Raw => "time",
            Table::Minute | Table::Hour => "bucket",
        }
    }
}

/// Deletes up to `batch` rows older than `cutoff_ns` of each `(series, field)` pair in
/// `pairs`; returns how many rows went and whether some pair has more to delete.
pub fn trim(
    conn: &rusqlite::Connection,
    table: Table,
    pairs: &[(i64, i64)],
    cutoff_ns: i64,
    batch: usize,
) -> Result<(u64, bool), StoreError> {
    let (name, time) = (table.name(), table.time());
    let mut boundary = conn.prepare_cached(&format!(
        "SELECT {time} FROM {name} WHERE series_id = ?1 AND field_id = ?2 AND {time} < ?3
         ORDER BY {time} LIMIT 1 OFFSET ?4"
    ))?;
    let mut delete = conn.prepare_cached(&format!(
        "DELETE FROM {name} WHERE series_id = ?1 AND field_id = ?2 AND {time} < ?3"
    ))?;
    let mut deleted = 0;
    let mut more = false;
    for &(series, field) in pairs {
        // The time `batch` rows in: delete strictly before it, or everything old.
        let until: Option<i64> = boundary
            .query_row(params![series, field, cutoff_ns, batch as i64], |r| {
                r.get(0)
            })
            .optional()?;
        more |= until.is_some();
        deleted += delete.execute(params![series, field, until.unwrap_or(cutoff_ns)])? as u64;
    }
    Ok((deleted, more))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_in_batches_and_only_old_rows() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(super::super::storage::SCHEMA).unwrap();
        for t in 0..25 {
            for series in [1, 2] {
                conn.execute(
                    "INSERT INTO points VALUES (?1, 1, ?2, 1.0)",
                    params![series, t],
                )
                .unwrap();
            }
        }
        let pairs = [(1, 1), (2, 1), (3, 1)];
        assert_eq!(trim(&conn, Table::Raw, &pairs, 20, 8).unwrap(), (16, true));
        assert_eq!(trim(&conn, Table::Raw, &pairs, 20, 8).unwrap(), (16, true));
        assert_eq!(trim(&conn, Table::Raw, &pairs, 20, 8).unwrap(), (8, false));
        assert_eq!(trim(&conn, Table::Raw, &pairs, 20, 8).unwrap(), (0, false));
        let left: i64 = conn
            .query_row("SELECT count(*) FROM points WHERE time >= 20", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(left, 10);
        let total: i64 = conn
            .query_row("SELECT count(*) FROM points", [], |r| r.get(0))
            .unwrap();
        assert_eq!(total, 10);
    }
}
