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
    /// Longest token lifetime the API issues, and the longest a token may
    /// live (issue to expiry) to be accepted at all, seconds.
    #[serde(default = "default_max_token_ttl")]
    pub max_token_ttl_s: u64,
    /// Addresses that may reach `/metrics` and the token API (loopback by
    /// default: a monitoring agent and the hospital system on this host,
    /// or listed here).
    #[serde(default = "default_admin_allow")]
    pub admin_allow: Vec<std::net::IpAddr>,
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
    /// Open TCP connections, upgraded or not (counted when accepted).
    pub max_connections: usize,
    /// Open TCP connections from one address: one host cannot take them
    /// all.
    pub max_connections_per_source: usize,
    pub max_rooms: usize,
    pub max_peers_per_room: usize,
    /// Largest WebSocket message, bytes (an SDP offer with many codecs is
    /// ~10 KB).
    pub max_message_bytes: usize,
    /// Sustained messages per second per connection (every frame a client
    /// sends counts, binary and ping too), and the burst above it.
    pub messages_per_second: f64,
    pub message_burst: f64,
    /// Sustained bytes per second per connection, and the burst above it.
    pub bytes_per_second: f64,
    pub byte_burst: f64,
    /// Bytes queued for one connection before it counts as not reading
    /// and is closed.
    pub max_queued_bytes: usize,
    pub max_chat_chars: usize,
    /// Seconds a connection may stay without joining.
    pub join_timeout_s: u64,
    /// Seconds from accepting a connection to its first request's headers
    /// being read (a client that sends them a byte at a time — slowloris —
    /// is closed), and for a TLS handshake.
    pub header_timeout_s: u64,
    /// Seconds one message may take to be written to a client before the
    /// connection counts as stuck and is closed.
    pub send_timeout_s: u64,
    /// The server pings every this many seconds; a connection from which
    /// nothing (not even the pong) arrived for `heartbeat_timeout_s` has
    /// lost its link, and leaves its room.
    pub heartbeat_s: u64,
    pub heartbeat_timeout_s: u64,
}

impl Default for Limits {
    fn default() -> Self {
        let rooms = RoomLimits::default();
        Limits {
            max_connections: 4000,
            max_connections_per_source: 64,
            max_rooms: rooms.max_rooms,
            max_peers_per_room: rooms.max_peers_per_room,
            max_message_bytes: 64 * 1024,
            messages_per_second: 50.0,
            message_burst: 200.0,
            // An offer with every codec is ~10 KB; a renegotiation burst a
            // few of them.
            bytes_per_second: 64.0 * 1024.0,
            byte_burst: 512.0 * 1024.0,
            max_queued_bytes: 1 << 20,
            max_chat_chars: rooms.max_chat_chars,
            join_timeout_s: 10,
            header_timeout_s: 10,
            send_timeout_s: 5,
            heartbeat_s: 10,
            heartbeat_timeout_s: 30,
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

fn default_admin_allow() -> Vec<std::net::IpAddr> {
    vec![
        std::net::IpAddr::from([127, 0, 0, 1]),
        std::net::IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
    ]
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
            admin_allow: default_admin_allow(),
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
        self.limits.validate()
    }
}

impl Limits {
    /// Every limit a positive, finite number where zero or infinity would
    /// mean "no limit" or "nothing gets through" (a NaN compares false with
    /// everything, so each is checked to be a number first).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid =
            |field: &str, why: &str| Err(ConfigError::Invalid(format!("limits.{field}: {why}")));
        for (field, value) in [
            ("messages_per_second", self.messages_per_second),
            ("message_burst", self.message_burst),
            ("bytes_per_second", self.bytes_per_second),
            ("byte_burst", self.byte_burst),
        ] {
            if !value.is_finite() {
                return invalid(field, "must be a finite number");
            }
            if value < 1.0 {
                return invalid(field, "must be at least 1");
            }
        }
        for (field, value) in [
            ("max_connections", self.max_connections as u64),
            (
                "max_connections_per_source",
                self.max_connections_per_source as u64,
            ),
            ("max_rooms", self.max_rooms as u64),
            ("max_queued_bytes", self.max_queued_bytes as u64),
            ("join_timeout_s", self.join_timeout_s),
            ("header_timeout_s", self.header_timeout_s),
            ("send_timeout_s", self.send_timeout_s),
            ("heartbeat_s", self.heartbeat_s),
            ("heartbeat_timeout_s", self.heartbeat_timeout_s),
        ] {
            if value == 0 {
                return invalid(field, "must be positive");
            }
        }
        if self.max_peers_per_room < 2 {
            return invalid("max_peers_per_room", "a room holds at least 2 peers");
        }
        if self.max_message_bytes < 1024 {
            return invalid("max_message_bytes", "at least 1024 bytes");
        }
        if self.byte_burst < self.max_message_bytes as f64 {
            return invalid(
                "byte_burst",
                "must hold at least one message of max_message_bytes",
            );
        }
        if self.heartbeat_timeout_s <= self.heartbeat_s {
            return invalid(
                "heartbeat_timeout_s",
                "must be longer than heartbeat_s, or every pong is late",
            );
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
    fn limits_that_are_not_numbers_or_zero_are_refused() {
        let valid = Config::loopback(default_listen(), "long enough secret".into());
        valid.validate().expect("the defaults are valid");
        for (text, field) in [
            ("messages_per_second = nan", "messages_per_second"),
            ("messages_per_second = inf", "messages_per_second"),
            ("bytes_per_second = -1.0", "bytes_per_second"),
            ("message_burst = 0.0", "message_burst"),
            ("heartbeat_s = 0", "heartbeat_s"),
            ("heartbeat_timeout_s = 5", "heartbeat_timeout_s"),
            (
                "max_connections_per_source = 0",
                "max_connections_per_source",
            ),
            ("send_timeout_s = 0", "send_timeout_s"),
        ] {
            let toml = format!("token_secret = \"long enough secret\"\n[limits]\n{text}\n");
            let config = Config::parse(&toml, Path::new("x.toml")).expect("parses");
            let refused = config.validate().expect_err(text);
            assert!(refused.to_string().contains(field), "{text}: {refused}");
        }
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
