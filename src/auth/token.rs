//! The token format: `ssw_<kind>_<22 base62 chars of randomness><6 base62 chars of CRC32>`.
//!
//! 22 base62 characters carry 130 bits. The checksum lets us reject a mistyped or
//! truncated token without touching the database, and lets secret scanners recognise
//! our tokens. Only SHA-256(token) is stored: tokens are high-entropy, so a fast hash
//! is enough, and lookup by hash makes the comparison independent of the secret.

use crate::store::tokens::TokenKind;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const RANDOM_LEN: usize = 22;
const CHECKSUM_LEN: usize = 6;
/// How much of the token is kept in clear as its display prefix.
const PREFIX_RANDOM_CHARS: usize = 4;

fn kind_tag(kind: TokenKind) -> &'static str {
    match kind {
        TokenKind::Enrol => "ssw_enr_",
        TokenKind::Api => "ssw_api_",
        TokenKind::Agent => "ssw_agt_",
    }
}

fn base62(mut n: u64, width: usize) -> String {
    let mut out = vec![b'0'; width];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8(out).expect("ascii")
}

fn checksum(body: &str) -> String {
    base62(u64::from(crc32fast::hash(body.as_bytes())), CHECKSUM_LEN)
}

/// A freshly generated token: the secret (shown once), its display prefix and its hash.
pub struct Generated {
    pub secret: SecretString,
    pub prefix: String,
    pub hash: String,
}

pub fn generate(kind: TokenKind) -> Generated {
    use rand::Rng;
    let mut rng = rand::rng();
    let random: String = (0..RANDOM_LEN)
        .map(|_| ALPHABET[rng.random_range(0..62)] as char)
        .collect();
    let body = format!("{}{random}", kind_tag(kind));
    let token = format!("{body}{}", checksum(&body));
    Generated {
        prefix: token[..kind_tag(kind).len() + PREFIX_RANDOM_CHARS].to_owned(),
        hash: hash(&token),
        secret: SecretString::from(token),
    }
}

pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Checks shape and checksum; returns the kind the token claims to be.
pub fn parse(token: &SecretString) -> Option<TokenKind> {
    let t = token.expose_secret();
    let kind = [TokenKind::Enrol, TokenKind::Api, TokenKind::Agent]
        .into_iter()
        .find(|k| t.starts_with(kind_tag(*k)))?;
    let expected_len = kind_tag(kind).len() + RANDOM_LEN + CHECKSUM_LEN;
    if t.len() != expected_len
        || !t
            .bytes()
            .skip(4)
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return None;
    }
    let (body, sum) = t.split_at(expected_len - CHECKSUM_LEN);
    let ok: bool = subtle::ConstantTimeEq::ct_eq(checksum(body).as_bytes(), sum.as_bytes()).into();
    ok.then_some(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_parse_and_typos_do_not() {
        for kind in [TokenKind::Enrol, TokenKind::Api, TokenKind::Agent] {
            let g = generate(kind);
            let s = g.secret.expose_secret().to_owned();
            assert_eq!(parse(&g.secret), Some(kind));
            assert!(s.starts_with(&g.prefix));
            assert_eq!(g.hash, hash(&s));
            assert_eq!(g.hash.len(), 64);
            // Any single changed character breaks the checksum.
            for i in 8..s.len() {
                let mut b = s.clone().into_bytes();
                b[i] = if b[i] == b'a' { b'b' } else { b'a' };
                assert_eq!(
                    parse(&SecretString::from(String::from_utf8(b).unwrap())),
                    None,
                    "position {i}"
                );
            }
            assert_eq!(
                parse(&SecretString::from(s[..s.len() - 1].to_owned())),
                None
            );
        }
        assert_ne!(generate(TokenKind::Api).hash, generate(TokenKind::Api).hash);
    }
}
