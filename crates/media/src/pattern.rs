//! The moving test pattern: colour bars sliding sideways, a bouncing white
//! square, and the [`crate::stamp`] in the corner. Motion makes the encoder
//! work (a still picture would cost nothing and hide bitrate problems); the
//! stamp makes every frame identifiable after coding.

use crate::frame::{VideoFrame, chroma_size};
use crate::stamp::{self, Stamp};

/// BT.709 limited-range YUV of the classic 75% bars: white, yellow, cyan,
/// green, magenta, red, blue, black.
const BARS: [(u8, u8, u8); 8] = [
    (180, 128, 128),
    (168, 44, 136),
    (145, 147, 44),
    (133, 63, 52),
    (63, 193, 204),
    (51, 109, 212),
    (28, 212, 120),
    (16, 128, 128),
];

pub struct TestPattern {
    width: u32,
    height: u32,
    /// The size it was made at (before any `set_size`).
    native: (u32, u32),
    /// Amplitude of the noise added to luma (0: none).
    grain: u8,
    /// The noise's generator state.
    noise: u64,
    /// Frames made so far: the next frame's counter.
    counter: u32,
}

impl TestPattern {
    /// A pattern of `width`×`height` (even sizes; odd ones are rounded down
    /// to keep 4:2:0 chroma exact).
    pub fn new(width: u32, height: u32) -> TestPattern {
        let (width, height) = ((width & !1).max(2), (height & !1).max(2));
        TestPattern {
            width,
            height,
            native: (width, height),
            grain: 0,
            noise: 0x2545_f491_4f6c_dd1d,
            counter: 0,
        }
    }

    /// Add fresh noise of ±`amplitude` luma levels to every frame, as a
    /// camera's sensor does: a clean synthetic picture compresses to a
    /// fraction of a megabit whatever the encoder is offered, and a sender
    /// that never fills the link cannot show how it shares one.
    pub fn with_grain(mut self, amplitude: u8) -> TestPattern {
        self.grain = amplitude.min(64);
        self
    }

    /// The size it was made at.
    pub fn native_size(&self) -> (u32, u32) {
        self.native
    }

    /// Make the following frames at another size, the counter running on
    /// (a sender stepping down its ladder: drawn at the size, not resized,
    /// so the stamp stays readable).
    pub fn set_size(&mut self, width: u32, height: u32) {
        self.width = (width & !1).max(2);
        self.height = (height & !1).max(2);
    }

    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// The next frame, stamped with its counter and `captured_ms`.
    pub fn next_frame(&mut self, captured_ms: u64) -> VideoFrame {
        let n = self.counter;
        self.counter = self.counter.wrapping_add(1);
        let (w, h) = (self.width, self.height);
        let mut frame = VideoFrame::filled(w, h, 16, 128, 128);
        let bar_w = (w / 8).max(1);
        let shift = (n * 4) % w;
        let (cw, ch) = chroma_size(w, h);
        {
            let luma = frame.luma_mut();
            for x in 0..w {
                let bar = BARS[(((x + shift) % w) / bar_w).min(7) as usize];
                for y in 0..h {
                    luma[(y * w + x) as usize] = bar.0;
                }
            }
        }
        {
            let (u, v) = frame.chroma_planes_mut();
            for cx in 0..cw {
                let bar = BARS[((((cx * 2) + shift) % w) / bar_w).min(7) as usize];
                for cy in 0..ch {
                    u[(cy * cw + cx) as usize] = bar.1;
                    v[(cy * cw + cx) as usize] = bar.2;
                }
            }
        }
        // A square bouncing between the edges.
        let side = (h / 6).max(2).min(w) & !1;
        let span_x = w.saturating_sub(side).max(1);
        let span_y = h.saturating_sub(side).max(1);
        let px = bounce(n * 7, span_x) & !1;
        let py = bounce(n * 5, span_y) & !1;
        {
            let luma = frame.luma_mut();
            for y in py..py + side {
                let row = (y * w) as usize;
                luma[row + px as usize..row + (px + side) as usize].fill(235);
            }
        }
        {
            let (u, v) = frame.chroma_planes_mut();
            for cy in py / 2..(py + side) / 2 {
                let row = (cy * cw) as usize;
                u[row + (px / 2) as usize..row + ((px + side) / 2) as usize].fill(128);
                v[row + (px / 2) as usize..row + ((px + side) / 2) as usize].fill(128);
            }
        }
        if self.grain > 0 {
            add_grain(frame.luma_mut(), self.grain, &mut self.noise);
        }
        stamp::burn(
            &mut frame,
            Stamp {
                counter: n,
                captured_ms,
            },
        );
        frame
    }
}

/// Position on a line of `span` that goes there and back.
/// Uniform noise in ±`amplitude` on every sample (xorshift64: fast, and the
/// same sequence on every run).
fn add_grain(luma: &mut [u8], amplitude: u8, state: &mut u64) {
    let span = u64::from(amplitude) * 2 + 1;
    for chunk in luma.chunks_mut(8) {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        let mut bits = *state;
        for sample in chunk {
            let offset = (bits & 0xff) % span;
            bits >>= 8;
            let value = i16::from(*sample) + offset as i16 - i16::from(amplitude);
            *sample = value.clamp(16, 235) as u8;
        }
    }
}

fn bounce(t: u32, span: u32) -> u32 {
    let period = 2 * span;
    let p = t % period;
    if p < span { p } else { period - p }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_move_and_carry_their_counter() {
        let mut pattern = TestPattern::new(640, 360);
        let a = pattern.next_frame(1000);
        let b = pattern.next_frame(1033);
        assert_ne!(a.luma(), b.luma(), "the pattern moves");
        assert_eq!(
            stamp::read(&a),
            Some(Stamp {
                counter: 0,
                captured_ms: 1000
            })
        );
        assert_eq!(stamp::read(&b).map(|s| s.counter), Some(1));
    }

    #[test]
    fn grain_changes_every_frame_and_keeps_the_stamp() {
        let mut pattern = TestPattern::new(640, 360).with_grain(20);
        let a = pattern.next_frame(5);
        let b = pattern.next_frame(6);
        let clean = TestPattern::new(640, 360).next_frame(5);
        let differing = a
            .luma()
            .iter()
            .zip(clean.luma())
            .filter(|(x, y)| x != y)
            .count();
        assert!(differing > a.luma().len() / 2, "{differing} samples differ");
        let worst = a
            .luma()
            .iter()
            .zip(clean.luma())
            .map(|(x, y)| (i16::from(*x) - i16::from(*y)).abs())
            .max();
        assert!(worst <= Some(20));
        assert_ne!(a.luma()[100_000..100_100], b.luma()[100_000..100_100]);
        assert_eq!(stamp::read(&a).map(|s| s.captured_ms), Some(5));
        assert_eq!(a.data.len(), VideoFrame::byte_len(640, 360));
    }
}
