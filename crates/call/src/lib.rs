//! The call engine: one WebRTC peer connection to the other site, set up
//! through `kakehashi-signal`, carrying Opus audio and video (VP8, VP9,
//! H.264, HEVC sent; also AV1 received) both ways, and typed data channels.
//!
//! [`Call::start`] joins a room with its [`media::CallMedia`] — where the
//! pictures and sound come from and go, and one binding per data channel
//! ([`channels::channel`]) — and negotiates with whoever is, or comes,
//! there; the caller reads [`CallEvent`]s and asks for [`CallStats`]. The
//! engine knows no devices, files or test patterns: the console plugs in
//! its camera, microphone, speakers and viewer, `kh call` its test rig.
//!
//! Inside, each task owns what it changes: the session (signalling,
//! negotiation, the call's state), the senders and receivers of each
//! medium, one task per data channel; they report through snapshots
//! (`reports`), not a lock they all share.

mod call;
pub mod channels;
mod codecs;
pub mod congestion;
pub mod delay;
pub mod depacketize;
mod estimate;
pub mod estimator;
mod flag;
#[doc(hidden)]
pub mod fuzzing;
pub mod interceptors;
pub mod keepalive;
pub mod ladder;
pub mod media;
mod options;
pub mod pace;
mod peer;
pub mod probe;
pub mod reachability;
mod receive;
mod reports;
mod send_audio;
mod send_video;
mod session;
pub mod signalling;
mod state;
pub mod stats;
mod tracks;
pub mod udp_buffers;

pub use call::Call;
pub use channels::ChannelReport;
pub use options::{CONNECT_TIMEOUT, CallOptions, ICE_FAILED_AFTER};
pub use session::{NETWORK_CHECK, RESTART_BACKOFF, RESTART_GIVE_UP};
pub use state::{CallError, CallEvent, CallState};
pub use stats::CallStats;
