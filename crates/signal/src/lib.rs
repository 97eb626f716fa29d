//! `kakehashi-signal`: the signalling server that brings the island clinic
//! and the university hospital into one room. WebSocket rooms speaking the
//! versioned JSON protocol of `docs/signalling.md`, short-lived signed room
//! tokens, coturn-compatible TURN credentials, health and Prometheus
//! metrics. No media passes through it.

pub mod admission;
pub mod config;
pub mod metrics;
pub use kh_signal_protocol as protocol;
pub mod rooms;
pub mod server;
pub mod token;
pub mod turn;

pub use config::Config;
pub use protocol::{ClientMessage, ErrorCode, Role, ServerMessage};
pub use server::Server;
pub use token::TokenKey;
