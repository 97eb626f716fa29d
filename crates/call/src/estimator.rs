//! The bandwidth estimator: GCC's delay-based half (our trendline
//! detector, `delay`, driving AIMD as libwebrtc's `AimdRateControl` does)
//! and a loss-based half that reacts once per interval to that interval's
//! loss.
//!
//! Delay: on overuse the target falls to 0.85 of what the receiver is
//! acknowledging; otherwise it grows 8 % a second, or by about a packet per
//! round trip once it is near the rate at which it last backed off (the
//! link's capacity, kept as a mean and spread of those rates), and never
//! past 1.5 times the acknowledged rate: a target the sender has not
//! filled says nothing about the path (webrtc-rs's controller has no such
//! cap, and behind an encoder that could not fill it its target climbed
//! to the configured maximum).
//!
//! Loss: webrtc-rs's loss controller keeps a moving average (0.8 old, 0.2
//! new per feedback batch) and cuts the target every 200 ms while it is
//! over 10 %. After a burst of loss — a link dropping from 50 to 5 Mbit/s
//! loses most of a second's packets — the average stays high for a second
//! after the loss has stopped, and five cuts in a row took the estimate
//! from 3 Mbit/s to the floor on a link that carried 5. Here the loss half
//! looks at each [`LOSS_INTERVAL`]'s own fraction: over 10 % it cuts once,
//! in proportion; under 2 % it grows 5 %; between, it holds. Once the loss
//! stops, so do the cuts.

use crate::delay::{DelayDetector, Usage};
use rtc::interceptor::{BandwidthEstimator, EstimatorStats, PacketReport};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How much feedback one loss decision is made on: several round trips on
/// an island link, so one decision sees the effect of the last.
pub const LOSS_INTERVAL: Duration = Duration::from_millis(300);
/// Fewer packets than this in an interval say nothing about loss.
const MIN_PACKETS: usize = 20;
const LOW_LOSS: f64 = 0.02;
const HIGH_LOSS: f64 = 0.10;
/// On overuse the target becomes this share of the acknowledged rate.
const BETA: f64 = 0.85;
/// Multiplicative growth per second, far from the link's known capacity.
const GROWTH_PER_SECOND: f64 = 1.08;
/// The acknowledged rate is measured over this much of the receiver's
/// arrival clock.
const ACKED_WINDOW: Duration = Duration::from_millis(500);
/// The round trip assumed for additive growth before one is known.
const DEFAULT_RTT: Duration = Duration::from_millis(100);

/// The rates at which overuse was seen: the link's capacity as GCC knows
/// it (libwebrtc's `LinkCapacityEstimator`).
#[derive(Debug, Default, Clone, Copy)]
struct LinkCapacity {
    /// Mean, kbit/s.
    estimate_kbps: Option<f64>,
    /// Normalised variance.
    deviation: f64,
}

impl LinkCapacity {
    fn spread(&self, estimate: f64) -> f64 {
        3.0 * (self.deviation * estimate).sqrt()
    }

    fn upper_bound_kbps(&self) -> Option<f64> {
        self.estimate_kbps.map(|e| e + self.spread(e))
    }

    fn lower_bound_kbps(&self) -> Option<f64> {
        self.estimate_kbps.map(|e| (e - self.spread(e)).max(0.0))
    }

    fn on_overuse(&mut self, sample_kbps: f64) {
        const ALPHA: f64 = 0.05;
        let estimate = match self.estimate_kbps {
            None => sample_kbps,
            Some(e) => (1.0 - ALPHA) * e + ALPHA * sample_kbps,
        };
        let error = estimate - sample_kbps;
        self.deviation = ((1.0 - ALPHA) * self.deviation
            + ALPHA * error * error / estimate.max(1.0))
        .clamp(0.4, 2.5);
        self.estimate_kbps = Some(estimate);
    }

    fn reset(&mut self) {
        self.estimate_kbps = None;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RateState {
    Hold,
    Increase,
    Decrease,
}

/// What the receiver acknowledged, over [`ACKED_WINDOW`] of its clock.
#[derive(Debug, Default)]
struct AckedRate {
    arrivals: VecDeque<(Duration, usize)>,
    bytes: usize,
}

impl AckedRate {
    fn add(&mut self, arrival: Duration, size: usize) {
        self.arrivals.push_back((arrival, size));
        self.bytes += size;
        while let Some(&(first, bytes)) = self.arrivals.front() {
            if arrival.saturating_sub(first) <= ACKED_WINDOW {
                break;
            }
            self.arrivals.pop_front();
            self.bytes -= bytes;
        }
    }

    fn bps(&self) -> Option<f64> {
        let (first, _) = self.arrivals.front()?;
        let (last, _) = self.arrivals.back()?;
        // Less than half a window says little.
        let span = last.saturating_sub(*first);
        (span >= ACKED_WINDOW / 2).then(|| self.bytes as f64 * 8.0 / span.as_secs_f64())
    }
}

pub struct IslandGcc {
    detector: DelayDetector,
    acked: AckedRate,
    state: RateState,
    link: LinkCapacity,
    delay_target: f64,
    last_change: Option<Instant>,
    /// The delay half backed off (for the probe controller).
    decreased: bool,
    rtt: Duration,
    loss_target: f64,
    interval_start: Option<Instant>,
    interval_lost: usize,
    interval_total: usize,
    last_loss: Option<f64>,
    min: f64,
    max: f64,
    target: f64,
}

impl IslandGcc {
    /// Starting at `initial`, held within `min..=max` (bits per second).
    pub fn new(initial: f64, min: f64, max: f64) -> IslandGcc {
        let initial = initial.clamp(min, max);
        IslandGcc {
            detector: DelayDetector::default(),
            acked: AckedRate::default(),
            state: RateState::Hold,
            link: LinkCapacity::default(),
            delay_target: initial,
            last_change: None,
            decreased: false,
            rtt: DEFAULT_RTT,
            loss_target: initial,
            interval_start: None,
            interval_lost: 0,
            interval_total: 0,
            last_loss: None,
            min,
            max,
            target: initial,
        }
    }

    /// A probe found the path carries `carried_bps`: the estimate jumps
    /// there rather than climbing to it. Never down: a probe shows what the
    /// path carries at least; lowering is the delay and loss halves' work.
    pub fn on_probe(&mut self, carried_bps: f64) {
        if self
            .link
            .upper_bound_kbps()
            .is_some_and(|upper| carried_bps / 1e3 > upper)
        {
            // The path carries more than where the delay half last backed
            // off: that ceiling is out of date.
            self.link.reset();
        }
        self.delay_target = self.delay_target.max(carried_bps).clamp(self.min, self.max);
        self.loss_target = self.loss_target.max(carried_bps).clamp(self.min, self.max);
        self.target = self.delay_target.min(self.loss_target);
    }

    /// Whether the delay half backed off since this was last asked.
    pub fn decreased_since_last_look(&mut self) -> bool {
        std::mem::take(&mut self.decreased)
    }

    /// The round trip, for the additive growth near capacity.
    pub fn set_rtt(&mut self, rtt: Duration) {
        self.rtt = rtt;
    }

    /// The delay half's reaction to `usage`, libwebrtc's AIMD.
    fn update_delay(&mut self, now: Instant, usage: Usage) {
        self.state = match (self.state, usage) {
            (_, Usage::Over) => RateState::Decrease,
            (_, Usage::Under) => RateState::Hold,
            (RateState::Hold | RateState::Increase, Usage::Normal) => RateState::Increase,
            (RateState::Decrease, Usage::Normal) => RateState::Hold,
        };
        let acked = self.acked.bps();
        let throughput = acked.unwrap_or(self.delay_target);
        match self.state {
            RateState::Hold => {}
            RateState::Increase => {
                let throughput_kbps = throughput / 1e3;
                if self
                    .link
                    .upper_bound_kbps()
                    .is_some_and(|upper| throughput_kbps > upper)
                {
                    // Far past where it last backed off: the link changed.
                    self.link.reset();
                }
                let elapsed = self
                    .last_change
                    .map_or(Duration::ZERO, |t| now.saturating_duration_since(t))
                    .min(Duration::from_secs(1));
                let limit = 1.5 * throughput + 10_000.0;
                if self.delay_target < limit {
                    let grown = if self.link.estimate_kbps.is_some() {
                        self.delay_target + self.additive_bps_per_second() * elapsed.as_secs_f64()
                    } else {
                        self.delay_target * GROWTH_PER_SECOND.powf(elapsed.as_secs_f64())
                    };
                    self.delay_target = grown.min(limit);
                }
                self.last_change = Some(now);
            }
            RateState::Decrease => {
                let mut decreased = throughput * BETA;
                if decreased > self.delay_target
                    && let Some(link) = self.link.estimate_kbps
                {
                    decreased = BETA * link * 1e3;
                }
                if decreased < self.delay_target {
                    self.delay_target = decreased;
                }
                let throughput_kbps = throughput / 1e3;
                if self
                    .link
                    .lower_bound_kbps()
                    .is_some_and(|lower| throughput_kbps < lower)
                {
                    self.link.reset();
                }
                self.link.on_overuse(throughput_kbps);
                self.decreased = true;
                self.state = RateState::Hold;
                self.last_change = Some(now);
            }
        }
        self.delay_target = self.delay_target.clamp(self.min, self.max);
    }

    /// About one packet per response time (a round trip and 100 ms), as
    /// libwebrtc grows near the link's capacity.
    fn additive_bps_per_second(&self) -> f64 {
        let bits_per_frame = self.delay_target / 30.0;
        let packets_per_frame = (bits_per_frame / (8.0 * 1200.0)).ceil().max(1.0);
        let packet_bits = bits_per_frame / packets_per_frame;
        let response = (self.rtt + Duration::from_millis(100)).as_secs_f64();
        (packet_bits / response).max(4000.0)
    }

    fn update_loss(&mut self, now: Instant, lost: usize, total: usize) {
        self.interval_lost += lost;
        self.interval_total += total;
        let start = *self.interval_start.get_or_insert(now);
        if now.duration_since(start) < LOSS_INTERVAL || self.interval_total < MIN_PACKETS {
            return;
        }
        let loss = self.interval_lost as f64 / self.interval_total as f64;
        self.last_loss = Some(loss);
        if loss < LOW_LOSS {
            // Never more than twice what the delay half allows: growth the
            // path has not shown it can carry is no estimate.
            self.loss_target = (self.loss_target * 1.05).min(self.delay_target * 2.0);
        } else if loss > HIGH_LOSS {
            self.loss_target *= 1.0 - 0.5 * loss;
        }
        self.loss_target = self.loss_target.clamp(self.min, self.max);
        self.interval_start = Some(now);
        self.interval_lost = 0;
        self.interval_total = 0;
    }
}

impl BandwidthEstimator for IslandGcc {
    fn on_reports(&mut self, now: Instant, reports: &[PacketReport]) {
        if reports.is_empty() {
            return;
        }
        let mut usage = self.detector.usage();
        for report in reports {
            if report.arrived
                && let Some(arrival) = report.arrival
            {
                self.acked.add(arrival, report.size);
            }
            usage = self.detector.add(report);
        }
        self.update_delay(now, usage);
        let lost = reports.iter().filter(|r| !r.arrived).count();
        self.update_loss(now, lost, reports.len());
        self.target = self
            .delay_target
            .min(self.loss_target)
            .clamp(self.min, self.max);
    }

    fn target_bitrate(&self) -> f64 {
        self.target
    }

    fn stats(&self) -> EstimatorStats {
        let mut stats = EstimatorStats::default();
        stats.delay_based_bitrate = Some(self.delay_target);
        stats.loss_based_bitrate = Some(self.loss_target);
        stats.packet_loss = self.last_loss;
        stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MBIT: f64 = 1e6;

    /// Feed 100 ms batches of 50 packets, `lost` of them lost, from `at`.
    fn feed(gcc: &mut IslandGcc, at: Instant, id: &mut u64, lost: usize) {
        gcc.update_loss(at, lost, 50);
        *id += 50;
    }

    #[test]
    fn a_burst_of_loss_cuts_once_per_interval_and_stops_when_it_does() {
        let start = Instant::now();
        let mut gcc = IslandGcc::new(3.0 * MBIT, 0.15 * MBIT, 100.0 * MBIT);
        let mut id = 0;
        let mut t = start;
        // One second of 70 % loss: ~3 decisions.
        for _ in 0..10 {
            feed(&mut gcc, t, &mut id, 35);
            t += Duration::from_millis(100);
        }
        let after_burst = gcc.loss_target;
        assert!(
            after_burst < 3.0 * MBIT * 0.7 && after_burst > 3.0 * MBIT * 0.25,
            "{after_burst}"
        );
        // Then a clean link: no further cut.
        for _ in 0..20 {
            feed(&mut gcc, t, &mut id, 0);
            t += Duration::from_millis(100);
        }
        assert!(
            gcc.loss_target >= after_burst,
            "cut again after the loss ended"
        );
        assert_eq!(gcc.last_loss, Some(0.0));
    }

    #[test]
    fn one_percent_loss_holds_and_sustained_heavy_loss_keeps_cutting() {
        let start = Instant::now();
        let mut gcc = IslandGcc::new(10.0 * MBIT, 0.15 * MBIT, 100.0 * MBIT);
        let mut id = 0;
        let mut t = start;
        // 4 % (between the thresholds): held.
        for _ in 0..30 {
            feed(&mut gcc, t, &mut id, 2);
            t += Duration::from_millis(100);
        }
        assert_eq!(gcc.loss_target, 10.0 * MBIT);
        for _ in 0..30 {
            feed(&mut gcc, t, &mut id, 20);
            t += Duration::from_millis(100);
        }
        assert!(gcc.loss_target < 2.0 * MBIT, "{}", gcc.loss_target);
        assert!(gcc.loss_target >= 0.15 * MBIT);
    }
}
