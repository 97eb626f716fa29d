//! The interceptors of our own in webrtc-rs's chain (congestion control
//! assembles the chain: `congestion::interceptors`). Those that only look
//! at packets are [`watching::PacketWatcher`]s; the paced sender queues.

pub mod keyframe_requests;
pub mod nack;
pub mod paced_sender;
pub mod repair_filter;
pub mod rtx;
pub mod watching;
pub mod with_rtx;
