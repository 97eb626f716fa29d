//! Echo cancellation on the workstation path: what the speakers play comes
//! back into the microphone, and without this the far side hears itself a
//! round trip late. WebRTC's audio processing module (the one browsers
//! use) learns the echo path from the far-end signal and removes it from
//! the near-end one.

use webrtc_audio_processing::{
    Config, EchoCancellation, EchoCancellationSuppressionLevel, InitializationConfig,
    NUM_SAMPLES_PER_FRAME, Processor,
};

/// The module works on 10 ms at 48 kHz.
pub const CHUNK: usize = NUM_SAMPLES_PER_FRAME as usize;

#[derive(Debug, thiserror::Error)]
#[error("echo cancellation: {0}")]
pub struct EchoError(String);

pub struct EchoCanceller {
    processor: Processor,
    buffer: Vec<f32>,
}

impl EchoCanceller {
    pub fn new() -> Result<EchoCanceller, EchoError> {
        let mut processor = Processor::new(&InitializationConfig {
            num_capture_channels: 1,
            num_render_channels: 1,
            ..InitializationConfig::default()
        })
        .map_err(|e| EchoError(format!("{e:?}")))?;
        processor.set_config(Config {
            echo_cancellation: Some(EchoCancellation {
                suppression_level: EchoCancellationSuppressionLevel::High,
                // The delay between playing and hearing again depends on
                // the device and the sound server: estimated, not assumed.
                enable_delay_agnostic: true,
                enable_extended_filter: true,
                stream_delay_ms: None,
            }),
            enable_high_pass_filter: true,
            ..Config::default()
        });
        Ok(EchoCanceller {
            processor,
            buffer: vec![0.0; CHUNK],
        })
    }

    /// The far end's audio as it goes to the speakers; whole 10 ms chunks
    /// (a partial tail is ignored).
    pub fn far_end(&mut self, pcm: &[i16]) {
        for chunk in pcm.chunks_exact(CHUNK) {
            fill(&mut self.buffer, chunk);
            if let Err(e) = self.processor.process_render_frame(&mut self.buffer) {
                tracing::debug!("echo canceller (far end): {e:?}");
            }
        }
    }

    /// The microphone's audio with the far end's echo removed, in place;
    /// whole 10 ms chunks (a partial tail passes unchanged).
    pub fn near_end(&mut self, pcm: &mut [i16]) {
        for chunk in pcm.chunks_exact_mut(CHUNK) {
            fill(&mut self.buffer, chunk);
            match self.processor.process_capture_frame(&mut self.buffer) {
                Ok(()) => {
                    for (out, v) in chunk.iter_mut().zip(&self.buffer) {
                        *out = (v * 32768.0).clamp(-32768.0, 32767.0) as i16;
                    }
                }
                Err(e) => tracing::debug!("echo canceller (near end): {e:?}"),
            }
        }
    }
}

fn fill(buffer: &mut [f32], pcm: &[i16]) {
    for (b, s) in buffer.iter_mut().zip(pcm) {
        *b = f32::from(*s) / 32768.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A room: the speakers' sound comes back 30 ms later at half level.
    /// For 6 s only the far side talks (broadband noise): after the
    /// canceller has learnt the path, the residual echo is measured against
    /// what the microphone picked up. Then only the local talker (a 330 Hz
    /// tone) speaks, and must come through.
    #[test]
    fn the_far_end_echo_is_removed_and_the_local_talker_kept() {
        let rate = 48_000usize;
        let mut seed = 12_345u32;
        let mut noise = || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            ((seed >> 16) as i16 as f32 / 32768.0 * 6000.0) as i16
        };
        let (far_talks, near_talks) = (rate * 6, rate * 2);
        let total = far_talks + near_talks;
        let far: Vec<i16> = (0..total)
            .map(|i| if i < far_talks { noise() } else { 0 })
            .collect();
        let delay = rate * 30 / 1000;
        let talker = |i: usize| {
            if i < far_talks {
                0
            } else {
                let t = i as f32 / rate as f32;
                (3000.0 * (2.0 * std::f32::consts::PI * 330.0 * t).sin()) as i16
            }
        };
        let mic: Vec<i16> = (0..total)
            .map(|i| {
                let echo = if i >= delay { far[i - delay] / 2 } else { 0 };
                echo.saturating_add(talker(i))
            })
            .collect();

        let mut canceller = EchoCanceller::new().expect("canceller");
        let mut out = mic.clone();
        for (far, near) in far.chunks(CHUNK).zip(out.chunks_mut(CHUNK)) {
            canceller.far_end(far);
            canceller.near_end(near);
        }
        let energy = |x: &[i16]| x.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>();
        let learnt = far_talks - rate * 2..far_talks;
        let erle_db = 10.0 * (energy(&mic[learnt.clone()]) / energy(&out[learnt]).max(1.0)).log10();
        assert!(erle_db > 20.0, "echo reduced by only {erle_db:.1} dB");
        // The talker comes through: 330 Hz, most of its level.
        let spoken = far_talks + rate / 2..total;
        let hz = dominant(&out[spoken.clone()], rate);
        assert!((hz - 330.0).abs() < 15.0, "the talker came out at {hz} Hz");
        let kept = (energy(&out[spoken.clone()]) / energy(&mic[spoken])).sqrt();
        assert!(kept > 0.5, "the talker kept {kept:.2} of its level");
    }

    /// Zero crossings per second over two: enough for one clean tone.
    fn dominant(pcm: &[i16], rate: usize) -> f64 {
        let rising = pcm.windows(2).filter(|w| w[0] < 0 && w[1] >= 0).count();
        rising as f64 * rate as f64 / pcm.len() as f64
    }
}
