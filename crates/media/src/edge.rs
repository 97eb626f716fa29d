//! The edges media crosses between whoever makes or uses it and a call:
//! where pictures and sound come from, and where they go. A call takes
//! these as values when it starts; a camera, a microphone, speakers and
//! the viewer plug in here, and so do a test pattern, a file, a recorder or
//! an echo — the call cannot tell them apart.
//!
//! Pictures and sound are pulled from sources on the call's own threads and
//! pushed into sinks there: an implementation must not block for long
//! (a source waits at most the time it is given; a sink hands work on to
//! its own thread or a bounded queue).

use crate::{VideoCodec, VideoFrame};
use std::time::Duration;

/// 48 kHz mono, as the call's audio runs.
pub const AUDIO_SAMPLE_RATE: u32 = 48_000;

/// Where outgoing pictures come from: a camera, a pattern, a file.
pub trait VideoSource: Send {
    /// The next picture, waiting at most `wait` for it; `Ok(None)` when
    /// none is ready (the sender tries again at its next frame). An error
    /// ends the call's video.
    fn next_picture(&mut self, wait: Duration) -> Result<Option<VideoFrame>, String>;

    /// Make the following pictures at this size, where the source can draw
    /// at any size (a generated pattern); others are scaled by the sender.
    fn draw_at(&mut self, _width: u32, _height: u32) {}

    /// The size the source makes when left alone, where [`Self::draw_at`]
    /// changes what it makes: the top of the sender's ladder.
    fn native_size(&self) -> Option<(u32, u32)> {
        None
    }

    /// What the source is and how it is doing, for the statistics.
    fn health(&self) -> SourceHealth {
        SourceHealth::default()
    }
}

/// What a source says of itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceHealth {
    /// What it is, when it is a device: its name, path and mode.
    pub description: Option<String>,
    /// Why it gives no pictures now (a camera unplugged or failing).
    pub problem: Option<String>,
    /// Times it was opened again after it was lost.
    pub reopened: u64,
}

/// One coded frame of a stream sent as it was coded (no encoder).
#[derive(Debug, Clone)]
pub struct CodedFrame {
    pub data: Vec<u8>,
    /// How long after the previous frame this one is due.
    pub duration: Duration,
}

/// A stream that is already coded (a recording), sent at its own pace: no
/// encoder, so no adaptation to the estimate and no keyframe on request.
pub trait CodedVideoSource: Send {
    fn codec(&self) -> VideoCodec;
    /// Width and height of the stream.
    fn size(&self) -> (u32, u32);
    /// The next frame once it is due (the source keeps the stream's time,
    /// sleeping as needed); `Ok(None)` at the end.
    fn next_coded(&mut self) -> Result<Option<CodedFrame>, String>;
}

/// Where decoded remote pictures go.
pub trait PictureSink: Send {
    fn picture(&mut self, picture: &VideoFrame);
}

/// Where remote video goes when the consumer decodes it itself (the viewer
/// process): each frame as it arrived whole, in its codec.
pub trait CodedFrameSink: Send {
    fn frame(&mut self, codec: VideoCodec, data: &[u8]);
    /// The call's video has ended.
    fn ended(&mut self) {}
}

/// Where outgoing sound comes from (48 kHz mono PCM).
pub trait AudioSource: Send {
    /// Exactly `samples` samples: what is there, padded with silence when
    /// a device is a little behind the clock.
    fn take(&mut self, samples: usize) -> Vec<i16>;
}

/// Where received sound goes (48 kHz mono PCM).
pub trait AudioSink: Send {
    fn play(&mut self, pcm: &[i16]);
}

/// Silence: a call with no microphone still sends audio.
pub struct Silence;

impl AudioSource for Silence {
    fn take(&mut self, samples: usize) -> Vec<i16> {
        vec![0; samples]
    }
}

/// Sound heard by nobody.
pub struct Discard;

impl AudioSink for Discard {
    fn play(&mut self, _pcm: &[i16]) {}
}

impl CodedFrameSink for Discard {
    fn frame(&mut self, _codec: VideoCodec, _data: &[u8]) {}
}

impl PictureSink for Discard {
    fn picture(&mut self, _picture: &VideoFrame) {}
}

/// Wall-clock milliseconds: the stamps' capture clock, which both ends of
/// a loopback test share.
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The moving pattern, stamped with its counter and capture time: what a
/// call sends when it has no camera, and what the tests read back.
impl VideoSource for crate::pattern::TestPattern {
    fn next_picture(&mut self, _wait: Duration) -> Result<Option<VideoFrame>, String> {
        Ok(Some(self.next_frame(unix_ms())))
    }

    fn draw_at(&mut self, width: u32, height: u32) {
        self.set_size(width, height);
    }

    fn native_size(&self) -> Option<(u32, u32)> {
        Some(crate::pattern::TestPattern::native_size(self))
    }
}

/// A tone: each direction's audio told apart by its frequency.
impl AudioSource for crate::audio::Tone {
    fn take(&mut self, samples: usize) -> Vec<i16> {
        let mut pcm = Vec::with_capacity(samples);
        while pcm.len() < samples {
            pcm.extend(self.next_frame());
        }
        pcm.truncate(samples);
        pcm
    }
}
