//! The server's TOML configuration, with environment overrides for
//! secrets and addresses (so a container or a unit file need not write
//! them into a file).

use crate::rooms::RoomLimits;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Shortest secret accepted for tokens, TURN and the API key.
pub const MIN_SECRET_BYTES: usize = 16;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address to listen on. Plain WebSocket only on loopback; elsewhere
    /// `[tls]` is required.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// HMAC secret that signs room tokens.
    pub token_secret: String,
    /// Bearer key hospital systems present to `POST /v1/tokens`; the
    /// endpoint is off without it.
    #[serde(default)]
    pub api_key: Option<String>,
    /// Longest token lifetime the API issues, seconds.
    #[serde(default = "default_max_token_ttl")]
    pub max_token_ttl_s: u64,
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    #[serde(default)]
    pub ice: IceConfig,
    #[serde(default)]
    pub limits: Limits,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IceConfig {
    #[serde(default)]
    pub stun_urls: Vec<String>,
    #[serde(default)]
    pub turn_urls: Vec<String>,
    /// coturn's `static-auth-secret`.
    #[serde(default)]
    pub turn_secret: Option<String>,
    /// Lifetime of the TURN credentials in a welcome, seconds. coturn
    /// refuses them after it, so it must outlast a call's setup and its
    /// ICE restarts.
    #[serde(default = "default_turn_ttl")]
    pub turn_ttl_s: u64,
}

/// Shortest TURN credential lifetime accepted: a minute covers joining,
/// gathering and an ICE restart on a slow link.
pub const MIN_TURN_TTL_S: u64 = 60;

// Written out rather than derived: a derived default would give the TURN
// credentials a lifetime of zero, which coturn refuses as expired
// ("Cannot find credentials of user") whenever a second turns over
// between the welcome and the allocation.
impl Default for IceConfig {
    fn default() -> Self {
        IceConfig {
            stun_urls: Vec::new(),
            turn_urls: Vec::new(),
            turn_secret: None,
            turn_ttl_s: default_turn_ttl(),
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    pub max_connections: usize,
    pub max_rooms: usize,
    pub max_peers_per_room: usize,
    /// Largest WebSocket message, bytes (an SDP offer with many codecs is
    /// ~10 KB).
    pub max_message_bytes: usize,
    /// Sustained messages per second per connection, and the burst above it.
    pub messages_per_second: f64,
    pub message_burst: f64,
    pub max_chat_chars: usize,
    /// Seconds a connection may stay without joining.
    pub join_timeout_s: u64,
}

impl Default for Limits {
    fn default() -> Self {
        let rooms = RoomLimits::default();
        Limits {
            max_connections: 4000,
            max_rooms: rooms.max_rooms,
            max_peers_per_room: rooms.max_peers_per_room,
            max_message_bytes: 64 * 1024,
            messages_per_second: 50.0,
            message_burst: 200.0,
            max_chat_chars: rooms.max_chat_chars,
            join_timeout_s: 10,
        }
    }
}

impl Limits {
    pub fn rooms(&self) -> RoomLimits {
        RoomLimits {
            max_rooms: self.max_rooms,
            max_peers_per_room: self.max_peers_per_room,
            max_chat_chars: self.max_chat_chars,
        }
    }
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8443))
}

fn default_max_token_ttl() -> u64 {
    24 * 3600
}

fn default_turn_ttl() -> u64 {
    6 * 3600
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("environment variable {name}: {message}")]
    Env { name: &'static str, message: String },
    #[error("{0}")]
    Invalid(String),
}

/// Environment variables that override the file.
pub const ENV_LISTEN: &str = "KAKEHASHI_SIGNAL_LISTEN";
pub const ENV_TOKEN_SECRET: &str = "KAKEHASHI_SIGNAL_TOKEN_SECRET";
pub const ENV_API_KEY: &str = "KAKEHASHI_SIGNAL_API_KEY";
pub const ENV_TURN_SECRET: &str = "KAKEHASHI_SIGNAL_TURN_SECRET";
pub const ENV_TLS_CERT: &str = "KAKEHASHI_SIGNAL_TLS_CERT";
pub const ENV_TLS_KEY: &str = "KAKEHASHI_SIGNAL_TLS_KEY";

impl Config {
    /// A configuration from TOML text (`path` names it in errors).
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })
    }

    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Config::parse(&text, path)
    }

    /// A loopback configuration for a quick start and tests.
    pub fn loopback(listen: SocketAddr, token_secret: String) -> Config {
        Config {
            listen,
            token_secret,
            api_key: None,
            max_token_ttl_s: default_max_token_ttl(),
            tls: None,
            ice: IceConfig::default(),
            limits: Limits::default(),
        }
    }

    /// Apply `KAKEHASHI_SIGNAL_*` overrides from `env` (a lookup, so tests
    /// need not touch the process environment).
    pub fn override_from(
        &mut self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        if let Some(v) = env(ENV_LISTEN) {
            self.listen = v.parse().map_err(|e| ConfigError::Env {
                name: ENV_LISTEN,
                message: format!("{v:?} is not an address: {e}"),
            })?;
        }
        if let Some(v) = env(ENV_TOKEN_SECRET) {
            self.token_secret = v;
        }
        if let Some(v) = env(ENV_API_KEY) {
            self.api_key = Some(v);
        }
        if let Some(v) = env(ENV_TURN_SECRET) {
            self.ice.turn_secret = Some(v);
        }
        match (env(ENV_TLS_CERT), env(ENV_TLS_KEY)) {
            (Some(cert), Some(key)) => {
                self.tls = Some(TlsConfig {
                    cert: cert.into(),
                    key: key.into(),
                })
            }
            (None, None) => {}
            _ => {
                return Err(ConfigError::Env {
                    name: ENV_TLS_CERT,
                    message: format!("set both {ENV_TLS_CERT} and {ENV_TLS_KEY}, or neither"),
                });
            }
        }
        Ok(())
    }

    /// Refuse configurations that would be unsafe or cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let short = |what: &str, s: &str| {
            (s.len() < MIN_SECRET_BYTES).then(|| {
                ConfigError::Invalid(format!("{what} is shorter than {MIN_SECRET_BYTES} bytes"))
            })
        };
        if let Some(e) = short("token_secret", &self.token_secret) {
            return Err(e);
        }
        if let Some(e) = self.api_key.as_deref().and_then(|k| short("api_key", k)) {
            return Err(e);
        }
        if let Some(e) = self
            .ice
            .turn_secret
            .as_deref()
            .and_then(|k| short("ice.turn_secret", k))
        {
            return Err(e);
        }
        if self.ice.turn_secret.is_some() && self.ice.turn_ttl_s < MIN_TURN_TTL_S {
            return Err(ConfigError::Invalid(format!(
                "ice.turn_ttl_s = {}: TURN credentials must live at least {MIN_TURN_TTL_S} s, or coturn refuses them before the call is set up",
                self.ice.turn_ttl_s
            )));
        }
        if self.tls.is_none() && !self.listen.ip().is_loopback() {
            return Err(ConfigError::Invalid(format!(
                "listening on {} without [tls]: plain WebSocket is only allowed on loopback",
                self.listen
            )));
        }
        let l = &self.limits;
        if l.max_connections == 0
            || l.max_rooms == 0
            || l.max_peers_per_room < 2
            || l.max_message_bytes < 1024
            || l.messages_per_second <= 0.0
            || l.message_burst < 1.0
        {
            return Err(ConfigError::Invalid(
                "limits: every limit must be positive, rooms hold at least 2 peers and messages at least 1024 bytes".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_then_environment_then_validation() {
        let text = r#"
            listen = "0.0.0.0:443"
            token_secret = "0123456789abcdef0123"
            [tls]
            cert = "/etc/kakehashi/cert.pem"
            key = "/etc/kakehashi/key.pem"
            [ice]
            turn_urls = ["turn:turn.example:3478"]
            [limits]
            max_peers_per_room = 4
        "#;
        let mut config = Config::parse(text, Path::new("signal.toml")).expect("parses");
        assert_eq!(config.limits.max_peers_per_room, 4);
        assert_eq!(config.limits.max_message_bytes, 64 * 1024);
        config.validate().expect("valid");
        config
            .override_from(|name| {
                (name == ENV_TURN_SECRET).then(|| "turn secret from env!".to_string())
            })
            .expect("overrides");
        assert_eq!(
            config.ice.turn_secret.as_deref(),
            Some("turn secret from env!")
        );
        config.tls = None;
        assert!(config.validate().is_err(), "plain on 0.0.0.0 is refused");
        let bad = Config::parse("listen = 5\n", Path::new("x.toml"));
        assert!(matches!(bad, Err(ConfigError::Parse { .. })));
        let unknown = Config::parse("token_secret = \"x\"\nbogus = 1\n", Path::new("x.toml"));
        assert!(unknown.is_err(), "unknown keys are errors, not ignored");
        let mut short = Config::loopback(default_listen(), "short".into());
        assert!(short.validate().is_err());
        short.token_secret = "long enough secret".into();
        short.validate().expect("valid");
    }

    #[test]
    fn turn_credentials_outlive_the_call_setup_by_default() {
        let loopback = Config::loopback(default_listen(), "long enough secret".into());
        assert_eq!(loopback.ice.turn_ttl_s, 6 * 3600);
        let without_ice =
            Config::parse("token_secret = \"x\"\n", Path::new("x.toml")).expect("parses");
        assert_eq!(without_ice.ice.turn_ttl_s, 6 * 3600);
        let text = "token_secret = \"long enough secret\"\n[ice]\nturn_secret = \"long enough turn secret\"\nturn_ttl_s = 0\n";
        let zero = Config::parse(text, Path::new("x.toml")).expect("parses");
        let refused = zero.validate().expect_err("a zero lifetime is refused");
        assert!(refused.to_string().contains("ice.turn_ttl_s"), "{refused}");
    }
}
