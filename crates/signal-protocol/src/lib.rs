//! The signalling wire protocol, version 1: one JSON object per WebSocket text
//! message, tagged by `type`. `docs/signalling.md` is its specification;
//! these types are the reference.
//!
//! The server relays session descriptions and candidates between peers of
//! one room without reading them; it reads only what it routes by.

use serde::{Deserialize, Serialize};

/// Protocol version spoken by this server; clients state theirs in `join`.
pub const PROTOCOL_VERSION: u32 = 1;

/// What a participant may do in a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The consulting specialist (university hospital).
    Specialist,
    /// The presenting doctor (island clinic).
    Presenter,
    /// Watches and listens; may chat, never sends media offers.
    Observer,
}

impl Role {
    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "specialist" => Some(Role::Specialist),
            "presenter" => Some(Role::Presenter),
            "observer" => Some(Role::Observer),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Specialist => "specialist",
            Role::Presenter => "presenter",
            Role::Observer => "observer",
        }
    }
}

/// A participant as others see it. The display name is the client's own
/// choice, shown to the room only (never logged).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    pub peer_id: String,
    pub role: Role,
    pub name: String,
}

/// Time-limited TURN credentials (coturn's REST scheme).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    pub urls: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// Client to server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// First message on a connection: enter the room the token names.
    Join {
        version: u32,
        token: String,
        #[serde(default)]
        name: String,
    },
    /// A session description offer for one peer (`ice_restart` marks an
    /// offer made to restart ICE on an existing connection).
    Offer {
        to: String,
        sdp: String,
        #[serde(default)]
        ice_restart: bool,
    },
    Answer {
        to: String,
        sdp: String,
    },
    /// A trickled ICE candidate; `candidate` empty means end of candidates.
    Candidate {
        to: String,
        candidate: String,
        #[serde(default)]
        sdp_mid: Option<String>,
        #[serde(default)]
        sdp_mline_index: Option<u16>,
    },
    /// Ask the peer to start an ICE restart (send a fresh offer).
    IceRestart {
        to: String,
    },
    Chat {
        text: String,
    },
    Ping {
        #[serde(default)]
        id: u64,
    },
    Leave,
}

/// Server to client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// Reply to `join`: who you are and who is already there.
    Welcome {
        version: u32,
        room: String,
        peer_id: String,
        role: Role,
        participants: Vec<Participant>,
        ice_servers: Vec<IceServer>,
    },
    PeerJoined {
        participant: Participant,
    },
    PeerLeft {
        peer_id: String,
    },
    Offer {
        from: String,
        sdp: String,
        ice_restart: bool,
    },
    Answer {
        from: String,
        sdp: String,
    },
    Candidate {
        from: String,
        candidate: String,
        sdp_mid: Option<String>,
        sdp_mline_index: Option<u16>,
    },
    IceRestart {
        from: String,
    },
    Chat {
        from: String,
        text: String,
        /// Server time, milliseconds since the Unix epoch.
        at_ms: u64,
    },
    Pong {
        id: u64,
    },
    /// Something was refused. Fatal errors are followed by a close.
    Error {
        code: ErrorCode,
        message: String,
    },
}

/// Stable error codes; `message` is for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Not JSON, not an object, or fields of the wrong kind.
    BadMessage,
    /// A `type` this server does not know.
    UnknownType,
    /// The client speaks a protocol version this server does not.
    UnsupportedVersion,
    /// Token missing, malformed, badly signed, expired, or for another room.
    Unauthorized,
    /// Something other than `join` before joining, or `join` twice.
    NotJoined,
    AlreadyJoined,
    /// `to` names no peer in this room.
    NoSuchPeer,
    /// The role may not do this (observers send no offers).
    Forbidden,
    RoomFull,
    TooManyRooms,
    TooLarge,
    RateLimited,
    /// The server is shutting down.
    GoingAway,
    /// The token already has a live connection: one connection per token.
    TokenInUse,
    /// The room already has its participant of this role (one presenter
    /// and one specialist, unless the token allows more).
    RoleTaken,
}

impl ErrorCode {
    /// Errors after which the server closes the connection.
    pub fn is_fatal(self) -> bool {
        matches!(
            self,
            ErrorCode::Unauthorized
                | ErrorCode::UnsupportedVersion
                | ErrorCode::RoomFull
                | ErrorCode::TooManyRooms
                | ErrorCode::TooLarge
                | ErrorCode::GoingAway
                | ErrorCode::TokenInUse
                | ErrorCode::RoleTaken
        )
    }
}

/// Parse one text message. Unknown `type`s are told apart from malformed
/// JSON so a newer client gets a useful answer.
pub fn parse_client(text: &str) -> Result<ClientMessage, (ErrorCode, String)> {
    match serde_json::from_str::<ClientMessage>(text) {
        Ok(m) => Ok(m),
        Err(e) => {
            let kind = serde_json::from_str::<serde_json::Value>(text)
                .ok()
                .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_owned));
            match kind {
                Some(t) if !KNOWN_TYPES.contains(&t.as_str()) => Err((
                    ErrorCode::UnknownType,
                    format!("unknown message type {:?}", truncate(&t, 40)),
                )),
                _ => Err((ErrorCode::BadMessage, format!("not a valid message: {e}"))),
            }
        }
    }
}

const KNOWN_TYPES: [&str; 8] = [
    "join",
    "offer",
    "answer",
    "candidate",
    "ice_restart",
    "chat",
    "ping",
    "leave",
];

/// At most `max` characters of `text`, for error messages that echo input.
pub fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_with_snake_case_tags() {
        let m = ClientMessage::Candidate {
            to: "p2".into(),
            candidate: "candidate:1 1 udp 1 127.0.0.1 5000 typ host".into(),
            sdp_mid: Some("0".into()),
            sdp_mline_index: Some(0),
        };
        let text = serde_json::to_string(&m).unwrap_or_default();
        assert!(text.contains(r#""type":"candidate""#), "{text}");
        assert_eq!(parse_client(&text), Ok(m));
        let join = r#"{"type":"join","version":1,"token":"t"}"#;
        assert!(matches!(
            parse_client(join),
            Ok(ClientMessage::Join { name, .. }) if name.is_empty()
        ));
    }

    #[test]
    fn unknown_types_and_garbage_are_told_apart() {
        assert_eq!(
            parse_client(r#"{"type":"teleport"}"#).map_err(|e| e.0),
            Err(ErrorCode::UnknownType)
        );
        assert_eq!(
            parse_client("{not json").map_err(|e| e.0),
            Err(ErrorCode::BadMessage)
        );
        assert_eq!(
            parse_client(r#"{"type":"offer","to":5}"#).map_err(|e| e.0),
            Err(ErrorCode::BadMessage)
        );
        assert_eq!(
            parse_client("[1,2]").map_err(|e| e.0),
            Err(ErrorCode::BadMessage)
        );
    }
}
