//! The call engine: one WebRTC peer connection to the other site, set up
//! through `kakehashi-signal`, carrying Opus audio and video (VP8, VP9, H.264
//! sent; also HEVC and AV1 received) both ways and two data channels — `control` (reliable, ordered: annotations,
//! report edits, slide commands) and `pointer` (unordered, no retransmits:
//! a late pointer position is worthless).
//!
//! [`Call::start`] joins a room and negotiates with whoever is, or comes,
//! there; the caller reads [`CallEvent`]s and asks for [`CallStats`].
//! Media sources, codecs and the burned-in stamp are `kh-media`'s.

mod codecs;
pub mod congestion;
pub mod delay;
pub mod depacketize;
mod engine;
pub mod estimator;
pub mod ladder;
mod media_io;
pub mod nack;
pub mod probe;
pub mod reachability;
pub mod repair_filter;
pub mod sender;
pub mod signalling;
pub mod stats;
pub mod udp_buffers;

pub use engine::{
    CONNECT_TIMEOUT, Call, CallError, CallEvent, CallOptions, CallState, ICE_FAILED_AFTER,
    VideoForward, VideoSource,
};
pub use stats::CallStats;
