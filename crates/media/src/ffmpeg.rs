//! H.264 encoding (x264) and H.264/HEVC/AV1 decoding through FFmpeg's
//! libavcodec (Debian's FFmpeg 5.1 through `ffmpeg-next`), set up for calls:
//! no B-frames, no lookahead, sliced threads, pictures out as soon as they
//! are complete.
//!
//! `ffmpeg-next` owns the FFI; nothing here is `unsafe` (the hardware
//! contexts it does not wrap are in [`crate::vaapi`]).

use crate::codec::{EncodedFrame, EncoderConfig, FrameMismatch, VideoCodec, check_frame};
use crate::frame::{ColourInfo, ColourMatrix, ColourRange, PixelLayout, VideoFrame, chroma_size};
use crate::vaapi::{self, SurfacePool, VaapiDevice};
use ff::codec::threading;
use ff::format::Pixel;
use ff::util::color;
use ffmpeg_next as ff;
use std::sync::Once;

#[derive(Debug, thiserror::Error)]
pub enum FfmpegError {
    #[error("FFmpeg {what}: {source}")]
    Call {
        what: &'static str,
        #[source]
        source: ff::Error,
    },
    #[error("FFmpeg has no {0} (install Debian's libavcodec59 with its codec libraries)")]
    Missing(&'static str),
    #[error("a picture of {width}x{height}: at most {MAX_SIDE} a side is accepted")]
    TooLarge { width: u32, height: u32 },
    #[error(transparent)]
    Frame(#[from] FrameMismatch),
    #[error("{0}")]
    Hardware(String),
}

pub(crate) fn call(what: &'static str) -> impl FnOnce(ff::Error) -> FfmpegError {
    move |source| FfmpegError::Call { what, source }
}

pub(crate) fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        // Registration is a no-op since FFmpeg 4; quiet the library's own
        // stderr logging: errors reach the caller as values.
        let _ = ff::init();
        ff::util::log::set_level(ff::util::log::Level::Fatal);
    });
}

/// A real-time encoder on one of FFmpeg's encoder libraries. The call path
/// uses it for H.264 (x264); tests also drive x265 and libaom through it to
/// make HEVC and AV1 streams.
pub struct FfmpegEncoder {
    encoder: ff::encoder::Video,
    /// FFmpeg's name of the encoder, to open it again.
    library: &'static str,
    config: EncoderConfig,
    /// GPU surfaces the pictures are uploaded into (VA-API), if the
    /// encoder reads from GPU memory.
    surfaces: Option<SurfacePool>,
    picture: ff::frame::Video,
    packet: ff::Packet,
    pts: i64,
    force_keyframe: bool,
}

impl FfmpegEncoder {
    /// H.264 Constrained Baseline through x264, what every WebRTC peer
    /// decodes (profile-level-id 42e0xx): zero-latency tuning (no lookahead,
    /// no B-frames, sliced threads), CBR with a half-second VBV, keyframes on
    /// request as IDR with SPS/PPS in front, and a keyframe every 4 s.
    pub fn x264(config: EncoderConfig) -> Result<FfmpegEncoder, FfmpegError> {
        FfmpegEncoder::named("libx264", config)
    }

    /// HEVC Main through x265, set up as x264 is (zero-latency tuning, CBR
    /// with a half-second VBV, IDR on request) with the parameter sets in
    /// front of every keyframe, so a receiver that asked for one can start
    /// there. Only Kakehashi peers receive it (browsers decode HEVC only on
    /// some hardware); its point is 8K, which H.264 on NVENC cannot encode.
    pub fn x265(config: EncoderConfig) -> Result<FfmpegEncoder, FfmpegError> {
        FfmpegEncoder::named("libx265", config)
    }

    /// H.264 on VA-API (Intel and AMD GPUs on Linux): pictures uploaded
    /// as NV12 into GPU surfaces, constrained baseline, CBR, one frame in
    /// flight.
    pub fn vaapi_h264(config: EncoderConfig) -> Result<FfmpegEncoder, FfmpegError> {
        FfmpegEncoder::named("h264_vaapi", config)
    }

    /// The software encoder for `config.codec` among FFmpeg's: x264 for
    /// H.264, x265 for HEVC.
    pub fn software(config: EncoderConfig) -> Result<(FfmpegEncoder, &'static str), FfmpegError> {
        match config.codec {
            VideoCodec::H264 => Ok((
                FfmpegEncoder::x264(config)?,
                "x264 through FFmpeg (software)",
            )),
            VideoCodec::H265 => Ok((
                FfmpegEncoder::x265(config)?,
                "x265 through FFmpeg (software)",
            )),
            _ => Err(FfmpegError::Missing("a software encoder for this codec")),
        }
    }

    /// The encoder FFmpeg calls `library`, with this crate's real-time
    /// settings for it: how every encoder here is opened, and opened again.
    fn named(library: &'static str, config: EncoderConfig) -> Result<FfmpegEncoder, FfmpegError> {
        let mut options = ff::Dictionary::new();
        for (key, value) in encoder_options(library) {
            options.set(key, value);
        }
        if library == "libx265" {
            // x265 sizes its thread pool from the machine, not the
            // context's thread count: give it the call's share.
            options.set(
                "x265-params",
                &format!(
                    "log-level=error:repeat-headers=1:pools={}",
                    config.threads.max(1)
                ),
            );
        }
        if library.ends_with("_vaapi") {
            let device = VaapiDevice::open_default().map_err(FfmpegError::Hardware)?;
            let surfaces = SurfacePool::new(&device, config.width, config.height)
                .map_err(FfmpegError::Hardware)?;
            FfmpegEncoder::open(library, config, options, Some(surfaces))
        } else {
            FfmpegEncoder::with_library(library, config, options)
        }
    }

    /// H.264 or HEVC on the platform's hardware encoder, in the order
    /// tried: NVENC (NVIDIA), VA-API (Intel, AMD on Linux), VideoToolbox
    /// (macOS), Media Foundation (Windows) — each set up as x264 is (no
    /// B-frames, no lookahead, CBR, IDR on request; H.264 in the baseline
    /// profile, HEVC in Main). The error lists why each was not available.
    pub fn hardware(config: EncoderConfig) -> Result<(FfmpegEncoder, &'static str), String> {
        let encoders = match config.codec {
            VideoCodec::H264 => HARDWARE_H264,
            VideoCodec::H265 => HARDWARE_HEVC,
            _ => return Err("no hardware encoder is used for this codec".to_owned()),
        };
        let mut reasons = Vec::new();
        for (library, what) in encoders {
            match FfmpegEncoder::named(library, config) {
                Ok(encoder) => return Ok((encoder, what)),
                Err(e) => reasons.push(format!("{library}: {}", why_not_nvidia(library, e))),
            }
        }
        Err(reasons.join("; "))
    }

    pub(crate) fn with_library(
        library: &'static str,
        config: EncoderConfig,
        options: ff::Dictionary,
    ) -> Result<FfmpegEncoder, FfmpegError> {
        FfmpegEncoder::open(library, config, options, None)
    }

    fn open(
        library: &'static str,
        config: EncoderConfig,
        mut options: ff::Dictionary,
        surfaces: Option<SurfacePool>,
    ) -> Result<FfmpegEncoder, FfmpegError> {
        init();
        let codec = ff::encoder::find_by_name(library).ok_or(FfmpegError::Missing(library))?;
        let mut context = ff::codec::Context::new_with_codec(codec);
        context.set_threading(threading::Config {
            kind: threading::Type::Slice,
            count: config.threads.max(1) as usize,
            ..Default::default()
        });
        let mut encoder = context.encoder().video().map_err(call("encoder"))?;
        let fps = config.fps.max(1) as i32;
        encoder.set_width(config.width);
        encoder.set_height(config.height);
        match &surfaces {
            Some(pool) => {
                encoder.set_format(Pixel::VAAPI);
                vaapi::attach_encoder(&mut encoder, pool).map_err(FfmpegError::Hardware)?;
            }
            None => encoder.set_format(Pixel::YUV420P),
        }
        encoder.set_time_base((1, fps));
        encoder.set_frame_rate(Some((fps, 1)));
        encoder.set_gop(config.fps.max(1) * 4);
        encoder.set_max_b_frames(0);
        // The test pattern and cameras are HD video: say so in the stream's
        // VUI so decoders convert with the right matrix.
        encoder.set_colorspace(color::Space::BT709);
        encoder.set_color_range(color::Range::MPEG);
        encoder.set_color_primaries(color::Primaries::BT709);
        encoder.set_color_transfer_characteristic(color::TransferCharacteristic::BT709);
        let bps = u64::from(config.bitrate_kbps.max(50)) * 1000;
        options.set("b", &bps.to_string());
        options.set("maxrate", &bps.to_string());
        options.set("bufsize", &(bps / 2).to_string());
        let encoder = encoder
            .open_with(options)
            .map_err(call("opening the encoder"))?;
        Ok(FfmpegEncoder {
            encoder,
            library,
            config,
            surfaces,
            picture: ff::frame::Video::new(Pixel::YUV420P, config.width, config.height),
            packet: ff::Packet::empty(),
            pts: 0,
            force_keyframe: true,
        })
    }

    pub fn config(&self) -> EncoderConfig {
        self.config
    }

    /// Whether [`FfmpegEncoder::set_bitrate`] takes effect on the running
    /// encoder: FFmpeg's x264 and NVENC wrappers reconfigure their rate
    /// control when the context's bitrate changes (checked before each
    /// frame); its VA-API, VideoToolbox and Media Foundation wrappers (in
    /// FFmpeg 5.1) and its x265 wrapper read it only when opened, so those
    /// are opened again ([`FfmpegEncoder::reopened`]).
    pub fn bitrate_in_place(&self) -> bool {
        matches!(self.library, "libx264" | "h264_nvenc" | "hevc_nvenc")
    }

    /// The same encoder opened afresh at another bitrate; its first frame
    /// is a keyframe.
    pub fn reopened(&self, kbps: u32) -> Result<FfmpegEncoder, FfmpegError> {
        FfmpegEncoder::named(
            self.library,
            EncoderConfig {
                bitrate_kbps: kbps.max(50),
                ..self.config
            },
        )
    }

    pub fn set_bitrate(&mut self, kbps: u32) {
        let bps = kbps.max(50) as usize * 1000;
        self.encoder.set_bit_rate(bps);
        self.encoder.set_max_bit_rate(bps);
        self.config.bitrate_kbps = kbps.max(50);
    }

    pub fn request_keyframe(&mut self) {
        self.force_keyframe = true;
    }

    pub fn encode(&mut self, frame: &VideoFrame) -> Result<Vec<EncodedFrame>, FfmpegError> {
        check_frame(&self.config, frame)?;
        let kind = if std::mem::take(&mut self.force_keyframe) {
            ff::picture::Type::I
        } else {
            ff::picture::Type::None
        };
        let pts = self.pts;
        self.pts += 1;
        if let Some(pool) = self.surfaces.as_mut() {
            fill_nv12(pool.staging(), frame);
            let mut surface = pool.upload().map_err(call("upload to a VA-API surface"))?;
            surface.set_pts(Some(pts));
            surface.set_kind(kind);
            self.encoder.send_frame(&surface).map_err(call("encode"))?;
        } else {
            fill_picture(&mut self.picture, frame);
            self.picture.set_pts(Some(pts));
            self.picture.set_kind(kind);
            self.encoder
                .send_frame(&self.picture)
                .map_err(call("encode"))?;
        }
        let mut out = Vec::new();
        while self.encoder.receive_packet(&mut self.packet).is_ok() {
            if let Some(bytes) = self.packet.data() {
                out.push(EncodedFrame {
                    data: bytes.to_vec(),
                    keyframe: self.packet.is_key(),
                });
            }
        }
        Ok(out)
    }
}

/// The hardware H.264 encoders tried on this platform, and what each runs
/// on.
const HARDWARE_H264: &[(&str, &str)] = &[
    ("h264_nvenc", "h264_nvenc (hardware: NVIDIA NVENC)"),
    #[cfg(target_os = "linux")]
    ("h264_vaapi", "h264_vaapi (hardware: VA-API)"),
    #[cfg(target_os = "macos")]
    (
        "h264_videotoolbox",
        "h264_videotoolbox (hardware: Apple VideoToolbox)",
    ),
    #[cfg(target_os = "windows")]
    ("h264_mf", "h264_mf (hardware: Windows Media Foundation)"),
];

/// The hardware HEVC encoders tried on this platform: how 8K is sent live
/// (NVENC's H.264 stops at 4096 wide; its HEVC goes to 8192).
const HARDWARE_HEVC: &[(&str, &str)] = &[
    ("hevc_nvenc", "hevc_nvenc (hardware: NVIDIA NVENC)"),
    #[cfg(target_os = "linux")]
    ("hevc_vaapi", "hevc_vaapi (hardware: VA-API)"),
    #[cfg(target_os = "macos")]
    (
        "hevc_videotoolbox",
        "hevc_videotoolbox (hardware: Apple VideoToolbox)",
    ),
    #[cfg(target_os = "windows")]
    ("hevc_mf", "hevc_mf (hardware: Windows Media Foundation)"),
];

/// FFmpeg's NVIDIA wrappers fail with -1 (EPERM, "Operation not
/// permitted") when the driver's libraries do not load: say that instead.
fn why_not_nvidia(library: &str, error: FfmpegError) -> String {
    let nvidia = library.ends_with("_nvenc") || library.ends_with("_cuvid");
    match error {
        FfmpegError::Call {
            source: ff::Error::Other { errno: 1 },
            ..
        } if nvidia => format!(
            "the NVIDIA driver's libraries (libcuda, {}) did not load",
            if library.ends_with("_nvenc") {
                "libnvidia-encode"
            } else {
                "libnvcuvid"
            }
        ),
        other => other.to_string(),
    }
}

/// Real-time settings for each encoder (FFmpeg's option names).
fn encoder_options(library: &str) -> &'static [(&'static str, &'static str)] {
    match library {
        // superfast holds 1080p30 on one core; veryfast looks better but
        // costs twice as much.
        "libx264" => &[
            ("preset", "superfast"),
            ("tune", "zerolatency"),
            ("profile", "baseline"),
            ("forced-idr", "1"),
        ],
        // Lowest-latency preset and tuning, no frame delay, constant rate.
        "h264_nvenc" => &[
            ("preset", "p1"),
            ("tune", "ull"),
            ("zerolatency", "1"),
            ("delay", "0"),
            ("rc", "cbr"),
            ("profile", "baseline"),
            ("forced-idr", "1"),
        ],
        // A forced I picture is an IDR in FFmpeg's VA-API encoder; one
        // frame in flight instead of two.
        "h264_vaapi" => &[
            ("profile", "constrained_baseline"),
            ("rc_mode", "CBR"),
            ("async_depth", "1"),
        ],
        "h264_videotoolbox" => &[("realtime", "1"), ("profile", "baseline")],
        "h264_mf" | "hevc_mf" => &[("scenario", "live_streaming"), ("rate_control", "cbr")],
        // ultrafast is what x265 manages in real time on a few cores;
        // zerolatency turns off lookahead, B-frames and frame threads.
        "libx265" => &[
            ("preset", "ultrafast"),
            ("tune", "zerolatency"),
            ("forced-idr", "1"),
        ],
        "hevc_nvenc" => &[
            ("preset", "p1"),
            ("tune", "ull"),
            ("zerolatency", "1"),
            ("delay", "0"),
            ("rc", "cbr"),
            ("profile", "main"),
            ("forced-idr", "1"),
        ],
        "hevc_vaapi" => &[
            ("profile", "main"),
            ("rc_mode", "CBR"),
            ("async_depth", "1"),
        ],
        "hevc_videotoolbox" => &[("realtime", "1"), ("profile", "main")],
        _ => &[],
    }
}

/// The NVDEC decoder (FFmpeg's CUVID wrapper; pictures come back in system
/// memory) for each codec.
fn hardware_decoder(codec: VideoCodec) -> &'static str {
    match codec {
        VideoCodec::Vp8 => "vp8_cuvid",
        VideoCodec::Vp9 => "vp9_cuvid",
        VideoCodec::H264 => "h264_cuvid",
        VideoCodec::H265 => "hevc_cuvid",
        VideoCodec::Av1 => "av1_cuvid",
    }
}

/// Decoder options that refuse pictures over `limit`: FFmpeg's decoders
/// (and dav1d, as its frame size limit) check `max_pixels` before they
/// allocate a picture (see picture_size.rs).
fn limited(limit: crate::PictureLimit) -> ff::Dictionary<'static> {
    let mut options = ff::Dictionary::new();
    options.set("max_pixels", &limit.max_pixels.to_string());
    options
}

/// FFmpeg's own decoder for `codec` (the one its VA-API path belongs to).
fn ffmpeg_decoder_name(codec: VideoCodec) -> &'static str {
    match codec {
        VideoCodec::Vp8 => "vp8",
        VideoCodec::Vp9 => "vp9",
        VideoCodec::H264 => "h264",
        VideoCodec::H265 => "hevc",
        VideoCodec::Av1 => "av1",
    }
}

/// Decodes H.264 and HEVC (Annex B access units) and AV1 (OBUs with size
/// fields, as the RTP depacketizer gives them) to I420.
pub struct FfmpegDecoder {
    decoder: ff::decoder::Video,
    picture: ff::frame::Video,
    /// A picture copied out of a GPU surface (VA-API decoding).
    downloaded: ff::frame::Video,
    to_i420: ToI420,
}

impl FfmpegDecoder {
    /// `codec` on hardware, in the order tried: NVIDIA's NVDEC, then
    /// VA-API (Intel, AMD on Linux). Returns the decoder and what it runs
    /// on; the error says why neither.
    pub fn hardware(
        codec: VideoCodec,
        limit: crate::PictureLimit,
    ) -> Result<(FfmpegDecoder, String), String> {
        init();
        let library = hardware_decoder(codec);
        let nvdec = ff::decoder::find_by_name(library)
            .ok_or_else(|| "not in this FFmpeg".to_owned())
            .and_then(|found| {
                FfmpegDecoder::open(found, 1, limited(limit), None)
                    .map_err(|e| why_not_nvidia(library, e))
            });
        let why_not_nvdec = match nvdec {
            Ok(decoder) => return Ok((decoder, format!("{library} (hardware: NVIDIA NVDEC)"))),
            Err(e) => format!("{library}: {e}"),
        };
        match FfmpegDecoder::vaapi(codec, limit) {
            Ok((decoder, node)) => Ok((
                decoder,
                format!(
                    "{} on {} (hardware: VA-API)",
                    ffmpeg_decoder_name(codec),
                    node.display()
                ),
            )),
            Err(e) => Err(format!("{why_not_nvdec}; VA-API: {e}")),
        }
    }

    /// `codec` through FFmpeg's own decoder with VA-API acceleration; the
    /// render node it opened, or why not.
    fn vaapi(
        codec: VideoCodec,
        limit: crate::PictureLimit,
    ) -> Result<(FfmpegDecoder, std::path::PathBuf), String> {
        let name = ffmpeg_decoder_name(codec);
        let found =
            ff::decoder::find_by_name(name).ok_or_else(|| format!("{name}: not in this FFmpeg"))?;
        if !vaapi::decoder_has_vaapi(&found) {
            return Err(format!("FFmpeg's {name} decoder has no VA-API path"));
        }
        let device = VaapiDevice::open_default()?;
        let decoder = FfmpegDecoder::open(found, 1, limited(limit), Some(&device))
            .map_err(|e| e.to_string())?;
        Ok((decoder, device.path().to_owned()))
    }

    /// Motion JPEG, as USB cameras send their larger sizes: each frame a
    /// JPEG picture (often without Huffman tables, which FFmpeg fills in).
    pub fn mjpeg() -> Result<FfmpegDecoder, FfmpegError> {
        init();
        let found =
            ff::decoder::find(ff::codec::Id::MJPEG).ok_or(FfmpegError::Missing("MJPEG decoder"))?;
        FfmpegDecoder::open(found, 1, ff::Dictionary::new(), None)
    }

    pub fn new(codec: VideoCodec, threads: u32) -> Result<FfmpegDecoder, FfmpegError> {
        FfmpegDecoder::with_limit(codec, threads, crate::PictureLimit::default())
    }

    /// As [`FfmpegDecoder::new`], making no picture over `limit`.
    pub fn with_limit(
        codec: VideoCodec,
        threads: u32,
        limit: crate::PictureLimit,
    ) -> Result<FfmpegDecoder, FfmpegError> {
        init();
        let found =
            match codec {
                VideoCodec::H264 => ff::decoder::find(ff::codec::Id::H264)
                    .ok_or(FfmpegError::Missing("H.264 decoder")),
                VideoCodec::H265 => ff::decoder::find(ff::codec::Id::HEVC)
                    .ok_or(FfmpegError::Missing("HEVC decoder")),
                // dav1d is the fast software AV1 decoder; FFmpeg's own "av1"
                // decoder only drives hardware.
                VideoCodec::Av1 => ff::decoder::find_by_name("libdav1d")
                    .or_else(|| ff::decoder::find_by_name("libaom-av1"))
                    .ok_or(FfmpegError::Missing("AV1 decoder (libdav1d)")),
                VideoCodec::Vp8 => {
                    ff::decoder::find(ff::codec::Id::VP8).ok_or(FfmpegError::Missing("VP8 decoder"))
                }
                VideoCodec::Vp9 => {
                    ff::decoder::find(ff::codec::Id::VP9).ok_or(FfmpegError::Missing("VP9 decoder"))
                }
            }?;
        let mut options = limited(limit);
        // dav1d otherwise buffers several frames to run frame threads.
        options.set("max_frame_delay", "1");
        FfmpegDecoder::open(found, threads, options, None)
    }

    fn open(
        found: ff::Codec,
        threads: u32,
        mut options: ff::Dictionary,
        device: Option<&VaapiDevice>,
    ) -> Result<FfmpegDecoder, FfmpegError> {
        // A peer's stream may declare any size: 8K unless the caller set
        // a limit of its own (`limited`).
        if options.get("max_pixels").is_none() {
            options.set(
                "max_pixels",
                &crate::PictureLimit::default().max_pixels.to_string(),
            );
        }
        let mut context = ff::codec::Context::new_with_codec(found);
        if let Some(device) = device {
            vaapi::attach_decoder(&mut context, device).map_err(FfmpegError::Hardware)?;
        }
        // Slice threads add no delay; frame threads would hold back one
        // picture per thread.
        context.set_threading(threading::Config {
            kind: threading::Type::Slice,
            count: threads.max(1) as usize,
            ..Default::default()
        });
        context.set_flags(ff::codec::Flags::LOW_DELAY);
        let decoder = context
            .decoder()
            .open_as_with(found, options)
            .and_then(|opened| opened.video())
            .map_err(call("opening the decoder"))?;
        Ok(FfmpegDecoder {
            decoder,
            picture: ff::frame::Video::empty(),
            downloaded: ff::frame::Video::empty(),
            to_i420: ToI420::default(),
        })
    }

    pub fn decode(&mut self, data: &[u8]) -> Result<Vec<VideoFrame>, FfmpegError> {
        if data.is_empty() {
            return Ok(Vec::new());
        }
        self.decoder
            .send_packet(&ff::Packet::copy(data))
            .map_err(call("decode"))?;
        let mut out = Vec::new();
        while self.decoder.receive_frame(&mut self.picture).is_ok() {
            if self.picture.format() == Pixel::VAAPI {
                vaapi::download(&self.picture, &mut self.downloaded)
                    .map_err(call("copying a picture from the GPU"))?;
                out.push(self.to_i420.convert(&self.downloaded)?);
            } else {
                out.push(self.to_i420.convert(&self.picture)?);
            }
        }
        Ok(out)
    }
}

/// Decoded pictures to tightly packed 8-bit I420 with their colour
/// description; other pixel formats (10-bit, 4:2:2, 4:4:4) go through
/// swscale.
#[derive(Default)]
pub(crate) struct ToI420 {
    /// Made when a stream arrives in another pixel format.
    converter: Option<(ff::software::scaling::Context, ff::frame::Video)>,
}

impl ToI420 {
    pub(crate) fn convert(
        &mut self,
        picture: &ff::frame::Video,
    ) -> Result<VideoFrame, FfmpegError> {
        let (w, h) = (picture.width(), picture.height());
        if w == 0 || h == 0 || w > MAX_SIDE || h > MAX_SIDE {
            return Err(FfmpegError::TooLarge {
                width: w,
                height: h,
            });
        }
        let colour = ColourInfo {
            matrix: match picture.color_space() {
                color::Space::BT470BG | color::Space::SMPTE170M => ColourMatrix::Bt601,
                color::Space::BT2020NCL | color::Space::BT2020CL => ColourMatrix::Bt2020,
                _ => ColourMatrix::Bt709,
            },
            range: if picture.color_range() == color::Range::JPEG
                || picture.format() == Pixel::YUVJ420P
            {
                ColourRange::Full
            } else {
                ColourRange::Limited
            },
        };
        let source = if matches!(picture.format(), Pixel::YUV420P | Pixel::YUVJ420P) {
            picture
        } else {
            let stale = self.converter.as_ref().is_none_or(|(scaler, _)| {
                let input = scaler.input();
                (input.format, input.width, input.height) != (picture.format(), w, h)
            });
            if stale {
                let scaler = ff::software::scaling::Context::get(
                    picture.format(),
                    w,
                    h,
                    Pixel::YUV420P,
                    w,
                    h,
                    ff::software::scaling::Flags::BILINEAR,
                )
                .map_err(call("pixel format conversion"))?;
                self.converter = Some((scaler, ff::frame::Video::empty()));
            }
            let Some((scaler, converted)) = self.converter.as_mut() else {
                return Err(FfmpegError::Missing("pixel format converter"));
            };
            scaler
                .run(picture, converted)
                .map_err(call("pixel format conversion"))?;
            &*converted
        };
        // swscale reads FFmpeg's full-range "J" formats (what JPEG and
        // MJPEG decode to) as full range and writes YUV420P in video
        // range: the picture it made is limited, whatever the source said.
        let colour = if matches!(
            picture.format(),
            Pixel::YUVJ422P | Pixel::YUVJ444P | Pixel::YUVJ440P | Pixel::YUVJ411P
        ) {
            ColourInfo {
                range: ColourRange::Limited,
                ..colour
            }
        } else {
            colour
        };
        Ok(frame_from_picture(source, colour))
    }
}

/// An I420 `frame` copied into FFmpeg's `picture` (same size and format),
/// row by row as the picture's strides say.
fn fill_picture(picture: &mut ff::frame::Video, frame: &VideoFrame) {
    let (w, h) = (frame.width as usize, frame.height as usize);
    let (cw, ch) = chroma_size(frame.width, frame.height);
    let (cw, ch) = (cw as usize, ch as usize);
    let planes = [
        (&frame.data[..w * h], w, h),
        (&frame.data[w * h..w * h + cw * ch], cw, ch),
        (&frame.data[w * h + cw * ch..], cw, ch),
    ];
    for (index, (source, width, rows)) in planes.into_iter().enumerate() {
        let stride = picture.stride(index);
        let target = picture.data_mut(index);
        for (row, line) in source.chunks_exact(width).take(rows).enumerate() {
            target[row * stride..row * stride + width].copy_from_slice(line);
        }
    }
}

/// An I420 `frame` copied into an NV12 `picture` of its size: the luma
/// rows as they are, the chroma rows interleaved U, V.
fn fill_nv12(picture: &mut ff::frame::Video, frame: &VideoFrame) {
    let (w, h) = (frame.width as usize, frame.height as usize);
    let (cw, ch) = chroma_size(frame.width, frame.height);
    let (cw, ch) = (cw as usize, ch as usize);
    let luma_stride = picture.stride(0);
    let luma = picture.data_mut(0);
    for (row, line) in frame.data[..w * h].chunks_exact(w).enumerate() {
        luma[row * luma_stride..row * luma_stride + w].copy_from_slice(line);
    }
    let u = &frame.data[w * h..w * h + cw * ch];
    let v = &frame.data[w * h + cw * ch..w * h + 2 * cw * ch];
    let chroma_stride = picture.stride(1);
    let chroma = picture.data_mut(1);
    for row in 0..ch {
        let target = &mut chroma[row * chroma_stride..row * chroma_stride + 2 * cw];
        let (u_row, v_row) = (&u[row * cw..(row + 1) * cw], &v[row * cw..(row + 1) * cw]);
        for ((pair, u), v) in target.chunks_exact_mut(2).zip(u_row).zip(v_row) {
            pair[0] = *u;
            pair[1] = *v;
        }
    }
}

/// A YUV420P `picture` copied out into a tightly packed frame.
fn frame_from_picture(picture: &ff::frame::Video, colour: ColourInfo) -> VideoFrame {
    let (w, h) = (picture.width(), picture.height());
    let (cw, ch) = chroma_size(w, h);
    let mut data = Vec::with_capacity(VideoFrame::byte_len(w, h));
    for (plane, (pw, ph)) in [(0, (w, h)), (1, (cw, ch)), (2, (cw, ch))] {
        let stride = picture.stride(plane);
        let bytes = picture.data(plane);
        for row in 0..ph as usize {
            data.extend_from_slice(&bytes[row * stride..row * stride + pw as usize]);
        }
    }
    VideoFrame {
        width: w,
        height: h,
        layout: PixelLayout::I420,
        colour,
        data,
    }
}

/// Resizes I420 frames (swscale, area-averaging: the right filter for
/// shrinking, no aliasing on the fine detail of a slide or a wound). The
/// sender's ladder uses it to step a camera down to a smaller rung.
#[derive(Default)]
pub struct Resizer {
    /// The scaler and its two pictures, for one pair of sizes.
    scaler: Option<(
        ff::software::scaling::Context,
        ff::frame::Video,
        ff::frame::Video,
    )>,
}

impl Resizer {
    /// `frame` (I420) at `width`×`height` (even sizes).
    pub fn resize(
        &mut self,
        frame: &VideoFrame,
        width: u32,
        height: u32,
    ) -> Result<VideoFrame, FfmpegError> {
        init();
        if frame.layout != PixelLayout::I420 {
            return Err(FfmpegError::Missing("a scaler for NV12 frames"));
        }
        if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
            return Err(FfmpegError::TooLarge { width, height });
        }
        let stale = self.scaler.as_ref().is_none_or(|(scaler, _, _)| {
            let (input, output) = (scaler.input(), scaler.output());
            (input.width, input.height, output.width, output.height)
                != (frame.width, frame.height, width, height)
        });
        if stale {
            let scaler = ff::software::scaling::Context::get(
                Pixel::YUV420P,
                frame.width,
                frame.height,
                Pixel::YUV420P,
                width,
                height,
                ff::software::scaling::Flags::AREA,
            )
            .map_err(call("resizing"))?;
            let source = ff::frame::Video::new(Pixel::YUV420P, frame.width, frame.height);
            self.scaler = Some((scaler, source, ff::frame::Video::empty()));
        }
        let Some((scaler, source, resized)) = self.scaler.as_mut() else {
            return Err(FfmpegError::Missing("a scaler"));
        };
        fill_picture(source, frame);
        scaler.run(source, resized).map_err(call("resizing"))?;
        Ok(frame_from_picture(resized, frame.colour))
    }
}

#[cfg(test)]
mod resizer_tests {
    use super::*;
    use crate::pattern::TestPattern;

    #[test]
    fn a_frame_halved_is_the_mean_of_its_blocks() {
        let mut pattern = TestPattern::new(1280, 720);
        let frame = pattern.next_frame(1234);
        let mut resizer = Resizer::default();
        let half = resizer.resize(&frame, 640, 360).expect("resize");
        assert_eq!((half.width, half.height), (640, 360));
        assert_eq!(half.data.len(), VideoFrame::byte_len(640, 360));
        // Area averaging: each output luma sample is the mean of a 2x2
        // block of the source (within rounding).
        let (src, out) = (frame.luma(), half.luma());
        for (x, y) in [(10, 10), (300, 200), (639, 359), (100, 50)] {
            let mean = [(0, 0), (1, 0), (0, 1), (1, 1)]
                .iter()
                .map(|(dx, dy)| u32::from(src[(2 * y + dy) * 1280 + 2 * x + dx]))
                .sum::<u32>() as f64
                / 4.0;
            let got = f64::from(out[y * 640 + x]);
            assert!((got - mean).abs() <= 2.0, "({x},{y}): {got} vs mean {mean}");
        }
        // Another size makes another scaler.
        assert_eq!(resizer.resize(&frame, 320, 180).expect("resize").width, 320);
        assert!(resizer.resize(&frame, 0, 180).is_err());
    }
}

/// The largest picture side accepted from a stream or a file: 8K UHD is
/// 7680 wide; anything past 8192 is refused before buffers are sized.
pub const MAX_SIDE: u32 = 8192;

/// Pictures from a video file in any container and codec FFmpeg reads
/// (MP4, MKV, WebM, MOV, AVI…; H.264, HEVC, VP9, AV1, ProRes…), as I420:
/// a `kh call --send FILE` source.
pub struct VideoFileReader {
    input: ff::format::context::Input,
    stream: usize,
    decoder: ff::decoder::Video,
    picture: ff::frame::Video,
    to_i420: ToI420,
    frame_rate: Option<f64>,
    drained: bool,
}

impl VideoFileReader {
    pub fn open(path: &std::path::Path) -> Result<VideoFileReader, FfmpegError> {
        init();
        let input = ff::format::input(path).map_err(call("opening the file"))?;
        let stream = input
            .streams()
            .best(ff::media::Type::Video)
            .ok_or(FfmpegError::Missing("video stream in the file"))?;
        let index = stream.index();
        let rate = stream.avg_frame_rate();
        let frame_rate = (rate.denominator() != 0 && rate.numerator() > 0)
            .then(|| f64::from(rate.numerator()) / f64::from(rate.denominator()));
        let mut context = ff::codec::Context::from_parameters(stream.parameters())
            .map_err(call("reading the stream's parameters"))?;
        context.set_threading(threading::Config {
            kind: threading::Type::Frame,
            count: 2,
            ..Default::default()
        });
        let decoder = context
            .decoder()
            .video()
            .map_err(call("opening the file's decoder"))?;
        if decoder.width() > MAX_SIDE || decoder.height() > MAX_SIDE {
            return Err(FfmpegError::TooLarge {
                width: decoder.width(),
                height: decoder.height(),
            });
        }
        Ok(VideoFileReader {
            input,
            stream: index,
            decoder,
            picture: ff::frame::Video::empty(),
            to_i420: ToI420::default(),
            frame_rate,
            drained: false,
        })
    }

    /// The stream's average frame rate, when the file says.
    pub fn frame_rate(&self) -> Option<f64> {
        self.frame_rate
    }

    /// The next picture, or `None` at the end of the file.
    pub fn next_frame(&mut self) -> Result<Option<VideoFrame>, FfmpegError> {
        loop {
            if self.decoder.receive_frame(&mut self.picture).is_ok() {
                return self.to_i420.convert(&self.picture).map(Some);
            }
            if self.drained {
                return Ok(None);
            }
            match self.input.packets().next() {
                Some((stream, packet)) => {
                    if stream.index() == self.stream {
                        // A damaged packet is skipped, as players do; the
                        // decoder conceals what it can.
                        let _ = self.decoder.send_packet(&packet);
                    }
                }
                None => {
                    self.drained = true;
                    let _ = self.decoder.send_eof();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pattern::TestPattern;
    use crate::stamp;

    /// HEVC and AV1 are decode-only in calls; x265 and libaom (both in
    /// Debian's FFmpeg) make the streams here.
    fn decodes_what(library: &'static str, codec: VideoCodec, options: &[(&str, &str)]) {
        let config = EncoderConfig {
            codec,
            width: 640,
            height: 360,
            fps: 30,
            bitrate_kbps: 1500,
            threads: 1,
        };
        let mut dict = ff::Dictionary::new();
        for (k, v) in options {
            dict.set(k, v);
        }
        let mut encoder = FfmpegEncoder::with_library(library, config, dict).expect("encoder");
        let mut decoder = FfmpegDecoder::new(codec, 1).expect("decoder");
        let mut pattern = TestPattern::new(640, 360);
        let mut counters = Vec::new();
        for i in 0..12 {
            let frame = pattern.next_frame(5000 + i * 33);
            for packet in encoder.encode(&frame).expect("encode") {
                for picture in decoder.decode(&packet.data).expect("decode") {
                    assert_eq!((picture.width, picture.height), (640, 360));
                    counters.push(stamp::read(&picture).map(|s| s.counter));
                }
            }
        }
        assert!(
            counters.len() >= 8,
            "{library}: {} pictures",
            counters.len()
        );
        let read: Vec<u32> = counters.iter().flatten().copied().collect();
        assert_eq!(read.len(), counters.len(), "{library}: {counters:?}");
        assert!(read.windows(2).all(|w| w[0] < w[1]), "{read:?}");
    }

    #[test]
    fn hevc_from_x265_decodes_with_its_stamps() {
        decodes_what(
            "libx265",
            VideoCodec::H265,
            &[
                ("preset", "ultrafast"),
                ("tune", "zerolatency"),
                ("x265-params", "log-level=none"),
            ],
        );
    }

    #[test]
    fn av1_from_libaom_decodes_with_its_stamps() {
        decodes_what(
            "libaom-av1",
            VideoCodec::Av1,
            &[
                ("usage", "realtime"),
                ("cpu-used", "8"),
                ("lag-in-frames", "0"),
            ],
        );
    }

    #[test]
    fn ten_bit_pictures_come_out_as_8_bit_i420() {
        // What a main10 HEVC or AV1 stream decodes to: mid-grey luma 600
        // (of 1023), chroma 512, in full range.
        let mut picture = ff::frame::Video::new(Pixel::YUV420P10LE, 64, 48);
        for (plane, value) in [(0, 600u16), (1, 512), (2, 512)] {
            for pair in picture.data_mut(plane).chunks_exact_mut(2) {
                pair.copy_from_slice(&value.to_le_bytes());
            }
        }
        picture.set_color_range(color::Range::JPEG);
        let frame = ToI420::default().convert(&picture).expect("converted");
        assert_eq!(
            (frame.width, frame.height, frame.layout),
            (64, 48, PixelLayout::I420)
        );
        assert_eq!(frame.colour.range, ColourRange::Full);
        assert_eq!(frame.data.len(), VideoFrame::byte_len(64, 48));
        let luma = frame.luma();
        assert!(
            luma.iter().all(|&y| y.abs_diff(150) <= 1),
            "{:?}",
            &luma[..8]
        );
        assert!(frame.data[64 * 48..].iter().all(|&c| c.abs_diff(128) <= 1));
    }

    /// The stamped pattern as a Y4M file, recoded by the `ffmpeg` tool (an
    /// independent encoder and muxer) into `name`.
    fn pattern_file(dir: &std::path::Path, name: &str, codec_args: &[&str]) -> std::path::PathBuf {
        let y4m = dir.join("pattern.y4m");
        if !y4m.exists() {
            let file = std::fs::File::create(&y4m).expect("y4m");
            let header = crate::y4m::Y4mHeader {
                width: 320,
                height: 180,
                fps_num: 30,
                fps_den: 1,
                colour: ColourInfo::BT709_LIMITED,
            };
            let mut writer = crate::y4m::Y4mWriter::new(file, header).expect("writer");
            let mut pattern = TestPattern::new(320, 180);
            for i in 0..45 {
                writer
                    .write(&pattern.next_frame(1000 + i * 33))
                    .expect("frame");
            }
        }
        let out = dir.join(name);
        let status = std::process::Command::new(kh_testkit::needs::program("ffmpeg", "ffmpeg"))
            .args(["-loglevel", "error", "-y", "-i"])
            .arg(&y4m)
            .args(codec_args)
            .arg(&out)
            .status()
            .expect("running ffmpeg");
        assert!(status.success(), "ffmpeg made {name}");
        out
    }

    #[test]
    fn video_files_in_any_container_read_back_with_their_stamps() {
        let dir = tempfile::tempdir().expect("tmp");
        for (name, args) in [
            ("h264.mp4", &["-c:v", "libx264", "-pix_fmt", "yuv420p"][..]),
            ("vp9.webm", &["-c:v", "libvpx-vp9", "-b:v", "1M"][..]),
            (
                "hevc444.mkv",
                &[
                    "-c:v",
                    "libx265",
                    "-pix_fmt",
                    "yuv444p",
                    "-x265-params",
                    "log-level=none",
                ][..],
            ),
        ] {
            let path = pattern_file(dir.path(), name, args);
            let mut reader = VideoFileReader::open(&path).expect(name);
            assert_eq!(reader.frame_rate(), Some(30.0), "{name}");
            let mut counters = Vec::new();
            while let Some(frame) = reader.next_frame().expect(name) {
                assert_eq!((frame.width, frame.height), (320, 180), "{name}");
                counters.push(stamp::read(&frame).map(|s| s.counter));
            }
            let expected: Vec<Option<u32>> = (0..45).map(Some).collect();
            assert_eq!(counters, expected, "{name}: every frame, in order");
        }
    }

    #[test]
    fn a_file_that_is_not_video_or_is_cut_short_is_named_not_a_crash() {
        let dir = tempfile::tempdir().expect("tmp");
        let text = dir.path().join("notes.mp4");
        std::fs::write(&text, "the referral letter, not a video").expect("write");
        let error = VideoFileReader::open(&text).err().expect("refused");
        assert!(error.to_string().contains("opening the file"), "{error}");
        let whole = pattern_file(
            dir.path(),
            "whole.mp4",
            &[
                "-c:v",
                "libx264",
                "-pix_fmt",
                "yuv420p",
                "-movflags",
                "+faststart",
            ],
        );
        let bytes = std::fs::read(&whole).expect("read");
        let cut = dir.path().join("cut.mp4");
        std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).expect("write");
        // Either refused at open or fewer frames; never a panic or a hang.
        if let Ok(mut reader) = VideoFileReader::open(&cut) {
            let mut frames = 0;
            while let Ok(Some(_)) = reader.next_frame() {
                frames += 1;
                assert!(frames <= 45);
            }
            assert!(frames < 45, "a third of the file is gone");
        }
    }

    #[test]
    fn garbage_is_an_error_or_nothing_never_a_crash() {
        for codec in [VideoCodec::H264, VideoCodec::H265, VideoCodec::Av1] {
            let mut decoder = FfmpegDecoder::new(codec, 1).expect("decoder");
            let mut seed = 11u32;
            for len in [1usize, 7, 100, 5000] {
                let junk: Vec<u8> = (0..len)
                    .map(|_| {
                        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                        (seed >> 16) as u8
                    })
                    .collect();
                let _ = decoder.decode(&junk);
                let mut annex_b = vec![0, 0, 0, 1];
                annex_b.extend_from_slice(&junk);
                let _ = decoder.decode(&annex_b);
            }
        }
    }
}
