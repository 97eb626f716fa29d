//! The console ↔ viewer protocol: message types, their framing, and a
//! blocking local-socket connection.
//!
//! A frame is a 4-byte little-endian length and that many bytes: a 4-byte
//! little-endian JSON length, the JSON `{"v": 3, "msg": {"type": ..., ...}}`,
//! and then the message's payload, raw, if it has one ([`Message`]). JSON
//! keeps the control messages readable and usable from any language; bulk
//! bytes (a coded 8K keyframe is megabytes) travel as they are — no base64,
//! which cost a third more bytes and a pass over each, and no JSON string
//! to scan. The decoder is sans-IO ([`FrameDecoder`]): feed bytes, get
//! messages, so it is tested and fuzzed without sockets.

mod connection;
mod socket_dir;

pub use connection::{Connection, Listener};
use serde::{Deserialize, Serialize};
pub use socket_dir::{SocketDir, check_private_dir, ensure_private_dir};

/// Protocol version carried in every frame (2: screenshots by name, ping;
/// 3: payloads raw after the JSON).
pub const VERSION: u32 = 3;
/// Largest frame accepted: control messages are small, and a coded 8K
/// keyframe (a few MB) fits with room; a peer announcing more is broken or
/// hostile.
pub const MAX_FRAME_BYTES: usize = 16 << 20;

/// A message of the protocol, and the bulk bytes it carries outside its
/// JSON, if any.
pub trait Message: Serialize + for<'de> Deserialize<'de> {
    /// The bytes to send raw after the JSON (they are skipped in it).
    fn payload(&self) -> &[u8] {
        &[]
    }

    /// Puts back the bytes that came after the JSON. A message that takes
    /// none refuses any (the stream is not what this side speaks).
    fn set_payload(&mut self, bytes: Vec<u8>) -> Result<(), IpcError> {
        if bytes.is_empty() {
            Ok(())
        } else {
            Err(IpcError::Malformed(format!(
                "{} bytes after a message that carries none",
                bytes.len()
            )))
        }
    }
}

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
        /// The coded frame: the frame's payload, not part of its JSON.
        #[serde(skip)]
        data: Vec<u8>,
    },
    /// The remote video stopped (the call ended): hide it.
    RemoteVideoEnded,
    /// Draw an annotation file (QuPath GeoJSON, ASAP XML, DICOM ANN) over the open
    /// slide as a layer of its own; answered by `AnnotationsShown` or an
    /// `Error` naming the file.
    ShowAnnotations {
        path: String,
    },
    /// Keep the specialist's own annotations of the slide in `path`: read
    /// now if it exists, written after every change (answered by
    /// `OwnAnnotationsSaved`); `author` is the name they carry.
    OwnAnnotations {
        path: String,
        author: String,
    },
    /// Speak `language` ("ja" or "en") from the next frame on: every label,
    /// message and the window's title.
    SetLanguage {
        language: String,
    },
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
    /// The remote video on screen: its size and its counters since the
    /// call began — coded frames received, pictures decoded, pictures
    /// drawn (`frames`), pictures replaced by a newer one before they were
    /// drawn (`late`: the newest wins), and frames that could not be shown
    /// (`dropped`: undecodable, the decoder behind, or skipped until a
    /// keyframe). Sent when the size changes and every 30 pictures decoded.
    RemoteVideoShown {
        width: u32,
        height: u32,
        #[serde(default)]
        received: u64,
        #[serde(default)]
        decoded: u64,
        frames: u64,
        #[serde(default)]
        late: u64,
        dropped: u64,
    },
    /// The viewer needs a keyframe to show the remote video again (it
    /// dropped or could not decode a frame).
    KeyframeWanted,
    /// An annotation file is drawn over the slide (`objects` in it).
    AnnotationsShown {
        path: String,
        objects: usize,
    },
    /// The specialist marked an AI finding (findings review): the
    /// annotation file's name, the object's index in it, its score, the
    /// verdict ("confirmed" or "rejected"), and how many of the listed
    /// findings now have one.
    FindingReviewed {
        file: String,
        object: u64,
        score: f64,
        verdict: String,
        reviewed: usize,
        total: usize,
    },
    /// The user clicked an object of an annotation file (its name, the
    /// object's index in it) to select it; both `None` when a click
    /// elsewhere or Escape cleared the selection.
    ObjectSelected {
        file: Option<String>,
        object: Option<u64>,
    },
    /// The specialist's own annotations were saved (after each change,
    /// atomically) to `path`, the file the viewer was started with; it
    /// holds `objects` now.
    OwnAnnotationsSaved {
        path: String,
        objects: usize,
    },
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

impl Message for ToViewer {
    fn payload(&self) -> &[u8] {
        match self {
            ToViewer::RemoteVideo { data, .. } => data,
            _ => &[],
        }
    }

    fn set_payload(&mut self, bytes: Vec<u8>) -> Result<(), IpcError> {
        match self {
            ToViewer::RemoteVideo { data, .. } => {
                *data = bytes;
                Ok(())
            }
            _ if bytes.is_empty() => Ok(()),
            _ => Err(IpcError::Malformed(format!(
                "{} bytes after a message that carries none",
                bytes.len()
            ))),
        }
    }
}

impl Message for FromViewer {}

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

/// A message as one frame: its payload copied once, into the frame.
pub fn encode<M: Message>(msg: &M) -> Result<Vec<u8>, IpcError> {
    let json = serde_json::to_vec(&Envelope { v: VERSION, msg })
        .map_err(|e| IpcError::Malformed(e.to_string()))?;
    let payload = msg.payload();
    let body = 4 + json.len() + payload.len();
    if body > MAX_FRAME_BYTES {
        return Err(IpcError::TooLarge(body));
    }
    let mut frame = Vec::with_capacity(4 + body);
    frame.extend_from_slice(&(body as u32).to_le_bytes());
    frame.extend_from_slice(&(json.len() as u32).to_le_bytes());
    frame.extend_from_slice(&json);
    frame.extend_from_slice(payload);
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
    pub fn next_message<M: Message>(&mut self) -> Result<Option<M>, IpcError> {
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
        let mut frame: Vec<u8> = self.buffer.drain(..4 + len).skip(4).collect();
        let Some(json_len) = frame.get(..4) else {
            return Err(IpcError::Malformed(format!(
                "a frame of {len} bytes has no JSON length"
            )));
        };
        let json_len = u32::from_le_bytes([json_len[0], json_len[1], json_len[2], json_len[3]]);
        let json_end = 4usize.saturating_add(json_len as usize);
        if json_end > frame.len() {
            return Err(IpcError::Malformed(format!(
                "a frame of {len} bytes claims {json_len} bytes of JSON"
            )));
        }
        let payload = frame.split_off(json_end);
        let value: serde_json::Value =
            serde_json::from_slice(&frame[4..]).map_err(|e| IpcError::Malformed(e.to_string()))?;
        let version = value.get("v").and_then(|v| v.as_u64()).unwrap_or(0) as u32;
        if version != VERSION {
            return Err(IpcError::Version(version));
        }
        let mut envelope: Envelope<M> =
            serde_json::from_value(value).map_err(|e| IpcError::Malformed(e.to_string()))?;
        envelope.msg.set_payload(payload)?;
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
        let frame_of = |json: &[u8], payload: &[u8]| {
            let mut decoder = FrameDecoder::new();
            decoder.feed(&((4 + json.len() + payload.len()) as u32).to_le_bytes());
            decoder.feed(&(json.len() as u32).to_le_bytes());
            decoder.feed(json);
            decoder.feed(payload);
            decoder
        };
        let mut decoder = frame_of(br#"{"v":7,"msg":{"type":"quit"}}"#, b"");
        assert!(matches!(
            decoder.next_message::<ToViewer>(),
            Err(IpcError::Version(7))
        ));
        let mut decoder = frame_of(br#"{"v":3,"msg":{"type":"format_disk"}}"#, b"");
        assert!(matches!(
            decoder.next_message::<ToViewer>(),
            Err(IpcError::Malformed(_))
        ));
        // Bytes after a message that carries none: out of step.
        let mut decoder = frame_of(br#"{"v":3,"msg":{"type":"quit"}}"#, b"extra");
        assert!(matches!(
            decoder.next_message::<ToViewer>(),
            Err(IpcError::Malformed(_))
        ));
        // A JSON length past the frame's end.
        let mut decoder = FrameDecoder::new();
        decoder.feed(&8u32.to_le_bytes());
        decoder.feed(&1000u32.to_le_bytes());
        decoder.feed(b"{}{}");
        assert!(matches!(
            decoder.next_message::<ToViewer>(),
            Err(IpcError::Malformed(_))
        ));
        // A frame too short to hold the JSON length.
        let mut decoder = FrameDecoder::new();
        decoder.feed(&2u32.to_le_bytes());
        decoder.feed(b"{}");
        assert!(matches!(
            decoder.next_message::<ToViewer>(),
            Err(IpcError::Malformed(_))
        ));
    }

    #[test]
    fn a_coded_frame_travels_raw_after_its_json() {
        let data: Vec<u8> = (0..=255u8).cycle().take(3 << 20).collect();
        let frame = encode(&ToViewer::RemoteVideo {
            codec: "video/VP9".into(),
            data: data.clone(),
        })
        .expect("encode");
        // The JSON is small and the bytes follow as they are: no base64.
        let json_len = u32::from_le_bytes([frame[4], frame[5], frame[6], frame[7]]) as usize;
        assert!(json_len < 100, "{json_len}");
        assert_eq!(frame.len(), 8 + json_len + data.len());
        assert_eq!(&frame[8 + json_len..], &data[..]);
        let mut decoder = FrameDecoder::new();
        decoder.feed(&frame);
        match decoder.next_message::<ToViewer>() {
            Ok(Some(ToViewer::RemoteVideo { codec, data: got })) => {
                assert_eq!(codec, "video/VP9");
                assert!(got == data);
            }
            other => panic!("{other:?}"),
        }
    }
}
