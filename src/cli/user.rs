use super::{fmt_time, read_new_password};
use crate::admin::{self, Actor};
use crate::store::Store;
use clap::Subcommand;
use streamswarm_schema::Role;

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create a user.
    Add {
        name: String,
        /// admin, operator or viewer.
        #[arg(long)]
        role: Role,
        /// Read the password from standard input instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users.
    List,
    /// Set a user's password (ends their sessions).
    Passwd {
        name: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Disable a user (ends their sessions; they cannot log in).
    Disable { name: String },
    /// Re-enable a disabled user.
    Enable { name: String },
}

pub async fn run(store: &Store, cmd: &UserCommand) -> anyhow::Result<()> {
    let actor = Actor::cli();
    match cmd {
        UserCommand::Add {
            name,
            role,
            password_stdin,
        } => {
            let password = read_new_password(*password_stdin)?;
            let user = admin::users::create(store, &actor, name, password, *role).await?;
            println!(
                "created user {} ({}) with id {}",
                user.username, user.role, user.id
            );
        }
        UserCommand::List => {
            println!(
                "{:<6} {:<24} {:<9} {:<9} {:<25}",
                "ID", "USERNAME", "ROLE", "STATE", "LAST LOGIN"
            );
            for u in store.list_users().await? {
                let state = if u.disabled { "disabled" } else { "active" };
                println!(
                    "{:<6} {:<24} {:<9} {:<9} {:<25}",
                    u.id,
                    u.username,
                    u.role,
                    state,
                    fmt_time(u.last_login_at)
                );
            }
        }
        UserCommand::Passwd {
            name,
            password_stdin,
        } => {
            let user = admin::users::find(store, name).await?;
            let password = read_new_password(*password_stdin)?;
            admin::users::set_password(store, &actor, &user, password, None).await?;
            println!("password changed for {}", user.username);
        }
        UserCommand::Disable { name } | UserCommand::Enable { name } => {
            let disable = matches!(cmd, UserCommand::Disable { .. });
            let user = admin::users::find(store, name).await?;
            admin::users::update(store, &actor, &user, None, Some(disable)).await?;
            println!(
                "{} {}",
                if disable { "disabled" } else { "enabled" },
                user.username
            );
        }
    }
    Ok(())
}
