//! How a call runs: where it meets, and the transport's settings.

use kh_media::VideoCodec;
use std::time::Duration;

/// How a call runs: where to meet, and the transport's settings. What it
/// carries comes separately, as [`CallMedia`].
#[derive(Debug, Clone)]
pub struct CallOptions {
    /// `ws://` or `wss://` URL of the signalling server's `/ws`.
    pub server: String,
    pub token: String,
    /// Shown to the room (never logged by the server).
    pub name: String,
    /// What we send; also what we ask the other side to send first.
    pub codec: VideoCodec,
    pub fps: u32,
    /// Where the bandwidth estimate (and the encoder) start, kbit/s.
    pub bitrate_kbps: u32,
    /// What the sender never exceeds, however high the estimate, kbit/s.
    pub max_bitrate_kbps: u32,
    /// GCC + TWCC + our paced sender driving the encoder, and UDP buffers
    /// sized for bursts (off: the encoder holds `bitrate_kbps` and
    /// webrtc-rs's defaults apply — no pacer, its NACK responder, the
    /// kernel's default socket buffers — for comparison).
    pub congestion_control: bool,
    /// Local UDP addresses to gather host candidates on.
    pub udp_addrs: Vec<String>,
    /// Only relay (TURN) candidates: proves the relay path.
    pub relay_only: bool,
    /// STUN/TURN servers the site lists (the settings' `turn.urls`), used
    /// beside those the signalling server hands out; a `turn:` one borrows
    /// the server's per-call credentials (see `peer::ice_servers`).
    pub site_ice_urls: Vec<String>,
    /// Use the platform's hardware encoder and decoder where it has them
    /// (FFmpeg's NVENC/NVDEC, VA-API, VideoToolbox, Media Foundation),
    /// software otherwise.
    pub hardware_codecs: bool,
    /// The largest picture the far side may send (default 8K; the
    /// settings' `video.max_picture_*`): frames declaring more are refused
    /// before a decoder allocates for them.
    pub picture_limit: kh_media::PictureLimit,
    /// How long ICE stays "disconnected" (no answer to its checks for 5 s)
    /// before it declares the path failed and the call restarts ICE.
    pub ice_failed_after: Duration,
}

impl CallOptions {
    pub fn new(server: &str, token: &str) -> CallOptions {
        CallOptions {
            server: server.to_owned(),
            token: token.to_owned(),
            name: "Kakehashi".to_owned(),
            codec: VideoCodec::Vp8,
            fps: 30,
            bitrate_kbps: 1500,
            max_bitrate_kbps: 100_000,
            congestion_control: true,
            udp_addrs: vec!["0.0.0.0:0".to_owned()],
            relay_only: false,
            site_ice_urls: Vec::new(),
            hardware_codecs: true,
            picture_limit: kh_media::PictureLimit::default(),
            ice_failed_after: ICE_FAILED_AFTER,
        }
    }
}

/// ICE's "failed" this long after "disconnected" (webrtc-rs: 25 s; a
/// restart is the better repair, so it comes sooner).
pub const ICE_FAILED_AFTER: Duration = Duration::from_secs(10);

/// How long `kh call` and tests wait for a state before giving up.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
