//! The state directory (default `/var/lib/streamswarm-agent`, mode 0700): the agent's
//! identity and its last assignments. Both files are replaced atomically (temp file,
//! fsync, rename, fsync of the directory), so a crash leaves the old or the new file,
//! never a torn one; `identity.json` holds the credential and is mode 0600.
//!
//! The credential is a `SecretString` everywhere in memory: `Debug` prints
//! `[REDACTED]`, and nothing logs it.

use crate::assignments::Assignments;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use streamswarm_tsdb::influx::{InfluxConfig, InfluxVersion};

pub const IDENTITY_FILE: &str = "identity.json";
pub const ASSIGNMENTS_FILE: &str = "assignments.json";

/// Where the agent writes its metrics, as the enrolment answer said (`write`).
///
/// Kept as the JSON object the server sent, because for `influx` it carries a write
/// credential: `Debug` prints only the kind.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(transparent)]
pub struct WriteTarget(serde_json::Value);

impl std::fmt::Debug for WriteTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WriteTarget({:?}, [REDACTED])", self.kind())
    }
}

impl WriteTarget {
    pub fn new(value: serde_json::Value) -> Self {
        WriteTarget(value)
    }

    pub fn server() -> Self {
        WriteTarget(serde_json::json!({"kind": "server"}))
    }

    pub fn kind(&self) -> Option<&str> {
        self.0.get("kind").and_then(|k| k.as_str())
    }

    /// The InfluxDB-compatible endpoint to write to. `server`: the server's embedded
    /// store at `<server>/api/v2/write?org=streamswarm&bucket=streamswarm&precision=ns`
    /// with `Authorization: Token <credential>`; `influx`: the configuration given.
    pub fn influx_config(
        &self,
        server: &url::Url,
        credential: &SecretString,
    ) -> Result<InfluxConfig, String> {
        match self.kind() {
            Some("server") => Ok(InfluxConfig {
                url: server.to_string(),
                version: InfluxVersion::V2,
                org: Some("streamswarm".into()),
                bucket: Some("streamswarm".into()),
                token: Some(credential.clone()),
                ..InfluxConfig::default()
            }),
            Some("influx") => {
                let object = self
                    .0
                    .get("influx")
                    .cloned()
                    .ok_or("write.kind is \"influx\" but write.influx is missing")?;
                let config: InfluxConfig = serde_json::from_value(object)
                    .map_err(|e| format!("write.influx from the server is not usable: {e}"))?;
                config
                    .validate()
                    .map_err(|e| format!("write.influx from the server: {e}"))?;
                Ok(config)
            }
            other => Err(format!(
                "write.kind {other:?} from the server is unknown (expected \"server\" or \"influx\")"
            )),
        }
    }
}

/// Who this agent is on its server: written once at enrolment.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The server it enrolled with (base URL).
    pub server_url: String,
    pub agent_id: i64,
    pub name: String,
    pub credential: SecretString,
    pub write: WriteTarget,
}

#[derive(Serialize, Deserialize)]
struct IdentityFile {
    server_url: String,
    agent_id: i64,
    name: String,
    credential: String,
    write: WriteTarget,
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state directory {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error(
        "{path} is damaged ({message}); remove it and re-enrol with `streamswarm-agent enroll`"
    )]
    Damaged { path: PathBuf, message: String },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> StateError + '_ {
    move |source| StateError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The state directory of one agent.
#[derive(Debug, Clone)]
pub struct StateDir {
    path: PathBuf,
}

impl StateDir {
    /// Opens the directory, creating it with mode 0700 when missing; an existing
    /// directory that others can read is tightened to 0700.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, StateError> {
        let path = path.into();
        fs::create_dir_all(&path).map_err(io_err(&path))?;
        set_mode(&path, 0o700).map_err(io_err(&path))?;
        Ok(StateDir { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The identity, or `None` before enrolment.
    pub fn load_identity(&self) -> Result<Option<Identity>, StateError> {
        let path = self.path.join(IDENTITY_FILE);
        let Some(bytes) = read_if_exists(&path)? else {
            return Ok(None);
        };
        let file: IdentityFile =
            serde_json::from_slice(&bytes).map_err(|e| StateError::Damaged {
                path: path.clone(),
                message: e.to_string(),
            })?;
        Ok(Some(Identity {
            server_url: file.server_url,
            agent_id: file.agent_id,
            name: file.name,
            credential: SecretString::from(file.credential),
            write: file.write,
        }))
    }

    /// Writes `identity.json` atomically with mode 0600.
    pub fn save_identity(&self, identity: &Identity) -> Result<(), StateError> {
        let file = IdentityFile {
            server_url: identity.server_url.clone(),
            agent_id: identity.agent_id,
            name: identity.name.clone(),
            credential: identity.credential.expose_secret().to_owned(),
            write: identity.write.clone(),
        };
        let bytes = serde_json::to_vec_pretty(&file).expect("plain data serialises");
        write_atomically(&self.path.join(IDENTITY_FILE), &bytes)
    }

    /// The last assignments received, or `None` when there are none yet.
    pub fn load_assignments(&self) -> Result<Option<Assignments>, StateError> {
        let path = self.path.join(ASSIGNMENTS_FILE);
        let Some(bytes) = read_if_exists(&path)? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| StateError::Damaged {
                path,
                message: e.to_string(),
            })
    }

    /// Writes `assignments.json` atomically (mode 0600: it names targets).
    pub fn save_assignments(&self, assignments: &Assignments) -> Result<(), StateError> {
        let bytes = serde_json::to_vec_pretty(assignments).expect("plain data serialises");
        write_atomically(&self.path.join(ASSIGNMENTS_FILE), &bytes)
    }
}

fn read_if_exists(path: &Path) -> Result<Option<Vec<u8>>, StateError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(path)(e)),
    }
}

/// Temp file (0600) in the same directory → write → fsync → rename over `path` → fsync
/// the directory. Readers see the old or the new content, never a mix.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = path.with_extension("json.tmp");
    let result = (|| {
        let mut options = fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp)?;
        // A temp file left by an earlier crash keeps its old mode: tighten it.
        set_mode(&tmp, 0o600)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)?;
        sync_dir(dir)
    })();
    result.map_err(io_err(path))
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> io::Result<()> {
    Ok(())
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}
