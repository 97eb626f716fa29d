//! The console ↔ viewer protocol: message types, their framing, and a
//! blocking local-socket connection.
//!
//! A frame is a 4-byte little-endian length and that many bytes of JSON:
//! `{"v": 1, "msg": {"type": ..., ...}}`. JSON keeps the control messages
//! readable in logs and from any language; bulk payloads (encoded video)
//! will get their own binary frame kind under a new version. The decoder is
//! sans-IO ([`FrameDecoder`]): feed bytes, get messages, so it is tested and
//! fuzzed without sockets.

mod connection;
mod socket_dir;

pub use connection::{Connection, Listener};
use serde::{Deserialize, Serialize};
pub use socket_dir::{SocketDir, check_private_dir, ensure_private_dir};

/// Protocol version carried in every frame (2: screenshots by name, ping).
pub const VERSION: u32 = 2;
/// Largest frame accepted: control messages are small, and an encoded 8K
/// keyframe (a few MB, base64 in JSON) fits; a peer announcing more is
/// broken or hostile.
pub const MAX_FRAME_BYTES: usize = 16 << 20;

/// Where a view looks (mirrors the renderer's view without depending on it).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ViewState {
    /// Level-0 pixel at the viewport's centre.
    pub center_slide: [f64; 2],
    /// Level-0 pixels per screen pixel.
    pub zoom: f64,
    /// Clockwise, 0/90/180/270.
    pub rotation_degrees: u32,
}

/// Messages the console sends the viewer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToViewer {
    OpenSlide {
        path: String,
    },
    SetView {
        view: ViewState,
    },
    /// A remote participant's pointer, drawn over the slide (`None` hides it).
    Pointer {
        p_slide: Option<[f64; 2]>,
        label: String,
    },
    /// Write the view (with its scale bar) as PNG named `name` in the
    /// screenshot folder the viewer was started with (`--screenshots`):
    /// a plain file name, never a path, and never over an existing file.
    Screenshot {
        name: String,
    },
    /// Answer with `Pong { seq }` from the window's event loop: the console
    /// learns that the viewer is alive, not just its socket.
    Ping {
        seq: u64,
    },
    /// One encoded frame of the call's remote video, as it arrived
    /// (`codec` a MIME type such as `video/VP8`): the viewer decodes and
    /// draws it; raw pictures never cross the link.
    RemoteVideo {
        codec: String,
        #[serde(with = "base64_bytes")]
        data: Vec<u8>,
    },
    /// The remote video stopped (the call ended): hide it.
    RemoteVideoEnded,
    Quit,
}

/// Messages the viewer sends the console.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FromViewer {
    /// First message after connecting.
    Hello {
        version: u32,
        pid: u32,
    },
    Opened {
        path: String,
        width: u64,
        height: u64,
        levels: usize,
    },
    /// The view moved (sent at most once per frame) and the viewport size in
    /// physical pixels.
    ViewChanged {
        view: ViewState,
        viewport: [u32; 2],
    },
    /// Every visible tile of the current view is drawn at full detail.
    ViewComplete {
        view: ViewState,
    },
    /// The local pointer over the slide (`None` when it leaves).
    PointerMoved {
        p_slide: Option<[f64; 2]>,
    },
    ScreenshotSaved {
        path: String,
    },
    /// The remote video on screen: its size, frames shown and frames that
    /// could not be shown (undecodable, or skipped until a keyframe). Sent
    /// when the size changes and every 30 frames.
    RemoteVideoShown {
        width: u32,
        height: u32,
        frames: u64,
        dropped: u64,
    },
    /// The viewer needs a keyframe to show the remote video again (it
    /// dropped or could not decode a frame).
    KeyframeWanted,
    /// The answer to `Ping { seq }`.
    Pong {
        seq: u64,
    },
    /// Something failed: a slide that did not open, tiles that did not read,
    /// a screenshot that could not be written.
    Error {
        message: String,
    },
}

#[derive(Debug, Serialize, Deserialize)]
struct Envelope<M> {
    v: u32,
    msg: M,
}

/// Bytes as base64 text inside the JSON messages.
mod base64_bytes {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], out: S) -> Result<S::Ok, S::Error> {
        out.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(input: D) -> Result<Vec<u8>, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(input)?;
        STANDARD
            .decode(text.as_bytes())
            .map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IpcError {
    #[error("IPC frame of {0} bytes is larger than the {MAX_FRAME_BYTES}-byte limit")]
    TooLarge(usize),
    #[error("IPC message is not valid: {0}")]
    Malformed(String),
    #[error("IPC peer speaks protocol version {0}, this side {VERSION}")]
    Version(u32),
    #[error("IPC connection: {0}")]
    Io(#[from] std::io::Error),
    #[error("IPC connection closed")]
    Closed,
    #[error("IPC socket directory {path}: {why}; refusing to use it")]
    UnsafeDirectory {
        path: std::path::PathBuf,
        why: String,
    },
}

/// Whether `name` may name a screenshot: one plain `.png` file name, no
/// directory part, not hidden. The viewer writes only such names, inside
/// the folder it was given.
pub fn is_screenshot_name(name: &str) -> bool {
    let plain = !name.is_empty()
        && name.len() <= 255
        && !name.starts_with('.')
        && !name.contains(['/', '\\', '\0'])
        && !name.chars().any(char::is_control);
    plain
        && std::path::Path::new(name)
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("png"))
}

/// A message as one frame.
pub fn encode<M: Serialize>(msg: &M) -> Result<Vec<u8>, IpcError> {
    let json = serde_json::to_vec(&Envelope { v: VERSION, msg })
        .map_err(|e| IpcError::Malformed(e.to_string()))?;
    if json.len() > MAX_FRAME_BYTES {
        return Err(IpcError::TooLarge(json.len()));
    }
    let mut frame = Vec::with_capacity(4 + json.len());
    frame.extend_from_slice(&(json.len() as u32).to_le_bytes());
    frame.extend_from_slice(&json);
    Ok(frame)
}

/// Splits a byte stream into messages.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    buffer: Vec<u8>,
}

impl FrameDecoder {
    pub fn new() -> FrameDecoder {
        FrameDecoder::default()
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// The next whole message, `Ok(None)` if more bytes are needed. After an
    /// error the stream is out of step: drop the connection.
    pub fn next_message<M: for<'de> Deserialize<'de>>(&mut self) -> Result<Option<M>, IpcError> {
        if self.buffer.len() < 4 {
            return Ok(None);
        }
        let len = u32::from_le_bytes([
            self.buffer[0],
            self.buffer[1],
            self.buffer[2],
            self.buffer[3],
        ]) as usize;
        if len > MAX_FRAME_BYTES {
            return Err(IpcError::TooLarge(len));
        }
        if self.buffer.len() < 4 + len {
            return Ok(None);
        }
        let frame: Vec<u8> = self.buffer.drain(..4 + len).skip(4).collect();
        let value: serde_json::Value =
            serde_json::from_slice(&frame).map_err(|e| IpcError::Malformed(e.to_string()))?;
        let version = value.get("v").and_then(|v| v.as_u64()).unwrap_or(0) as u32;
        if version != VERSION {
            return Err(IpcError::Version(version));
        }
        let envelope: Envelope<M> =
            serde_json::from_value(value).map_err(|e| IpcError::Malformed(e.to_string()))?;
        Ok(Some(envelope.msg))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_across_arbitrary_splits() {
        let sent = vec![
            ToViewer::OpenSlide {
                path: "/slides/a.svs".into(),
            },
            ToViewer::SetView {
                view: ViewState {
                    center_slide: [1.5, 2.0],
                    zoom: 0.25,
                    rotation_degrees: 90,
                },
            },
            ToViewer::RemoteVideo {
                codec: "video/VP8".into(),
                data: (0..=255u8).cycle().take(1000).collect(),
            },
            ToViewer::RemoteVideoEnded,
            ToViewer::Screenshot {
                name: "view.png".into(),
            },
            ToViewer::Ping { seq: 7 },
            ToViewer::Quit,
        ];
        let stream: Vec<u8> = sent
            .iter()
            .flat_map(|m| encode(m).unwrap_or_default())
            .collect();
        for chunk in [1, 3, 7, stream.len()] {
            let mut decoder = FrameDecoder::new();
            let mut got = Vec::new();
            for piece in stream.chunks(chunk) {
                decoder.feed(piece);
                while let Some(m) = decoder.next_message::<ToViewer>().unwrap_or(None) {
                    got.push(m);
                }
            }
            assert_eq!(got, sent);
        }
    }

    #[test]
    fn a_screenshot_is_named_by_a_plain_png_file_name_only() {
        for good in ["view.png", "kakehashi-view-1700000000.PNG", "所見 1.png"] {
            assert!(is_screenshot_name(good), "{good}");
        }
        for bad in [
            "",
            "../view.png",
            "/etc/passwd",
            "/home/dr/view.png",
            "a/b.png",
            "a\\b.png",
            ".hidden.png",
            "..",
            "view.txt",
            "view",
            "view.png\0.txt",
            "line\nbreak.png",
        ] {
            assert!(!is_screenshot_name(bad), "{bad:?}");
        }
        assert!(!is_screenshot_name(&format!("{}.png", "a".repeat(300))));
    }

    #[test]
    fn hostile_frames_are_errors_not_allocations() {
        let mut decoder = FrameDecoder::new();
        decoder.feed(&u32::MAX.to_le_bytes());
        assert!(matches!(
            decoder.next_message::<ToViewer>(),
            Err(IpcError::TooLarge(_))
        ));
        let mut decoder = FrameDecoder::new();
        let body = br#"{"v":7,"msg":{"type":"quit"}}"#;
        decoder.feed(&(body.len() as u32).to_le_bytes());
        decoder.feed(body);
        assert!(matches!(
            decoder.next_message::<ToViewer>(),
            Err(IpcError::Version(7))
        ));
        let mut decoder = FrameDecoder::new();
        let body = br#"{"v":2,"msg":{"type":"format_disk"}}"#;
        decoder.feed(&(body.len() as u32).to_le_bytes());
        decoder.feed(body);
        assert!(matches!(
            decoder.next_message::<ToViewer>(),
            Err(IpcError::Malformed(_))
        ));
    }
}
