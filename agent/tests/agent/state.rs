use secrecy::{ExposeSecret, SecretString};
use std::os::unix::fs::PermissionsExt as _;
use streamswarm_agent::assignments::{Assignments, RawTest};
use streamswarm_agent::state::{Identity, StateDir, WriteTarget};

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn identity(id: i64, credential: &str) -> Identity {
    Identity {
        server_url: "http://127.0.0.1:5000/".into(),
        agent_id: id,
        name: format!("edge-{id}"),
        credential: SecretString::from(credential.to_owned()),
        write: WriteTarget::new(serde_json::json!({
            "kind": "influx",
            "influx": {"url": "http://127.0.0.1:8086", "version": 1, "database": "db", "token": "influx-secret"}
        })),
    }
}

#[test]
fn the_state_dir_is_0700_and_the_identity_0600_and_round_trips() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("state");
    let state = StateDir::open(&dir).unwrap();
    assert_eq!(mode(&dir), 0o700);
    assert!(state.load_identity().unwrap().is_none());

    state.save_identity(&identity(7, "ssw_agt_first")).unwrap();
    let file = dir.join("identity.json");
    assert_eq!(mode(&file), 0o600);
    let loaded = state.load_identity().unwrap().unwrap();
    assert_eq!(loaded.agent_id, 7);
    assert_eq!(loaded.credential.expose_secret(), "ssw_agt_first");
    assert_eq!(loaded.write, identity(7, "x").write);

    // An existing directory that others could read is tightened.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    StateDir::open(&dir).unwrap();
    assert_eq!(mode(&dir), 0o700);
}

#[test]
fn saving_replaces_atomically_and_a_stale_temp_file_does_not_matter() {
    let root = tempfile::tempdir().unwrap();
    let state = StateDir::open(root.path()).unwrap();
    state.save_identity(&identity(1, "ssw_agt_old")).unwrap();
    // A crash between temp write and rename leaves a temp file with anything in it,
    // even world-readable: the identity stays the old one, and the next save is 0600.
    let tmp = root.path().join("identity.json.tmp");
    std::fs::write(&tmp, b"{ torn").unwrap();
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(state.load_identity().unwrap().unwrap().agent_id, 1);

    state.save_identity(&identity(2, "ssw_agt_new")).unwrap();
    let loaded = state.load_identity().unwrap().unwrap();
    assert_eq!(
        (loaded.agent_id, loaded.credential.expose_secret()),
        (2, "ssw_agt_new")
    );
    assert!(!tmp.exists(), "the temp file was renamed into place");
    assert_eq!(mode(&root.path().join("identity.json")), 0o600);
    let names: Vec<_> = std::fs::read_dir(root.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, vec!["identity.json".to_string()]);
}

#[test]
fn debug_output_never_shows_credentials() {
    let id = identity(3, "ssw_agt_topsecret");
    let debug = format!("{id:?}");
    assert!(!debug.contains("ssw_agt_topsecret"), "{debug}");
    assert!(!debug.contains("influx-secret"), "{debug}");
    assert!(debug.contains("influx"), "the kind is shown: {debug}");
}

#[test]
fn assignments_persist_atomically_with_their_etag() {
    let root = tempfile::tempdir().unwrap();
    let state = StateDir::open(root.path()).unwrap();
    assert!(state.load_assignments().unwrap().is_none());
    let a = Assignments {
        etag: "\"abc\"".into(),
        agent_id: 7,
        tests: vec![RawTest {
            id: 12,
            name: "ping gw".into(),
            updated_at_ms: Some(1),
            kind: serde_json::json!("ping"),
            target: "192.0.2.1".into(),
            params: serde_json::json!({"count": 3}),
            schedule: serde_json::json!({"interval_seconds": 60}),
        }],
    };
    state.save_assignments(&a).unwrap();
    assert_eq!(state.load_assignments().unwrap().unwrap(), a);
    assert_eq!(mode(&root.path().join("assignments.json")), 0o600);
    let runnable = a.runnable();
    assert_eq!(runnable.len(), 1);
    assert_eq!(runnable[0].id, 12);
}

#[test]
fn a_damaged_identity_is_an_error_naming_the_file_and_the_fix() {
    let root = tempfile::tempdir().unwrap();
    let state = StateDir::open(root.path()).unwrap();
    std::fs::write(root.path().join("identity.json"), b"not json").unwrap();
    let err = state.load_identity().unwrap_err().to_string();
    assert!(
        err.contains("identity.json") && err.contains("enroll"),
        "{err}"
    );
}

#[test]
fn the_write_target_resolves_to_the_servers_endpoint_or_the_given_influx() {
    let server = url::Url::parse("http://127.0.0.1:5000/").unwrap();
    let cred = SecretString::from("ssw_agt_x".to_owned());
    let cfg = WriteTarget::server().influx_config(&server, &cred).unwrap();
    let client = streamswarm_tsdb::influx::InfluxClient::new(cfg).unwrap();
    let url = client.write_url().as_str();
    assert!(
        url.starts_with(
            "http://127.0.0.1:5000/api/v2/write?org=streamswarm&bucket=streamswarm&precision=ns"
        ),
        "{url}"
    );
    let cfg = identity(1, "c")
        .write
        .influx_config(&server, &cred)
        .unwrap();
    assert_eq!(cfg.database.as_deref(), Some("db"));
    let err = WriteTarget::new(serde_json::json!({"kind": "carrier-pigeon"}))
        .influx_config(&server, &cred)
        .unwrap_err();
    assert!(err.contains("write.kind"), "{err}");
}
