//! Who is calling and what they may do.
//!
//! - [`password`]: Argon2id hashing off the async runtime, with a dummy check for
//!   unknown users and rehash-on-login.
//! - [`token`]: the API-token format (`ssw_<kind>_…` with a checksum) and its hash.
//! - [`session`]: session ids, cookies and the CSRF token derived from the session.
//! - [`throttle`]: password-guess throttling per address, per username and address,
//!   and for usernames under attack (see its module doc).
//! - [`principal`]: the authenticated caller and the access rule of each route.

pub mod password;
pub mod principal;
pub mod session;
pub mod throttle;
pub mod token;

pub use principal::{Access, Principal};
