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
    /// Frames made so far: the next frame's counter.
    counter: u32,
}

impl TestPattern {
    /// A pattern of `width`×`height` (even sizes; odd ones are rounded down
    /// to keep 4:2:0 chroma exact).
    pub fn new(width: u32, height: u32) -> TestPattern {
        TestPattern {
            width: (width & !1).max(2),
            height: (height & !1).max(2),
            counter: 0,
        }
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
        assert_eq!(a.data.len(), VideoFrame::byte_len(640, 360));
    }
}
