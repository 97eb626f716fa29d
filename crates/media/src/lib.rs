//! Media for calls: frames as planar YUV with their colour description,
//! sources (a moving test pattern with a machine-readable stamp burned in,
//! Y4M files), VP8/VP9 through libvpx, H.264 encode and H.264/HEVC/AV1
//! decode through FFmpeg (on NVENC/NVDEC, VA-API, VideoToolbox or Media
//! Foundation where the machine has them), and Opus audio.
//!
//! Codecs live behind small owned types ([`codec::VideoEncoder`],
//! [`codec::VideoDecoder`], [`audio::OpusEncoder`], [`audio::OpusDecoder`])
//! so the call engine never touches the C libraries.

pub mod audio;
pub mod codec;
pub mod edge;
pub mod ffmpeg;
pub mod frame;
pub mod ivf;
pub mod pattern;
pub mod picture_size;
pub mod raw;
pub mod stamp;
#[allow(
    unsafe_code,
    reason = "FFmpeg's hardware device and surface contexts have no safe binding in ffmpeg-next"
)]
pub mod vaapi;
#[allow(unsafe_code, reason = "libvpx is a C library")]
pub mod vpx;
pub mod y4m;

pub use codec::{EncodedFrame, EncoderConfig, VideoCodec, VideoDecoder, VideoEncoder};
pub use frame::{ColourInfo, ColourMatrix, ColourRange, VideoFrame};
pub use picture_size::PictureLimit;
pub use stamp::Stamp;
