use super::fmt_time;
use crate::admin::tokens::TokenRequest;
use crate::admin::{self, Actor};
use crate::store::Store;
use crate::store::tokens::TokenKind;
use clap::Subcommand;
use secrecy::ExposeSecret;
use streamswarm_schema::Role;

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it once.
    Create {
        /// enrol (lets agents enrol) or api (automation access to /api/v1).
        #[arg(long, value_parser = parse_kind)]
        kind: TokenKind,
        #[arg(long)]
        name: String,
        /// Role an API token acts with (default viewer).
        #[arg(long)]
        role: Option<Role>,
        /// Lifetime, e.g. 30d, 12h, 90m. Never expires when absent.
        #[arg(long, value_parser = humantime::parse_duration)]
        expires: Option<std::time::Duration>,
        /// Number of uses allowed. Unlimited when absent.
        #[arg(long)]
        uses: Option<i64>,
    },
    /// List tokens (never their secrets).
    List,
    /// Revoke a token by id.
    Revoke { id: i64 },
}

fn parse_kind(s: &str) -> Result<TokenKind, String> {
    match s.parse::<TokenKind>()? {
        TokenKind::Agent => {
            Err("agent credentials are issued by enrolment; use enrol or api".into())
        }
        k => Ok(k),
    }
}

pub async fn run(store: &Store, cmd: &TokenCommand) -> anyhow::Result<()> {
    let actor = Actor::cli();
    match cmd {
        TokenCommand::Create {
            kind,
            name,
            role,
            expires,
            uses,
        } => {
            let created = admin::tokens::create(
                store,
                &actor,
                TokenRequest {
                    kind: *kind,
                    name: name.clone(),
                    role: *role,
                    expires_in: *expires,
                    uses: *uses,
                },
            )
            .await?;
            println!("{}", created.secret.expose_secret());
            eprintln!(
                "created {} token {} (id {}, expires {}). Store it now: it will not be shown again.",
                created.info.kind.as_str(),
                created.info.name,
                created.info.id,
                fmt_time(created.info.expires_at)
            );
        }
        TokenCommand::List => {
            let now = store.clock().now_ms();
            println!(
                "{:<5} {:<6} {:<20} {:<13} {:<9} {:<8} {:<6} {:<25} {:<25} CREATED BY",
                "ID", "KIND", "NAME", "PREFIX", "ROLE", "STATE", "USES", "EXPIRES", "LAST USED"
            );
            for t in store.list_tokens(None).await? {
                let state = if t.revoked_at.is_some() {
                    "revoked"
                } else if t.is_active(now) {
                    "active"
                } else {
                    "expired"
                };
                println!(
                    "{:<5} {:<6} {:<20} {:<13} {:<9} {:<8} {:<6} {:<25} {:<25} {}",
                    t.id,
                    t.kind.as_str(),
                    t.name,
                    t.prefix,
                    t.role.map(|r| r.as_str()).unwrap_or("-"),
                    state,
                    t.uses_remaining
                        .map(|n| n.to_string())
                        .unwrap_or_else(|| "∞".into()),
                    fmt_time(t.expires_at),
                    fmt_time(t.last_used_at),
                    t.created_by_name
                );
            }
        }
        TokenCommand::Revoke { id } => {
            let t = admin::tokens::revoke(store, &actor, *id).await?;
            println!("revoked token {} ({})", t.id, t.name);
        }
    }
    Ok(())
}
