//! PostgreSQL connection pool (deadpool-postgres over tokio-postgres).

use super::StoreError;
use secrecy::{ExposeSecret, SecretString};

pub fn pool(url: &SecretString, max_size: usize) -> Result<deadpool_postgres::Pool, StoreError> {
    let config: tokio_postgres::Config = url.expose_secret().parse().map_err(|e| {
        StoreError::Open(format!("database.url is not a valid PostgreSQL URL: {e}"))
    })?;
    let manager = deadpool_postgres::Manager::from_config(
        config,
        tokio_postgres::NoTls,
        deadpool_postgres::ManagerConfig {
            recycling_method: deadpool_postgres::RecyclingMethod::Fast,
        },
    );
    deadpool_postgres::Pool::builder(manager)
        .max_size(max_size.max(1))
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .wait_timeout(Some(std::time::Duration::from_secs(10)))
        .create_timeout(Some(std::time::Duration::from_secs(10)))
        .build()
        .map_err(|e| StoreError::Open(format!("cannot build the PostgreSQL pool: {e}")))
}
