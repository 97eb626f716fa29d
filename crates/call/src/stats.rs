//! What a call measured: from the transport (webrtc-rs's stats: RTT, loss,
//! jitter, bytes), from what was sent and what arrived and was decoded,
//! from the data channels, and from congestion control. What arrives is
//! judged further by whoever receives it (`kh call` reads the stamps in
//! the pictures and the tone in the sound).

use serde::Serialize;

#[derive(Debug, Clone, Default, Serialize)]
pub struct CallStats {
    /// The state the call is in (or ended in).
    pub state: String,
    /// From starting to join until the peer connection was connected.
    pub connected_after_ms: Option<f64>,
    /// From starting to join until the first remote frame was decoded.
    pub first_frame_after_ms: Option<f64>,
    /// Times the path broke (reconnecting) and came back by itself.
    pub recoveries: u64,
    /// ICE restarts asked for (offered, or requested of the offerer) after
    /// the path failed.
    pub ice_restarts: u64,
    pub video_out: VideoOut,
    pub video_in: VideoIn,
    pub audio: AudioStats,
    pub data: DataStats,
    pub transport: TransportStats,
    pub congestion: CongestionStats,
    /// The process's peak resident memory (Linux: VmHWM), in MiB: what a
    /// stalled peer or a runaway queue would show first.
    pub peak_memory_mib: Option<f64>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct VideoOut {
    /// Where the pictures come from, when it is a device: the camera, its
    /// path and the mode it was opened at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Why the source gives no pictures now (a camera unplugged or
    /// failing: black is sent while it is looked for again).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_problem: Option<String>,
    /// Times the camera was opened again after it was lost.
    #[serde(skip_serializing_if = "is_zero")]
    pub source_reopened: u64,
    pub codec: String,
    /// The encoder in use, on what, and (when hardware was wanted but is
    /// not in use) why not.
    pub encoder: String,
    /// The encoder runs on hardware (NVENC, VideoToolbox, Media Foundation).
    pub hardware: bool,
    pub width: u32,
    pub height: u32,
    pub frames_encoded: u64,
    pub keyframes: u64,
    pub bytes: u64,
    /// Keyframes sent because the far end asked (PLI/FIR).
    pub keyframe_requests: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct VideoIn {
    pub codec: String,
    /// The decoder in use, on what, and why not hardware (empty when
    /// frames are forwarded undecoded).
    pub decoder: String,
    /// The decoder runs on hardware (NVDEC).
    pub hardware: bool,
    pub width: u32,
    pub height: u32,
    pub frames_decoded: u64,
    /// Bytes of compressed frames that arrived whole (goodput: repairs,
    /// padding and headers not counted).
    pub bytes: u64,
    /// Compressed frames the decoder refused (corrupt or missing reference).
    pub frames_dropped: u64,
    /// Compressed frames handed on undecoded (`media::VideoReceive::Forward`).
    pub frames_forwarded: u64,
    /// Frames per second over the last two seconds (decoded, or
    /// forwarded when frames are handed on undecoded).
    pub fps: f64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct AudioStats {
    pub packets_sent: u64,
    pub packets_received: u64,
    pub packets_undecodable: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct DataStats {
    pub control_sent: u64,
    pub control_received: u64,
    pub pointer_sent: u64,
    pub pointer_received: u64,
    /// Round trips of `ping`s on the control channel.
    pub control_rtt_ms_p50: Option<f64>,
    /// The far side's pings answered, and those over the rate refused.
    pub pings_answered: u64,
    pub pings_refused: u64,
    /// Pongs that answered no ping of ours.
    pub pongs_ignored: u64,
    /// The `bulk` channel (reliable, ordered: files, slide regions).
    pub bulk_bytes_sent: u64,
    pub bulk_bytes_received: u64,
    /// Received bulk bytes over the time from the first to the last.
    pub bulk_mbit_s: Option<f64>,
    /// Every channel by its label, with what did not reach its endpoint.
    pub channels: std::collections::BTreeMap<String, crate::channels::ChannelReport>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct TransportStats {
    /// The selected candidate pair's current round trip.
    pub rtt_ms: Option<f64>,
    /// "host", "srflx", "relay": how the path was made.
    pub local_candidate_type: Option<String>,
    pub packets_received: u64,
    pub packets_lost: i64,
    /// The video stream's own: RTP packets that arrived first time, and
    /// those that never did (RFC 3550's count; repairs on the RTX stream
    /// are not in either).
    pub video_packets_received: u64,
    pub video_packets_lost: i64,
    pub jitter_ms: Option<f64>,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub bitrate_in_kbps: f64,
    pub bitrate_out_kbps: f64,
}

/// Send-side congestion control: the estimate and what the sender made
/// of it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CongestionStats {
    /// GCC on TWCC feedback, with the pacer (off: the library's defaults).
    pub enabled: bool,
    /// The estimate the pacer sends at, kbit/s.
    pub estimate_kbps: Option<f64>,
    pub delay_based_kbps: Option<f64>,
    pub loss_based_kbps: Option<f64>,
    /// Loss the far side reported over GCC's window, percent.
    pub loss_percent: Option<f64>,
    /// Feedback reports taken in (none: the far side does not send TWCC).
    pub feedback_reports: u64,
    /// What the encoder was last asked for, kbit/s.
    pub encoder_kbps: Option<u32>,
    /// The ladder's rung in use, WIDTHxHEIGHT@FPS.
    pub rung: Option<String>,
    pub rung_changes: u64,
    /// Packets the sender dropped after waiting too long (media 500 ms,
    /// repairs 250 ms).
    pub pacer_dropped: u64,
    /// Retransmissions sent in answer to NACKs.
    pub repairs_sent: u64,
    /// NACKed packets not resent because a copy was queued or on its way.
    pub repairs_in_flight: u64,
    /// NACKed packets not resent: over the repair budget, or no longer kept.
    pub repairs_refused: u64,
    /// Repairs go on their own RTX stream (negotiated with the far side).
    pub repairs_on_rtx: bool,
    /// Bandwidth probes that gave a result, and the padding sent for them.
    pub probes: u64,
    pub padding_sent: u64,
    /// The round trip as congestion feedback shows it, ms.
    pub feedback_rtt_ms: Option<f64>,
    /// Frames not encoded because the encoder was more than 400 ms of the
    /// estimate ahead of it (the frame dropper).
    pub frames_skipped: u64,
    /// The UDP receive buffer the kernel granted, bytes.
    pub udp_receive_buffer_bytes: Option<u64>,
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

/// The peak resident set size of this process, from `/proc/self/status`
/// (Linux only).
pub fn peak_memory_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

/// Median and 95th percentile of `values` (sorted in place).
pub fn percentiles(values: &mut [f64]) -> Option<(f64, f64, f64)> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    Some((at(0.5), at(0.95), values[values.len() - 1]))
}
