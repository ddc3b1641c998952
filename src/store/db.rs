//! One SQL interface over both metadata backends.
//!
//! The store's queries are written once, in the SQL dialect both PostgreSQL and SQLite
//! accept, with `$1, $2, …` placeholders. [`Db`] runs them on either backend and returns
//! backend-neutral [`Row`]s, so the conformance suite exercises the same code paths on
//! both. SQLite work runs on blocking threads so it never stalls the async runtime.

use super::StoreError;
use super::sqlite::SqlitePool;
use bytes::BytesMut;
use std::sync::Arc;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};

/// A parameter or column value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Float(f64),
    Text(String),
    Bool(bool),
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(v.clone())
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// Builds a `Vec<Value>` from heterogeneous expressions.
#[macro_export]
macro_rules! params {
    ($($v:expr),* $(,)?) => { vec![$($crate::store::db::Value::from($v)),*] };
}

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(v) => match *ty {
                Type::INT2 => i16::try_from(*v)?.to_sql(ty, out),
                Type::INT4 => i32::try_from(*v)?.to_sql(ty, out),
                _ => v.to_sql(ty, out),
            },
            Value::Float(v) => v.to_sql(ty, out),
            Value::Text(v) => v.to_sql(ty, out),
            Value::Bool(v) => v.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// One result row: column names shared across the result set, values by position.
#[derive(Debug, Clone)]
pub struct Row {
    columns: Arc<[String]>,
    values: Vec<Value>,
}

impl Row {
    pub(super) fn new(columns: Arc<[String]>, values: Vec<Value>) -> Self {
        Row { columns, values }
    }

    fn value(&self, column: &str) -> Result<&Value, StoreError> {
        self.columns
            .iter()
            .position(|c| c == column)
            .map(|i| &self.values[i])
            .ok_or_else(|| StoreError::Decode(format!("no column {column:?} in result")))
    }

    fn mismatch(column: &str, want: &str, got: &Value) -> StoreError {
        StoreError::Decode(format!("column {column:?}: expected {want}, found {got:?}"))
    }

    pub fn i64(&self, column: &str) -> Result<i64, StoreError> {
        self.opt_i64(column)?
            .ok_or_else(|| Self::mismatch(column, "integer", &Value::Null))
    }

    pub fn opt_i64(&self, column: &str) -> Result<Option<i64>, StoreError> {
        match self.value(column)? {
            Value::Null => Ok(None),
            Value::Int(v) => Ok(Some(*v)),
            other => Err(Self::mismatch(column, "integer", other)),
        }
    }

    /// A floating-point column (`DOUBLE PRECISION`); an integer SQLite kept as one reads
    /// as its value.
    pub fn opt_f64(&self, column: &str) -> Result<Option<f64>, StoreError> {
        match self.value(column)? {
            Value::Null => Ok(None),
            Value::Float(v) => Ok(Some(*v)),
            Value::Int(v) => Ok(Some(*v as f64)),
            other => Err(Self::mismatch(column, "number", other)),
        }
    }

    pub fn text(&self, column: &str) -> Result<String, StoreError> {
        self.opt_text(column)?
            .ok_or_else(|| Self::mismatch(column, "text", &Value::Null))
    }

    pub fn opt_text(&self, column: &str) -> Result<Option<String>, StoreError> {
        match self.value(column)? {
            Value::Null => Ok(None),
            Value::Text(v) => Ok(Some(v.clone())),
            other => Err(Self::mismatch(column, "text", other)),
        }
    }

    /// Booleans are `BOOLEAN` in PostgreSQL and 0/1 integers in SQLite.
    pub fn bool(&self, column: &str) -> Result<bool, StoreError> {
        match self.value(column)? {
            Value::Bool(v) => Ok(*v),
            Value::Int(v) => Ok(*v != 0),
            other => Err(Self::mismatch(column, "boolean", other)),
        }
    }

    /// A column parsed with `FromStr` (roles, kinds…); a bad value is a decode error.
    pub fn parse<T: std::str::FromStr>(&self, column: &str) -> Result<T, StoreError>
    where
        T::Err: std::fmt::Display,
    {
        let s = self.text(column)?;
        s.parse()
            .map_err(|e| StoreError::Decode(format!("column {column:?}: {e}")))
    }
}

/// Connection-pool gauges for `/metrics`.
#[derive(Debug, Clone, Copy)]
pub struct PoolStatus {
    pub size: usize,
    pub available: usize,
    pub max_size: usize,
}

#[derive(Clone)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(deadpool_postgres::Pool),
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.backend())
    }
}

impl Db {
    pub fn backend(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    pub async fn query(&self, sql: &str, params: Vec<Value>) -> Result<Vec<Row>, StoreError> {
        match self {
            Db::Sqlite(pool) => pool.query(sql, params).await,
            Db::Postgres(pool) => {
                let client = pool.get().await?;
                let stmt = client.prepare_cached(sql).await?;
                let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as _).collect();
                let rows = client.query(&stmt, &refs).await?;
                let columns: Arc<[String]> =
                    stmt.columns().iter().map(|c| c.name().to_owned()).collect();
                rows.iter().map(|r| pg_row(r, &columns)).collect()
            }
        }
    }

    pub async fn query_opt(
        &self,
        sql: &str,
        params: Vec<Value>,
    ) -> Result<Option<Row>, StoreError> {
        Ok(self.query(sql, params).await?.into_iter().next())
    }

    pub async fn query_one(&self, sql: &str, params: Vec<Value>) -> Result<Row, StoreError> {
        self.query_opt(sql, params)
            .await?
            .ok_or(StoreError::NotFound)
    }

    /// Runs a statement and returns the number of rows it changed.
    pub async fn execute(&self, sql: &str, params: Vec<Value>) -> Result<u64, StoreError> {
        match self {
            Db::Sqlite(pool) => pool.execute(sql, params).await,
            Db::Postgres(pool) => {
                let client = pool.get().await?;
                let stmt = client.prepare_cached(sql).await?;
                let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as _).collect();
                Ok(client.execute(&stmt, &refs).await?)
            }
        }
    }

    /// Runs statements in one transaction: all of them take effect or none does.
    pub async fn execute_all(
        &self,
        statements: Vec<(String, Vec<Value>)>,
    ) -> Result<(), StoreError> {
        self.execute_all_counted(statements).await.map(drop)
    }

    /// [`Db::execute_all`], returning the number of rows each statement changed.
    pub async fn execute_all_counted(
        &self,
        statements: Vec<(String, Vec<Value>)>,
    ) -> Result<Vec<u64>, StoreError> {
        match self {
            Db::Sqlite(pool) => {
                pool.with_conn(move |conn| {
                    let tx =
                        conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                    let mut counts = Vec::with_capacity(statements.len());
                    for (sql, params) in &statements {
                        let mut stmt = tx.prepare_cached(&super::sqlite::positional(sql))?;
                        counts.push(stmt.execute(rusqlite::params_from_iter(
                            params.iter().map(super::sqlite::to_sqlite),
                        ))? as u64);
                    }
                    tx.commit()?;
                    Ok(counts)
                })
                .await
            }
            Db::Postgres(pool) => {
                let mut client = pool.get().await?;
                let tx = client.transaction().await?;
                let mut counts = Vec::with_capacity(statements.len());
                for (sql, params) in &statements {
                    let stmt = tx.prepare_cached(sql).await?;
                    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as _).collect();
                    counts.push(tx.execute(&stmt, &refs).await?);
                }
                tx.commit().await?;
                Ok(counts)
            }
        }
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        self.query("SELECT 1 AS one", vec![]).await.map(|_| ())
    }

    pub fn pool_status(&self) -> PoolStatus {
        match self {
            Db::Sqlite(pool) => pool.status(),
            Db::Postgres(pool) => {
                let s = pool.status();
                PoolStatus {
                    size: s.size,
                    available: s.available,
                    max_size: s.max_size,
                }
            }
        }
    }

    pub fn close(&self) {
        match self {
            Db::Sqlite(pool) => pool.close(),
            Db::Postgres(pool) => pool.close(),
        }
    }
}

fn pg_row(row: &tokio_postgres::Row, columns: &Arc<[String]>) -> Result<Row, StoreError> {
    let mut values = Vec::with_capacity(columns.len());
    for (i, col) in row.columns().iter().enumerate() {
        let v = match *col.type_() {
            Type::INT8 => row.try_get::<_, Option<i64>>(i)?.map(Value::Int),
            Type::INT4 => row
                .try_get::<_, Option<i32>>(i)?
                .map(|v| Value::Int(v.into())),
            Type::INT2 => row
                .try_get::<_, Option<i16>>(i)?
                .map(|v| Value::Int(v.into())),
            Type::BOOL => row.try_get::<_, Option<bool>>(i)?.map(Value::Bool),
            Type::FLOAT8 => row.try_get::<_, Option<f64>>(i)?.map(Value::Float),
            Type::FLOAT4 => row
                .try_get::<_, Option<f32>>(i)?
                .map(|v| Value::Float(v.into())),
            Type::TEXT | Type::VARCHAR | Type::NAME | Type::BPCHAR => {
                row.try_get::<_, Option<String>>(i)?.map(Value::Text)
            }
            ref other => {
                return Err(StoreError::Decode(format!(
                    "unsupported column type {other} for {}",
                    col.name()
                )));
            }
        };
        values.push(v.unwrap_or(Value::Null));
    }
    Ok(Row::new(columns.clone(), values))
}
