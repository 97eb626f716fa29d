//! The video codecs of a call, and one encoder and one decoder type over the
//! two libraries that implement them: libvpx for VP8 and VP9 (the WebRTC
//! reference implementation, tuned for real time), FFmpeg for H.264 (x264
//! to encode), HEVC and AV1 (dav1d).

use crate::ffmpeg::{FfmpegDecoder, FfmpegEncoder, FfmpegError};
use crate::frame::VideoFrame;
use crate::picture_size::PictureLimit;
use crate::vpx::{VpxDecoder, VpxEncoder, VpxError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VideoCodec {
    Vp8,
    Vp9,
    H264,
    H265,
    Av1,
}

impl VideoCodec {
    pub const ALL: [VideoCodec; 5] = [
        VideoCodec::Vp8,
        VideoCodec::Vp9,
        VideoCodec::H264,
        VideoCodec::H265,
        VideoCodec::Av1,
    ];

    /// The RTP MIME type (RFC 6838 spelling, as webrtc-rs and browsers use).
    pub fn mime(self) -> &'static str {
        match self {
            VideoCodec::Vp8 => "video/VP8",
            VideoCodec::Vp9 => "video/VP9",
            VideoCodec::H264 => "video/H264",
            VideoCodec::H265 => "video/H265",
            VideoCodec::Av1 => "video/AV1",
        }
    }

    /// From an RTP MIME type (case-insensitive).
    pub fn from_mime(mime: &str) -> Option<VideoCodec> {
        VideoCodec::ALL
            .into_iter()
            .find(|c| c.mime().eq_ignore_ascii_case(mime))
    }

    /// From a command-line name: vp8, vp9, h264, h265 (or hevc), av1.
    pub fn from_name(name: &str) -> Option<VideoCodec> {
        match name.to_ascii_lowercase().as_str() {
            "hevc" => Some(VideoCodec::H265),
            other => VideoCodec::from_mime(&format!("video/{other}")),
        }
    }

    /// Whether this build can send it (decoding covers all five). HEVC is
    /// encoded on hardware where there is one, else by x265 (real time up
    /// to about 1080p on a few cores; 8K needs the hardware, docs/design.md §5).
    /// AV1 is not sent: no real-time encoder in Debian's FFmpeg.
    pub fn can_encode(self) -> bool {
        matches!(
            self,
            VideoCodec::Vp8 | VideoCodec::Vp9 | VideoCodec::H264 | VideoCodec::H265
        )
    }
}

/// Encoder settings a call changes while it runs.
#[derive(Debug, Clone, Copy)]
pub struct EncoderConfig {
    pub codec: VideoCodec,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub bitrate_kbps: u32,
    /// Codec worker threads.
    pub threads: u32,
}

/// One encoded frame: a VP8/VP9 frame, an H.264 or HEVC access unit in
/// Annex B.
#[derive(Debug, Clone)]
pub struct EncodedFrame {
    pub data: Vec<u8>,
    pub keyframe: bool,
}

/// A frame an encoder cannot take.
#[derive(Debug, thiserror::Error)]
pub enum FrameMismatch {
    #[error("frame is {got_w}x{got_h}, the encoder was made for {want_w}x{want_h}")]
    Size {
        got_w: u32,
        got_h: u32,
        want_w: u32,
        want_h: u32,
    },
    #[error("frame is NV12; the encoders take I420")]
    Layout,
}

/// Whether `frame` is an I420 frame of the size `config` was made for: the
/// encoders read exactly that many bytes.
pub(crate) fn check_frame(config: &EncoderConfig, frame: &VideoFrame) -> Result<(), FrameMismatch> {
    if (frame.width, frame.height) != (config.width, config.height) {
        return Err(FrameMismatch::Size {
            got_w: frame.width,
            got_h: frame.height,
            want_w: config.width,
            want_h: config.height,
        });
    }
    if frame.layout != crate::frame::PixelLayout::I420 {
        return Err(FrameMismatch::Layout);
    }
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error(transparent)]
    Vpx(#[from] VpxError),
    #[error(transparent)]
    Ffmpeg(#[from] FfmpegError),
    #[error("{} cannot be encoded here: VP8, VP9 and H.264 can", .0.mime())]
    NoEncoder(VideoCodec),
    #[error("{} frame: {why}", codec.mime())]
    Header {
        why: &'static str,
        codec: VideoCodec,
    },
    #[error(
        "{} frame declares a {width}×{height} picture, over the {max_width}×{max_height} \
         ({max_pixels} pixels) this workstation accepts; not decoded",
        codec.mime()
    )]
    TooLarge {
        codec: VideoCodec,
        width: u32,
        height: u32,
        max_width: u32,
        max_height: u32,
        max_pixels: u64,
    },
}

enum Encoder {
    Vpx(VpxEncoder),
    Ffmpeg(Box<FfmpegEncoder>),
}

/// A real-time video encoder for any codec [`VideoCodec::can_encode`].
pub struct VideoEncoder {
    inner: Encoder,
    implementation: String,
    /// When an encoder that takes a new bitrate only when opened was last
    /// opened again for one.
    reopens: ReopenPacing,
}

/// How often an encoder that cannot change its bitrate in place (FFmpeg's
/// VA-API, VideoToolbox and Media Foundation wrappers) is opened again for
/// a new one. Each reopening starts with a keyframe, several times the size
/// of a frame, so small changes wait: a fall of a fifth or more is taken
/// after a second, anything else after five.
#[derive(Debug, Clone, Copy)]
struct ReopenPacing {
    last: std::time::Instant,
}

impl ReopenPacing {
    const AFTER_A_FALL: std::time::Duration = std::time::Duration::from_secs(1);
    const OTHERWISE: std::time::Duration = std::time::Duration::from_secs(5);

    fn new(now: std::time::Instant) -> ReopenPacing {
        ReopenPacing { last: now }
    }

    /// Whether to open the encoder again to go from `current_kbps` to
    /// `wanted_kbps` at `now`.
    fn allows(&self, now: std::time::Instant, current_kbps: u32, wanted_kbps: u32) -> bool {
        if wanted_kbps == current_kbps {
            return false;
        }
        let since = now.saturating_duration_since(self.last);
        let big_fall = u64::from(wanted_kbps) * 5 <= u64::from(current_kbps) * 4;
        since
            >= if big_fall {
                ReopenPacing::AFTER_A_FALL
            } else {
                ReopenPacing::OTHERWISE
            }
    }
}

impl VideoEncoder {
    /// A software encoder: libvpx for VP8 and VP9, x264 for H.264, x265
    /// for HEVC.
    pub fn new(config: EncoderConfig) -> Result<VideoEncoder, CodecError> {
        let (inner, implementation) = match config.codec {
            VideoCodec::Vp8 | VideoCodec::Vp9 => {
                (Encoder::Vpx(VpxEncoder::new(config)?), "libvpx (software)")
            }
            VideoCodec::H264 | VideoCodec::H265 => {
                let (encoder, what) = FfmpegEncoder::software(config)?;
                (Encoder::Ffmpeg(Box::new(encoder)), what)
            }
            other => return Err(CodecError::NoEncoder(other)),
        };
        Ok(VideoEncoder {
            inner,
            implementation: implementation.to_owned(),
            reopens: ReopenPacing::new(std::time::Instant::now()),
        })
    }

    /// The platform's hardware encoder where it has one for the codec
    /// (H.264 and HEVC: NVENC, VA-API, VideoToolbox, Media Foundation,
    /// through FFmpeg), else [`VideoEncoder::new`]'s;
    /// [`VideoEncoder::implementation`] says which, and why not hardware.
    pub fn preferring_hardware(config: EncoderConfig) -> Result<VideoEncoder, CodecError> {
        let why_not = match config.codec {
            VideoCodec::H264 | VideoCodec::H265 => match FfmpegEncoder::hardware(config) {
                Ok((encoder, what)) => {
                    return Ok(VideoEncoder {
                        inner: Encoder::Ffmpeg(Box::new(encoder)),
                        implementation: what.to_owned(),
                        reopens: ReopenPacing::new(std::time::Instant::now()),
                    });
                }
                Err(reasons) => reasons,
            },
            _ => "no hardware encoder is used for this codec".to_owned(),
        };
        let mut software = VideoEncoder::new(config)?;
        software.implementation = format!("{}; not hardware: {why_not}", software.implementation);
        Ok(software)
    }

    pub fn config(&self) -> EncoderConfig {
        match &self.inner {
            Encoder::Vpx(e) => e.config(),
            Encoder::Ffmpeg(e) => e.config(),
        }
    }

    /// Which encoder does the work, and on what (with why not hardware,
    /// when it was asked for): what `kh call --stats-json` reports.
    pub fn implementation(&self) -> &str {
        &self.implementation
    }

    /// Whether the encoder runs on hardware.
    pub fn is_hardware(&self) -> bool {
        self.implementation.contains("(hardware")
    }

    /// Change the target bitrate (what congestion control asks for). An
    /// encoder that takes a bitrate only when opened is opened again, as
    /// [`ReopenPacing`] allows; until then the change waits and
    /// [`VideoEncoder::config`] still shows the old rate.
    pub fn set_bitrate(&mut self, kbps: u32) -> Result<(), CodecError> {
        match &mut self.inner {
            Encoder::Vpx(e) => e.set_bitrate(kbps)?,
            Encoder::Ffmpeg(e) if e.bitrate_in_place() => e.set_bitrate(kbps),
            Encoder::Ffmpeg(e) => {
                let now = std::time::Instant::now();
                if self.reopens.allows(now, e.config().bitrate_kbps, kbps) {
                    **e = e.reopened(kbps)?;
                    self.reopens = ReopenPacing::new(now);
                }
            }
        }
        Ok(())
    }

    /// Make the next frame a keyframe (a receiver lost its reference).
    pub fn request_keyframe(&mut self) {
        match &mut self.inner {
            Encoder::Vpx(e) => e.request_keyframe(),
            Encoder::Ffmpeg(e) => e.request_keyframe(),
        }
    }

    /// Encode one I420 frame. Returns nothing when rate control dropped it.
    pub fn encode(&mut self, frame: &VideoFrame) -> Result<Vec<EncodedFrame>, CodecError> {
        Ok(match &mut self.inner {
            Encoder::Vpx(e) => e.encode(frame)?,
            Encoder::Ffmpeg(e) => e.encode(frame)?,
        })
    }
}

enum Decoder {
    Vpx(VpxDecoder),
    Ffmpeg(Box<FfmpegDecoder>),
}

/// A video decoder for any [`VideoCodec`]; pictures come out as I420.
pub struct VideoDecoder {
    codec: VideoCodec,
    inner: Decoder,
    implementation: String,
    /// Codec threads, for a software decoder taking over from hardware.
    threads: u32,
    /// Whether any picture came out yet.
    decoded_any: bool,
    /// The largest picture a frame may declare.
    limit: PictureLimit,
}

impl VideoDecoder {
    /// A software decoder: libvpx for VP8 and VP9, FFmpeg (dav1d for AV1)
    /// for the rest.
    pub fn new(codec: VideoCodec, threads: u32) -> Result<VideoDecoder, CodecError> {
        VideoDecoder::with_limit(codec, threads, PictureLimit::default())
    }

    /// As [`VideoDecoder::new`], refusing frames that declare a picture
    /// over `limit` before anything is allocated for them.
    pub fn with_limit(
        codec: VideoCodec,
        threads: u32,
        limit: PictureLimit,
    ) -> Result<VideoDecoder, CodecError> {
        let (inner, implementation) = match codec {
            VideoCodec::Vp8 | VideoCodec::Vp9 => (
                Decoder::Vpx(VpxDecoder::new(codec, threads)?),
                "libvpx (software)",
            ),
            other => (
                Decoder::Ffmpeg(Box::new(FfmpegDecoder::with_limit(other, threads, limit)?)),
                "FFmpeg (software)",
            ),
        };
        Ok(VideoDecoder {
            codec,
            inner,
            implementation: implementation.to_owned(),
            threads,
            decoded_any: false,
            limit,
        })
    }

    /// NVIDIA's NVDEC (FFmpeg's CUVID decoders) or VA-API where this
    /// machine has them, else [`VideoDecoder::new`]'s;
    /// [`VideoDecoder::implementation`] says which, and why not hardware.
    /// A hardware decoder that fails before its first picture (a driver
    /// without this codec's profile, a stream larger than it takes) hands
    /// over to software.
    pub fn preferring_hardware(
        codec: VideoCodec,
        threads: u32,
    ) -> Result<VideoDecoder, CodecError> {
        VideoDecoder::preferring_hardware_with_limit(codec, threads, PictureLimit::default())
    }

    /// As [`VideoDecoder::preferring_hardware`], refusing pictures over
    /// `limit` (see [`VideoDecoder::with_limit`]).
    pub fn preferring_hardware_with_limit(
        codec: VideoCodec,
        threads: u32,
        limit: PictureLimit,
    ) -> Result<VideoDecoder, CodecError> {
        match FfmpegDecoder::hardware(codec, limit) {
            Ok((decoder, implementation)) => Ok(VideoDecoder {
                codec,
                inner: Decoder::Ffmpeg(Box::new(decoder)),
                implementation,
                threads,
                decoded_any: false,
                limit,
            }),
            Err(why_not) => {
                let mut software = VideoDecoder::with_limit(codec, threads, limit)?;
                software.implementation =
                    format!("{}; not hardware: {why_not}", software.implementation);
                Ok(software)
            }
        }
    }

    pub fn codec(&self) -> VideoCodec {
        self.codec
    }

    /// Which decoder does the work, and on what (with why not hardware,
    /// when it was asked for).
    pub fn implementation(&self) -> &str {
        &self.implementation
    }

    /// Whether the decoder runs on hardware.
    pub fn is_hardware(&self) -> bool {
        self.implementation.contains("(hardware")
    }

    /// Decode one compressed frame (an access unit) into zero or more
    /// pictures. Corrupt input is an error or a concealed picture, never a
    /// crash.
    pub fn decode(&mut self, data: &[u8]) -> Result<Vec<VideoFrame>, CodecError> {
        self.check_declared_size(data)?;
        let decoded = match &mut self.inner {
            Decoder::Vpx(d) => d.decode(data).map_err(CodecError::from),
            Decoder::Ffmpeg(d) => d.decode(data).map_err(CodecError::from),
        };
        match decoded {
            Ok(pictures) => {
                self.decoded_any |= !pictures.is_empty();
                Ok(pictures)
            }
            // Before the first picture, a hardware failure may be the
            // hardware's (or just a stream joined between keyframes): the
            // software decoder is tried on the same data, and takes over
            // only if it makes a picture of it.
            Err(e) if self.is_hardware() && !self.decoded_any => {
                let mut software = VideoDecoder::with_limit(self.codec, self.threads, self.limit)?;
                match software.decode(data) {
                    Ok(pictures) if !pictures.is_empty() => {
                        software.implementation = format!(
                            "{}; not hardware: {} failed on the stream: {e}",
                            software.implementation, self.implementation
                        );
                        *self = software;
                        Ok(pictures)
                    }
                    _ => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }
}

impl VideoDecoder {
    /// Refuses a frame that declares a picture over the limit, before any
    /// decoder sees it. VP8 and VP9 headers are read here (libvpx has no
    /// limit of its own); FFmpeg's decoders check `max_pixels` themselves.
    fn check_declared_size(&self, data: &[u8]) -> Result<(), CodecError> {
        if !matches!(self.codec, VideoCodec::Vp8 | VideoCodec::Vp9) || data.is_empty() {
            return Ok(());
        }
        let sizes = crate::picture_size::declared_sizes(self.codec, data).map_err(|why| {
            CodecError::Header {
                why,
                codec: self.codec,
            }
        })?;
        match sizes.iter().find(|(w, h)| !self.limit.allows(*w, *h)) {
            Some(&(width, height)) => Err(CodecError::TooLarge {
                codec: self.codec,
                width,
                height,
                max_width: self.limit.max_width,
                max_height: self.limit.max_height,
                max_pixels: self.limit.max_pixels,
            }),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pattern::TestPattern;
    use crate::stamp;

    fn round_trip(codec: VideoCodec) {
        let config = EncoderConfig {
            codec,
            width: 640,
            height: 360,
            fps: 30,
            bitrate_kbps: 800,
            threads: 1,
        };
        let mut encoder = VideoEncoder::new(config).expect("encoder");
        let mut decoder = VideoDecoder::new(codec, 1).expect("decoder");
        let mut pattern = TestPattern::new(640, 360);
        let mut counters = Vec::new();
        for i in 0..30 {
            let frame = pattern.next_frame(1000 + i * 33);
            if i == 20 {
                encoder.request_keyframe();
            }
            for packet in encoder.encode(&frame).expect("encode") {
                if i == 0 || i == 20 {
                    assert!(packet.keyframe, "frame {i} is a keyframe");
                } else {
                    assert!(!packet.keyframe, "frame {i} is not a keyframe");
                }
                for picture in decoder.decode(&packet.data).expect("decode") {
                    assert_eq!((picture.width, picture.height), (640, 360));
                    counters.push(stamp::read(&picture).map(|s| s.counter));
                }
            }
        }
        assert!(counters.len() >= 25, "{codec:?}: {} frames", counters.len());
        let read: Vec<u32> = counters.iter().flatten().copied().collect();
        assert_eq!(
            read.len(),
            counters.len(),
            "every stamp reads: {counters:?}"
        );
        assert!(read.windows(2).all(|w| w[0] < w[1]), "{read:?}");
    }

    /// FFmpeg's decoders (H.264 here; HEVC and dav1d's AV1 read the same
    /// option) refuse a picture over the limit instead of making it.
    #[test]
    fn ffmpeg_decoders_refuse_pictures_over_the_limit() {
        let config = EncoderConfig {
            codec: VideoCodec::H264,
            width: 320,
            height: 176,
            fps: 30,
            bitrate_kbps: 300,
            threads: 1,
        };
        let mut encoder = VideoEncoder::new(config).expect("encoder");
        let frame = TestPattern::new(320, 176).next_frame(0);
        let keyframe = encoder.encode(&frame).expect("encode").remove(0).data;
        let small = PictureLimit {
            max_width: 8192,
            max_height: 8192,
            max_pixels: 160 * 90,
        };
        let mut limited = VideoDecoder::with_limit(VideoCodec::H264, 1, small).expect("decoder");
        let refused = limited.decode(&keyframe);
        assert!(
            !matches!(&refused, Ok(pictures) if !pictures.is_empty()),
            "a 320×176 picture came out of a decoder limited to 160×90 pixels"
        );
        let mut default = VideoDecoder::new(VideoCodec::H264, 1).expect("decoder");
        let pictures = default.decode(&keyframe).expect("decode");
        assert_eq!((pictures[0].width, pictures[0].height), (320, 176));
    }

    #[test]
    fn vp8_round_trip_keeps_the_stamps() {
        round_trip(VideoCodec::Vp8);
    }

    #[test]
    fn vp9_round_trip_keeps_the_stamps() {
        round_trip(VideoCodec::Vp9);
    }

    #[test]
    fn h264_round_trip_keeps_the_stamps() {
        round_trip(VideoCodec::H264);
    }

    #[test]
    fn hevc_round_trip_keeps_the_stamps() {
        round_trip(VideoCodec::H265);
    }

    /// A receiver that asked for a keyframe starts from it alone: x265
    /// repeats its parameter sets (VPS, SPS, PPS) in front of each one.
    #[test]
    fn a_requested_hevc_keyframe_starts_a_new_decoder() {
        let config = EncoderConfig {
            codec: VideoCodec::H265,
            width: 320,
            height: 240,
            fps: 30,
            bitrate_kbps: 400,
            threads: 1,
        };
        let mut encoder = VideoEncoder::new(config).expect("encoder");
        let mut pattern = TestPattern::new(320, 240);
        let mut late_decoder: Option<VideoDecoder> = None;
        let mut read = Vec::new();
        for i in 0..20 {
            if i == 10 {
                encoder.request_keyframe();
                late_decoder = Some(VideoDecoder::new(VideoCodec::H265, 1).expect("decoder"));
            }
            for packet in encoder.encode(&pattern.next_frame(i * 33)).expect("encode") {
                // HEVC NAL types 32-34: VPS, SPS, PPS (Annex B, 4-byte start).
                let nal_type = packet.data[4] >> 1 & 0x3f;
                assert_eq!(packet.keyframe, nal_type == 32, "frame {i}: NAL {nal_type}");
                if let Some(decoder) = late_decoder.as_mut() {
                    for picture in decoder.decode(&packet.data).expect("decode") {
                        read.extend(stamp::read(&picture).map(|s| s.counter));
                    }
                }
            }
        }
        assert_eq!(read.len(), 10, "{read:?}");
        assert!(read.windows(2).all(|w| w[0] < w[1]), "{read:?}");
    }

    /// Hardware where the machine has it, software with the reason where it
    /// has not (the build machines: no GPU); either way the stream is right.
    #[test]
    fn hardware_is_used_where_present_and_its_absence_is_explained() {
        hardware_or_why_not(VideoCodec::H264, "h264_");
        hardware_or_why_not(VideoCodec::H265, "hevc_");
    }

    fn hardware_or_why_not(codec: VideoCodec, ffmpeg_prefix: &str) {
        let config = EncoderConfig {
            codec,
            width: 640,
            height: 360,
            fps: 30,
            bitrate_kbps: 800,
            threads: 1,
        };
        let mut encoder = VideoEncoder::preferring_hardware(config).expect("encoder");
        let mut decoder = VideoDecoder::preferring_hardware(codec, 1).expect("decoder");
        for (what, hardware) in [
            (encoder.implementation().to_owned(), encoder.is_hardware()),
            (decoder.implementation().to_owned(), decoder.is_hardware()),
        ] {
            assert!(
                hardware || what.contains(&format!("not hardware: {ffmpeg_prefix}")),
                "software without a reason: {what}"
            );
            // VA-API was tried, and said why not.
            assert!(
                hardware || what.contains("vaapi") || what.contains("VA-API"),
                "VA-API not tried: {what}"
            );
        }
        let mut pattern = TestPattern::new(640, 360);
        let mut read = Vec::new();
        for i in 0..20 {
            for packet in encoder.encode(&pattern.next_frame(i * 33)).expect("encode") {
                for picture in decoder.decode(&packet.data).expect("decode") {
                    read.extend(stamp::read(&picture).map(|s| s.counter));
                }
            }
        }
        assert!(read.len() >= 15, "{read:?}");
        assert!(read.windows(2).all(|w| w[0] < w[1]), "{read:?}");
    }

    #[test]
    fn encoders_that_reopen_for_a_bitrate_do_so_sparingly() {
        let opened = std::time::Instant::now();
        let pacing = ReopenPacing::new(opened);
        let at = |s: f64| opened + std::time::Duration::from_secs_f64(s);
        // A fall of a fifth: after a second.
        assert!(!pacing.allows(at(0.5), 1000, 800));
        assert!(pacing.allows(at(1.0), 1000, 800));
        // Small falls and any rise: after five.
        assert!(!pacing.allows(at(1.0), 1000, 900));
        assert!(!pacing.allows(at(4.9), 1000, 2000));
        assert!(pacing.allows(at(5.0), 1000, 900));
        assert!(pacing.allows(at(5.0), 1000, 2000));
        // No change: never.
        assert!(!pacing.allows(at(60.0), 1000, 1000));
    }

    #[test]
    fn names_and_mime_types() {
        for codec in VideoCodec::ALL {
            assert_eq!(VideoCodec::from_mime(codec.mime()), Some(codec));
            assert_eq!(
                VideoCodec::from_mime(&codec.mime().to_lowercase()),
                Some(codec)
            );
        }
        assert_eq!(VideoCodec::from_name("hevc"), Some(VideoCodec::H265));
        assert_eq!(VideoCodec::from_name("AV1"), Some(VideoCodec::Av1));
        assert_eq!(VideoCodec::from_name("mpeg2"), None);
        assert!(matches!(
            VideoEncoder::new(EncoderConfig {
                codec: VideoCodec::Av1,
                width: 64,
                height: 64,
                fps: 30,
                bitrate_kbps: 100,
                threads: 1
            }),
            Err(CodecError::NoEncoder(VideoCodec::Av1))
        ));
    }
}
