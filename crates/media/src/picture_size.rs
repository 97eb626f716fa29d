//! How large a picture a compressed frame declares, read from its header
//! before any decoder sees it. A peer's keyframe may declare 16384×16384
//! (a gigabyte of frame buffers); decoders allocate as soon as they parse
//! it, so the size is checked first, against [`PictureLimit`].
//!
//! FFmpeg's decoders (H.264, HEVC, AV1 through dav1d) check their own
//! `max_pixels` before allocating, which `ffmpeg.rs` sets from the same
//! limit. libvpx has no such option, so VP8 and VP9 headers are read here:
//! VP8 keyframes (RFC 6386 §9.1), and every VP9 frame that can carry a new
//! size — keyframes, intra-only frames and inter frames whose size is not
//! one of their references' (VP9 bitstream spec §6.2, `frame_size()` and
//! `frame_size_with_refs()`), each frame of a superframe (Annex B).

use crate::VideoCodec;

/// The largest picture a decoder may be asked to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PictureLimit {
    pub max_width: u32,
    pub max_height: u32,
    /// Pixels in all (a picture 8192 wide is not also 8192 tall).
    pub max_pixels: u64,
}

impl PictureLimit {
    /// 8K in either orientation, up to DCI's 8192 columns: sides up to
    /// 8192, and no more pixels than 16:9 at 8192 wide (8192 × 4608; one
    /// 8K NV12 picture is 50 MB).
    pub const EIGHT_K: PictureLimit = PictureLimit {
        max_width: 8192,
        max_height: 8192,
        max_pixels: 8192 * 4608,
    };

    /// Sides up to `max_width` × `max_height`, and in all no more pixels
    /// than 16:9 on the longer side (8192 → 8192 × 4608, as
    /// [`Self::EIGHT_K`]).
    pub fn from_sides(max_width: u32, max_height: u32) -> PictureLimit {
        let long = u64::from(max_width.max(max_height));
        PictureLimit {
            max_width,
            max_height,
            max_pixels: (u64::from(max_width) * u64::from(max_height)).min(long * long * 9 / 16),
        }
    }

    /// Whether `width` × `height` is within the limit.
    pub fn allows(&self, width: u32, height: u32) -> bool {
        width <= self.max_width
            && height <= self.max_height
            && u64::from(width) * u64::from(height) <= self.max_pixels
    }
}

impl Default for PictureLimit {
    fn default() -> Self {
        PictureLimit::EIGHT_K
    }
}

/// The sizes `data` declares for new pictures (none for frames that reuse
/// a size already checked). `Err` when the header is too short to say.
pub fn declared_sizes(codec: VideoCodec, data: &[u8]) -> Result<Vec<(u32, u32)>, &'static str> {
    match codec {
        VideoCodec::Vp8 => Ok(vp8_keyframe_size(data)?.into_iter().collect()),
        VideoCodec::Vp9 => {
            let mut sizes = Vec::new();
            for frame in vp9_frames(data) {
                sizes.extend(vp9_frame_size(frame)?);
            }
            Ok(sizes)
        }
        // FFmpeg checks these itself (max_pixels).
        _ => Ok(Vec::new()),
    }
}

/// A VP8 keyframe's size (RFC 6386 §9.1); `None` for an inter frame.
fn vp8_keyframe_size(data: &[u8]) -> Result<Option<(u32, u32)>, &'static str> {
    let Some(&tag) = data.first() else {
        return Err("empty VP8 frame");
    };
    if tag & 1 != 0 {
        return Ok(None);
    }
    let header = data.get(3..10).ok_or("VP8 keyframe header cut short")?;
    if header[..3] != [0x9d, 0x01, 0x2a] {
        return Err("VP8 keyframe without its start code");
    }
    let width = u32::from(u16::from_le_bytes([header[3], header[4]]) & 0x3fff);
    let height = u32::from(u16::from_le_bytes([header[5], header[6]]) & 0x3fff);
    Ok(Some((width, height)))
}

/// The frames of a VP9 superframe (Annex B), or `data` itself.
fn vp9_frames(data: &[u8]) -> Vec<&[u8]> {
    let whole = vec![data];
    let Some(&marker) = data.last() else {
        return whole;
    };
    if marker & 0xe0 != 0xc0 {
        return whole;
    }
    let bytes_per_size = usize::from((marker >> 3) & 3) + 1;
    let frames = usize::from(marker & 7) + 1;
    let index_len = 2 + bytes_per_size * frames;
    if data.len() < index_len || data[data.len() - index_len] != marker {
        return whole;
    }
    let index = &data[data.len() - index_len + 1..data.len() - 1];
    let mut out = Vec::with_capacity(frames);
    let mut at = 0usize;
    for size in index.chunks_exact(bytes_per_size) {
        let len = size
            .iter()
            .rev()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        let Some(frame) = at.checked_add(len).and_then(|end| data.get(at..end)) else {
            // A bad index: the decoder will say so; the first frame is
            // still checked.
            return whole;
        };
        out.push(frame);
        at += len;
    }
    out
}

/// Reads bits most significant first.
struct Bits<'a> {
    data: &'a [u8],
    at: usize,
}

impl Bits<'_> {
    fn read(&mut self, n: u32) -> Result<u32, &'static str> {
        let mut value = 0u32;
        for _ in 0..n {
            let byte = self
                .data
                .get(self.at / 8)
                .ok_or("VP9 frame header cut short")?;
            value = (value << 1) | u32::from((byte >> (7 - self.at % 8)) & 1);
            self.at += 1;
        }
        Ok(value)
    }
}

/// The size a VP9 frame's uncompressed header sets, if it sets one.
fn vp9_frame_size(data: &[u8]) -> Result<Option<(u32, u32)>, &'static str> {
    let mut bits = Bits { data, at: 0 };
    if bits.read(2)? != 2 {
        return Err("not a VP9 frame (frame marker)");
    }
    let low = bits.read(1)?;
    let high = bits.read(1)?;
    let profile = (high << 1) | low;
    if profile == 3 {
        bits.read(1)?;
    }
    if bits.read(1)? == 1 {
        // show_existing_frame: a picture already made.
        return Ok(None);
    }
    let keyframe = bits.read(1)? == 0;
    let show_frame = bits.read(1)? == 1;
    let error_resilient = bits.read(1)? == 1;
    let frame_size = |bits: &mut Bits| -> Result<Option<(u32, u32)>, &'static str> {
        let width = bits.read(16)? + 1;
        let height = bits.read(16)? + 1;
        Ok(Some((width, height)))
    };
    if keyframe {
        sync_code(&mut bits)?;
        color_config(&mut bits, profile)?;
        return frame_size(&mut bits);
    }
    let intra_only = if show_frame {
        false
    } else {
        bits.read(1)? == 1
    };
    if !error_resilient {
        bits.read(2)?;
    }
    if intra_only {
        sync_code(&mut bits)?;
        if profile > 0 {
            color_config(&mut bits, profile)?;
        }
        bits.read(8)?;
        return frame_size(&mut bits);
    }
    bits.read(8)?;
    for _ in 0..3 {
        bits.read(4)?;
    }
    for _ in 0..3 {
        if bits.read(1)? == 1 {
            // The size of a reference, checked when it was made.
            return Ok(None);
        }
    }
    frame_size(&mut bits)
}

fn sync_code(bits: &mut Bits) -> Result<(), &'static str> {
    if bits.read(24)? != 0x49_83_42 {
        return Err("VP9 frame without its sync code");
    }
    Ok(())
}

fn color_config(bits: &mut Bits, profile: u32) -> Result<(), &'static str> {
    if profile >= 2 {
        bits.read(1)?;
    }
    let rgb = bits.read(3)? == 7;
    if !rgb {
        bits.read(1)?;
        if profile == 1 || profile == 3 {
            bits.read(3)?;
        }
    } else if profile == 1 || profile == 3 {
        bits.read(1)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{EncoderConfig, VideoEncoder};
    use crate::pattern::TestPattern;

    fn encoded(codec: VideoCodec, width: u32, height: u32) -> Vec<Vec<u8>> {
        let mut encoder = VideoEncoder::new(EncoderConfig {
            codec,
            width,
            height,
            fps: 30,
            bitrate_kbps: 500,
            threads: 1,
        })
        .expect("encoder");
        let mut pattern = TestPattern::new(width, height);
        (0..3)
            .flat_map(|i| {
                let frame = pattern.next_frame(1000 + i * 33);
                encoder
                    .encode(&frame)
                    .expect("encode")
                    .into_iter()
                    .map(|f| f.data)
            })
            .collect()
    }

    #[test]
    fn the_sizes_libvpx_writes_are_read_back() {
        for codec in [VideoCodec::Vp8, VideoCodec::Vp9] {
            let frames = encoded(codec, 320, 176);
            assert_eq!(
                declared_sizes(codec, &frames[0]).expect("keyframe"),
                [(320, 176)],
                "{codec:?}"
            );
            for inter in &frames[1..] {
                assert!(declared_sizes(codec, inter).expect("inter").is_empty());
            }
        }
    }

    #[test]
    fn the_8k_limit_takes_either_orientation_but_not_more() {
        assert!(!PictureLimit::default().allows(16384, 16384));
        assert!(PictureLimit::default().allows(7680, 4320));
        assert!(PictureLimit::default().allows(4320, 7680));
        assert!(PictureLimit::default().allows(8192, 4320));
        assert!(!PictureLimit::default().allows(8192, 8192));
        assert!(!PictureLimit::default().allows(8192, 4609));
    }

    #[test]
    fn the_settings_sides_make_the_8k_limit() {
        assert_eq!(PictureLimit::from_sides(8192, 8192), PictureLimit::EIGHT_K);
        let hd = PictureLimit::from_sides(1920, 1920);
        assert!(hd.allows(1920, 1080) && hd.allows(1080, 1920) && !hd.allows(1920, 1920));
    }

    #[test]
    fn short_or_foreign_headers_are_errors_not_panics() {
        for data in [&[][..], &[0x00], &[0x00, 0x00, 0x00, 0x9d], &[0xff; 3]] {
            let _ = declared_sizes(VideoCodec::Vp8, data);
            let _ = declared_sizes(VideoCodec::Vp9, data);
        }
        assert!(declared_sizes(VideoCodec::Vp8, &[0x00, 0, 0, 1, 2, 3, 0, 0, 0, 0]).is_err());
    }
}
