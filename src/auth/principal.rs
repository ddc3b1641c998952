//! The authenticated caller, and the access rule every route declares.

use crate::store::sessions::Session;
use crate::store::tokens::TokenInfo;
use crate::store::users::User;
use streamswarm_schema::Role;

/// Who may call a route. There is no default: every route states its rule, and the
/// authorization matrix test (`tests/authz_matrix.toml`) pins the outcome per role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, authenticated or not.
    Public,
    /// A signed-in user (session cookie) or an API token with at least this role.
    Role(Role),
    /// The InfluxDB-compatible write endpoints: an agent's own credential, or an API
    /// token with at least the operator role (the analytics writes findings back).
    /// Sessions are refused: browsers do not write time series. Credentials must come
    /// in the `Authorization` header (`Bearer`, `Token` or Basic with the token as
    /// password), never in the URL.
    TimeSeriesWrite,
    /// `POST /api/v1/agent/enrol`: an enrolment token (`ssw_enr_…`) in the
    /// `Authorization` header, active (not expired, revoked or used up). Nothing else
    /// enrols an agent; enrolment tokens reach no other route.
    Enrol,
    /// The agent API (heartbeat, assignments): an agent's own credential, whose agent is
    /// neither revoked nor deleted. Users and API tokens get 403.
    Agent,
    /// `GET /metrics`: public while `server.metrics_token` is unset; once set, only
    /// `Authorization: Bearer <metrics_token>` (401 for anything else, sessions and API
    /// tokens included).
    Metrics,
}

/// The least role an API token needs for [`Access::TimeSeriesWrite`].
pub const TIME_SERIES_WRITER_ROLE: Role = Role::Operator;

/// A session-authenticated caller's session.
#[derive(Debug, Clone)]
pub struct SessionRef {
    /// The raw id from the cookie (needed to derive the CSRF token); never logged.
    pub id: String,
    pub session: Session,
}

#[derive(Debug, Clone)]
pub enum Principal {
    /// A user signed in through the web UI.
    User { user: User, session: SessionRef },
    /// An automation client with an API token.
    Token { token: TokenInfo, role: Role },
    /// An enrolled agent with its own credential. Agents have no role: the only routes
    /// they reach are those whose access rule names agents.
    Agent { token: TokenInfo, agent_id: i64 },
    /// A host presenting an enrolment token; it may only enrol.
    Enrolment { token: TokenInfo },
}

impl Principal {
    /// The role a user or API token acts with; `None` for agents.
    pub fn role(&self) -> Option<Role> {
        match self {
            Principal::User { user, .. } => Some(user.role),
            Principal::Token { role, .. } => Some(*role),
            Principal::Agent { .. } | Principal::Enrolment { .. } => None,
        }
    }

    /// The user acting, if any (tokens act for nobody in particular).
    pub fn user_id(&self) -> Option<i64> {
        match self {
            Principal::User { user, .. } => Some(user.id),
            Principal::Token { token, .. } => token.created_by,
            Principal::Agent { .. } | Principal::Enrolment { .. } => None,
        }
    }

    /// How the audit log names this caller.
    pub fn actor(&self) -> String {
        match self {
            Principal::User { user, .. } => format!("user:{}", user.username),
            Principal::Token { token, .. } => format!("token:{}", token.id),
            Principal::Agent { agent_id, .. } => format!("agent:{agent_id}"),
            Principal::Enrolment { token } => format!("token:{}", token.id),
        }
    }

    pub fn session(&self) -> Option<&SessionRef> {
        match self {
            Principal::User { session, .. } => Some(session),
            Principal::Token { .. } | Principal::Agent { .. } | Principal::Enrolment { .. } => None,
        }
    }
}
