//! Kakehashi's GPU renderer (wgpu): draws a whole-slide image's tile pyramid
//! into a window surface or an offscreen texture.
//!
//! - [`pyramid`] decides which level a zoom draws and which tiles a view
//!   wants, best first;
//! - [`loader`] decodes them on worker threads, cancelling what left view;
//! - [`residency`] keeps them in a fixed pool of GPU slots (LRU);
//! - [`renderer`] uploads, builds mips and draws everything in one pass
//!   (`shaders/tile.wgsl`), falling back to coarser levels per pixel;
//! - [`overlay`] draws annotations over the slide (fills, outlines,
//!   markers; small objects as markers), geometry uploaded once;
//! - [`offscreen`] renders to memory: `kh render`, tests, screenshots.

pub mod gpu;
pub mod loader;
pub mod offscreen;
pub mod overlay;
pub mod pyramid;
pub mod renderer;
pub mod residency;
pub mod video;
pub mod view;

pub use gpu::Gpu;
pub use renderer::{FrameStats, RendererOptions, SlideRenderer};
pub use view::{Adjustments, Rotation, View, Viewport};

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("GPU: {0}")]
    Gpu(String),
    #[error("{0}")]
    Limit(String),
    #[error("slide: {0}")]
    Slide(String),
    #[error("the view did not complete: {0}")]
    Incomplete(String),
}
