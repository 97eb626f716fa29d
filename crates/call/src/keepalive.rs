//! The `control` channel's own traffic, sans-IO: pings the far side sends
//! are answered, pongs to ours measured. A peer decides how many of either
//! arrive, so both are bounded here: pings answered at most
//! [`PINGS_PER_S`] (a burst of [`PING_BURST`]) and only with a number
//! echoed back (never whatever value it sent: no reflecting a 64 KiB
//! string per ping), round trips kept [`MAX_ROUND_TRIPS`] deep, pongs that
//! answer no ping of ours (a stamp in the future, or older than the call)
//! counted and dropped. Time is passed in as ms since the call started.

use crate::pace::Bucket;
use serde::Deserialize;
use std::collections::VecDeque;

/// Round trips kept for the statistics: the newest.
pub const MAX_ROUND_TRIPS: usize = 1024;

/// Pings answered per second on average. Ours go out once a second
/// (`channels::PING_EVERY`); browsers' and aiortc's test peers ping every
/// 0.5 s. Twenty a second leaves room for any sane peer.
pub const PINGS_PER_S: f64 = 20.0;
/// Pings answered back to back before the rate applies.
pub const PING_BURST: f64 = 40.0;

/// A ping on `control`: `{"type":"ping","t":MS}`, answered with a pong of
/// the same `t`.
#[derive(Deserialize)]
struct Wire {
    #[serde(rename = "type")]
    kind: String,
    t: Option<serde_json::Value>,
}

/// What the call reports about keepalive traffic.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeepaliveReport {
    pub pings_answered: u64,
    /// Pings over the rate, not answered.
    pub pings_refused: u64,
    /// Pongs that answered no ping of ours.
    pub pongs_ignored: u64,
    pub round_trips_ms: VecDeque<f64>,
}

/// What to do with a message that arrived on `control`.
#[derive(Debug, Clone, PartialEq)]
pub enum Keepalive {
    /// Not a ping or a pong: the endpoint's.
    NotOne,
    /// Send this pong.
    Answer(String),
    /// Taken (measured, refused or ignored): nothing to send.
    Taken,
}

/// What answering needs to remember: how many pings it may still answer.
pub struct KeepaliveState {
    answers: Bucket,
}

impl Default for KeepaliveState {
    fn default() -> Self {
        KeepaliveState {
            answers: Bucket::new(PINGS_PER_S, PING_BURST),
        }
    }
}

impl KeepaliveState {
    /// `data` arrived on `control` at `now_ms` (ms since the call started);
    /// `report` (the call's, shared with its statistics) is brought up to
    /// date in place.
    pub fn on_message(
        &mut self,
        report: &mut KeepaliveReport,
        data: &[u8],
        now_ms: f64,
    ) -> Keepalive {
        let Ok(message) = serde_json::from_slice::<Wire>(data) else {
            return Keepalive::NotOne;
        };
        let stamp = message.t.as_ref().and_then(|t| t.as_f64());
        match message.kind.as_str() {
            "ping" => {
                if !self.answers.take(now_ms / 1e3) {
                    report.pings_refused += 1;
                    return Keepalive::Taken;
                }
                report.pings_answered += 1;
                // A number goes back as it came; anything else as null.
                let t = stamp.map_or(serde_json::Value::Null, serde_json::Value::from);
                Keepalive::Answer(serde_json::json!({"type": "pong", "t": t}).to_string())
            }
            "pong" => {
                match stamp {
                    Some(t) if t.is_finite() && (0.0..=now_ms).contains(&t) => {
                        let round_trips = &mut report.round_trips_ms;
                        if round_trips.len() == MAX_ROUND_TRIPS {
                            round_trips.pop_front();
                        }
                        round_trips.push_back(now_ms - t);
                    }
                    _ => report.pongs_ignored += 1,
                }
                Keepalive::Taken
            }
            _ => Keepalive::NotOne,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pings_are_answered_with_their_stamp_and_pongs_measured() {
        let (mut state, mut report) = (KeepaliveState::default(), KeepaliveReport::default());
        assert_eq!(
            state.on_message(&mut report, br#"{"type":"ping","t":12.5}"#, 100.0),
            Keepalive::Answer(r#"{"t":12.5,"type":"pong"}"#.into())
        );
        assert_eq!(
            state.on_message(&mut report, br#"{"type":"pong","t":60}"#, 100.0),
            Keepalive::Taken
        );
        assert_eq!(report.round_trips_ms, [40.0]);
        assert_eq!(
            state.on_message(&mut report, br#"{"type":"annotation","id":1}"#, 100.0),
            Keepalive::NotOne
        );
        assert_eq!(
            state.on_message(&mut report, b"not json", 100.0),
            Keepalive::NotOne
        );
    }

    #[test]
    fn a_stamp_that_is_not_a_number_is_not_reflected() {
        let (mut state, mut report) = (KeepaliveState::default(), KeepaliveReport::default());
        let big = format!(r#"{{"type":"ping","t":"{}"}}"#, "x".repeat(60_000));
        assert_eq!(
            state.on_message(&mut report, big.as_bytes(), 0.0),
            Keepalive::Answer(r#"{"t":null,"type":"pong"}"#.into())
        );
    }

    /// The issue's flood: a million pongs, none of them answering a ping
    /// of ours or all of them, leave the state as small as it was.
    #[test]
    fn a_million_pongs_keep_the_state_bounded() {
        let (mut state, mut report) = (KeepaliveState::default(), KeepaliveReport::default());
        for i in 0..1_000_000u32 {
            let now_ms = 1_000.0 + f64::from(i) * 1e-3;
            let stamp = if i % 2 == 0 {
                now_ms - 5.0
            } else {
                now_ms + 1e6
            };
            let pong = format!(r#"{{"type":"pong","t":{stamp}}}"#);
            assert_eq!(
                state.on_message(&mut report, pong.as_bytes(), now_ms),
                Keepalive::Taken
            );
        }
        assert_eq!(report.round_trips_ms.len(), MAX_ROUND_TRIPS);
        assert!(report.round_trips_ms.capacity() <= 2 * MAX_ROUND_TRIPS);
        assert_eq!(report.pongs_ignored, 500_000);
        assert_eq!(report.pings_answered, 0);
    }

    #[test]
    fn a_ping_flood_is_answered_at_the_rate_and_no_faster() {
        let (mut state, mut report) = (KeepaliveState::default(), KeepaliveReport::default());
        // 100 000 pings over 10 s of the call's time.
        let mut answered = 0;
        for i in 0..100_000u32 {
            let now_ms = f64::from(i) * 0.1;
            if let Keepalive::Answer(_) =
                state.on_message(&mut report, br#"{"type":"ping","t":1}"#, now_ms)
            {
                answered += 1;
            }
        }
        let most = (PING_BURST + PINGS_PER_S * 10.0) as u64 + 1;
        assert!((answered as u64) <= most, "{answered} answered");
        assert!(answered as u64 >= most - 2, "{answered} answered");
        assert_eq!(report.pings_refused, 100_000 - answered as u64);
        // A peer that stops flooding is answered again.
        assert!(matches!(
            state.on_message(&mut report, br#"{"type":"ping","t":1}"#, 20_000.0),
            Keepalive::Answer(_)
        ));
    }
}
