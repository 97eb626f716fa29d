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
//! `interceptors::paced_sender`, which starts where the estimator does, at
//! [`PACING_FACTOR`] times the estimate, and also answers NACKs.

pub use crate::estimate::{Estimate, EstimateCell, MIN_BITRATE_BPS, RTT_WINDOW};
use crate::estimate::{RECORD_REPORTED_SLOT, RecordReportedSequences};
use crate::interceptors::paced_sender::{PacedSender, SenderCounters};
use crate::interceptors::watching::Watching;
use crate::interceptors::with_rtx::WithRtx;
use rtc::interceptor::{
    BandwidthEstimator, CongestionControlBuilder, EstimatorStats, NackResponderBuilder,
    PacketReport, Registry, Slot, TwccReceiverBuilder, TwccSenderBuilder,
};
use rtc::peer_connection::configuration::interceptor_registry::{
    configure_rtcp_reports, configure_simulcast_extension_headers,
};
use rtc::peer_connection::configuration::media_engine::MediaEngine;
use rtc::rtp_transceiver::rtp_sender::{
    RTCPFeedback, RTCRtpHeaderExtensionCapability, RtpCodecKind, TYPE_RTCP_FB_NACK,
    TYPE_RTCP_FB_TRANSPORT_CC,
};
use std::sync::Arc;
use std::time::Instant;

/// The pacer sends at this multiple of the estimate (libwebrtc's pacing
/// factor). The encoder keeps to the estimate; the pacer only smooths its
/// bursts. Paced at the estimate itself, every overshoot (a keyframe,
/// retransmissions, the encoder's own slack) stayed queued: after a drop
/// from 50 to 5 Mbit/s the pacer held seconds of stale packets, refused
/// new ones, and no frame was whole again.
pub const PACING_FACTOR: f64 = 2.5;

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

/// The interceptor chain: NACK (ask and answer), RTCP reports,
/// and — when `congestion` is given as (start, max) bits per second and the
/// cell to publish in — GCC on TWCC feedback with our paced sender
/// (`PacedSender`: lanes, pacing, repairs over RTX) starting at the
/// same rate. The TWCC recorder (our feedback for the far side's
/// estimator) is there either way, as browsers expect it. Without
/// congestion control the library's NACK responder answers instead (its
/// defaults, for comparison).
pub fn interceptors(
    media: &mut MediaEngine,
    congestion: Option<(f64, f64, Arc<EstimateCell>, Arc<SenderCounters>)>,
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
        crate::interceptors::nack::recent_nacks(crate::depacketize::MAX_REORDER),
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
            Slot::from(crate::interceptors::repair_filter::SLOT),
            Watching::new(crate::interceptors::repair_filter::RepairFilter::default()),
        );
    let Some((start_bps, max_bps, cell, counters)) = congestion else {
        return Ok(registry.with(
            Slot::NackResponder,
            NackResponderBuilder::new()
                .with_size(crate::interceptors::paced_sender::HISTORY as u16)
                .build(),
        ));
    };
    let max_bps = max_bps.max(MIN_BITRATE_BPS);
    let start_bps = start_bps.clamp(MIN_BITRATE_BPS, max_bps);
    cell.estimate.lock().target_bps = start_bps;
    let sender = PacedSender::new(start_bps * PACING_FACTOR, cell.clone(), counters);
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
            Slot::from(RECORD_REPORTED_SLOT),
            Watching::new(RecordReportedSequences {
                cell: feedback_cell,
            }),
        )
        .with(
            Slot::CongestionControl,
            WithRtx(CongestionControlBuilder::new(estimator).build()),
        )
        .with(Slot::TwccSender, WithRtx(TwccSenderBuilder::new().build()))
        .with(Slot::Pacer, sender);
    Ok(registry)
}
