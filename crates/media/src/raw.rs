//! Camera pictures to I420: the uncompressed layouts capture devices
//! deliver (packed 4:2:2, NV12, planar 4:2:0, RGB) and Motion JPEG, each
//! converted by FFmpeg (swscale, or its MJPEG decoder) rather than by hand.
//!
//! The bytes come from a driver, so they are checked against the size and
//! stride the format says before anything is copied: a short or torn
//! buffer is an error naming what was expected, never a read past its end.

use crate::ffmpeg::{FfmpegDecoder, FfmpegError, MAX_SIDE, ToI420, init};
use crate::frame::{ColourInfo, ColourMatrix, ColourRange, VideoFrame};
use ff::format::Pixel;
use ff::util::color;
use ffmpeg_next as ff;

/// How a capture device lays out one picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RawFormat {
    /// Planar Y, U, V, chroma halved both ways (V4L2 `YU12`).
    I420,
    /// Y plane, then interleaved U,V pairs, halved both ways (`NV12`).
    Nv12,
    /// Packed 4:2:2, Y0 U Y1 V (`YUYV`): what UVC cameras send uncompressed.
    Yuyv,
    /// Packed 4:2:2, U Y0 V Y1 (`UYVY`).
    Uyvy,
    /// Packed 8-bit R, G, B (`RGB3`).
    Rgb24,
    /// Packed 8-bit B, G, R (`BGR3`).
    Bgr24,
    /// One JPEG picture per frame (`MJPG`).
    Mjpeg,
}

impl RawFormat {
    /// The format a V4L2 four-character code names, if it is one of ours.
    pub fn from_fourcc(fourcc: &[u8; 4]) -> Option<RawFormat> {
        Some(match fourcc {
            b"YU12" => RawFormat::I420,
            b"NV12" => RawFormat::Nv12,
            b"YUYV" => RawFormat::Yuyv,
            b"UYVY" => RawFormat::Uyvy,
            b"RGB3" => RawFormat::Rgb24,
            b"BGR3" => RawFormat::Bgr24,
            b"MJPG" | b"JPEG" => RawFormat::Mjpeg,
            _ => return None,
        })
    }

    /// Which to ask a device for when it offers several at the wanted size
    /// and rate, best first: the 4:2:0 layouts need no chroma filtering,
    /// packed 4:2:2 costs one pass, RGB a matrix, MJPEG a decode.
    pub fn preference(self) -> u8 {
        match self {
            RawFormat::I420 => 0,
            RawFormat::Nv12 => 1,
            RawFormat::Yuyv => 2,
            RawFormat::Uyvy => 3,
            RawFormat::Mjpeg => 4,
            RawFormat::Rgb24 => 5,
            RawFormat::Bgr24 => 6,
        }
    }

    fn pixel(self) -> Option<Pixel> {
        Some(match self {
            RawFormat::I420 => Pixel::YUV420P,
            RawFormat::Nv12 => Pixel::NV12,
            RawFormat::Yuyv => Pixel::YUYV422,
            RawFormat::Uyvy => Pixel::UYVY422,
            RawFormat::Rgb24 => Pixel::RGB24,
            RawFormat::Bgr24 => Pixel::BGR24,
            RawFormat::Mjpeg => return None,
        })
    }

    /// Each plane's (bytes per row, rows) for a picture whose first plane
    /// has `stride` bytes per row; the planes follow each other.
    fn planes(self, height: u32, stride: usize) -> Vec<(usize, usize)> {
        let (h, ch) = (height as usize, height.div_ceil(2) as usize);
        match self {
            RawFormat::I420 => vec![(stride, h), (stride / 2, ch), (stride / 2, ch)],
            RawFormat::Nv12 => vec![(stride, h), (stride, ch)],
            _ => vec![(stride, h)],
        }
    }

    /// Bytes of one row of the first plane, with no padding.
    fn packed_row(self, width: u32) -> usize {
        let w = width as usize;
        match self {
            RawFormat::I420 | RawFormat::Nv12 => w,
            RawFormat::Yuyv | RawFormat::Uyvy => w.div_ceil(2) * 4,
            RawFormat::Rgb24 | RawFormat::Bgr24 => w * 3,
            RawFormat::Mjpeg => 0,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RawError {
    #[error("a {format:?} picture of {width}x{height} needs {needed} bytes; the device gave {got}")]
    Short {
        format: RawFormat,
        width: u32,
        height: u32,
        needed: usize,
        got: usize,
    },
    #[error(
        "a {format:?} picture of {width}x{height}: a stride of {stride} bytes is shorter than a row"
    )]
    Stride {
        format: RawFormat,
        width: u32,
        height: u32,
        stride: usize,
    },
    #[error("a camera picture of {0}x{1}: sizes are 2 to {MAX_SIDE} a side")]
    Size(u32, u32),
    #[error(
        "the MJPEG picture decoded to {got_width}x{got_height}, not the {width}x{height} the device set"
    )]
    MjpegSize {
        width: u32,
        height: u32,
        got_width: u32,
        got_height: u32,
    },
    #[error("the MJPEG picture gave no frame (a torn or empty JPEG)")]
    MjpegEmpty,
    #[error(transparent)]
    Ffmpeg(#[from] FfmpegError),
}

/// Converts one device's pictures to I420, keeping its converter (and for
/// MJPEG its decoder) between frames.
#[derive(Default)]
pub struct RawConverter {
    picture: Option<ff::frame::Video>,
    to_i420: ToI420,
    mjpeg: Option<FfmpegDecoder>,
}

impl RawConverter {
    /// One picture of `format` at `width`×`height`, rows `stride` bytes
    /// apart (0: no padding), as I420. `colour` describes uncompressed
    /// YUV as the driver reported it; RGB becomes BT.601 video range, and
    /// MJPEG says its own.
    pub fn convert(
        &mut self,
        format: RawFormat,
        width: u32,
        height: u32,
        stride: usize,
        bytes: &[u8],
        colour: ColourInfo,
    ) -> Result<VideoFrame, RawError> {
        if width < 2 || height < 2 || width > MAX_SIDE || height > MAX_SIDE {
            return Err(RawError::Size(width, height));
        }
        let Some(pixel) = format.pixel() else {
            return self.decode_mjpeg(width, height, bytes);
        };
        let row = format.packed_row(width);
        let stride = if stride == 0 { row } else { stride };
        if stride < row {
            return Err(RawError::Stride {
                format,
                width,
                height,
                stride,
            });
        }
        let planes = format.planes(height, stride);
        let needed: usize = planes.iter().map(|(s, rows)| s * rows).sum();
        if bytes.len() < needed {
            return Err(RawError::Short {
                format,
                width,
                height,
                needed,
                got: bytes.len(),
            });
        }
        init();
        let picture = match &mut self.picture {
            Some(p) if (p.format(), p.width(), p.height()) == (pixel, width, height) => p,
            slot => slot.insert(ff::frame::Video::new(pixel, width, height)),
        };
        let (matrix, range) = match format {
            RawFormat::Rgb24 | RawFormat::Bgr24 => (ColourMatrix::Bt601, ColourRange::Limited),
            _ => (colour.matrix, colour.range),
        };
        picture.set_color_space(match matrix {
            ColourMatrix::Bt601 => color::Space::SMPTE170M,
            ColourMatrix::Bt709 => color::Space::BT709,
            ColourMatrix::Bt2020 => color::Space::BT2020NCL,
        });
        picture.set_color_range(match range {
            ColourRange::Full => color::Range::JPEG,
            ColourRange::Limited => color::Range::MPEG,
        });
        let mut offset = 0;
        for (index, (plane_stride, rows)) in planes.into_iter().enumerate() {
            let target_stride = picture.stride(index);
            let copy = plane_stride.min(target_stride);
            let target = picture.data_mut(index);
            for r in 0..rows {
                let source = &bytes[offset + r * plane_stride..][..copy];
                target[r * target_stride..][..copy].copy_from_slice(source);
            }
            offset += plane_stride * rows;
        }
        let mut frame = self.to_i420.convert(picture)?;
        if matches!(format, RawFormat::Rgb24 | RawFormat::Bgr24) {
            // swscale's RGB to YUV is BT.601 in video range.
            frame.colour = ColourInfo {
                matrix: ColourMatrix::Bt601,
                range: ColourRange::Limited,
            };
        }
        Ok(frame)
    }

    fn decode_mjpeg(
        &mut self,
        width: u32,
        height: u32,
        jpeg: &[u8],
    ) -> Result<VideoFrame, RawError> {
        let decoder = match &mut self.mjpeg {
            Some(d) => d,
            slot => slot.insert(FfmpegDecoder::mjpeg()?),
        };
        let frame = decoder.decode(jpeg)?.pop().ok_or(RawError::MjpegEmpty)?;
        if (frame.width, frame.height) != (width, height) {
            return Err(RawError::MjpegSize {
                width,
                height,
                got_width: frame.width,
                got_height: frame.height,
            });
        }
        Ok(frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::process::Command;

    const W: u32 = 320;
    const H: u32 = 240;

    /// One picture of FFmpeg's own test source in `pix_fmt` (or MJPEG), made
    /// by the ffmpeg tool: the independent side of each comparison.
    fn ffmpeg_picture(dir: &Path, name: &str, args: &[&str]) -> Vec<u8> {
        let out = dir.join(name);
        let status = Command::new(kh_testkit::needs::program("ffmpeg", "ffmpeg"))
            .args(["-loglevel", "error", "-y", "-f", "lavfi", "-i"])
            .arg(format!("testsrc2=size={W}x{H}:rate=1"))
            .args(["-frames:v", "1"])
            .args(args)
            .arg(&out)
            .status()
            .expect("running ffmpeg");
        assert!(status.success(), "ffmpeg made {name}");
        std::fs::read(out).expect(name)
    }

    fn raw(dir: &Path, pix_fmt: &str) -> Vec<u8> {
        ffmpeg_picture(
            dir,
            &format!("{pix_fmt}.raw"),
            &["-f", "rawvideo", "-pix_fmt", pix_fmt],
        )
    }

    #[test]
    fn each_camera_layout_converts_to_what_ffmpeg_makes_of_the_same_picture() {
        let dir = tempfile::tempdir().expect("tmp");
        let reference = raw(dir.path(), "yuv420p");
        let luma = (W * H) as usize;
        let colour = ColourInfo {
            matrix: ColourMatrix::Bt601,
            range: ColourRange::Limited,
        };
        let mut converter = RawConverter::default();
        for (format, pix_fmt, min_luma_db, min_whole_db) in [
            (RawFormat::I420, "yuv420p", 99.0, 99.0),
            (RawFormat::Nv12, "nv12", 99.0, 99.0),
            (RawFormat::Yuyv, "yuyv422", 99.0, 45.0),
            (RawFormat::Uyvy, "uyvy422", 99.0, 45.0),
            (RawFormat::Rgb24, "rgb24", 40.0, 40.0),
            (RawFormat::Bgr24, "bgr24", 40.0, 40.0),
        ] {
            let bytes = raw(dir.path(), pix_fmt);
            let frame = converter
                .convert(format, W, H, 0, &bytes, colour)
                .unwrap_or_else(|e| panic!("{format:?}: {e}"));
            assert_eq!((frame.width, frame.height), (W, H), "{format:?}");
            assert_eq!(frame.colour.matrix, ColourMatrix::Bt601, "{format:?}");
            let luma_db = kh_testkit::psnr_u8(frame.luma(), &reference[..luma]);
            let whole_db = kh_testkit::psnr_u8(&frame.data, &reference);
            assert!(
                luma_db >= min_luma_db && whole_db >= min_whole_db,
                "{format:?}: luma {luma_db:.1} dB, whole {whole_db:.1} dB"
            );
        }
    }

    #[test]
    fn rows_padded_by_the_driver_are_read_at_their_stride() {
        let dir = tempfile::tempdir().expect("tmp");
        let tight = raw(dir.path(), "yuyv422");
        let row = (W * 2) as usize;
        let stride = row + 64;
        let mut padded = Vec::new();
        for line in tight.chunks_exact(row) {
            padded.extend_from_slice(line);
            padded.extend_from_slice(&[0xEE; 64]);
        }
        let colour = ColourInfo::BT709_LIMITED;
        let mut converter = RawConverter::default();
        let from_tight = converter
            .convert(RawFormat::Yuyv, W, H, 0, &tight, colour)
            .expect("tight");
        let from_padded = converter
            .convert(RawFormat::Yuyv, W, H, stride, &padded, colour)
            .expect("padded");
        assert_eq!(from_tight, from_padded);
    }

    #[test]
    fn motion_jpeg_decodes_at_the_size_the_device_set() {
        let dir = tempfile::tempdir().expect("tmp");
        let reference = raw(dir.path(), "yuv420p");
        // 4:2:2 full-range JPEG, as UVC cameras send.
        let jpeg = ffmpeg_picture(
            dir.path(),
            "frame.jpg",
            &["-c:v", "mjpeg", "-q:v", "2", "-pix_fmt", "yuvj422p"],
        );
        let mut converter = RawConverter::default();
        let colour = ColourInfo::BT709_LIMITED;
        let frame = converter
            .convert(RawFormat::Mjpeg, W, H, 0, &jpeg, colour)
            .expect("mjpeg");
        // Converted to video range on the way to I420, and labelled so
        // (read as full range it would be near 25 dB from the reference).
        assert_eq!(frame.colour.range, ColourRange::Limited);
        let db = kh_testkit::psnr_u8(frame.luma(), &reference[..(W * H) as usize]);
        assert!(db >= 40.0, "MJPEG luma {db:.1} dB against FFmpeg's picture");
        // A device that set another size than its JPEGs carry is named.
        let error = converter
            .convert(RawFormat::Mjpeg, 640, 480, 0, &jpeg, colour)
            .expect_err("size mismatch");
        assert!(error.to_string().contains("320x240"), "{error}");
        // A torn JPEG is an error, not a crash.
        let torn = converter.convert(RawFormat::Mjpeg, W, H, 0, &jpeg[..200], colour);
        assert!(torn.is_err());
    }

    #[test]
    fn short_buffers_and_strides_are_refused_by_name() {
        let colour = ColourInfo::BT709_LIMITED;
        let mut converter = RawConverter::default();
        let short = converter
            .convert(RawFormat::Yuyv, W, H, 0, &vec![0; 1000], colour)
            .expect_err("short");
        assert!(
            short
                .to_string()
                .contains("needs 153600 bytes; the device gave 1000"),
            "{short}"
        );
        let stride = converter
            .convert(RawFormat::Nv12, W, H, 100, &vec![0; 1 << 20], colour)
            .expect_err("stride");
        assert!(stride.to_string().contains("stride of 100"), "{stride}");
        assert!(matches!(
            converter.convert(RawFormat::I420, 0, H, 0, &[], colour),
            Err(RawError::Size(0, _))
        ));
    }
}
