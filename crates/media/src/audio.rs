//! Audio for calls: Opus at 48 kHz in 20 ms frames, and a test tone whose
//! pitch the far end can measure (proof that audio crossed, and which way).

/// WebRTC's Opus clock and the only rate this path uses.
pub const SAMPLE_RATE: u32 = 48_000;
/// 20 ms: the frame length every WebRTC peer expects by default.
pub const FRAME_SAMPLES: usize = 960;

#[derive(Debug, thiserror::Error)]
#[error("opus {what}: {source}")]
pub struct OpusError {
    what: &'static str,
    source: opus::Error,
}

fn opus_err(what: &'static str) -> impl FnOnce(opus::Error) -> OpusError {
    move |source| OpusError { what, source }
}

pub struct OpusEncoder {
    inner: opus::Encoder,
    channels: usize,
}

impl OpusEncoder {
    /// A voice encoder with in-band FEC on (recovers single lost packets).
    pub fn new(stereo: bool, bitrate_bps: i32) -> Result<OpusEncoder, OpusError> {
        let channels = if stereo {
            opus::Channels::Stereo
        } else {
            opus::Channels::Mono
        };
        let mut inner = opus::Encoder::new(SAMPLE_RATE, channels, opus::Application::Voip)
            .map_err(opus_err("encoder init"))?;
        inner
            .set_bitrate(opus::Bitrate::Bits(bitrate_bps))
            .map_err(opus_err("set bitrate"))?;
        inner.set_inband_fec(true).map_err(opus_err("set FEC"))?;
        inner
            .set_packet_loss_perc(5)
            .map_err(opus_err("set loss"))?;
        Ok(OpusEncoder {
            inner,
            channels: if stereo { 2 } else { 1 },
        })
    }

    /// Encode one 20 ms frame of interleaved samples.
    pub fn encode(&mut self, pcm: &[i16]) -> Result<Vec<u8>, OpusError> {
        debug_assert_eq!(pcm.len(), FRAME_SAMPLES * self.channels);
        self.inner.encode_vec(pcm, 1500).map_err(opus_err("encode"))
    }
}

pub struct OpusDecoder {
    inner: opus::Decoder,
    channels: usize,
}

impl OpusDecoder {
    pub fn new(stereo: bool) -> Result<OpusDecoder, OpusError> {
        let channels = if stereo {
            opus::Channels::Stereo
        } else {
            opus::Channels::Mono
        };
        Ok(OpusDecoder {
            inner: opus::Decoder::new(SAMPLE_RATE, channels).map_err(opus_err("decoder init"))?,
            channels: if stereo { 2 } else { 1 },
        })
    }

    /// Decode one packet into interleaved samples. Corrupt packets are an
    /// error; a lost packet is concealed by passing an empty one.
    pub fn decode(&mut self, packet: &[u8]) -> Result<Vec<i16>, OpusError> {
        // Up to 120 ms per packet, the most Opus allows.
        let mut pcm = vec![0i16; 5760 * self.channels];
        let n = self
            .inner
            .decode(packet, &mut pcm, false)
            .map_err(opus_err("decode"))?;
        pcm.truncate(n * self.channels);
        Ok(pcm)
    }
}

/// A sine tone, mono, at a level well clear of silence and clipping.
pub struct Tone {
    frequency: f64,
    phase: f64,
}

impl Tone {
    pub fn new(frequency: f64) -> Tone {
        Tone {
            frequency,
            phase: 0.0,
        }
    }

    /// The next 20 ms.
    pub fn next_frame(&mut self) -> Vec<i16> {
        let step = std::f64::consts::TAU * self.frequency / f64::from(SAMPLE_RATE);
        (0..FRAME_SAMPLES)
            .map(|_| {
                let s = (self.phase.sin() * 8000.0) as i16;
                self.phase = (self.phase + step) % std::f64::consts::TAU;
                s
            })
            .collect()
    }
}

/// Power of `frequency` in `pcm` relative to the whole signal's (0..1),
/// by the Goertzel algorithm: how a receiver tells which tone it hears.
pub fn tone_share(pcm: &[i16], frequency: f64) -> f64 {
    let signal: Vec<f64> = pcm.iter().map(|&x| f64::from(x)).collect();
    let energy: f64 = signal.iter().map(|x| x * x).sum();
    if energy == 0.0 {
        return 0.0;
    }
    // A pure tone's Goertzel power is energy·n/2.
    (goertzel_power(&signal, frequency) / (energy * signal.len() as f64 / 2.0)).min(1.0)
}

/// The strongest frequency in `pcm`, in Hz (0 for silence): the peak of
/// its spectrum between 50 Hz and 4 kHz. A spectral peak rather than a
/// count of zero crossings, so a stretch of silence (a capture stream
/// starved on a loaded machine, a lost packet) does not lower the pitch and
/// a mix of two tones reads as the louder one, not a pitch between them.
/// Meaningful for tones, not for speech.
pub fn dominant_frequency(pcm: &[i16]) -> f64 {
    const BLOCK: usize = 2048;
    const LOWEST_HZ: f64 = 50.0;
    const HIGHEST_HZ: f64 = 4000.0;
    const COARSE_STEP_HZ: f64 = 10.0;
    if rms(pcm) < 1.0 {
        return 0.0;
    }
    // Coarse: a Hann-windowed spectrum averaged over blocks (Welch), on a
    // 10 Hz grid — narrower than the window's 47 Hz main lobe, so the peak
    // cannot fall between grid points.
    let hann: Vec<f64> = (0..BLOCK)
        .map(|i| 0.5 - 0.5 * (std::f64::consts::TAU * i as f64 / BLOCK as f64).cos())
        .collect();
    let blocks: Vec<Vec<f64>> = if pcm.len() >= BLOCK {
        pcm.chunks_exact(BLOCK)
            .map(|block| {
                block
                    .iter()
                    .zip(&hann)
                    .map(|(&x, w)| f64::from(x) * w)
                    .collect()
            })
            .collect()
    } else {
        vec![pcm.iter().map(|&x| f64::from(x)).collect()]
    };
    let steps = ((HIGHEST_HZ - LOWEST_HZ) / COARSE_STEP_HZ) as usize;
    let coarse = (0..=steps)
        .map(|step| LOWEST_HZ + step as f64 * COARSE_STEP_HZ)
        .map(|hz| {
            (
                hz,
                blocks.iter().map(|b| goertzel_power(b, hz)).sum::<f64>(),
            )
        })
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map_or(0.0, |(hz, _)| hz);
    // Fine: the whole signal unwindowed (1 Hz resolution over a second) on
    // a 0.25 Hz grid around the coarse peak.
    let whole: Vec<f64> = pcm.iter().map(|&x| f64::from(x)).collect();
    (0..=80)
        .map(|step| coarse - COARSE_STEP_HZ + f64::from(step) * 0.25)
        .map(|hz| (hz, goertzel_power(&whole, hz)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map_or(0.0, |(hz, _)| hz)
}

/// Power of `frequency` in `signal` by the Goertzel algorithm (unnormalised).
fn goertzel_power(signal: &[f64], frequency: f64) -> f64 {
    let coeff = 2.0 * (std::f64::consts::TAU * frequency / f64::from(SAMPLE_RATE)).cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in signal {
        let s0 = x + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    s1 * s1 + s2 * s2 - coeff * s1 * s2
}

/// Root-mean-square level of `pcm`, in sample units.
pub fn rms(pcm: &[i16]) -> f64 {
    if pcm.is_empty() {
        return 0.0;
    }
    let sum: f64 = pcm.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
    (sum / pcm.len() as f64).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tone_crosses_opus_and_is_recognised() {
        let mut tone = Tone::new(660.0);
        let mut encoder = OpusEncoder::new(false, 32_000).expect("encoder");
        let mut decoder = OpusDecoder::new(false).expect("decoder");
        let mut heard = Vec::new();
        for _ in 0..50 {
            let packet = encoder.encode(&tone.next_frame()).expect("encode");
            heard.extend(decoder.decode(&packet).expect("decode"));
        }
        let tail = &heard[heard.len() / 2..];
        assert!(tone_share(tail, 660.0) > 0.8, "{}", tone_share(tail, 660.0));
        assert!(tone_share(tail, 440.0) < 0.05);
        assert!(rms(tail) > 3000.0);
        let pitch = dominant_frequency(tail);
        assert!((pitch - 660.0).abs() < 5.0, "{pitch}");
        assert!(decoder.decode(&[0xff; 3]).is_err() || rms(&heard) > 0.0);
    }

    #[test]
    fn silence_in_a_tone_does_not_lower_its_pitch() {
        let mut tone = Tone::new(330.0);
        let mut pcm = Vec::new();
        for frame in 0..100 {
            let samples = tone.next_frame();
            // Every fourth frame lost to a starved capture stream.
            if frame % 4 == 3 {
                pcm.extend(std::iter::repeat_n(0, samples.len()));
            } else {
                pcm.extend(samples);
            }
        }
        let pitch = dominant_frequency(&pcm);
        assert!((pitch - 330.0).abs() < 1.0, "{pitch}");
        assert_eq!(dominant_frequency(&[0; 4800]), 0.0);
    }

    #[test]
    fn of_two_tones_the_louder_is_dominant() {
        let (mut talker, mut echo) = (Tone::new(330.0), Tone::new(660.0));
        let mix = |loud: f64, quiet: f64, a: &mut Tone, b: &mut Tone| -> Vec<i16> {
            (0..50)
                .flat_map(|_| {
                    let (x, y) = (a.next_frame(), b.next_frame());
                    x.into_iter()
                        .zip(y)
                        .map(|(x, y)| (f64::from(x) * loud + f64::from(y) * quiet) as i16)
                        .collect::<Vec<_>>()
                })
                .collect()
        };
        let talker_louder = dominant_frequency(&mix(0.6, 0.3, &mut talker, &mut echo));
        assert!((talker_louder - 330.0).abs() < 1.0, "{talker_louder}");
        let echo_louder = dominant_frequency(&mix(0.3, 0.6, &mut talker, &mut echo));
        assert!((echo_louder - 660.0).abs() < 1.0, "{echo_louder}");
    }
}
