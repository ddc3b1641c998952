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
}

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
}

impl Principal {
    pub fn role(&self) -> Role {
        match self {
            Principal::User { user, .. } => user.role,
            Principal::Token { role, .. } => *role,
        }
    }

    /// The user acting, if any (tokens act for nobody in particular).
    pub fn user_id(&self) -> Option<i64> {
        match self {
            Principal::User { user, .. } => Some(user.id),
            Principal::Token { token, .. } => token.created_by,
        }
    }

    /// How the audit log names this caller.
    pub fn actor(&self) -> String {
        match self {
            Principal::User { user, .. } => format!("user:{}", user.username),
            Principal::Token { token, .. } => format!("token:{}", token.id),
        }
    }

    pub fn session(&self) -> Option<&SessionRef> {
        match self {
            Principal::User { session, .. } => Some(session),
            Principal::Token { .. } => None,
        }
    }
}
