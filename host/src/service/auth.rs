//! Who may read and who may change: a bearer token, compared without a timing leak, and
//! the status page's sign-in cookie derived from it.

use sha2::{Digest, Sha256};

use crate::config::Secret;

/// The cookie the status page's sign-in sets.
pub const COOKIE: &str = "ferry_session";

/// The service's token, kept as digests: compared by hashing what is offered, so that
/// neither the time taken nor a length check tells how much of it was right.
#[derive(Clone)]
pub struct Token {
    digest: [u8; 32],
    /// What the sign-in cookie holds: a digest of the token, never the token itself.
    cookie: String,
}

fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// Equal without stopping at the first difference.
fn same(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

impl Token {
    pub fn new(secret: &Secret) -> Self {
        let token = secret.expose().as_bytes();
        Token {
            digest: sha256(&[token]),
            cookie: data_encoding::HEXLOWER.encode(&sha256(&[b"ferry-session\0", token])),
        }
    }

    /// Whether `offered` is the token.
    pub fn accepts(&self, offered: &str) -> bool {
        same(&self.digest, &sha256(&[offered.as_bytes()]))
    }

    /// Whether an `Authorization` header's value carries the token.
    pub fn accepts_header(&self, header: &str) -> bool {
        let offered = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "));
        offered.is_some_and(|offered| self.accepts(offered.trim()))
    }

    /// Whether a `Cookie` header holds the sign-in cookie for this token.
    pub fn accepts_cookies(&self, header: &str) -> bool {
        let expected = sha256(&[self.cookie.as_bytes()]);
        header
            .split(';')
            .filter_map(|pair| pair.trim().split_once('='))
            .filter(|(name, _)| *name == COOKIE)
            .any(|(_, value)| same(&expected, &sha256(&[value.as_bytes()])))
    }

    /// The `Set-Cookie` value that signs the status page in.
    pub fn set_cookie(&self) -> String {
        format!(
            "{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/; Max-Age=2592000",
            self.cookie
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> Token {
        Token::new(&Secret::new("correct horse battery staple".into()))
    }

    #[test]
    fn only_the_token_is_accepted() {
        let token = token();
        assert!(token.accepts("correct horse battery staple"));
        assert!(!token.accepts("correct horse battery stapl"));
        assert!(!token.accepts(""));
        assert!(token.accepts_header("Bearer correct horse battery staple"));
        assert!(!token.accepts_header("correct horse battery staple"));
        assert!(!token.accepts_header("Basic correct horse battery staple"));
    }

    #[test]
    fn the_cookie_is_a_digest_and_is_accepted_back() {
        let token = token();
        let set = token.set_cookie();
        assert!(!set.contains("horse"), "{set}");
        let value = set.split(';').next().unwrap();
        assert!(token.accepts_cookies(&format!("other=1; {value}")));
        assert!(!token.accepts_cookies("ferry_session=00"));
        assert!(!token.accepts_cookies("ferry_session=correct horse battery staple"));
    }
}
