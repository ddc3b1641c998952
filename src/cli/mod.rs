//! The `streamswarm` command line.

mod token;
mod up;
mod user;

use crate::config::{Config, LogFormat};
use crate::store::Store;
use clap::{Parser, Subcommand};
use secrecy::SecretString;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "streamswarm",
    version,
    about = "StreamSwarm network-monitoring server"
)]
struct Cli {
    /// TOML configuration file (see streamswarm.example.toml). Environment variables
    /// STREAMSWARM__SECTION__KEY override it.
    #[arg(long, global = true, value_name = "PATH", env = "STREAMSWARM_CONFIG")]
    config: Option<PathBuf>,
    /// Use the embedded stores in this directory (sets database.url to
    /// sqlite://DIR/streamswarm.db and timeseries.embedded_path to DIR/timeseries.db).
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Zero-setup server: embedded store under --data-dir (default ./data), first admin
    /// created on first run.
    Up(up::UpArgs),
    /// Production server: everything from configuration.
    Serve,
    /// The analytics process on its own (with `[influx]`; the embedded store runs it in
    /// the server): forecasts, anomalies and insights. Several may run against one
    /// database; one analyses at a time (a lease), the others stand by.
    Analytics,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage users.
    #[command(subcommand)]
    User(user::UserCommand),
    /// Manage enrolment and API tokens.
    #[command(subcommand)]
    Token(token::TokenCommand),
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            if e.downcast_ref::<ConfigError>().is_some() {
                ExitCode::from(EX_CONFIG)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// Exit status of a configuration error (sysexits' `EX_CONFIG`), as the agent's: the
/// configuration must change, so the systemd unit and the container entrypoint do not
/// start the server again as they would after other failures.
pub const EX_CONFIG: u8 = 78;

/// The configuration cannot be loaded or does not fit the command.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct ConfigError(String);

fn sqlite_url(dir: &std::path::Path) -> SecretString {
    SecretString::from(format!("sqlite://{}", dir.join("streamswarm.db").display()))
}

fn load_config(cli: &Cli, default_data_dir: Option<&std::path::Path>) -> anyhow::Result<Config> {
    let mut config = Config::load(cli.config.as_deref()).map_err(ConfigError)?;
    if let Some(dir) = cli.data_dir.as_deref().or(default_data_dir) {
        config.database.url = sqlite_url(dir);
        config.timeseries.embedded_path = dir.join("timeseries.db");
    }
    Ok(config)
}

fn init_logging(config: &Config) {
    // Validated at load; third-party crates stay at info unless raised by name.
    let filter = config
        .log
        .filter()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only on a terminal, not in journald or log files.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let _ = match config.log.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

async fn open_store(config: &Config) -> anyhow::Result<Store> {
    Ok(Store::connect(&config.database_location(), 2, crate::clock::Clock::System).await?)
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Up(args) => {
            let data_dir = args.data_dir.clone();
            let config = load_config(&cli, Some(&data_dir))?;
            init_logging(&config);
            up::run(config, args).await
        }
        Command::Serve => {
            let config = load_config(&cli, None)?;
            init_logging(&config);
            let shutdown = crate::app::shutdown_signal();
            let app = crate::Application::build(config).await?;
            eprintln!("StreamSwarm listening on {}", app.url());
            app.run_until_stopped(shutdown).await;
            Ok(())
        }
        Command::Analytics => {
            let config = load_config(&cli, None)?;
            init_logging(&config);
            if config.influx.0.is_none() {
                return Err(ConfigError(
                    "`streamswarm analytics` reads and writes InfluxDB ([influx] url); the \
                     embedded time-series store belongs to the server process, so there set \
                     [analytics] in_server = true (`streamswarm up` does it by default)"
                        .into(),
                )
                .into());
            }
            let store = open_store(&config).await?;
            let timeseries = crate::timeseries::TimeSeries::open(&config).await?;
            let process = crate::analytics::process::Analytics::new(
                store.clone(),
                timeseries,
                config.analytics.clone(),
            );
            eprintln!("StreamSwarm analytics running as {}", process.holder());
            process.run(crate::app::shutdown_signal()).await;
            store.close();
            Ok(())
        }
        Command::Migrate => {
            let config = load_config(&cli, None)?;
            init_logging(&config);
            let store = crate::store::Store::open(
                &config.database_location(),
                1,
                crate::clock::Clock::System,
            )?;
            let applied = crate::store::migrate::run(&store.db).await?;
            match applied.0.as_slice() {
                [] => println!("database schema is up to date"),
                v => println!("applied migrations {v:?}"),
            }
            Ok(())
        }
        Command::User(cmd) => {
            let config = load_config(&cli, None)?;
            user::run(&open_store(&config).await?, cmd).await
        }
        Command::Token(cmd) => {
            let config = load_config(&cli, None)?;
            token::run(&open_store(&config).await?, cmd).await
        }
    }
}

/// Reads a new password from standard input (`--password-stdin`) or an interactive
/// prompt, asked twice.
fn read_new_password(from_stdin: bool) -> anyhow::Result<SecretString> {
    use std::io::{BufRead, IsTerminal};
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        return Ok(SecretString::from(
            line.trim_end_matches(['\r', '\n']).to_owned(),
        ));
    }
    if !std::io::stdin().is_terminal() {
        anyhow::bail!(
            "no terminal to ask for a password; pass it on standard input with --password-stdin"
        );
    }
    let first = rpassword::prompt_password("New password: ")?;
    let second = rpassword::prompt_password("Repeat password: ")?;
    if first != second {
        anyhow::bail!("the passwords do not match");
    }
    Ok(SecretString::from(first))
}

fn fmt_time(t: Option<crate::clock::Timestamp>) -> String {
    t.map(|t| t.rfc3339()).unwrap_or_else(|| "-".into())
}
