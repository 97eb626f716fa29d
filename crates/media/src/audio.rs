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
    if pcm.is_empty() {
        return 0.0;
    }
    let n = pcm.len() as f64;
    let coeff = 2.0 * (std::f64::consts::TAU * frequency / f64::from(SAMPLE_RATE)).cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    let mut energy = 0.0f64;
    for &x in pcm {
        let x = f64::from(x);
        energy += x * x;
        let s0 = x + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    if energy == 0.0 {
        0.0
    } else {
        // A pure tone's Goertzel power is energy·n/2.
        (power / (energy * n / 2.0)).min(1.0)
    }
}

/// The pitch of a steady tone in `pcm`, in Hz, from its rising zero
/// crossings (with a little hysteresis so noise near zero does not count).
/// Meaningful for tones, not for speech.
pub fn dominant_frequency(pcm: &[i16]) -> f64 {
    if pcm.len() < 2 {
        return 0.0;
    }
    let threshold = (rms(pcm) * 0.1).max(1.0);
    let mut rising = 0u32;
    let mut below = false;
    for &x in pcm {
        let x = f64::from(x);
        if x < -threshold {
            below = true;
        } else if x > threshold && below {
            rising += 1;
            below = false;
        }
    }
    f64::from(rising) * f64::from(SAMPLE_RATE) / pcm.len() as f64
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
}
