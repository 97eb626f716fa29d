//! Media for calls: frames as planar YUV with their colour description,
//! sources (a moving test pattern with a machine-readable stamp burned in,
//! Y4M files), VP8/VP9 through libvpx and Opus audio.
//!
//! Codecs live behind small owned types ([`vpx::VideoEncoder`],
//! [`vpx::VideoDecoder`], [`audio::OpusEncoder`], [`audio::OpusDecoder`])
//! so the call engine never touches the C libraries.

pub mod audio;
pub mod frame;
pub mod pattern;
pub mod stamp;
pub mod vpx;
pub mod y4m;

pub use frame::{ColourInfo, ColourMatrix, ColourRange, VideoFrame};
pub use stamp::Stamp;
