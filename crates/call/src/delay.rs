//! GCC's delay signal: is the bottleneck's queue growing? From each
//! report's departure (our clock) and arrival (the receiver's) times, as
//! libwebrtc's `InterArrival` and `TrendlineEstimator` compute it.
//!
//! Packets sent within [`BURST`] of each other form a group; between two
//! groups, the arrival spacing less the departure spacing is how much the
//! queue grew. The trend is the slope of the accumulated (and smoothed)
//! growth over the last [`WINDOW`] groups, against arrival time; scaled by
//! the number of groups seen (up to 60) and a gain of 4, it is compared
//! with an adaptive threshold.
//!
//! webrtc-rs 0.21's detector compares the raw per-group delay (a Kalman
//! estimate of a few milliseconds) with that same 12.5 ms threshold,
//! without the scaling: it saw overuse only when the sender was at two to
//! three times the link. Measured on the island link: sending 7 Mbit/s
//! into 5, its delay-based estimate stayed at the configured maximum and
//! only loss ever brought the rate down.

use rtc::interceptor::PacketReport;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Packets departing within this of a group's first are one group.
pub const BURST: Duration = Duration::from_millis(5);
/// Groups the trend is fitted over.
pub const WINDOW: usize = 20;
const SMOOTHING: f64 = 0.9;
const GAIN: f64 = 4.0;
/// The scaling by groups seen stops here.
const MIN_DELTAS: u32 = 60;
/// How long the trend must stay over the threshold to be overuse:
/// libwebrtc's 10 ms made a single keyframe's burst, or a few milliseconds
/// of the receiver's scheduling, an overuse, and each one cut the estimate
/// to 85 % of the acknowledged rate (on the island link at 1 % loss the
/// estimate settled at 6-8 Mbit/s of 20). Congestion the sender causes
/// lasts: 20 % over the link is 100 ms of queue in half a second.
const OVERUSING_TIME_MS: f64 = 100.0;
const THRESHOLD_START_MS: f64 = 12.5;
const THRESHOLD_UP: f64 = 0.0087;
const THRESHOLD_DOWN: f64 = 0.039;
/// Trends this far past the threshold are outliers and do not move it.
const MAX_ADAPT_OFFSET_MS: f64 = 15.0;

/// What the delay signal says about the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Usage {
    #[default]
    Normal,
    /// The queue is growing: we send more than the path carries.
    Over,
    /// The queue is draining.
    Under,
}

#[derive(Debug, Clone, Copy)]
struct Group {
    first_departure: Instant,
    last_departure: Instant,
    last_arrival: Duration,
}

/// The trend detector.
#[derive(Debug)]
pub struct DelayDetector {
    current: Option<Group>,
    previous: Option<Group>,
    /// Arrival of the first group, ms on the receiver's clock.
    first_arrival_ms: Option<f64>,
    deltas: u32,
    accumulated_ms: f64,
    smoothed_ms: f64,
    /// (arrival ms since the first, smoothed delay ms).
    history: VecDeque<(f64, f64)>,
    threshold_ms: f64,
    last_threshold_update_ms: Option<f64>,
    over_using_ms: Option<f64>,
    overuse_count: u32,
    previous_trend: f64,
    usage: Usage,
    /// The last modified trend, for the statistics.
    modified_trend: f64,
}

impl Default for DelayDetector {
    fn default() -> DelayDetector {
        DelayDetector {
            current: None,
            previous: None,
            first_arrival_ms: None,
            deltas: 0,
            accumulated_ms: 0.0,
            smoothed_ms: 0.0,
            history: VecDeque::with_capacity(WINDOW + 1),
            threshold_ms: THRESHOLD_START_MS,
            last_threshold_update_ms: None,
            over_using_ms: None,
            overuse_count: 0,
            previous_trend: 0.0,
            usage: Usage::Normal,
            modified_trend: 0.0,
        }
    }
}

impl DelayDetector {
    pub fn usage(&self) -> Usage {
        self.usage
    }

    pub fn threshold_ms(&self) -> f64 {
        self.threshold_ms
    }

    pub fn modified_trend(&self) -> f64 {
        self.modified_trend
    }

    /// Take one report (in send order); returns the usage after it.
    pub fn add(&mut self, report: &PacketReport) -> Usage {
        let (true, Some(arrival)) = (report.arrived, report.arrival) else {
            return self.usage;
        };
        let Some(current) = self.current.as_mut() else {
            self.current = Some(Group {
                first_departure: report.departure,
                last_departure: report.departure,
                last_arrival: arrival,
            });
            return self.usage;
        };
        if report.departure < current.first_departure {
            // Older than the group being built (a late report): no use.
            return self.usage;
        }
        if report
            .departure
            .saturating_duration_since(current.first_departure)
            <= BURST
        {
            current.last_departure = current.last_departure.max(report.departure);
            current.last_arrival = current.last_arrival.max(arrival);
            return self.usage;
        }
        let closed = *current;
        self.current = Some(Group {
            first_departure: report.departure,
            last_departure: report.departure,
            last_arrival: arrival,
        });
        if let Some(previous) = self.previous.replace(closed) {
            let send_delta_ms = closed
                .last_departure
                .saturating_duration_since(previous.last_departure)
                .as_secs_f64()
                * 1e3;
            let receive_delta_ms =
                (closed.last_arrival.as_secs_f64() - previous.last_arrival.as_secs_f64()) * 1e3;
            let arrival_ms = closed.last_arrival.as_secs_f64() * 1e3;
            self.update(receive_delta_ms, send_delta_ms, arrival_ms);
        }
        self.usage
    }

    fn update(&mut self, receive_delta_ms: f64, send_delta_ms: f64, arrival_ms: f64) {
        let delta_ms = receive_delta_ms - send_delta_ms;
        self.deltas = (self.deltas + 1).min(1000);
        let first = *self.first_arrival_ms.get_or_insert(arrival_ms);
        self.accumulated_ms += delta_ms;
        self.smoothed_ms = SMOOTHING * self.smoothed_ms + (1.0 - SMOOTHING) * self.accumulated_ms;
        self.history
            .push_back((arrival_ms - first, self.smoothed_ms));
        if self.history.len() > WINDOW {
            self.history.pop_front();
        }
        let trend = if self.history.len() == WINDOW {
            slope(&self.history).unwrap_or(self.previous_trend)
        } else {
            self.previous_trend
        };
        self.detect(trend, send_delta_ms, arrival_ms);
    }

    fn detect(&mut self, trend: f64, send_delta_ms: f64, now_ms: f64) {
        if self.deltas < 2 {
            self.usage = Usage::Normal;
            return;
        }
        let modified = f64::from(self.deltas.min(MIN_DELTAS)) * trend * GAIN;
        self.modified_trend = modified;
        if modified > self.threshold_ms {
            let over = match self.over_using_ms {
                None => send_delta_ms / 2.0,
                Some(over) => over + send_delta_ms,
            };
            self.over_using_ms = Some(over);
            self.overuse_count += 1;
            if over > OVERUSING_TIME_MS && self.overuse_count > 1 && trend >= self.previous_trend {
                self.over_using_ms = Some(0.0);
                self.overuse_count = 0;
                self.usage = Usage::Over;
            }
        } else if modified < -self.threshold_ms {
            self.over_using_ms = None;
            self.overuse_count = 0;
            self.usage = Usage::Under;
        } else {
            self.over_using_ms = None;
            self.overuse_count = 0;
            self.usage = Usage::Normal;
        }
        self.previous_trend = trend;
        self.adapt_threshold(modified, now_ms);
    }

    fn adapt_threshold(&mut self, modified: f64, now_ms: f64) {
        let last = *self.last_threshold_update_ms.get_or_insert(now_ms);
        if modified.abs() > self.threshold_ms + MAX_ADAPT_OFFSET_MS {
            self.last_threshold_update_ms = Some(now_ms);
            return;
        }
        let gain = if modified.abs() < self.threshold_ms {
            THRESHOLD_DOWN
        } else {
            THRESHOLD_UP
        };
        let elapsed_ms = (now_ms - last).clamp(0.0, 100.0);
        self.threshold_ms += gain * (modified.abs() - self.threshold_ms) * elapsed_ms;
        self.threshold_ms = self.threshold_ms.clamp(6.0, 600.0);
        self.last_threshold_update_ms = Some(now_ms);
    }
}

/// The least-squares slope of `points` (x, y).
fn slope(points: &VecDeque<(f64, f64)>) -> Option<f64> {
    let n = points.len() as f64;
    let (sum_x, sum_y) = points
        .iter()
        .fold((0.0, 0.0), |(sx, sy), (x, y)| (sx + x, sy + y));
    let (mean_x, mean_y) = (sum_x / n, sum_y / n);
    let (numerator, denominator) = points.iter().fold((0.0, 0.0), |(num, den), (x, y)| {
        (
            num + (x - mean_x) * (y - mean_y),
            den + (x - mean_x) * (x - mean_x),
        )
    });
    (denominator != 0.0).then(|| numerator / denominator)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc::rtcp::transport_feedbacks::cc_feedback_report::Ecn;

    /// Packets of `size` bytes sent every `every` at `send_bps`-paced
    /// groups through a bottleneck of `link_bps`: reports as the receiver
    /// would give them.
    fn through_bottleneck(
        start: Instant,
        packets: usize,
        every: Duration,
        size: usize,
        link_bps: f64,
    ) -> Vec<PacketReport> {
        let mut link_free = 0.0f64;
        (0..packets)
            .map(|i| {
                let sent = every.as_secs_f64() * i as f64;
                let serialise = size as f64 * 8.0 / link_bps;
                link_free = link_free.max(sent) + serialise;
                PacketReport {
                    ssrc: 1,
                    id: i as u64,
                    rtp_sequence_number: i as u16,
                    is_twcc: true,
                    twcc_sequence_number: i as u16,
                    size,
                    arrived: true,
                    departure: start + Duration::from_secs_f64(sent),
                    arrival: Some(Duration::from_secs_f64(0.02 + link_free)),
                    ecn: Ecn::default(),
                }
            })
            .collect()
    }

    fn usages(reports: &[PacketReport]) -> Vec<Usage> {
        let mut detector = DelayDetector::default();
        reports.iter().map(|r| detector.add(r)).collect()
    }

    #[test]
    fn a_path_with_room_reads_normal() {
        // 4 Mbit/s of 1200-byte packets (one per 2.4 ms) into 5 Mbit/s.
        let reports =
            through_bottleneck(Instant::now(), 2000, Duration::from_micros(2400), 1200, 5e6);
        assert!(
            usages(&reports).iter().all(|u| *u != Usage::Over),
            "overuse on a path with room"
        );
    }

    #[test]
    fn sending_a_fifth_over_the_link_is_overuse_within_half_a_second() {
        // 6 Mbit/s into 5: the queue grows 0.2 s per second. webrtc-rs's
        // detector never saw this.
        let reports =
            through_bottleneck(Instant::now(), 2000, Duration::from_micros(1600), 1200, 5e6);
        let first_over = usages(&reports)
            .iter()
            .position(|u| *u == Usage::Over)
            .expect("overuse is seen");
        let after = reports[first_over]
            .departure
            .duration_since(reports[0].departure);
        assert!(after < Duration::from_millis(500), "seen after {after:?}");
    }

    #[test]
    fn slope_of_a_line() {
        let points: VecDeque<_> = (0..10)
            .map(|i| (f64::from(i), 2.0 * f64::from(i) + 1.0))
            .collect();
        assert!((slope(&points).unwrap() - 2.0).abs() < 1e-9);
        let flat: VecDeque<_> = (0..3).map(|_| (1.0, 1.0)).collect();
        assert_eq!(slope(&flat), None);
    }
}
