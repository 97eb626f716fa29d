//! The call's state as people see it, what it tells its owner, and how it
//! fails.

use crate::signalling::SignalError;

/// The call's state as people see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallState {
    /// In the room, no one to call yet.
    Waiting,
    /// Negotiating and checking connectivity.
    Connecting,
    Connected,
    /// The path broke; ICE is trying to restore it.
    Reconnecting,
    Failed,
    Closed,
}

impl CallState {
    pub fn as_str(self) -> &'static str {
        match self {
            CallState::Waiting => "waiting",
            CallState::Connecting => "connecting",
            CallState::Connected => "connected",
            CallState::Reconnecting => "reconnecting",
            CallState::Failed => "failed",
            CallState::Closed => "closed",
        }
    }
}

#[derive(Debug, Clone)]
pub enum CallEvent {
    State(CallState),
    PeerJoined { peer_id: String, name: String },
    PeerLeft { peer_id: String },
    Chat { from: String, text: String },
}

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error(transparent)]
    Signal(#[from] SignalError),
    #[error("WebRTC: {0}")]
    WebRtc(#[from] webrtc::error::Error),
    #[error("webrtc-rs was built without an async runtime")]
    NoRuntime,
}
