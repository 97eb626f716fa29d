//! Analyses that run in the workstation when a case arrives without
//! results. Each reads the slide through `kh-slide`, reports progress,
//! stops when cancelled, and returns its findings as annotations (level-0
//! pixels, provenance naming the analysis and its version) that any
//! annotation format can hold.
//!
//! - [`tissue`]: where the tissue is (background, dust and specks left out).

pub mod contour;
pub mod tissue;

use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    #[error("{0}")]
    Slide(#[from] kh_slide::SlideError),
    #[error("cancelled")]
    Cancelled,
    #[error("{0}")]
    Refused(String),
}

/// What an analysis is told as it runs: where to report progress (0 to 1)
/// and a flag that stops it.
pub struct Run<'a> {
    pub progress: &'a (dyn Fn(f32) + Sync),
    pub cancel: &'a AtomicBool,
}

impl Run<'_> {
    pub fn check(&self, done: f32) -> Result<(), AnalysisError> {
        if self.cancel.load(Ordering::Relaxed) {
            return Err(AnalysisError::Cancelled);
        }
        (self.progress)(done.clamp(0.0, 1.0));
        Ok(())
    }
}

/// The version analyses put in their provenance.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
