//! Password hashing with Argon2id at the `argon2` crate's defaults (the OWASP minimum:
//! 19 MiB, 2 passes, 1 lane). Hashing costs ~tens of milliseconds of CPU, so it runs on
//! the blocking pool, never on the async runtime.

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use secrecy::{ExposeSecret, SecretString};
use std::sync::OnceLock;

pub const MIN_LENGTH: usize = 10;
pub const MAX_LENGTH: usize = 256;

/// Checks length limits; counts characters, not bytes.
pub fn check_policy(password: &SecretString) -> Result<(), String> {
    let n = password.expose_secret().chars().count();
    if n < MIN_LENGTH {
        return Err(format!("password must be at least {MIN_LENGTH} characters"));
    }
    if n > MAX_LENGTH {
        return Err(format!("password must be at most {MAX_LENGTH} characters"));
    }
    Ok(())
}

fn hash_blocking(password: &str) -> String {
    Argon2::default()
        .hash_password(password.as_bytes())
        .expect("argon2 with default parameters hashes any input")
        .to_string()
}

pub async fn hash(password: SecretString) -> String {
    tokio::task::spawn_blocking(move || hash_blocking(password.expose_secret()))
        .await
        .expect("password hashing task")
}

#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Correct; `needs_rehash` when the stored hash uses older parameters.
    Valid {
        needs_rehash: bool,
    },
    Invalid,
}

/// A hash of a random password, verified against when the user does not exist so that
/// a login for an unknown name takes as long as one with a wrong password.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let mut random = [0u8; 16];
        rand::fill(&mut random);
        hash_blocking(&hex::encode(random))
    })
}

/// Verifies `password` against `stored`, or against a dummy hash when `stored` is
/// `None`, in which case the answer is always `Invalid`.
pub async fn verify(password: SecretString, stored: Option<String>) -> Verdict {
    tokio::task::spawn_blocking(move || {
        let (hash, real) = match &stored {
            Some(h) => (h.as_str(), true),
            None => (dummy_hash(), false),
        };
        let ok = Argon2::default()
            .verify_password(password.expose_secret().as_bytes(), hash)
            .is_ok();
        if ok && real {
            Verdict::Valid {
                needs_rehash: needs_rehash(hash),
            }
        } else {
            Verdict::Invalid
        }
    })
    .await
    .expect("password verification task")
}

/// True when `hash` was made with other than the current algorithm, version or cost.
pub fn needs_rehash(hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return true;
    };
    let current = Params::default();
    let same_params = Params::try_from(&parsed).is_ok_and(|p| {
        p.m_cost() == current.m_cost()
            && p.t_cost() == current.t_cost()
            && p.p_cost() == current.p_cost()
    });
    parsed.algorithm != Algorithm::Argon2id.ident()
        || parsed.version != Some(Version::V0x13.into())
        || !same_params
}

/// Warms the dummy hash so the first unknown-user login is not measurably slower.
pub async fn warm_up() {
    tokio::task::spawn_blocking(|| {
        dummy_hash();
    })
    .await
    .ok();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_verify_and_rehash() {
        let pw = SecretString::from("correct horse battery");
        let h = hash(pw.clone()).await;
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(!h.contains("correct horse"));
        assert_eq!(
            verify(pw.clone(), Some(h.clone())).await,
            Verdict::Valid {
                needs_rehash: false
            }
        );
        assert_eq!(
            verify(SecretString::from("wrong"), Some(h)).await,
            Verdict::Invalid
        );
        assert_eq!(verify(pw.clone(), None).await, Verdict::Invalid);

        // A hash made with weaker parameters verifies but asks to be upgraded.
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8192, 1, 1, None).unwrap(),
        )
        .hash_password(b"correct horse battery")
        .unwrap()
        .to_string();
        assert_eq!(
            verify(pw, Some(weak)).await,
            Verdict::Valid { needs_rehash: true }
        );
    }

    #[test]
    fn policy_counts_characters() {
        assert!(check_policy(&SecretString::from("short")).is_err());
        assert!(check_policy(&SecretString::from("éééééééééé")).is_ok());
        assert!(check_policy(&SecretString::from("x".repeat(257))).is_err());
    }
}
