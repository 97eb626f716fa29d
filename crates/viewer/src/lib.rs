//! The Kakehashi viewer: a winit window drawing a slide with kh-render and
//! an egui overlay (toolbar, minimap, scale bar, status, slide images,
//! ruler, help), driven by mouse, keyboard and the console over IPC.
//!
//! It owns its main thread and window (docs/design.md §2). Nothing here blocks the
//! UI thread on decoding: tiles arrive from the renderer's workers, and
//! slides, minimaps and slide images load on threads that post results back
//! through the event loop.

mod app;
pub mod camera;
mod document;
mod findings;
mod fonts;
mod ipc_link;
mod layers;
pub mod png_file;
mod remote_video;
pub mod scalebar;

use std::path::PathBuf;

/// How the viewer was started.
#[derive(Debug, Clone, Default)]
pub struct ViewerArgs {
    pub slide: Option<PathBuf>,
    /// The console's socket to connect to.
    pub ipc: Option<PathBuf>,
    /// The folder screenshots go to: the console's requests name a file
    /// in it, and nothing else is written to.
    pub screenshots: Option<PathBuf>,
    /// Initial inner size in physical pixels.
    pub size: Option<(u32, u32)>,
    /// GPU memory for tiles in bytes (default: from the adapter).
    pub budget_bytes: Option<u64>,
    /// GPU memory for annotation layers in bytes (default:
    /// `kh_render::overlay::DEFAULT_BUDGET`).
    pub overlay_budget_bytes: Option<u64>,
    /// Decoded tiles kept in memory, in bytes (default: the slide
    /// library's).
    pub cache_bytes: Option<u64>,
    /// The largest remote-video picture it decodes (default 8K).
    pub picture_limit: Option<kh_media::PictureLimit>,
    /// Present without waiting for vertical blank (frame-rate benchmarks).
    pub no_vsync: bool,
    /// Annotation files drawn over the first slide opened.
    pub annotations: Vec<PathBuf>,
    /// The specialist's own annotations: read when the first slide opens
    /// (if the file exists), written after every change.
    pub own_annotations: Option<PathBuf>,
    /// The name the specialist's annotations carry (default: the login
    /// name).
    pub author: Option<String>,
}

/// Open the window and run until it closes (or the console says quit).
pub fn run(args: ViewerArgs) -> anyhow::Result<()> {
    app::run(args)
}
