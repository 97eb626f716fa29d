//! Counters for `GET /metrics`, in Prometheus' text format. A handful of
//! atomics: no registry needed.

use crate::protocol::{ErrorCode, ServerMessage};
use crate::rooms::Output;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

const CODES: [ErrorCode; 15] = [
    ErrorCode::BadMessage,
    ErrorCode::UnknownType,
    ErrorCode::UnsupportedVersion,
    ErrorCode::Unauthorized,
    ErrorCode::NotJoined,
    ErrorCode::AlreadyJoined,
    ErrorCode::NoSuchPeer,
    ErrorCode::Forbidden,
    ErrorCode::RoomFull,
    ErrorCode::TooManyRooms,
    ErrorCode::TooLarge,
    ErrorCode::RateLimited,
    ErrorCode::GoingAway,
    ErrorCode::TokenInUse,
    ErrorCode::RoleTaken,
];

#[derive(Default)]
pub struct Metrics {
    connections_open: AtomicU64,
    connections_total: AtomicU64,
    connections_refused: AtomicU64,
    joins: AtomicU64,
    messages_in: AtomicU64,
    messages_relayed: AtomicU64,
    tokens_issued: AtomicU64,
    api_refused: AtomicU64,
    /// Connections closed because they did not read what was sent.
    slow_closed: AtomicU64,
    /// Connections whose link vanished (no pong in time).
    heartbeat_lost: AtomicU64,
    /// TCP connections refused when accepted: all places taken, or the
    /// source's.
    admission_refused_full: AtomicU64,
    admission_refused_source: AtomicU64,
    errors: [AtomicU64; CODES.len()],
}

fn add(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Metrics {
    pub fn connection_opened(&self) {
        add(&self.connections_open);
        add(&self.connections_total);
    }
    pub fn connection_closed(&self) {
        self.connections_open.fetch_sub(1, Ordering::Relaxed);
    }
    pub fn count_connection_refused(&self) {
        add(&self.connections_refused);
    }
    pub fn count_join(&self) {
        add(&self.joins);
    }
    pub fn count_message_in(&self) {
        add(&self.messages_in);
    }
    pub fn count_token_issued(&self) {
        add(&self.tokens_issued);
    }
    pub fn count_api_refused(&self) {
        add(&self.api_refused);
    }
    pub fn count_slow_closed(&self) {
        add(&self.slow_closed);
    }
    pub fn count_heartbeat_lost(&self) {
        add(&self.heartbeat_lost);
    }
    pub fn count_admission_refused(&self, refused: crate::admission::Refused) {
        match refused {
            crate::admission::Refused::Full => add(&self.admission_refused_full),
            crate::admission::Refused::SourceFull => add(&self.admission_refused_source),
        }
    }
    pub fn count_error(&self, code: ErrorCode) {
        if let Some(i) = CODES.iter().position(|c| *c == code) {
            add(&self.errors[i]);
        }
    }
    /// Offers, answers, candidates and restarts passed between peers.
    pub fn count_relayed(&self, outputs: &[Output]) {
        let relayed = outputs
            .iter()
            .filter(|o| {
                matches!(
                    o,
                    Output::Send(
                        _,
                        ServerMessage::Offer { .. }
                            | ServerMessage::Answer { .. }
                            | ServerMessage::Candidate { .. }
                            | ServerMessage::IceRestart { .. }
                            | ServerMessage::Chat { .. }
                    )
                )
            })
            .count();
        self.messages_relayed
            .fetch_add(relayed as u64, Ordering::Relaxed);
    }

    pub fn render(&self, rooms: usize, peers: usize) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        };
        metric(
            "kakehashi_signal_rooms",
            "gauge",
            "Rooms open.",
            rooms as u64,
        );
        metric(
            "kakehashi_signal_peers",
            "gauge",
            "Peers joined to a room.",
            peers as u64,
        );
        metric(
            "kakehashi_signal_connections",
            "gauge",
            "WebSocket connections open.",
            get(&self.connections_open),
        );
        metric(
            "kakehashi_signal_connections_total",
            "counter",
            "WebSocket connections accepted.",
            get(&self.connections_total),
        );
        metric(
            "kakehashi_signal_connections_refused_total",
            "counter",
            "Connections refused (limit or shutdown).",
            get(&self.connections_refused),
        );
        metric(
            "kakehashi_signal_joins_total",
            "counter",
            "Successful joins.",
            get(&self.joins),
        );
        metric(
            "kakehashi_signal_messages_in_total",
            "counter",
            "Messages received from clients.",
            get(&self.messages_in),
        );
        metric(
            "kakehashi_signal_messages_relayed_total",
            "counter",
            "Messages relayed between peers.",
            get(&self.messages_relayed),
        );
        metric(
            "kakehashi_signal_tokens_issued_total",
            "counter",
            "Tokens issued by the API.",
            get(&self.tokens_issued),
        );
        metric(
            "kakehashi_signal_api_refused_total",
            "counter",
            "Token API requests with a wrong key.",
            get(&self.api_refused),
        );
        metric(
            "kakehashi_signal_slow_closed_total",
            "counter",
            "Connections closed because they did not read what was sent to them.",
            get(&self.slow_closed),
        );
        metric(
            "kakehashi_signal_heartbeat_lost_total",
            "counter",
            "Connections closed because nothing came back for the heartbeat timeout.",
            get(&self.heartbeat_lost),
        );
        metric(
            "kakehashi_signal_admission_refused_full_total",
            "counter",
            "TCP connections refused when accepted: the server's cap.",
            get(&self.admission_refused_full),
        );
        metric(
            "kakehashi_signal_admission_refused_source_total",
            "counter",
            "TCP connections refused when accepted: the cap per source address.",
            get(&self.admission_refused_source),
        );
        let _ = writeln!(
            out,
            "# HELP kakehashi_signal_errors_total Errors sent to clients, by code.\n# TYPE kakehashi_signal_errors_total counter"
        );
        for (code, counter) in CODES.iter().zip(&self.errors) {
            let label = serde_json::to_string(code).unwrap_or_default();
            let _ = writeln!(
                out,
                "kakehashi_signal_errors_total{{code={label}}} {}",
                get(counter)
            );
        }
        out
    }
}
