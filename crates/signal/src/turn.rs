//! Time-limited TURN credentials, coturn's "TURN REST API" scheme
//! (`use-auth-secret` / `static-auth-secret`): the username is
//! `<expiry unix time>:<peer id>` and the password is
//! base64(HMAC-SHA1(secret, username)). coturn recomputes the password
//! from the username and refuses it after the expiry.

use crate::protocol::IceServer;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

/// Credentials valid for `ttl_s` seconds from `now` for `peer_id`.
pub fn credentials(secret: &[u8], peer_id: &str, ttl_s: u64, now: u64) -> (String, String) {
    let username = format!("{}:{peer_id}", now.saturating_add(ttl_s));
    let mut mac = match <Hmac<Sha1> as KeyInit>::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts keys of every length"),
    };
    mac.update(username.as_bytes());
    let password = STANDARD.encode(mac.finalize().into_bytes());
    (username, password)
}

/// The ICE servers a joined peer is given: STUN as configured, TURN with
/// fresh credentials when a TURN secret is configured.
pub fn ice_servers(
    stun_urls: &[String],
    turn_urls: &[String],
    turn_secret: Option<&[u8]>,
    peer_id: &str,
    ttl_s: u64,
    now: u64,
) -> Vec<IceServer> {
    let mut servers = Vec::new();
    if !stun_urls.is_empty() {
        servers.push(IceServer {
            urls: stun_urls.to_vec(),
            username: None,
            credential: None,
        });
    }
    if let (false, Some(secret)) = (turn_urls.is_empty(), turn_secret) {
        let (username, credential) = credentials(secret, peer_id, ttl_s, now);
        servers.push(IceServer {
            urls: turn_urls.to_vec(),
            username: Some(username),
            credential: Some(credential),
        });
    }
    servers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_published_scheme() {
        // Reference computed independently: python3 -c "import hmac, hashlib, base64;
        // print(base64.b64encode(hmac.new(b'north', b'1700003600:peer1', hashlib.sha1).digest()))"
        let (user, pass) = credentials(b"north", "peer1", 3600, 1_700_000_000);
        assert_eq!(user, "1700003600:peer1");
        assert_eq!(pass, "/VEbvDfAIXLWflwoF+vmZkPWd6g=");
    }
}
