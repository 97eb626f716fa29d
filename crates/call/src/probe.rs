//! Bandwidth probing: finding out in a second how much the path carries,
//! instead of climbing to it at 8 % a second.
//!
//! GCC's delay-based half only grows multiplicatively (8 %/s): from a
//! 2 Mbit/s start it needs half a minute to fill a 20 Mbit/s island link.
//! libwebrtc probes instead, and so does this: the sender sends a short
//! *cluster* of packets at a chosen rate (media when it has some, and RTX
//! copies of recent video packets as padding when it has not — a copy is
//! a real packet to the receiver's SRTP and feedback, and a duplicate its
//! frame buffer ignores); the receiver's transport-wide feedback says
//! when each arrived, and the rate they arrived at is what the path
//! carried. The first probes go at 3 and 6 times the start rate; while a
//! result reaches 70 % of what was probed, the next goes at twice the
//! result, up to the configured maximum.
//!
//! Sans-IO: the [`ProbeBoard`] is where the estimator's requests meet the
//! sender's clusters; [`ProbeEstimator`] turns reports into results and
//! [`ProbeController`] decides what to probe next.

use rtc::interceptor::PacketReport;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// A cluster lasts at least this long at its rate...
pub const MIN_DURATION: Duration = Duration::from_millis(15);
/// ...and has at least this many packets.
pub const MIN_PACKETS: u32 = 5;
/// Of a cluster's packets, this share must be reported received.
const MIN_RECEIVED: f64 = 0.8;
/// A result at least this share of the probed rate is worth probing past.
const PROBE_FURTHER: f64 = 0.7;
/// Below this share of the sent rate, the link was saturated...
const SATURATED: f64 = 0.9;
/// ...and the result is this share of what arrived.
const TARGET_UTILISATION: f64 = 0.95;
/// A cluster not evaluated within this is forgotten.
const EVALUATION_TIMEOUT: Duration = Duration::from_secs(2);
/// Between periodic probes (libwebrtc probes every 5 s while the sender
/// does not fill its estimate).
pub const PERIODIC: Duration = Duration::from_secs(5);

/// What the sender did for one requested rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SentCluster {
    pub rate_bps: f64,
    /// Release instants of its first and last packet.
    pub first: Instant,
    pub last: Instant,
    pub packets: u32,
}

/// Where probe requests and finished clusters wait (shared between the
/// estimator's and the sender's interceptors through `EstimateCell`).
#[derive(Debug, Default)]
pub struct ProbeBoard {
    pub requested: VecDeque<f64>,
    pub sent: VecDeque<SentCluster>,
}

/// A cluster being sent: released packets count towards it until it has
/// both [`MIN_DURATION`]'s worth of bytes at its rate and [`MIN_PACKETS`].
#[derive(Debug)]
pub struct ActiveCluster {
    pub rate_bps: f64,
    first: Option<Instant>,
    last: Option<Instant>,
    packets: u32,
    bits: f64,
}

impl ActiveCluster {
    pub fn new(rate_bps: f64) -> ActiveCluster {
        ActiveCluster {
            rate_bps,
            first: None,
            last: None,
            packets: 0,
            bits: 0.0,
        }
    }

    /// A packet of `bits` left at `now` as part of the cluster.
    pub fn sent(&mut self, now: Instant, bits: f64) {
        self.first.get_or_insert(now);
        self.last = Some(now);
        self.packets += 1;
        self.bits += bits;
    }

    pub fn is_complete(&self) -> bool {
        self.packets >= MIN_PACKETS && self.bits >= self.rate_bps * MIN_DURATION.as_secs_f64()
    }

    pub fn finish(&self) -> Option<SentCluster> {
        Some(SentCluster {
            rate_bps: self.rate_bps,
            first: self.first?,
            last: self.last?,
            packets: self.packets,
        })
    }
}

/// A probe's outcome.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProbeResult {
    pub probed_bps: f64,
    /// What the path carried (`None`: the cluster said nothing usable —
    /// too much of it lost, or its timing implausible).
    pub carried_bps: Option<f64>,
}

struct Pending {
    cluster: SentCluster,
    /// (size, departure, arrival) of each report in the cluster's span.
    reports: Vec<(usize, Instant, Option<Duration>)>,
    /// A report past the cluster's last packet has come: all of it is in.
    complete: bool,
}

/// Turns transport-wide reports into probe results (libwebrtc's
/// `ProbeBitrateEstimator`).
#[derive(Default)]
pub struct ProbeEstimator {
    pending: Vec<Pending>,
}

impl ProbeEstimator {
    pub fn expect(&mut self, cluster: SentCluster) {
        self.pending.push(Pending {
            cluster,
            reports: Vec::new(),
            complete: false,
        });
    }

    /// Take a batch of reports at `now`; results of clusters now complete.
    pub fn on_reports(&mut self, now: Instant, reports: &[PacketReport]) -> Vec<ProbeResult> {
        for pending in &mut self.pending {
            for report in reports {
                if report.departure > pending.cluster.last {
                    pending.complete = true;
                } else if report.departure >= pending.cluster.first {
                    let arrival = report.arrived.then_some(report.arrival).flatten();
                    pending
                        .reports
                        .push((report.size, report.departure, arrival));
                }
            }
        }
        let mut results = Vec::new();
        self.pending.retain(|pending| {
            if pending.complete {
                results.push(evaluate(pending));
                return false;
            }
            if now.saturating_duration_since(pending.cluster.last) >= EVALUATION_TIMEOUT {
                // Never fully reported: it says nothing, and says so.
                results.push(ProbeResult {
                    probed_bps: pending.cluster.rate_bps,
                    carried_bps: None,
                });
                return false;
            }
            true
        });
        results
    }
}

fn evaluate(pending: &Pending) -> ProbeResult {
    let cluster = pending.cluster;
    let nothing = ProbeResult {
        probed_bps: cluster.rate_bps,
        carried_bps: None,
    };
    let mut arrived: Vec<(usize, Duration)> = pending
        .reports
        .iter()
        .filter_map(|(size, _, arrival)| Some((*size, (*arrival)?)))
        .collect();
    if (arrived.len() as f64) < f64::from(cluster.packets) * MIN_RECEIVED || arrived.len() < 2 {
        return nothing;
    }
    let (Some(first_sent), Some(last_sent)) = (
        pending.reports.iter().map(|r| r.1).min(),
        pending.reports.iter().map(|r| r.1).max(),
    ) else {
        return nothing;
    };
    let send_span = last_sent
        .saturating_duration_since(first_sent)
        .as_secs_f64();
    arrived.sort_by_key(|(_, at)| *at);
    let receive_span = (arrived[arrived.len() - 1].1 - arrived[0].1).as_secs_f64();
    if send_span <= 0.0 || receive_span <= 0.0 || send_span > 1.0 || receive_span > 1.0 {
        return nothing;
    }
    // Rates over the intervals between packets, as libwebrtc counts them:
    // the last packet sent opens no interval on the sending side, the
    // first to arrive none on the receiving side.
    let sent_bytes: usize = pending.reports.iter().map(|r| r.0).sum();
    let last_sent_size = pending
        .reports
        .iter()
        .max_by_key(|r| r.1)
        .map_or(0, |r| r.0);
    let send_bps = (sent_bytes - last_sent_size) as f64 * 8.0 / send_span;
    let received_bytes: usize = arrived.iter().map(|(size, _)| size).sum();
    let receive_bps = (received_bytes - arrived[0].0) as f64 * 8.0 / receive_span;
    if receive_bps > 2.0 * send_bps {
        return nothing;
    }
    let carried = if receive_bps < SATURATED * send_bps {
        TARGET_UTILISATION * receive_bps
    } else {
        send_bps.min(receive_bps)
    };
    ProbeResult {
        probed_bps: cluster.rate_bps,
        carried_bps: Some(carried),
    }
}

/// What to probe, and when (libwebrtc's `ProbeController`, its initial and
/// further probes).
#[derive(Debug)]
pub struct ProbeController {
    start_bps: f64,
    max_bps: f64,
    started: bool,
    /// The probe whose result decides whether to probe further (the last
    /// of a series).
    deciding: Option<f64>,
    /// When the last probe was asked for, or the estimate last fell.
    quiet_since: Option<Instant>,
}

impl ProbeController {
    pub fn new(start_bps: f64, max_bps: f64) -> ProbeController {
        ProbeController {
            start_bps,
            max_bps,
            started: false,
            deciding: None,
            quiet_since: None,
        }
    }

    /// Every [`PERIODIC`], a probe at twice the estimate: after the delay
    /// half has backed off once it climbs by a packet per round trip, and
    /// a back-off that a burst caused (a keyframe, the sender's own CPU)
    /// would hold it far below the link for minutes. A probe finds the
    /// room in a second; where there is none it costs a 15 ms burst.
    pub fn periodic(&mut self, now: Instant, estimate_bps: f64) -> Option<f64> {
        if !self.started || self.deciding.is_some() || estimate_bps >= self.max_bps {
            return None;
        }
        let since = *self.quiet_since.get_or_insert(now);
        if now.saturating_duration_since(since) < PERIODIC {
            return None;
        }
        self.quiet_since = Some(now);
        let rate = (2.0 * estimate_bps).min(self.max_bps);
        self.deciding = Some(rate);
        Some(rate)
    }

    /// The estimate fell: a probe now would only find the congestion.
    pub fn on_decrease(&mut self, now: Instant) {
        self.quiet_since = Some(now);
    }

    /// The first feedback came at `now`: the path is up and media flows.
    /// The initial probes.
    pub fn on_first_feedback(&mut self, now: Instant) -> Vec<f64> {
        if self.started {
            return Vec::new();
        }
        self.started = true;
        self.quiet_since = Some(now);
        let probes: Vec<f64> = [3.0, 6.0]
            .iter()
            .map(|k| (self.start_bps * k).min(self.max_bps))
            .filter(|rate| *rate > self.start_bps)
            .collect();
        self.deciding = probes.last().copied();
        probes
    }

    /// A probe's result: the next probe, if it is worth one. Only the
    /// series' last probe decides: while it reached 70 % of its rate, the
    /// next goes at twice what it carried.
    pub fn on_result(&mut self, result: ProbeResult) -> Option<f64> {
        if self.deciding != Some(result.probed_bps) {
            return None;
        }
        self.deciding = None;
        let carried = result.carried_bps?;
        if carried < result.probed_bps * PROBE_FURTHER || carried >= self.max_bps {
            return None;
        }
        let next = (2.0 * carried).min(self.max_bps);
        self.deciding = Some(next);
        Some(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc::rtcp::transport_feedbacks::cc_feedback_report::Ecn;

    /// A cluster of `packets` of 1200 bytes sent at `rate_bps` through a
    /// link of `link_bps`, reported; and one report after it.
    fn probe_through(
        start: Instant,
        rate_bps: f64,
        link_bps: f64,
        packets: u32,
    ) -> (SentCluster, Vec<PacketReport>) {
        let every = 1200.0 * 8.0 / rate_bps;
        let mut link_free = 0.0f64;
        let mut reports: Vec<PacketReport> = (0..=packets)
            .map(|i| {
                let sent = every * f64::from(i);
                link_free = link_free.max(sent) + 1200.0 * 8.0 / link_bps;
                PacketReport {
                    ssrc: 1,
                    id: u64::from(i),
                    rtp_sequence_number: i as u16,
                    is_twcc: true,
                    twcc_sequence_number: i as u16,
                    size: 1200,
                    arrived: true,
                    departure: start + Duration::from_secs_f64(sent),
                    arrival: Some(Duration::from_secs_f64(0.03 + link_free)),
                    ecn: Ecn::default(),
                }
            })
            .collect();
        // The one after the cluster left a little later.
        let last = reports.len() - 1;
        reports[last].departure += Duration::from_millis(5);
        let cluster = SentCluster {
            rate_bps,
            first: reports[0].departure,
            last: reports[last - 1].departure,
            packets,
        };
        (cluster, reports)
    }

    #[test]
    fn a_probe_under_the_link_reads_its_own_rate_and_one_over_reads_the_link() {
        let t = Instant::now();
        let mut estimator = ProbeEstimator::default();
        let (cluster, reports) = probe_through(t, 6e6, 20e6, 20);
        estimator.expect(cluster);
        let results = estimator.on_reports(t + Duration::from_millis(100), &reports);
        let carried = results[0].carried_bps.expect("a result");
        assert!((carried - 6e6).abs() < 0.3e6, "{carried}");

        let (cluster, reports) = probe_through(t, 40e6, 20e6, 40);
        estimator.expect(cluster);
        let results = estimator.on_reports(t + Duration::from_millis(100), &reports);
        let carried = results[0].carried_bps.expect("a result");
        assert!((carried - 19e6).abs() < 1e6, "saturated: {carried}");
    }

    #[test]
    fn a_lossy_or_unfinished_probe_says_nothing() {
        let t = Instant::now();
        let mut estimator = ProbeEstimator::default();
        let (cluster, mut reports) = probe_through(t, 6e6, 20e6, 20);
        for r in reports.iter_mut().take(8) {
            r.arrived = false;
        }
        estimator.expect(cluster);
        let results = estimator.on_reports(t, &reports);
        assert_eq!(results[0].carried_bps, None);
        // Without a report past its end the cluster waits, then is given
        // up as saying nothing.
        let (cluster, reports) = probe_through(t, 6e6, 20e6, 20);
        estimator.expect(cluster);
        assert!(estimator.on_reports(t, &reports[..10]).is_empty());
        let given_up = estimator.on_reports(t + Duration::from_secs(3), &[]);
        assert_eq!(given_up.len(), 1);
        assert_eq!(given_up[0].carried_bps, None);
        assert!(estimator.pending.is_empty());
    }

    #[test]
    fn probing_goes_on_while_results_keep_up_and_stops_at_the_link() {
        let t = Instant::now();
        let mut controller = ProbeController::new(2e6, 100e6);
        assert_eq!(controller.on_first_feedback(t), vec![6e6, 12e6]);
        assert!(controller.on_first_feedback(t).is_empty(), "once");
        let result = |probed: f64, carried: f64| ProbeResult {
            probed_bps: probed,
            carried_bps: Some(carried),
        };
        // The first of the series does not decide, whatever it carried.
        assert_eq!(controller.on_result(result(6e6, 5e6)), None);
        assert_eq!(controller.on_result(result(12e6, 12e6)), Some(24e6));
        // The link is 20: the 24 probe reads 19, over 70 % of 24 — once
        // more, and that one falls short.
        assert_eq!(controller.on_result(result(24e6, 19e6)), Some(38e6));
        assert_eq!(controller.on_result(result(38e6, 19e6)), None);
        assert_eq!(controller.on_result(result(38e6, 19e6)), None);
        // Then every 5 s quiet, twice the estimate; a fall resets the wait.
        assert_eq!(controller.periodic(t + Duration::from_secs(4), 9e6), None);
        assert_eq!(controller.periodic(t + PERIODIC, 9e6), Some(18e6));
        assert_eq!(controller.on_result(result(18e6, 17e6)), Some(34e6));
        assert_eq!(controller.on_result(result(34e6, 19e6)), None);
        controller.on_decrease(t + Duration::from_secs(8));
        assert_eq!(controller.periodic(t + Duration::from_secs(12), 15e6), None);
        assert_eq!(
            controller.periodic(t + Duration::from_secs(13), 15e6),
            Some(30e6)
        );
    }
}
