//! The workstation's devices at a call's edges (`kh_media::edge`): the
//! camera as a video source, the microphone as an audio source, the
//! speakers as an audio sink — and the two audio ends paired through the
//! echo canceller, so what the speakers play is removed from what the
//! microphone sends.

use crate::camera::LiveCamera;
use crate::echo::{EchoCanceller, EchoError};
use crate::{Microphone, Speaker};
use kh_media::VideoFrame;
use kh_media::edge::{AudioSink, AudioSource, SourceHealth, VideoSource};
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::Duration;

impl VideoSource for LiveCamera {
    /// The newest picture since the last, waiting up to `wait` for it (the
    /// camera keeps its own time). A lost camera gives black pictures
    /// while it is looked for again: the call goes on and says why.
    fn next_picture(&mut self, wait: Duration) -> Result<Option<VideoFrame>, String> {
        Ok(self.next_frame(wait))
    }

    fn health(&self) -> SourceHealth {
        SourceHealth {
            description: Some(self.describe()),
            problem: self.problem().map(str::to_owned),
            reopened: self.reopened(),
        }
    }
}

impl AudioSource for Microphone {
    /// A device a little behind the clock leaves a frame short now and
    /// then: silence for that frame, not a stall.
    fn take(&mut self, samples: usize) -> Vec<i16> {
        Microphone::take(self, samples).unwrap_or_else(|| vec![0; samples])
    }
}

impl AudioSink for Speaker {
    fn play(&mut self, pcm: &[i16]) {
        Speaker::play(self, pcm);
    }
}

/// The microphone with the speakers' echo removed.
pub struct CancelledMicrophone {
    microphone: Microphone,
    canceller: Arc<Mutex<EchoCanceller>>,
}

/// The speakers, telling the canceller what they play.
pub struct MonitoredSpeaker {
    speaker: Speaker,
    canceller: Arc<Mutex<EchoCanceller>>,
}

/// Pair `microphone` and `speaker` through one echo canceller (it needs
/// both ends: what was played, to remove it from what is heard).
pub fn echo_cancelled(
    microphone: Microphone,
    speaker: Speaker,
) -> Result<(CancelledMicrophone, MonitoredSpeaker), EchoError> {
    let canceller = Arc::new(Mutex::new(EchoCanceller::new()?));
    Ok((
        CancelledMicrophone {
            microphone,
            canceller: canceller.clone(),
        },
        MonitoredSpeaker { speaker, canceller },
    ))
}

impl AudioSource for CancelledMicrophone {
    fn take(&mut self, samples: usize) -> Vec<i16> {
        let mut pcm = AudioSource::take(&mut self.microphone, samples);
        self.canceller.lock().near_end(&mut pcm);
        pcm
    }
}

impl AudioSink for MonitoredSpeaker {
    fn play(&mut self, pcm: &[i16]) {
        self.canceller.lock().far_end(pcm);
        self.speaker.play(pcm);
    }
}
