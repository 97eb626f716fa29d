//! The bandwidth estimator: GCC's delay-based half as webrtc-rs ships it,
//! and a loss-based half that reacts once per interval to that interval's
//! loss.
//!
//! webrtc-rs's loss controller keeps a moving average (0.8 old, 0.2 new per
//! feedback batch) and cuts the target every 200 ms while it is over 10 %.
//! After a burst of loss — a link dropping from 50 to 5 Mbit/s loses most
//! of a second's packets — the average stays high for a second after the
//! loss has stopped, and five cuts in a row took the estimate from 3 Mbit/s
//! to the floor on a link that carried 5. Here the loss half looks at
//! each [`LOSS_INTERVAL`]'s own fraction: over 10 % it cuts once, in
//! proportion; under 2 % it grows 5 %; between, it holds. Once the loss
//! stops, so do the cuts.

use rtc::interceptor::{
    BandwidthEstimator, EstimatorStats, OveruseDetector, PacketReport, RateCalculator,
    RateController, SlopeEstimator,
};
use std::time::{Duration, Instant};

/// How much feedback one loss decision is made on: several round trips on
/// an island link, so one decision sees the effect of the last.
pub const LOSS_INTERVAL: Duration = Duration::from_millis(300);
/// Fewer packets than this in an interval say nothing about loss.
const MIN_PACKETS: usize = 20;
const LOW_LOSS: f64 = 0.02;
const HIGH_LOSS: f64 = 0.10;

pub struct IslandGcc {
    slope: SlopeEstimator,
    detector: OveruseDetector,
    rate: RateCalculator,
    delay: RateController,
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
            slope: SlopeEstimator::new(),
            detector: OveruseDetector::new(),
            rate: RateCalculator::default(),
            delay: RateController::new(initial, min, max),
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
            self.loss_target = (self.loss_target * 1.05).min(self.delay.target() * 2.0);
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
        // Delay: group, filter, detect, control — as webrtc-rs's GCC.
        let mut usage = self.detector.usage();
        for report in reports {
            if report.arrived {
                self.rate.add(now, report.size);
            }
            if let Some(trend) = self.slope.accumulate(report) {
                usage = self.detector.update(trend.at, trend.estimate_ms);
            }
        }
        let received = self.rate.rate_bits_per_second(now);
        let delay_target = self.delay.update(now, usage, received);
        let lost = reports.iter().filter(|r| !r.arrived).count();
        self.update_loss(now, lost, reports.len());
        self.target = delay_target.min(self.loss_target).clamp(self.min, self.max);
    }

    fn target_bitrate(&self) -> f64 {
        self.target
    }

    fn stats(&self) -> EstimatorStats {
        let mut stats = EstimatorStats::default();
        stats.delay_based_bitrate = Some(self.delay.target());
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
