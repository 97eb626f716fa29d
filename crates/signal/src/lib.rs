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

/// The first line `kakehashi-signal serve` prints on stdout once it
/// listens, `listening HOST:PORT`: how scripts, tests and the benches learn
/// the port when they ask for port 0.
pub fn listening_line(addr: std::net::SocketAddr) -> String {
    format!("listening {addr}")
}

/// The address in a [`listening_line`]; `None` for any other line.
pub fn address_from_listening_line(line: &str) -> Option<std::net::SocketAddr> {
    line.trim().strip_prefix("listening ")?.parse().ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_listening_line_gives_its_address_back() {
        for addr in ["127.0.0.1:8443", "[::1]:443"] {
            let addr = addr.parse().expect("address");
            let line = super::listening_line(addr);
            assert_eq!(super::address_from_listening_line(&line), Some(addr));
        }
        assert_eq!(super::address_from_listening_line("listening soon"), None);
        assert_eq!(super::address_from_listening_line("error: no"), None);
    }
}
