//! Short-lived signed room tokens.
//!
//! A token is `v1.<claims>.<signature>`: the claims are JSON (room, role,
//! issue and expiry times, a random id), both parts base64url without
//! padding, the signature HMAC-SHA256 over `v1.<claims>` with the server's
//! secret. Verification checks the signature in constant time before it
//! reads the claims, then the expiry, then the room.

use crate::protocol::Role;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

const PREFIX: &str = "v1";
/// Longest token accepted (a real one is ~200 bytes).
pub const MAX_TOKEN_BYTES: usize = 2048;
/// Longest room name.
pub const MAX_ROOM_BYTES: usize = 128;
/// Clock skew tolerated between the issuer and this server.
const LEEWAY_S: u64 = 30;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub room: String,
    pub role: Role,
    /// Issued at, seconds since the Unix epoch.
    pub iat: u64,
    /// Expires at, seconds since the Unix epoch.
    pub exp: u64,
    /// Random id (logs can name a token without showing it).
    pub jti: String,
    /// How many participants of this role the room may hold when this
    /// token joins (absent: one presenter, one specialist, observers up to
    /// the room's limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seats: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is malformed")]
    Malformed,
    #[error("the token's signature is not valid")]
    BadSignature,
    #[error("the token expired {0} s ago")]
    Expired(u64),
    #[error("the token is for another room")]
    WrongRoom,
    #[error("the room name is empty, too long or has control characters")]
    BadRoom,
    #[error("the token lives {lives_s} s, longer than the {max_s} s this server accepts")]
    TooLong { lives_s: u64, max_s: u64 },
}

/// Room names: 1..=128 bytes of printable characters.
pub fn valid_room(room: &str) -> bool {
    !room.is_empty() && room.len() <= MAX_ROOM_BYTES && !room.chars().any(char::is_control)
}

/// Issues and verifies tokens with one secret.
#[derive(Clone)]
pub struct TokenKey {
    secret: Vec<u8>,
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(<secret>)")
    }
}

impl TokenKey {
    pub fn new(secret: &[u8]) -> TokenKey {
        TokenKey {
            secret: secret.to_vec(),
        }
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC takes keys of any length.
        match <Hmac<Sha256> as KeyInit>::new_from_slice(&self.secret) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC accepts keys of every length"),
        }
    }

    /// A token for `room` and `role`, valid for `ttl_s` seconds from `now`.
    pub fn issue(
        &self,
        room: &str,
        role: Role,
        ttl_s: u64,
        now: u64,
    ) -> Result<String, TokenError> {
        self.issue_seated(room, role, ttl_s, None, now)
    }

    /// [`Self::issue`], letting the room hold `seats` participants of
    /// `role` when this token joins.
    pub fn issue_seated(
        &self,
        room: &str,
        role: Role,
        ttl_s: u64,
        seats: Option<u16>,
        now: u64,
    ) -> Result<String, TokenError> {
        if !valid_room(room) {
            return Err(TokenError::BadRoom);
        }
        let claims = Claims {
            room: room.to_owned(),
            role,
            iat: now,
            exp: now.saturating_add(ttl_s),
            jti: random_id(),
            seats,
        };
        let json = serde_json::to_vec(&claims).map_err(|_| TokenError::Malformed)?;
        let signed = format!("{PREFIX}.{}", URL_SAFE_NO_PAD.encode(json));
        let mut mac = self.mac();
        mac.update(signed.as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        Ok(format!("{signed}.{signature}"))
    }

    /// The claims of a token that is well signed and not expired at `now`.
    pub fn verify(&self, token: &str, now: u64) -> Result<Claims, TokenError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::Malformed);
        }
        let (signed, signature) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
        let (prefix, claims) = signed.split_once('.').ok_or(TokenError::Malformed)?;
        if prefix != PREFIX {
            return Err(TokenError::Malformed);
        }
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| TokenError::Malformed)?;
        let mut mac = self.mac();
        mac.update(signed.as_bytes());
        mac.verify_slice(&signature)
            .map_err(|_| TokenError::BadSignature)?;
        let json = URL_SAFE_NO_PAD
            .decode(claims)
            .map_err(|_| TokenError::Malformed)?;
        let claims: Claims = serde_json::from_slice(&json).map_err(|_| TokenError::Malformed)?;
        if now > claims.exp.saturating_add(LEEWAY_S) {
            return Err(TokenError::Expired(now - claims.exp));
        }
        if !valid_room(&claims.room) {
            return Err(TokenError::BadRoom);
        }
        Ok(claims)
    }

    /// [`Self::verify`], and the token may not live longer than
    /// `max_lifetime_s` from issue to expiry: a token signed with the
    /// right key but for a year (by a tool, or leaked from a test) is
    /// refused whatever its expiry says.
    pub fn verify_lifetime(
        &self,
        token: &str,
        now: u64,
        max_lifetime_s: u64,
    ) -> Result<Claims, TokenError> {
        let claims = self.verify(token, now)?;
        let lives_s = claims.exp.saturating_sub(claims.iat);
        if lives_s > max_lifetime_s {
            return Err(TokenError::TooLong {
                lives_s,
                max_s: max_lifetime_s,
            });
        }
        Ok(claims)
    }
}

/// 128 random bits, hex.
pub fn random_id() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000;

    #[test]
    fn a_token_verifies_with_its_key_only() {
        let key = TokenKey::new(b"secret one");
        let token = key
            .issue("case-17", Role::Presenter, 7200, NOW)
            .unwrap_or_default();
        let claims = key.verify(&token, NOW + 10);
        assert!(
            matches!(&claims, Ok(c) if c.room == "case-17" && c.role == Role::Presenter && c.exp == NOW + 7200),
            "{claims:?}"
        );
        assert_eq!(
            TokenKey::new(b"secret two").verify(&token, NOW),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn a_token_that_lives_too_long_is_refused_when_verified() {
        let key = TokenKey::new(b"k");
        let year = key
            .issue("r", Role::Presenter, 365 * 24 * 3600, NOW)
            .unwrap_or_default();
        assert!(key.verify(&year, NOW).is_ok());
        assert_eq!(
            key.verify_lifetime(&year, NOW, 24 * 3600),
            Err(TokenError::TooLong {
                lives_s: 365 * 24 * 3600,
                max_s: 24 * 3600
            })
        );
        let day = key
            .issue_seated("r", Role::Observer, 3600, Some(3), NOW)
            .unwrap_or_default();
        let claims = key.verify_lifetime(&day, NOW, 24 * 3600);
        assert!(matches!(&claims, Ok(c) if c.seats == Some(3)), "{claims:?}");
    }

    #[test]
    fn expired_tampered_and_garbage_tokens_are_refused() {
        let key = TokenKey::new(b"k");
        let token = key.issue("r", Role::Observer, 60, NOW).unwrap_or_default();
        assert_eq!(
            key.verify(&token, NOW + 60 + LEEWAY_S + 5),
            Err(TokenError::Expired(LEEWAY_S + 5))
        );
        // Raise the role inside the claims: the signature no longer fits.
        let (_, claims, sig) = {
            let mut parts = token.split('.');
            (
                parts.next().unwrap_or_default(),
                parts.next().unwrap_or_default(),
                parts.next().unwrap_or_default(),
            )
        };
        let json = String::from_utf8(URL_SAFE_NO_PAD.decode(claims).unwrap_or_default())
            .unwrap_or_default()
            .replace("observer", "specialist");
        let forged = format!("v1.{}.{sig}", URL_SAFE_NO_PAD.encode(json));
        assert_eq!(key.verify(&forged, NOW), Err(TokenError::BadSignature));
        for bad in ["", "v1", "v1..", "v2.a.b", "v1.!!.??", &"x".repeat(5000)] {
            assert!(key.verify(bad, NOW).is_err(), "{bad:?} accepted");
        }
        assert_eq!(
            key.issue("", Role::Observer, 60, NOW),
            Err(TokenError::BadRoom)
        );
        assert_eq!(
            key.issue("a\nb", Role::Observer, 60, NOW),
            Err(TokenError::BadRoom)
        );
    }
}
