//! A frame counter and capture time burned into the picture, readable back
//! after lossy coding.
//!
//! Glass-to-glass latency and frame order can only be measured from what
//! arrives on screen: RTP timestamps and sequence numbers say nothing about
//! the encoder's queue, the jitter buffer or the decoder. So the sender
//! writes the counter and its wall clock into the luma as a row of large
//! black and white blocks (large enough to survive VP8 at low bitrates and
//! scaling), protected by a CRC, and the receiver reads them back. People
//! get the counter as digits below the blocks.
//!
//! Layout: `ROWS` rows of `COLUMNS` square blocks from the top-left corner,
//! block side `width / COLUMNS`. Bits, most significant first: 4-bit magic
//! `1010`, 32-bit counter, 44-bit capture time in milliseconds since the
//! Unix epoch, 8-bit CRC (polynomial 0x07) over the counter and time bytes.

use crate::frame::VideoFrame;

const COLUMNS: u32 = 44;
const ROWS: u32 = 2;
const MAGIC: u64 = 0b1010;
const TIME_BITS: u32 = 44;
/// The smallest block that survives coding; frames too small for it carry
/// no stamp.
const MIN_BLOCK: u32 = 4;

/// What a stamped frame says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// Frames sent before this one.
    pub counter: u32,
    /// When it was captured, milliseconds since the Unix epoch (the low 44
    /// bits: good until the year 2527).
    pub captured_ms: u64,
}

/// Block side for a frame `width` pixels wide, if a stamp fits.
fn block_side(width: u32, height: u32) -> Option<u32> {
    let side = width / COLUMNS;
    (side >= MIN_BLOCK && side * (ROWS + 2) <= height).then_some(side)
}

fn bits_of(stamp: Stamp) -> [bool; (COLUMNS * ROWS) as usize] {
    let time = stamp.captured_ms & ((1 << TIME_BITS) - 1);
    let crc = crc8(&payload_bytes(stamp.counter, time));
    let mut bits = [false; (COLUMNS * ROWS) as usize];
    let mut i = 0;
    let mut put = |value: u64, n: u32| {
        for b in (0..n).rev() {
            bits[i] = (value >> b) & 1 == 1;
            i += 1;
        }
    };
    put(MAGIC, 4);
    put(u64::from(stamp.counter), 32);
    put(time, TIME_BITS);
    put(u64::from(crc), 8);
    bits
}

fn payload_bytes(counter: u32, time: u64) -> [u8; 10] {
    let mut bytes = [0u8; 10];
    bytes[..4].copy_from_slice(&counter.to_be_bytes());
    bytes[4..].copy_from_slice(&time.to_be_bytes()[2..]);
    bytes
}

fn crc8(bytes: &[u8]) -> u8 {
    let mut crc = 0u8;
    for &byte in bytes {
        crc ^= byte;
        for _ in 0..8 {
            crc = if crc & 0x80 != 0 {
                (crc << 1) ^ 0x07
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// Luma for a set and a clear bit (limited range black and white).
const WHITE: u8 = 235;
const BLACK: u8 = 16;

/// Burn `stamp` into `frame` (I420 or NV12: only luma is written, chroma
/// under the blocks is set neutral so colour does not bleed into them).
/// Frames too small for a stamp are left alone.
pub fn burn(frame: &mut VideoFrame, stamp: Stamp) {
    let Some(side) = block_side(frame.width, frame.height) else {
        return;
    };
    let width = frame.width as usize;
    let bits = bits_of(stamp);
    let luma = frame.luma_mut();
    for row in 0..ROWS {
        for col in 0..COLUMNS {
            let value = if bits[(row * COLUMNS + col) as usize] {
                WHITE
            } else {
                BLACK
            };
            for y in row * side..(row + 1) * side {
                let start = y as usize * width + (col * side) as usize;
                luma[start..start + side as usize].fill(value);
            }
        }
    }
    neutral_chroma(frame, COLUMNS * side, ROWS * side);
    draw_digits(frame, stamp.counter, side);
}

/// Read a stamp back, or `None` when the frame carries none (wrong magic or
/// CRC, or too small).
pub fn read(frame: &VideoFrame) -> Option<Stamp> {
    let side = block_side(frame.width, frame.height)?;
    let width = frame.width as usize;
    let luma = frame.luma();
    // The middle half of each block: edges blur into their neighbours.
    let inset = side / 4;
    let mut value: u128 = 0;
    for row in 0..ROWS {
        for col in 0..COLUMNS {
            let mut sum = 0u32;
            let mut n = 0u32;
            for y in row * side + inset..(row + 1) * side - inset {
                let start = y as usize * width;
                for x in col * side + inset..(col + 1) * side - inset {
                    sum += u32::from(luma[start + x as usize]);
                    n += 1;
                }
            }
            let bit = n > 0 && sum / n > u32::from(WHITE / 2 + BLACK / 2);
            value = (value << 1) | u128::from(bit);
        }
    }
    // Unused trailing bits.
    let used = 4 + 32 + TIME_BITS + 8;
    let value = value >> (COLUMNS * ROWS - used);
    let field = |shift: u32, n: u32| ((value >> shift) & ((1u128 << n) - 1)) as u64;
    let magic = field(used - 4, 4);
    let counter = field(used - 36, 32) as u32;
    let time = field(8, TIME_BITS);
    let crc = field(0, 8) as u8;
    (magic == MAGIC && crc8(&payload_bytes(counter, time)) == crc).then_some(Stamp {
        counter,
        captured_ms: time,
    })
}

fn neutral_chroma(frame: &mut VideoFrame, width: u32, height: u32) {
    let (cw, _) = crate::frame::chroma_size(frame.width, frame.height);
    let (w, h) = (width.div_ceil(2) as usize, height.div_ceil(2) as usize);
    let cw = cw as usize;
    match frame.layout {
        crate::frame::PixelLayout::I420 => {
            let (u, v) = frame.chroma_planes_mut();
            for y in 0..h {
                u[y * cw..y * cw + w].fill(128);
                v[y * cw..y * cw + w].fill(128);
            }
        }
        crate::frame::PixelLayout::Nv12 => {
            let luma = (frame.width * frame.height) as usize;
            let uv = &mut frame.data[luma..];
            for y in 0..h {
                uv[y * 2 * cw..y * 2 * cw + 2 * w].fill(128);
            }
        }
    }
}

/// 3×5 digit glyphs, one row per `u8`, bit 2 leftmost.
const DIGITS: [[u8; 5]; 10] = [
    [7, 5, 5, 5, 7],
    [2, 6, 2, 2, 7],
    [7, 1, 7, 4, 7],
    [7, 1, 7, 1, 7],
    [5, 5, 7, 1, 1],
    [7, 4, 7, 1, 7],
    [7, 4, 7, 5, 7],
    [7, 1, 1, 1, 1],
    [7, 5, 7, 5, 7],
    [7, 5, 7, 1, 7],
];

/// The counter in digits under the blocks, for people looking at the
/// picture (on a black band so it reads on any background).
fn draw_digits(frame: &mut VideoFrame, counter: u32, side: u32) {
    let scale = (side / 2).max(1) as usize;
    let text = counter.to_string();
    let top = (ROWS * side) as usize + scale;
    let width = frame.width as usize;
    let band_w = ((text.len() * 4 + 1) * scale).min(width);
    let band_h = 7 * scale;
    if top + band_h > frame.height as usize {
        return;
    }
    let luma = frame.luma_mut();
    for y in top - scale..top - scale + band_h {
        luma[y * width..y * width + band_w].fill(BLACK);
    }
    for (i, ch) in text.bytes().enumerate() {
        let glyph = DIGITS[usize::from(ch - b'0')];
        for (gy, bits) in glyph.iter().enumerate() {
            for gx in 0..3 {
                if bits & (4 >> gx) == 0 {
                    continue;
                }
                let x0 = (i * 4 + 1 + gx) * scale;
                let y0 = top + gy * scale;
                for y in y0..y0 + scale {
                    let row = y * width;
                    if x0 + scale <= width {
                        luma[row + x0..row + x0 + scale].fill(WHITE);
                    }
                }
            }
        }
    }
    neutral_chroma(frame, band_w as u32, (top - scale + band_h) as u32);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_read_back_and_damage_is_refused() {
        let mut frame = VideoFrame::filled(640, 360, 90, 60, 200);
        let stamp = Stamp {
            counter: 123_456_789,
            captured_ms: 1_790_000_000_123,
        };
        burn(&mut frame, stamp);
        assert_eq!(read(&frame), Some(stamp));
        // One flipped block fails the CRC.
        let side = block_side(640, 360).unwrap_or(0) as usize;
        let y = side / 2;
        let x = 20 * side + side / 2;
        let luma = frame.luma_mut();
        let flipped = if luma[y * 640 + x] > 128 {
            BLACK
        } else {
            WHITE
        };
        for yy in 0..side {
            for xx in 20 * side..21 * side {
                luma[yy * 640 + xx] = flipped;
            }
        }
        assert_eq!(read(&frame), None);
        assert_eq!(read(&VideoFrame::filled(640, 360, 16, 128, 128)), None);
        // Too small to carry one: left alone, reads as none.
        let mut tiny = VideoFrame::filled(64, 48, 90, 128, 128);
        burn(&mut tiny, stamp);
        assert_eq!(tiny, VideoFrame::filled(64, 48, 90, 128, 128));
    }

    #[test]
    fn stamps_survive_mild_noise() {
        let mut frame = VideoFrame::filled(1280, 720, 128, 128, 128);
        let stamp = Stamp {
            counter: 42,
            captured_ms: 17,
        };
        burn(&mut frame, stamp);
        let mut seed = 1u32;
        for p in frame.luma_mut() {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let noise = (seed >> 24) as i32 % 41 - 20;
            *p = (i32::from(*p) + noise).clamp(0, 255) as u8;
        }
        assert_eq!(read(&frame), Some(stamp));
    }
}
