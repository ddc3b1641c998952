//! Administrative operations shared by the CLI and the JSON API: each validates its
//! input, changes the store and writes the audit row, so both front ends behave alike.

pub mod tokens;
pub mod users;

/// Who performs an operation, as the audit log names them.
#[derive(Debug, Clone)]
pub struct Actor {
    pub name: String,
    pub user_id: Option<i64>,
    pub source_ip: Option<String>,
}

impl Actor {
    pub fn cli() -> Self {
        Actor {
            name: "cli".into(),
            user_id: None,
            source_ip: None,
        }
    }

    pub fn system() -> Self {
        Actor {
            name: "system".into(),
            user_id: None,
            source_ip: None,
        }
    }
}
