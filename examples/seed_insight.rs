//! Opens (or updates) one analytics insight in a StreamSwarm metadata store through the
//! store's own API (`Store::upsert_insight`) and prints `{"id": …, "created": …}`; with
//! `--resolve <fingerprint>` resolves the open insight of that fingerprint instead. In
//! production the analytics process writes insights; the browser tests
//! (`tests/browser/run.sh`, `specs/insights.test.mjs`) seed them with this while the
//! server runs.
//!
//! ```text
//! seed_insight sqlite:///tmp/data/streamswarm.db < insight.json    # a NewInsight as JSON
//! seed_insight sqlite:///tmp/data/streamswarm.db --resolve 'latency|…'
//! ```

use secrecy::SecretString;
use std::io::Read;
use streamswarm::clock::Clock;
use streamswarm::store::insights::NewInsight;
use streamswarm::store::{DatabaseLocation, Store};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (url, resolve) = match args.as_slice() {
        [url] => (url, None),
        [url, flag, fingerprint] if flag == "--resolve" => (url, Some(fingerprint)),
        _ => anyhow::bail!(
            "usage: seed_insight <database url> [--resolve <fingerprint>] (a NewInsight as JSON on stdin)"
        ),
    };
    let location =
        DatabaseLocation::parse(&SecretString::from(url.clone())).map_err(anyhow::Error::msg)?;
    let store = Store::connect(&location, 1, Clock::System).await?;
    let now = store.clock().now_ms();
    let answer = match resolve {
        Some(fingerprint) => {
            serde_json::json!({"id": store.resolve_insight(fingerprint, now).await?})
        }
        None => {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text)?;
            let insight: NewInsight = serde_json::from_str(&text)?;
            let (id, created) = store.upsert_insight(&insight, now).await?;
            serde_json::json!({"id": id, "created": created})
        }
    };
    store.close();
    println!("{answer}");
    Ok(())
}
