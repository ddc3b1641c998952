//! `streamswarm up`: the zero-setup path.

use crate::admin::{self, Actor};
use crate::config::Config;
use clap::Args;
use rand::Rng;
use secrecy::{ExposeSecret, SecretString};
use std::net::SocketAddr;
use std::path::PathBuf;
use streamswarm_schema::Role;

#[derive(Args)]
pub struct UpArgs {
    /// Where the embedded stores live; created if missing, reused on the next run.
    #[arg(long, default_value = "./data")]
    pub data_dir: PathBuf,
    /// Address and port to listen on.
    #[arg(long, default_value = "127.0.0.1:5000")]
    pub bind: SocketAddr,
}

pub async fn run(mut config: Config, args: &UpArgs) -> anyhow::Result<()> {
    config.server.bind = args.bind;
    // Before anything is printed: a signal sent as soon as the URL appears stops cleanly.
    let shutdown = crate::app::shutdown_signal();
    let app = crate::Application::build(config).await?;
    let store = app.state().store.clone();
    let first_admin = if store.count_users().await? == 0 {
        let password = random_password();
        admin::users::create(
            &store,
            &Actor::system(),
            "admin",
            password.clone(),
            Role::Admin,
        )
        .await?;
        Some(password)
    } else {
        None
    };
    println!("StreamSwarm is running at {}", app.url());
    println!("Data directory: {}", args.data_dir.display());
    if let Some(pw) = first_admin {
        println!();
        println!("First run: created administrator");
        println!("  username: admin");
        println!("  password: {}", pw.expose_secret());
        println!("This password is shown only once. Change it after signing in.");
    }
    println!("Press Ctrl-C to stop.");
    app.run_until_stopped(shutdown).await;
    Ok(())
}

/// 20 characters from a 62-letter alphabet: ~119 bits.
fn random_password() -> SecretString {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut rng = rand::rng();
    SecretString::from(
        (0..20)
            .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
            .collect::<String>(),
    )
}
