//! What each of the call's tasks measured, as a snapshot it alone writes
//! (a `watch` each: one writer, readers take a copy), and the call's
//! statistics made from them on request. No task takes another's lock to
//! count, and a statistics request holds nothing while it computes.

use crate::channels::{ChannelReport, KeepaliveReport};
use crate::congestion::EstimateCell;
use crate::interceptors::paced_sender::SenderCounters;
use crate::stats::{
    AudioStats, CallStats, CongestionStats, DataStats, TransportStats, VideoIn, VideoOut,
    percentiles,
};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use webrtc::peer_connection::{RTCStatsReport, RTCStatsReportEntry};

/// The video sender's thread.
#[derive(Debug, Clone, Default)]
pub struct VideoSendReport {
    pub out: VideoOut,
    /// What the encoder was last asked for, kbit/s.
    pub encoder_kbps: Option<u32>,
    pub rung: Option<String>,
    pub rung_changes: u64,
    pub frames_skipped: u64,
}

/// The session: connection, recoveries, restarts.
#[derive(Debug, Clone, Default)]
pub struct LinkReport {
    pub connected_after_ms: Option<f64>,
    pub recoveries: u64,
    pub ice_restarts: u64,
}

/// The remote video track's task: what arrived whole and where it went.
#[derive(Debug, Clone, Default)]
pub struct VideoArrivalReport {
    pub codec: String,
    pub bytes: u64,
    pub frames_forwarded: u64,
    /// Frames lost on the way, or dropped because the decoder was behind.
    pub frames_dropped: u64,
    pub first_frame_after_ms: Option<f64>,
}

/// The decoder's thread.
#[derive(Debug, Clone, Default)]
pub struct DecodeReport {
    pub decoder: String,
    pub hardware: bool,
    pub width: u32,
    pub height: u32,
    pub frames_decoded: u64,
    /// Frames the decoder refused (corrupt, or a missing reference).
    pub frames_undecodable: u64,
    pub first_frame_after_ms: Option<f64>,
}

/// Frames per second over a sliding window of their times.
#[derive(Debug, Default)]
pub struct FrameRate {
    times: VecDeque<Instant>,
}

impl FrameRate {
    /// How far back frames count.
    pub const WINDOW: Duration = Duration::from_secs(2);

    /// A frame at `now`; the rate over the window.
    pub fn frame(&mut self, now: Instant) -> Option<f64> {
        self.times.push_back(now);
        while self
            .times
            .front()
            .is_some_and(|t| now.duration_since(*t) > Self::WINDOW)
        {
            self.times.pop_front();
        }
        let (first, last) = (self.times.front()?, self.times.back()?);
        let secs = last.duration_since(*first).as_secs_f64();
        (secs > 0.0).then(|| (self.times.len() - 1) as f64 / secs)
    }
}

/// Audio both ways.
#[derive(Debug, Clone, Default)]
pub struct AudioReport {
    pub packets: u64,
    pub undecodable: u64,
}

/// The writing ends, each moved into the task that owns it.
pub(crate) struct Reporters {
    pub video_send: watch::Sender<VideoSendReport>,
    pub keyframe_requests: watch::Sender<u64>,
    pub link: watch::Sender<LinkReport>,
    pub arrival: watch::Sender<VideoArrivalReport>,
    pub decode: watch::Sender<DecodeReport>,
    pub video_in_fps: watch::Sender<f64>,
    pub audio_sent: watch::Sender<AudioReport>,
    pub audio_received: watch::Sender<AudioReport>,
}

/// The reading ends, kept by the call's handle.
pub(crate) struct Reports {
    video_send: watch::Receiver<VideoSendReport>,
    keyframe_requests: watch::Receiver<u64>,
    link: watch::Receiver<LinkReport>,
    arrival: watch::Receiver<VideoArrivalReport>,
    decode: watch::Receiver<DecodeReport>,
    video_in_fps: watch::Receiver<f64>,
    audio_sent: watch::Receiver<AudioReport>,
    audio_received: watch::Receiver<AudioReport>,
    pub channels: BTreeMap<&'static str, watch::Receiver<ChannelReport>>,
    pub keepalive: Option<watch::Receiver<KeepaliveReport>>,
    /// Congestion control's estimate and its sender's counters (none with
    /// the library's defaults).
    pub estimate: Option<(Arc<EstimateCell>, Arc<SenderCounters>)>,
    pub udp_receive_buffer: Arc<AtomicUsize>,
}

pub(crate) fn reporters() -> (Reporters, Reports) {
    let (video_send, video_send_rx) = watch::channel(VideoSendReport::default());
    let (keyframe_requests, keyframe_requests_rx) = watch::channel(0);
    let (link, link_rx) = watch::channel(LinkReport::default());
    let (arrival, arrival_rx) = watch::channel(VideoArrivalReport::default());
    let (decode, decode_rx) = watch::channel(DecodeReport::default());
    let (video_in_fps, video_in_fps_rx) = watch::channel(0.0);
    let (audio_sent, audio_sent_rx) = watch::channel(AudioReport::default());
    let (audio_received, audio_received_rx) = watch::channel(AudioReport::default());
    (
        Reporters {
            video_send,
            keyframe_requests,
            link,
            arrival,
            decode,
            video_in_fps,
            audio_sent,
            audio_received,
        },
        Reports {
            video_send: video_send_rx,
            keyframe_requests: keyframe_requests_rx,
            link: link_rx,
            arrival: arrival_rx,
            decode: decode_rx,
            video_in_fps: video_in_fps_rx,
            audio_sent: audio_sent_rx,
            audio_received: audio_received_rx,
            channels: BTreeMap::new(),
            keepalive: None,
            estimate: None,
            udp_receive_buffer: Arc::default(),
        },
    )
}

impl Reports {
    /// The call's statistics as the tasks report them now, with the
    /// transport's figures from `transport`.
    pub fn compose(&self, state: &str, transport: &RTCStatsReport) -> CallStats {
        let link = self.link.borrow().clone();
        let send = self.video_send.borrow().clone();
        let arrival = self.arrival.borrow().clone();
        let decode = self.decode.borrow().clone();
        let mut video_out = send.out;
        video_out.keyframe_requests = *self.keyframe_requests.borrow();
        let first_frame_after_ms = match (decode.first_frame_after_ms, arrival.first_frame_after_ms)
        {
            (Some(decoded), _) => Some(decoded),
            (None, forwarded) if arrival.frames_forwarded > 0 => forwarded,
            _ => None,
        };
        let video_in = VideoIn {
            codec: arrival.codec,
            decoder: decode.decoder,
            hardware: decode.hardware,
            width: decode.width,
            height: decode.height,
            frames_decoded: decode.frames_decoded,
            bytes: arrival.bytes,
            frames_dropped: arrival.frames_dropped + decode.frames_undecodable,
            frames_forwarded: arrival.frames_forwarded,
            fps: *self.video_in_fps.borrow(),
        };
        let audio = AudioStats {
            packets_sent: self.audio_sent.borrow().packets,
            packets_received: self.audio_received.borrow().packets,
            packets_undecodable: self.audio_received.borrow().undecodable,
        };
        let mut congestion = CongestionStats {
            encoder_kbps: send.encoder_kbps,
            rung: send.rung,
            rung_changes: send.rung_changes,
            frames_skipped: send.frames_skipped,
            ..CongestionStats::default()
        };
        self.fill_congestion(&mut congestion);
        let mut stats = CallStats {
            state: state.to_owned(),
            connected_after_ms: link.connected_after_ms,
            first_frame_after_ms,
            recoveries: link.recoveries,
            ice_restarts: link.ice_restarts,
            video_out,
            video_in,
            audio,
            data: self.data(),
            transport: TransportStats::default(),
            congestion,
            peak_memory_mib: crate::stats::peak_memory_mib(),
        };
        fill_transport(&mut stats.transport, transport);
        stats
    }

    fn data(&self) -> DataStats {
        let channels: BTreeMap<String, ChannelReport> = self
            .channels
            .iter()
            .map(|(label, report)| (label.to_string(), report.borrow().clone()))
            .collect();
        let of = |label: &str| channels.get(label).cloned().unwrap_or_default();
        let (control, pointer, bulk) = (of("control"), of("pointer"), of("bulk"));
        let keepalive = self
            .keepalive
            .as_ref()
            .map(|k| k.borrow().clone())
            .unwrap_or_default();
        let mut round_trips = Vec::from(keepalive.round_trips_ms);
        DataStats {
            control_sent: control.messages_sent,
            control_received: control.messages_received,
            pointer_sent: pointer.messages_sent,
            pointer_received: pointer.messages_received,
            control_rtt_ms_p50: percentiles(&mut round_trips).map(|(p50, _, _)| p50),
            pings_answered: keepalive.pings_answered,
            pings_refused: keepalive.pings_refused,
            pongs_ignored: keepalive.pongs_ignored,
            bulk_bytes_sent: bulk.bytes_sent,
            bulk_bytes_received: bulk.bytes_received,
            bulk_mbit_s: bulk.received_mbit_s,
            channels,
        }
    }

    fn fill_congestion(&self, out: &mut CongestionStats) {
        let granted = self.udp_receive_buffer.load(Ordering::Relaxed);
        out.udp_receive_buffer_bytes = (granted > 0).then_some(granted as u64);
        let Some((cell, sender)) = &self.estimate else {
            return;
        };
        let estimate = cell.get();
        out.enabled = true;
        out.estimate_kbps = Some(estimate.target_bps / 1e3);
        out.delay_based_kbps = estimate.delay_based_bps.map(|b| b / 1e3);
        out.loss_based_kbps = estimate.loss_based_bps.map(|b| b / 1e3);
        out.loss_percent = estimate.loss.map(|l| l * 100.0);
        out.feedback_reports = estimate.reports;
        let load = |n: &std::sync::atomic::AtomicU64| n.load(Ordering::Relaxed);
        out.pacer_dropped = load(&sender.stale_dropped);
        out.repairs_sent = load(&sender.repairs_sent);
        out.repairs_in_flight = load(&sender.repairs_in_flight);
        out.repairs_refused = load(&sender.repairs_refused);
        out.repairs_on_rtx = load(&sender.rtx_streams) > 0;
        out.probes = estimate.probes;
        out.padding_sent = load(&sender.padding_sent);
        out.feedback_rtt_ms = estimate.rtt.map(|rtt| rtt.as_secs_f64() * 1e3);
    }
}

/// Transport figures from webrtc-rs's statistics.
pub(crate) fn fill_transport(out: &mut TransportStats, report: &RTCStatsReport) {
    for pair in report.candidate_pairs() {
        if !pair.nominated {
            continue;
        }
        out.rtt_ms = Some(pair.current_round_trip_time * 1e3);
        out.bytes_sent = pair.bytes_sent;
        out.bytes_received = pair.bytes_received;
        // webrtc-rs 0.21 names the candidate in the pair without the
        // "RTCLocalIceCandidate_" prefix its candidate entries carry.
        let wanted = &pair.local_candidate_id;
        let local = report.iter().find_map(|entry| match entry {
            RTCStatsReportEntry::LocalCandidate(c)
                if c.stats.id == *wanted
                    || c.stats
                        .id
                        .strip_suffix(wanted.as_str())
                        .is_some_and(|p| p.ends_with('_')) =>
            {
                Some(c)
            }
            _ => None,
        });
        match local {
            Some(c) => out.local_candidate_type = Some(c.candidate_type.to_string()),
            None => tracing::debug!(
                id = %pair.local_candidate_id,
                "the selected pair's local candidate is not in the report"
            ),
        }
    }
    let mut jitter: Option<f64> = None;
    for inbound in report.inbound_rtp_streams() {
        let r = &inbound.received_rtp_stream_stats;
        out.packets_received += r.packets_received;
        out.packets_lost += r.packets_lost;
        if r.rtp_stream_stats.kind == rtc::rtp_transceiver::rtp_sender::RtpCodecKind::Video {
            out.video_packets_received += r.packets_received;
            out.video_packets_lost += r.packets_lost;
        }
        // webrtc-rs 0.21 documents `jitter` in seconds but fills it with
        // the receiver report's value, in RTP timestamp units.
        let clock = match r.rtp_stream_stats.kind {
            rtc::rtp_transceiver::rtp_sender::RtpCodecKind::Audio => 48_000.0,
            _ => 90_000.0,
        };
        let ms = r.jitter / clock * 1e3;
        jitter = Some(jitter.unwrap_or(0.0).max(ms));
    }
    out.jitter_ms = jitter;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_frame_rate_counts_the_last_two_seconds() {
        let start = Instant::now();
        let mut rate = FrameRate::default();
        assert_eq!(rate.frame(start), None, "one frame has no rate");
        let mut last = None;
        for i in 1..=90 {
            last = rate.frame(start + Duration::from_millis(i * 33));
        }
        let fps = last.expect("a rate");
        assert!((fps - 30.3).abs() < 0.5, "{fps}");
        // A pause: the window forgets what came before it.
        let after = rate.frame(start + Duration::from_secs(10));
        assert_eq!(after, None);
    }
}
