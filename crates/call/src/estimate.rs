//! The estimate of what the path carries, where congestion control
//! publishes it for the encoder and the statistics, and the round trip
//! and the feedback's record it keeps beside it.

use crate::interceptors::watching::PacketWatcher;
use parking_lot::Mutex;
use rtc::interceptor::{Packet, PacketReport, TaggedPacket};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The lowest estimate GCC may reach: below it a call carries audio and
/// stills, and GCC's own floor (100 kbit/s) would leave nothing for video.
pub const MIN_BITRATE_BPS: f64 = 150_000.0;

/// The estimate as the encoder and the statistics read it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Estimate {
    /// What the pacer lets out, bits per second.
    pub target_bps: f64,
    pub delay_based_bps: Option<f64>,
    pub loss_based_bps: Option<f64>,
    /// Share of packets the far side reported lost, 0–1.
    pub loss: Option<f64>,
    /// Feedback reports taken in so far (0: the far side sends none).
    pub reports: u64,
    /// The round trip as feedback shows it: the least, over the last
    /// [`RTT_WINDOW`], of the time from a packet's departure to the
    /// feedback that reported it (the newest packet of each report, so
    /// the receiver's report interval adds little).
    pub rtt: Option<Duration>,
    /// Probes that gave a result.
    pub probes: u64,
}

/// How far back the round trip's minimum is taken.
pub const RTT_WINDOW: Duration = Duration::from_secs(2);

/// Where the estimator leaves its estimate for the rest of the call, and
/// the sender counts what it dropped and repaired.
#[derive(Debug, Default)]
pub struct EstimateCell {
    pub(crate) estimate: Mutex<Estimate>,
    rtt_samples: Mutex<std::collections::VecDeque<(Instant, Duration)>>,
    /// Probe requests (estimator → sender) and clusters sent (back).
    pub probes: Mutex<crate::probe::ProbeBoard>,
    /// Transport-wide sequence numbers some feedback has reported.
    reported: Mutex<ReportedSequences>,
}

/// Which transport-wide sequence numbers the far side's feedback has
/// reported, received or not. webrtc-rs's send history reports every packet
/// below the newest acknowledged one that no feedback acknowledged as
/// lost — including the packets of a feedback message that was itself
/// lost on the way (1 % of them on the island link). Counted as loss,
/// one such message (100 ms of packets) made an interval look 30 % lossy
/// and the loss half cut a healthy estimate every few seconds. A packet
/// no feedback named has an unknown fate and is left out of the loss.
#[derive(Debug)]
struct ReportedSequences {
    bits: Vec<u64>,
}

impl Default for ReportedSequences {
    fn default() -> Self {
        ReportedSequences {
            bits: vec![0; (1 << 16) / 64],
        }
    }
}

impl ReportedSequences {
    fn set(&mut self, sequence: u16) {
        self.bits[usize::from(sequence) / 64] |= 1 << (sequence % 64);
    }

    /// Whether `sequence` was named, forgetting it (a later packet reuses
    /// the number after 65 536 more).
    fn take(&mut self, sequence: u16) -> bool {
        let word = &mut self.bits[usize::from(sequence) / 64];
        let bit = 1 << (sequence % 64);
        let named = *word & bit != 0;
        *word &= !bit;
        named
    }
}

impl EstimateCell {
    /// The reports whose fate the feedback told: every arrival, and the
    /// losses feedback reported.
    pub fn with_known_fate(&self, reports: &[PacketReport]) -> Vec<PacketReport> {
        let mut reported = self.reported.lock();
        reports
            .iter()
            .filter(|r| {
                let was_reported = r.is_twcc && reported.take(r.twcc_sequence_number);
                r.arrived || was_reported || !r.is_twcc
            })
            .cloned()
            .collect()
    }

    /// Note what a batch of feedback reports.
    pub(crate) fn feedback(&self, packets: &[Box<dyn rtc::rtcp::Packet>]) {
        let mut named = self.reported.lock();
        for packet in packets {
            if let Some(feedback) = packet
                .as_any()
                .downcast_ref::<rtc::rtcp::transport_feedbacks::transport_layer_cc::TransportLayerCc>()
            {
                for ack in rtc::interceptor::convert_twcc(feedback) {
                    named.set(ack.sequence_number);
                }
            }
        }
    }
}

impl EstimateCell {
    /// A cell holding `start_bps` until the first feedback.
    pub fn starting_at(start_bps: f64) -> EstimateCell {
        EstimateCell {
            estimate: Mutex::new(Estimate {
                target_bps: start_bps.max(MIN_BITRATE_BPS),
                ..Estimate::default()
            }),
            rtt_samples: Mutex::default(),
            probes: Mutex::default(),
            reported: Mutex::default(),
        }
    }

    pub fn get(&self) -> Estimate {
        *self.estimate.lock()
    }

    /// A round-trip sample: a report taken in at `now` named a packet that
    /// departed `departed`.
    pub(crate) fn rtt_sample(&self, now: Instant, departed: Instant) {
        let mut samples = self.rtt_samples.lock();
        samples.push_back((now, now.saturating_duration_since(departed)));
        while samples
            .front()
            .is_some_and(|(at, _)| now.saturating_duration_since(*at) > RTT_WINDOW)
        {
            samples.pop_front();
        }
        let least = samples.iter().map(|(_, rtt)| *rtt).min();
        drop(samples);
        self.estimate.lock().rtt = least;
    }
}

/// Notes the sequence numbers each feedback message reports (see
/// [`ReportedSequences`]) on its way in, just before the congestion
/// controller reads it.
pub struct RecordReportedSequences {
    pub cell: Arc<EstimateCell>,
}

/// Wire-ward of the congestion controller (`Slot::CongestionControl`): the
/// slot below it is the last the read walk passes first.
pub const RECORD_REPORTED_SLOT: usize = 500;

impl PacketWatcher for RecordReportedSequences {
    fn on_read(&mut self, packet: &mut TaggedPacket) -> bool {
        if let Packet::Rtcp(packets) = &packet.message.packet {
            self.cell.feedback(packets);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc::rtcp::transport_feedbacks::cc_feedback_report::Ecn;

    fn report(sequence: u16, arrived: bool) -> PacketReport {
        PacketReport {
            ssrc: 1,
            id: u64::from(sequence),
            rtp_sequence_number: sequence,
            is_twcc: true,
            twcc_sequence_number: sequence,
            size: 1200,
            arrived,
            departure: Instant::now(),
            arrival: arrived.then_some(Duration::from_millis(5)),
            ecn: Ecn::default(),
        }
    }

    #[test]
    fn only_losses_that_feedback_reported_count() {
        let cell = EstimateCell::starting_at(1e6);
        // Feedback reported 5 (lost) and 6 (arrived); 4's feedback never came.
        cell.reported.lock().set(5);
        cell.reported.lock().set(6);
        let known = cell.with_known_fate(&[report(4, false), report(5, false), report(6, true)]);
        let kept: Vec<(u16, bool)> = known
            .iter()
            .map(|r| (r.twcc_sequence_number, r.arrived))
            .collect();
        assert_eq!(kept, vec![(5, false), (6, true)]);
        // Forgotten once taken: the number comes round again 65 536 later.
        assert!(!cell.reported.lock().take(5));
    }
}
