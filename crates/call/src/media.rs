//! What a call carries, given as values when it starts: where its video
//! and sound come from and go, and its data channels. The call itself
//! knows no devices, files or test patterns; the console plugs in a
//! camera, a microphone, speakers and the viewer, `kh call` its test rig.

use crate::channels::ChannelBinding;
pub use kh_media::edge::{
    AudioSink, AudioSource, CodedFrame, CodedFrameSink, CodedVideoSource, Discard, PictureSink,
    Silence, SourceHealth, VideoSource,
};

/// What goes out as video.
pub enum VideoSend {
    /// No video of our own (the call still receives).
    None,
    /// Pictures, encoded here at the rate and size the estimate allows.
    Pictures(Box<dyn VideoSource>),
    /// A stream already coded, sent as it is.
    Coded(Box<dyn CodedVideoSource>),
}

impl VideoSend {
    pub fn is_none(&self) -> bool {
        matches!(self, VideoSend::None)
    }
}

/// Where received video goes.
pub enum VideoReceive {
    /// Decoded here; each picture to the sink.
    Decode(Box<dyn PictureSink>),
    /// Each frame as it arrived whole, undecoded: for a consumer that
    /// decodes itself (the viewer process), or for counting frames only.
    Forward(Box<dyn CodedFrameSink>),
}

/// Everything a call moves besides its signalling.
pub struct CallMedia {
    pub video_send: VideoSend,
    pub video_receive: VideoReceive,
    pub audio_in: Box<dyn AudioSource>,
    pub audio_out: Box<dyn AudioSink>,
    /// One binding per data channel (`channels::channel`).
    pub channels: Vec<ChannelBinding>,
}

impl CallMedia {
    /// A call that sends nothing, throws away what it receives and opens
    /// no data channel: the start for a caller that plugs in what it has.
    pub fn nothing() -> CallMedia {
        CallMedia {
            video_send: VideoSend::None,
            video_receive: VideoReceive::Forward(Box::new(Discard)),
            audio_in: Box::new(Silence),
            audio_out: Box::new(Discard),
            channels: Vec::new(),
        }
    }
}
