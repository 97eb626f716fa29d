//! Send-side congestion control: the interceptor chain (NACK both ways,
//! transport-wide feedback (TWCC), webrtc-rs's congestion-control
//! interceptor around our estimator, our pacer) and the estimate published
//! for the encoder.
//!
//! webrtc-rs 0.21 ships GCC, TWCC and a pacer but leaves them off (its
//! default interceptors only answer the far side's feedback), and its
//! pacer starts at 1 Mbit/s whatever the estimator starts at: an 8K
//! keyframe would take seconds to leave. Here the chain is assembled by
//! hand; the estimator is `estimator::IslandGcc` and the pacer our
//! `sender::PacedSender`, which starts where the estimator does, at
//! [`PACING_FACTOR`] times the estimate, and also answers NACKs.

use crate::sender::WithRtx;
use parking_lot::Mutex;
use rtc::interceptor::{
    BandwidthEstimator, CongestionControlBuilder, EstimatorStats, Interceptor,
    NackResponderBuilder, Packet, PacketReport, Registry, Slot, StreamInfo, TaggedPacket,
    TwccReceiverBuilder, TwccSenderBuilder,
};
use rtc::peer_connection::configuration::interceptor_registry::{
    configure_rtcp_reports, configure_simulcast_extension_headers,
};
use rtc::peer_connection::configuration::media_engine::MediaEngine;
use rtc::rtp_transceiver::rtp_sender::{
    RTCPFeedback, RTCRtpHeaderExtensionCapability, RtpCodecKind, TYPE_RTCP_FB_NACK,
    TYPE_RTCP_FB_TRANSPORT_CC,
};
use rtc::sansio::Protocol;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The lowest estimate GCC may reach: below it a call carries audio and
/// stills, and GCC's own floor (100 kbit/s) would leave nothing for video.
pub const MIN_BITRATE_BPS: f64 = 150_000.0;

/// The pacer sends at this multiple of the estimate (libwebrtc's pacing
/// factor). The encoder keeps to the estimate; the pacer only smooths its
/// bursts. Paced at the estimate itself, every overshoot (a keyframe,
/// retransmissions, the encoder's own slack) stayed queued: after a drop
/// from 50 to 5 Mbit/s the pacer held seconds of stale packets, refused
/// new ones, and no frame was whole again.
pub const PACING_FACTOR: f64 = 2.5;

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
    estimate: Mutex<Estimate>,
    rtt_samples: Mutex<std::collections::VecDeque<(Instant, Duration)>>,
    pub sender: Arc<crate::sender::SenderCounters>,
    /// Probe requests (estimator → sender) and clusters sent (back).
    pub probes: Mutex<crate::probe::ProbeBoard>,
    /// Transport-wide sequence numbers some feedback has named.
    named: Mutex<NamedInFeedback>,
}

/// Which transport-wide sequence numbers the far side's feedback has
/// named, received or not. webrtc-rs's send history reports every packet
/// below the newest acknowledged one that no feedback acknowledged as
/// lost — including the packets of a feedback message that was itself
/// lost on the way (1 % of them on the island link). Counted as loss,
/// one such message (100 ms of packets) made an interval look 30 % lossy
/// and the loss half cut a healthy estimate every few seconds. A packet
/// no feedback named has an unknown fate and is left out of the loss.
#[derive(Debug)]
struct NamedInFeedback {
    bits: Vec<u64>,
}

impl Default for NamedInFeedback {
    fn default() -> Self {
        NamedInFeedback {
            bits: vec![0; (1 << 16) / 64],
        }
    }
}

impl NamedInFeedback {
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
    /// losses feedback named.
    pub fn with_known_fate(&self, reports: &[PacketReport]) -> Vec<PacketReport> {
        let mut named = self.named.lock();
        reports
            .iter()
            .filter(|r| {
                let was_named = r.is_twcc && named.take(r.twcc_sequence_number);
                r.arrived || was_named || !r.is_twcc
            })
            .cloned()
            .collect()
    }

    /// Note what a batch of feedback names.
    fn feedback(&self, packets: &[Box<dyn rtc::rtcp::Packet>]) {
        let mut named = self.named.lock();
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
            sender: Arc::default(),
            probes: Mutex::default(),
            named: Mutex::default(),
        }
    }

    pub fn get(&self) -> Estimate {
        *self.estimate.lock()
    }

    /// A round-trip sample: a report taken in at `now` named a packet that
    /// departed `departed`.
    fn rtt_sample(&self, now: Instant, departed: Instant) {
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

/// GCC, publishing each new estimate. The congestion-control interceptor
/// owns its estimator inside the chain, out of the application's reach;
/// this wrapper is how the number gets out.
struct PublishedGcc {
    gcc: crate::estimator::IslandGcc,
    cell: Arc<EstimateCell>,
    probe_results: crate::probe::ProbeEstimator,
    probing: crate::probe::ProbeController,
}

impl PublishedGcc {
    fn publish(&self) {
        let stats = self.gcc.stats();
        let mut estimate = self.cell.estimate.lock();
        estimate.target_bps = self.gcc.target_bitrate();
        estimate.delay_based_bps = stats.delay_based_bitrate;
        estimate.loss_based_bps = stats.loss_based_bitrate;
        estimate.loss = stats.packet_loss;
    }
}

impl PublishedGcc {
    /// Start the initial probes once feedback flows, take the results of
    /// clusters the reports complete, and ask for the next probe.
    fn probe(&mut self, now: Instant, reports: &[PacketReport]) {
        if reports.is_empty() {
            return;
        }
        let mut board = self.cell.probes.lock();
        board.requested.extend(self.probing.on_first_feedback(now));
        if self.gcc.decreased_since_last_look() {
            self.probing.on_decrease(now);
        }
        board
            .requested
            .extend(self.probing.periodic(now, self.gcc.target_bitrate()));
        for cluster in board.sent.drain(..) {
            self.probe_results.expect(cluster);
        }
        for result in self.probe_results.on_reports(now, reports) {
            tracing::debug!(
                probed_kbps = result.probed_bps / 1e3,
                carried_kbps = result.carried_bps.map(|b| b / 1e3),
                "probe"
            );
            if let Some(carried) = result.carried_bps {
                self.gcc.on_probe(carried);
                self.cell.estimate.lock().probes += 1;
            }
            if let Some(next) = self.probing.on_result(result) {
                board.requested.push_back(next);
            }
        }
    }
}

impl BandwidthEstimator for PublishedGcc {
    fn on_reports(&mut self, now: Instant, reports: &[PacketReport]) {
        if let Some(newest) = reports.iter().rev().find(|r| r.arrived) {
            self.cell.rtt_sample(now, newest.departure);
        }
        if let Some(rtt) = self.cell.get().rtt {
            self.gcc.set_rtt(rtt);
        }
        self.probe(now, reports);
        let known = self.cell.with_known_fate(reports);
        self.gcc.on_reports(now, &known);
        if !reports.is_empty() {
            self.cell.estimate.lock().reports += 1;
        }
        self.publish();
    }

    /// What the interceptor hands the pacer.
    fn target_bitrate(&self) -> f64 {
        self.gcc.target_bitrate() * PACING_FACTOR
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.gcc.handle_timeout(now);
        self.publish();
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.gcc.poll_timeout()
    }

    fn stats(&self) -> EstimatorStats {
        self.gcc.stats()
    }
}

/// Notes what each feedback message names (see [`NamedInFeedback`]) on
/// its way in, just before the congestion controller reads it: the slot
/// below it is the last the read walk passes first.
struct FeedbackNamed {
    cell: Arc<EstimateCell>,
    read: std::collections::VecDeque<TaggedPacket>,
    write: std::collections::VecDeque<TaggedPacket>,
}

/// Wire-ward of the congestion controller (`Slot::CongestionControl`).
const FEEDBACK_NAMED_SLOT: usize = 500;

impl Protocol<TaggedPacket, TaggedPacket, ()> for FeedbackNamed {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        if let Packet::Rtcp(packets) = &msg.message.packet {
            self.cell.feedback(packets);
        }
        self.read.push_back(msg);
        Ok(())
    }
    fn poll_read(&mut self) -> Option<TaggedPacket> {
        self.read.pop_front()
    }
    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.write.push_back(msg);
        Ok(())
    }
    fn poll_write(&mut self) -> Option<TaggedPacket> {
        self.write.pop_front()
    }
}

impl Interceptor for FeedbackNamed {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}

/// The interceptor chain: NACK (ask and answer), RTCP reports,
/// and — when `congestion` is given as (start, max) bits per second and the
/// cell to publish in — GCC on TWCC feedback with our paced sender
/// (`sender::PacedSender`: lanes, pacing, repairs over RTX) starting at the
/// same rate. The TWCC recorder (our feedback for the far side's
/// estimator) is there either way, as browsers expect it. Without
/// congestion control the library's NACK responder answers instead (its
/// defaults, for comparison).
pub fn interceptors(
    media: &mut MediaEngine,
    congestion: Option<(f64, f64, Arc<EstimateCell>)>,
) -> Result<Registry, rtc::shared::error::Error> {
    // NACK both ways: our own generator (asks only while it can help, see
    // `nack`), and an answer from our sender or the library's responder.
    for parameter in ["", "pli"] {
        media.register_feedback(
            RTCPFeedback {
                typ: TYPE_RTCP_FB_NACK.to_owned(),
                parameter: parameter.to_owned(),
            },
            RtpCodecKind::Video,
        );
    }
    let registry = Registry::new().with(
        Slot::NackGenerator,
        crate::nack::RecentNacks::new(crate::depacketize::MAX_REORDER),
    );
    configure_simulcast_extension_headers(media)?;
    let registry = configure_rtcp_reports(registry);
    // What the far side needs to report arrivals to us, and to have us
    // report to it: the transport-cc feedback and header extension.
    for kind in [RtpCodecKind::Video, RtpCodecKind::Audio] {
        media.register_feedback(
            RTCPFeedback {
                typ: TYPE_RTCP_FB_TRANSPORT_CC.to_owned(),
                parameter: String::new(),
            },
            kind,
        );
        media.register_header_extension(
            RTCRtpHeaderExtensionCapability {
                uri: rtc::sdp::extmap::TRANSPORT_CC_URI.to_owned(),
            },
            kind,
            None,
        )?;
    }
    let registry = registry
        .with(Slot::TwccReceiver, TwccReceiverBuilder::new().build())
        .with(
            Slot::from(crate::repair_filter::SLOT),
            crate::repair_filter::RepairFilter::default(),
        );
    let Some((start_bps, max_bps, cell)) = congestion else {
        return Ok(registry.with(
            Slot::NackResponder,
            NackResponderBuilder::new()
                .with_size(crate::sender::HISTORY as u16)
                .build(),
        ));
    };
    let max_bps = max_bps.max(MIN_BITRATE_BPS);
    let start_bps = start_bps.clamp(MIN_BITRATE_BPS, max_bps);
    cell.estimate.lock().target_bps = start_bps;
    let sender = crate::sender::PacedSender::new(
        start_bps * PACING_FACTOR,
        cell.clone(),
        cell.sender.clone(),
    );
    let feedback_cell = cell.clone();
    let estimator = PublishedGcc {
        gcc: crate::estimator::IslandGcc::new(start_bps, MIN_BITRATE_BPS, max_bps),
        cell,
        probe_results: crate::probe::ProbeEstimator::default(),
        probing: crate::probe::ProbeController::new(start_bps, max_bps),
    };
    // Numbering and the send history also cover the RTX streams our
    // repairs go on.
    let registry = registry
        .with(
            Slot::from(FEEDBACK_NAMED_SLOT),
            FeedbackNamed {
                cell: feedback_cell,
                read: Default::default(),
                write: Default::default(),
            },
        )
        .with(
            Slot::CongestionControl,
            WithRtx(CongestionControlBuilder::new(estimator).build()),
        )
        .with(Slot::TwccSender, WithRtx(TwccSenderBuilder::new().build()))
        .with(Slot::Pacer, sender);
    Ok(registry)
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
    fn only_losses_that_feedback_named_count() {
        let cell = EstimateCell::starting_at(1e6);
        // Feedback named 5 (lost) and 6 (arrived); 4's feedback never came.
        cell.named.lock().set(5);
        cell.named.lock().set(6);
        let known = cell.with_known_fate(&[report(4, false), report(5, false), report(6, true)]);
        let kept: Vec<(u16, bool)> = known
            .iter()
            .map(|r| (r.twcc_sequence_number, r.arrived))
            .collect();
        assert_eq!(kept, vec![(5, false), (6, true)]);
        // Forgotten once taken: the number comes round again 65 536 later.
        assert!(!cell.named.lock().take(5));
    }
}
