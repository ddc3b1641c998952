use std::path::PathBuf;
use streamswarm_agent::config::AgentConfig;
use streamswarm_agent::spool::FsyncPolicy;

fn env(pairs: &[(&str, &str)]) -> Option<config::Map<String, String>> {
    Some(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

fn load_toml(text: &str, vars: &[(&str, &str)]) -> Result<AgentConfig, String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agent.toml");
    std::fs::write(&path, text).unwrap();
    AgentConfig::load_from(Some(&path), env(vars)).map_err(|e| e.to_string())
}

#[test]
fn the_example_file_loads_with_the_documented_defaults() {
    let example = include_str!("../../streamswarm-agent.example.toml");
    let cfg = load_toml(example, &[]).unwrap();
    let defaults = AgentConfig::default();
    assert_eq!(cfg.state.dir, PathBuf::from("/var/lib/streamswarm-agent"));
    assert_eq!(
        cfg.spool_dir(),
        PathBuf::from("/var/lib/streamswarm-agent/spool")
    );
    let spool = cfg.spool_config().unwrap();
    assert_eq!(spool.max_bytes, 256 * 1024 * 1024);
    assert_eq!(spool, defaults.spool_config().unwrap());
    assert_eq!(cfg.self_metrics.interval, defaults.self_metrics.interval);
    assert_eq!(cfg.probes.max_concurrent, defaults.probes.max_concurrent);
    assert_eq!(cfg.prometheus_listen().unwrap(), None);
    assert!(cfg.server.url.is_none() && cfg.server.enrol_token.is_none());
}

#[test]
fn environment_overrides_the_file() {
    let cfg = load_toml(
        "[server]\nurl = \"http://file.example:5000\"\n[spool]\nmax_bytes = 1048576\nsegment_bytes = 65536\nfsync = \"always\"\n",
        &[
            ("STREAMSWARM_AGENT__SERVER__URL", "http://env.example:6000/base"),
            ("STREAMSWARM_AGENT__SERVER__ENROL_TOKEN", "ssw_enr_secret"),
            ("STREAMSWARM_AGENT__SPOOL__FSYNC", "every:50"),
            ("STREAMSWARM_AGENT__STATE__DIR", "/tmp/agent-state"),
            ("STREAMSWARM_AGENT__PROBES__MAX_CONCURRENT", "7"),
            ("STREAMSWARM_AGENT__SELF_METRICS__PROMETHEUS_LISTEN", "127.0.0.1:9469"),
            ("STREAMSWARM_AGENT__SELF_METRICS__INTERVAL", "30s"),
        ],
    )
    .unwrap();
    assert_eq!(
        cfg.server_url().unwrap().as_str(),
        "http://env.example:6000/base/"
    );
    let spool = cfg.spool_config().unwrap();
    assert_eq!(spool.fsync, FsyncPolicy::EveryN(50));
    assert_eq!(spool.max_bytes, 1048576, "file values without env stay");
    assert_eq!(cfg.spool_dir(), PathBuf::from("/tmp/agent-state/spool"));
    assert_eq!(cfg.probes.max_concurrent, 7);
    assert_eq!(
        cfg.prometheus_listen().unwrap(),
        Some("127.0.0.1:9469".parse().unwrap())
    );
    assert_eq!(cfg.self_metrics.interval.as_secs(), 30);
    // The token is a secret: Debug does not show it.
    let debug = format!("{cfg:?}");
    assert!(!debug.contains("ssw_enr_secret"), "{debug}");
}

/// A file, environment variables, and the key the error must name.
type Case = (
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static str,
);

#[test]
fn bad_values_name_their_key() {
    let cases: &[Case] = &[
        ("[server]\nurl = \"ftp://x\"\n", &[], "server.url"),
        ("[server]\nurl = \"http://u:p@x\"\n", &[], "server.url"),
        (
            "",
            &[("STREAMSWARM_AGENT__SERVER__ENROL_TOKEN", " ")],
            "server.enrol_token",
        ),
        ("[spool]\nfsync = \"sometimes\"\n", &[], "spool.fsync"),
        ("[spool]\nfsync = \"every:0\"\n", &[], "spool.fsync"),
        ("[spool]\nmax_bytes = 5000\n", &[], "spool.max_bytes"),
        ("[spool]\nsegment_bytes = 10\n", &[], "spool.segment_bytes"),
        (
            "[probes]\nmax_concurrent = 0\n",
            &[],
            "probes.max_concurrent",
        ),
        (
            "[self_metrics]\ninterval = \"100ms\"\n",
            &[],
            "self_metrics.interval",
        ),
        (
            "[self_metrics]\nprometheus_listen = \"localhost\"\n",
            &[],
            "self_metrics.prometheus_listen",
        ),
        ("[log]\nlevel = \"[[[\"\n", &[], "log.level"),
        (
            "[server]\nrequest_timeout = \"soon\"\n",
            &[],
            "request_timeout",
        ),
        ("[server]\nurl_typo = \"http://x\"\n", &[], "url_typo"),
    ];
    for (file, vars, key) in cases {
        let err = load_toml(file, vars).expect_err(file);
        assert!(err.contains(key), "{file:?}: {err:?} should name {key}");
    }
}

#[test]
fn a_missing_config_file_is_an_error_naming_it() {
    let err = AgentConfig::load_from(
        Some(std::path::Path::new("/nonexistent/agent.toml")),
        env(&[]),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("/nonexistent/agent.toml"), "{err}");
}
