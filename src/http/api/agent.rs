//! The agent API (`docs/agent-api.md` is the contract): enrolment with an enrolment
//! token, then heartbeats and assignments with the agent's own credential. Errors on
//! these routes are `{"error": "<what was wrong>"}` (`ErrorFormat::Agent`).

use crate::auth::Principal;
use crate::auth::token;
use crate::config::InfluxTarget;
use crate::error::{Error, Result};
use crate::http::Ctx;
use crate::http::routes::{created, ok};
use crate::store::audit::AuditRecord;
use crate::store::tests::TestRecord;
use crate::store::tokens::{NewToken, TokenKind};
use schemars::JsonSchema;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use streamswarm_schema::TestSpec;
use warp::http::{HeaderValue, StatusCode, header};
use warp::reply::Response;

/// Largest accepted `facts` object, serialized.
pub const MAX_FACTS_BYTES: usize = 16 * 1024;
const MAX_TEXT_CHARS: usize = 256;
const MAX_INTERFACES: usize = 256;
const MAX_ADDRESSES: usize = 64;

/// What an agent reports about its host. Every field is optional (a host may not expose
/// it). Unknown fields are ignored, as in the other agent bodies: a fleet is upgraded
/// agent by agent, and a newer agent's heartbeat must not be refused by an older server.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct HostFacts {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_count: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interfaces: Vec<NetInterface>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uptime_seconds: Option<u64>,
    /// The agent's estimate of its clock's offset from the server's, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clock_offset_ms: Option<f64>,
    /// The targets the agent refuses to probe (its `[probes] deny` / `allow`). Absent
    /// from agents older than the policy, which refuse nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probe_policy: Option<ProbePolicy>,
}

/// An agent's outbound target policy: networks (`169.254.0.0/16`, `fe80::/10`) its
/// probes never reach, and exceptions to them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ProbePolicy {
    #[serde(default)]
    pub deny: Vec<String>,
    #[serde(default)]
    pub allow: Vec<String>,
}

impl ProbePolicy {
    /// The policy of an agent that did not report one yet (this version's default).
    pub fn agent_default() -> Self {
        let report = streamswarm_schema::target_policy::TargetPolicy::default().report();
        ProbePolicy {
            deny: report.deny,
            allow: report.allow,
        }
    }

    /// Checks every entry is a network; the error names it (`facts.probe_policy.deny[2]`).
    fn validate(&self) -> Result<()> {
        for (key, list) in [("deny", &self.deny), ("allow", &self.allow)] {
            for (i, entry) in list.iter().enumerate() {
                check_text(&format!("facts.probe_policy.{key}[{i}]"), entry)?;
            }
        }
        streamswarm_schema::target_policy::TargetPolicy::new(
            "facts.probe_policy",
            &self.deny,
            &self.allow,
        )
        .map_err(|e| {
            Error::invalid(
                format!("{}[{}]", e.key, e.index),
                format!("{:?} {}", e.value, e.problem),
            )
        })?;
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct NetInterface {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// Addresses with prefix length, e.g. `10.0.0.5/24`.
    #[serde(default)]
    pub addresses: Vec<String>,
}

fn check_text(field: &str, value: &str) -> Result<()> {
    if value.chars().count() > MAX_TEXT_CHARS {
        return Err(Error::invalid(
            field,
            format!("must be at most {MAX_TEXT_CHARS} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::invalid(field, "must not contain control characters"));
    }
    Ok(())
}

fn check_hostname(field: &str, hostname: &str) -> Result<()> {
    if hostname.is_empty() || hostname.len() > 253 {
        return Err(Error::invalid(field, "must be 1–253 characters"));
    }
    if hostname
        .chars()
        .any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(Error::invalid(
            field,
            "must not contain spaces or control characters",
        ));
    }
    Ok(())
}

impl HostFacts {
    /// Checks sizes and values; each problem names its field (`facts.…`).
    pub fn validate(&self) -> Result<()> {
        for (field, value) in [
            ("facts.os", &self.os),
            ("facts.os_version", &self.os_version),
            ("facts.kernel", &self.kernel),
            ("facts.arch", &self.arch),
            ("facts.cpu_model", &self.cpu_model),
            ("facts.agent_version", &self.agent_version),
        ] {
            if let Some(v) = value {
                check_text(field, v)?;
            }
        }
        if self.interfaces.len() > MAX_INTERFACES {
            return Err(Error::invalid(
                "facts.interfaces",
                format!("at most {MAX_INTERFACES} interfaces"),
            ));
        }
        for (i, nic) in self.interfaces.iter().enumerate() {
            check_text(&format!("facts.interfaces[{i}].name"), &nic.name)?;
            if let Some(mac) = &nic.mac {
                check_text(&format!("facts.interfaces[{i}].mac"), mac)?;
            }
            if nic.addresses.len() > MAX_ADDRESSES {
                return Err(Error::invalid(
                    format!("facts.interfaces[{i}].addresses"),
                    format!("at most {MAX_ADDRESSES} addresses"),
                ));
            }
            for (j, a) in nic.addresses.iter().enumerate() {
                check_text(&format!("facts.interfaces[{i}].addresses[{j}]"), a)?;
            }
        }
        if let Some(policy) = &self.probe_policy {
            policy.validate()?;
        }
        if self.clock_offset_ms.is_some_and(|v| !v.is_finite()) {
            return Err(Error::invalid(
                "facts.clock_offset_ms",
                "must be a finite number",
            ));
        }
        let size = serde_json::to_vec(self).map(|v| v.len()).unwrap_or(0);
        if size > MAX_FACTS_BYTES {
            return Err(Error::invalid(
                "facts",
                format!("is {size} bytes; at most {MAX_FACTS_BYTES} are accepted"),
            ));
        }
        Ok(())
    }
}

#[derive(Deserialize, JsonSchema)]
pub struct Enrolment {
    pub hostname: String,
    #[serde(default)]
    pub facts: HostFacts,
}

impl Enrolment {
    pub(crate) fn validate(&self) -> Result<()> {
        check_hostname("hostname", &self.hostname)?;
        self.facts.validate()
    }
}

/// Where the agent writes its points.
#[derive(Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum WriteTarget {
    /// The server's embedded store: `<server URL>/api/v2/write?org=streamswarm&bucket=streamswarm&precision=ns`
    /// with `Authorization: Token <credential>`.
    Server,
    /// The InfluxDB the server is configured with, and the credential agents write with.
    Influx { influx: InfluxWriteConfig },
}

/// The keys of `streamswarm_tsdb::InfluxConfig` an agent needs to write.
#[derive(Serialize, JsonSchema)]
pub struct InfluxWriteConfig {
    pub url: String,
    pub version: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention_policy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl WriteTarget {
    pub fn for_config(influx: Option<&InfluxTarget>) -> Self {
        let Some(t) = influx else {
            return WriteTarget::Server;
        };
        let c = &t.agents;
        WriteTarget::Influx {
            influx: InfluxWriteConfig {
                url: c.url.clone(),
                version: c.version.number(),
                database: c.database.clone(),
                retention_policy: c.retention_policy.clone(),
                org: c.org.clone(),
                bucket: c.bucket.clone(),
                username: c.username.clone(),
                password: c.password.as_ref().map(|s| s.expose_secret().to_owned()),
                token: c.token.as_ref().map(|s| s.expose_secret().to_owned()),
            },
        }
    }
}

#[derive(Serialize, JsonSchema)]
pub struct Enrolled {
    pub agent_id: i64,
    pub name: String,
    /// The agent's credential (`ssw_agt_…`), shown this once; only its hash is stored.
    pub credential: String,
    pub heartbeat_interval_seconds: i64,
    pub write: WriteTarget,
}

pub async fn enrol(ctx: Ctx) -> Result<Response> {
    let Some(Principal::Enrolment { token: enrol_token }) = ctx.principal.clone() else {
        return Err(Error::Unauthenticated);
    };
    let body: Enrolment = ctx.json()?;
    body.validate()?;
    let store = &ctx.state.store;
    // One use, atomically: of two hosts racing for the last use, one gets here.
    if !store.use_token(&enrol_token).await? {
        let now = store.clock().now_ms();
        if let Some(t) = store.token(enrol_token.id).await? {
            crate::http::enrolment_usable(&t, now)?;
        }
        return Err(Error::Unauthorized("enrolment token used up".into()));
    }
    let facts = serde_json::to_value(&body.facts).map_err(anyhow::Error::from)?;
    let generated = token::generate(TokenKind::Agent);
    let mut created_agent = None;
    let made = async {
        let agent = store
            .create_agent_with_facts(
                &body.hostname,
                &body.hostname,
                body.facts.agent_version.as_deref(),
                &facts,
            )
            .await?;
        created_agent = Some(agent.id);
        let credential = store
            .insert_token(NewToken {
                kind: TokenKind::Agent,
                name: &format!("agent {} credential", agent.id),
                prefix: &generated.prefix,
                secret_hash: &generated.hash,
                role: None,
                agent_id: Some(agent.id),
                created_by: enrol_token.created_by,
                expires_at: None,
                uses: None,
            })
            .await?;
        Ok::<_, crate::store::StoreError>((agent, credential))
    }
    .await;
    let (agent, credential) = match made {
        Ok(made) => made,
        Err(e) => {
            // Best effort: no half-made agent, and the use goes back to the token.
            if let Some(id) = created_agent {
                let _ = store.delete_agent(id).await;
            }
            if enrol_token.uses_remaining.is_some() {
                let _ = store.give_back_use(enrol_token.id).await;
            }
            return Err(e.into());
        }
    };
    let actor = ctx.actor();
    store
        .audit(AuditRecord {
            actor: &actor.name,
            action: "agent.enrol",
            target: &format!("agent:{}", agent.id),
            source_ip: actor.source_ip.as_deref(),
            details: serde_json::json!({
                "hostname": agent.hostname,
                "enrolment_token": {"id": enrol_token.id, "prefix": enrol_token.prefix},
                "credential": {"id": credential.id, "prefix": credential.prefix},
            }),
        })
        .await?;
    let settings = ctx.state.settings.get(store).await?;
    created(&Enrolled {
        agent_id: agent.id,
        name: agent.name,
        credential: generated.secret.expose_secret().to_owned(),
        heartbeat_interval_seconds: settings.get("heartbeat_interval_seconds"),
        write: WriteTarget::for_config(ctx.state.config.influx.0.as_ref()),
    })
}

#[derive(Deserialize, JsonSchema)]
pub struct Heartbeat {
    pub hostname: String,
    pub facts: HostFacts,
    /// The agent's wall clock when it sent this, in Unix milliseconds.
    #[serde(default)]
    pub sent_at_ms: Option<i64>,
}

impl Heartbeat {
    pub(crate) fn validate(&self) -> Result<()> {
        check_hostname("hostname", &self.hostname)?;
        self.facts.validate()
    }
}

#[derive(Serialize, JsonSchema)]
pub struct HeartbeatAnswer {
    pub server_time_ms: i64,
    pub heartbeat_interval_seconds: i64,
    /// The current ETag of `GET /api/v1/agent/assignments` (quoted, as in the header).
    pub assignments_etag: String,
}

fn agent_id(ctx: &Ctx) -> Result<i64> {
    match &ctx.principal {
        Some(Principal::Agent { agent_id, .. }) => Ok(*agent_id),
        _ => Err(Error::Unauthenticated),
    }
}

pub async fn heartbeat(ctx: Ctx) -> Result<Response> {
    let id = agent_id(&ctx)?;
    let body: Heartbeat = ctx.json()?;
    body.validate()?;
    let store = &ctx.state.store;
    let facts = serde_json::to_value(&body.facts).map_err(anyhow::Error::from)?;
    if !store
        .record_heartbeat(
            id,
            &body.hostname,
            body.facts.agent_version.as_deref(),
            &facts,
        )
        .await?
    {
        // Revoked or deleted between authentication and now.
        return Err(Error::Unauthorized("agent credential revoked".into()));
    }
    let settings = ctx.state.settings.get(store).await?;
    let (_, etag) = assignments_of(&ctx, id).await?;
    ok(&HeartbeatAnswer {
        server_time_ms: store.clock().now_ms(),
        heartbeat_interval_seconds: settings.get("heartbeat_interval_seconds"),
        assignments_etag: etag,
    })
}

/// One assigned test: what `TestSpec` reads, plus its identity and last change.
#[derive(Serialize, JsonSchema)]
pub struct AssignedTest {
    pub id: i64,
    pub name: String,
    pub updated_at_ms: i64,
    #[serde(flatten)]
    pub spec: TestSpec,
}

#[derive(Serialize, JsonSchema)]
pub struct AgentAssignments {
    pub agent_id: i64,
    pub tests: Vec<AssignedTest>,
}

impl AssignedTest {
    fn from_record(t: TestRecord) -> Self {
        AssignedTest {
            id: t.id,
            name: t.name,
            updated_at_ms: t.updated_at.0,
            spec: t.spec,
        }
    }
}

/// The assignments body and its ETag (a hash of exactly those bytes, quoted).
async fn assignments_of(ctx: &Ctx, agent_id: i64) -> Result<(Vec<u8>, String)> {
    let tests = ctx.state.store.tests_for_agent(agent_id).await?;
    let body = AgentAssignments {
        agent_id,
        tests: tests
            .into_iter()
            .filter(|t| t.enabled)
            .map(AssignedTest::from_record)
            .collect(),
    };
    let bytes = serde_json::to_vec(&body).map_err(anyhow::Error::from)?;
    let etag = format!("\"{}\"", hex::encode(&Sha256::digest(&bytes)[..16]));
    Ok((bytes, etag))
}

/// Whether an `If-None-Match` header names `etag` (a list, `*`, or weak forms).
fn matches_etag(header: Option<&str>, etag: &str) -> bool {
    header.is_some_and(|h| {
        h.split(',')
            .map(|t| t.trim().trim_start_matches("W/"))
            .any(|t| t == "*" || t == etag)
    })
}

pub async fn assignments(ctx: Ctx) -> Result<Response> {
    let id = agent_id(&ctx)?;
    let (bytes, etag) = assignments_of(&ctx, id).await?;
    let etag_header = HeaderValue::from_str(&etag).map_err(anyhow::Error::from)?;
    let mut r = if matches_etag(ctx.header("if-none-match"), &etag) {
        let mut r = Response::new(Vec::new().into());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        let mut r = Response::new(bytes.into());
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        r
    };
    r.headers_mut().insert(header::ETAG, etag_header);
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_forms() {
        let e = "\"abc\"";
        assert!(matches_etag(Some("\"abc\""), e));
        assert!(matches_etag(Some("W/\"abc\""), e));
        assert!(matches_etag(Some("\"x\", \"abc\""), e));
        assert!(matches_etag(Some("*"), e));
        assert!(!matches_etag(Some("\"abd\""), e));
        assert!(!matches_etag(Some("abc"), e));
        assert!(!matches_etag(None, e));
    }

    #[test]
    fn facts_limits_name_the_field() {
        let mut f = HostFacts {
            os: Some("x".repeat(300)),
            ..Default::default()
        };
        assert!(f.validate().unwrap_err().to_string().contains("facts.os"));
        f.os = None;
        f.clock_offset_ms = Some(f64::NAN);
        assert!(
            f.validate()
                .unwrap_err()
                .to_string()
                .contains("facts.clock_offset_ms")
        );
        f.clock_offset_ms = Some(-1.25);
        f.interfaces = vec![
            NetInterface {
                name: "eth0".into(),
                mac: None,
                addresses: vec!["10.0.0.5/24".into(); 65],
            };
            1
        ];
        assert!(
            f.validate()
                .unwrap_err()
                .to_string()
                .contains("facts.interfaces[0].addresses")
        );
        f.interfaces[0].addresses.truncate(2);
        f.validate().unwrap();
        f.probe_policy = Some(ProbePolicy {
            deny: vec!["169.254.0.0/16".into(), "metadata".into()],
            allow: vec![],
        });
        let e = f.validate().unwrap_err().to_string();
        assert!(e.contains("facts.probe_policy.deny[1]"), "{e}");
        f.probe_policy = Some(ProbePolicy::agent_default());
        f.validate().unwrap();
    }
}
