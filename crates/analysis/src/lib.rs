//! Analyses that run in the workstation when a case arrives without
//! results. Each reads the slide through `kh-slide`, reports progress,
//! stops when cancelled, and returns its findings as annotations (level-0
//! pixels, provenance naming the analysis and its version) that any
//! annotation format can hold.
//!
//! - [`tissue`]: where the tissue is (background, dust and specks left out);
//! - [`nuclei`]: nuclei on H&E, from the haematoxylin channel ([`stain`]);
//! - [`focus`]: how sharp each tile of tissue is;
//! - [`onnx`]: any ONNX model over patches (classes or segmentation).
//!
//! The tile-by-tile analyses share [`tiles`] (which tiles, on every core)
//! and [`morphology`] (mask operations).

pub mod contour;
pub mod focus;
pub mod morphology;
pub mod nuclei;
pub mod onnx;
pub mod stain;
pub mod tiles;
pub mod tissue;

use kh_annotations::Provenance;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

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
    /// Runs `f` with progress 0–1 mapped into `from`–`to` of this run's.
    pub fn within<T>(&self, from: f32, to: f32, f: impl FnOnce(&Run) -> T) -> T {
        let progress = |p: f32| (self.progress)(from + (to - from) * p);
        f(&Run {
            progress: &progress,
            cancel: self.cancel,
        })
    }

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

/// What an analysis's findings carry as provenance: that an algorithm
/// made them, which (its name and Kakehashi's version) and when (UTC).
pub fn provenance_of(name: &str) -> Provenance {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Provenance::Algorithm {
        name: name.into(),
        version: VERSION.into(),
        when: Some(iso8601_from_unix(seconds)),
    }
}

/// Kept where provenance lives; re-exported for the console's file names.
pub use kh_annotations::iso8601_from_unix;

/// Which analysis to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Model {
    Tissue,
    Nuclei,
    Focus,
    /// An ONNX model's file.
    Onnx(std::path::PathBuf),
}

impl std::str::FromStr for Model {
    type Err = String;

    /// `tissue`, `nuclei`, `focus` or `onnx:PATH`.
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "tissue" => Ok(Model::Tissue),
            "nuclei" => Ok(Model::Nuclei),
            "focus" => Ok(Model::Focus),
            _ => match s.strip_prefix("onnx:") {
                Some(path) if !path.is_empty() => Ok(Model::Onnx(path.into())),
                _ => Err(format!(
                    "{s:?}: expected tissue, nuclei, focus or onnx:PATH"
                )),
            },
        }
    }
}

impl Model {
    /// Its name in file names and the audit trail (`onnx:` and the
    /// model's file name for ONNX).
    pub fn label(&self) -> String {
        match self {
            Model::Tissue => "tissue".into(),
            Model::Nuclei => "nuclei".into(),
            Model::Focus => "focus".into(),
            Model::Onnx(p) => format!(
                "onnx:{}",
                p.file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
            ),
        }
    }
}

/// An analysis and where it looks.
#[derive(Debug, Clone)]
pub struct Request {
    pub model: Model,
    pub level: Option<usize>,
    /// Nuclei, focus and ONNX only.
    pub region: Option<Region>,
    /// ONNX only.
    pub stride: Option<u32>,
    /// ONNX only.
    pub all_patches: bool,
}

impl Request {
    /// The whole slide (the tissue) at each analysis's own level.
    pub fn of(model: Model) -> Request {
        Request {
            model,
            level: None,
            region: None,
            stride: None,
            all_patches: false,
        }
    }
}

/// Runs the analysis a request names; its options that do not apply to
/// that analysis are refused, naming them.
pub fn analyze(
    slide: &kh_slide::Slide,
    request: &Request,
    run: &Run,
) -> Result<kh_annotations::Annotations, AnalysisError> {
    let refuse = |what: &str| {
        Err(AnalysisError::Refused(format!(
            "{what} ({})",
            request.model.label()
        )))
    };
    match &request.model {
        Model::Tissue => {
            if request.region.is_some() || request.stride.is_some() || request.all_patches {
                return refuse(
                    "--region, --stride and --all-patches do not apply to tissue detection",
                );
            }
            tissue::detect(
                slide,
                &tissue::TissueOptions {
                    level: request.level,
                    ..Default::default()
                },
                run,
            )
        }
        Model::Nuclei | Model::Focus if request.stride.is_some() || request.all_patches => {
            refuse("--stride and --all-patches apply to ONNX models only")
        }
        Model::Nuclei => nuclei::detect(
            slide,
            &nuclei::NucleiOptions {
                level: request.level,
                region: request.region,
                ..Default::default()
            },
            run,
        ),
        Model::Focus => focus::detect(
            slide,
            &focus::FocusOptions {
                level: request.level,
                region: request.region,
            },
            run,
        ),
        Model::Onnx(path) => {
            if !path.is_file() {
                return Err(AnalysisError::Refused(format!(
                    "{}: no such model file",
                    path.display()
                )));
            }
            onnx::detect(
                slide,
                &onnx::OnnxOptions {
                    model: path.clone(),
                    level: request.level,
                    region: request.region,
                    stride: request.stride,
                    all_patches: request.all_patches,
                },
                run,
            )
        }
    }
}

/// A rectangle of the slide in level-0 pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    pub x: i64,
    pub y: i64,
    pub width: u64,
    pub height: u64,
}

impl std::str::FromStr for Region {
    type Err = String;

    /// `X,Y,W,H`.
    fn from_str(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.split(',').map(str::trim).collect();
        let bad = || format!("{s:?}: expected X,Y,W,H in level-0 pixels (W and H above 0)");
        let [x, y, w, h] = parts[..] else {
            return Err(bad());
        };
        let region = Region {
            x: x.parse().map_err(|_| bad())?,
            y: y.parse().map_err(|_| bad())?,
            width: w.parse().map_err(|_| bad())?,
            height: h.parse().map_err(|_| bad())?,
        };
        if region.width == 0
            || region.height == 0
            || region.width > 1 << 32
            || region.height > 1 << 32
        {
            return Err(bad());
        }
        Ok(region)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_parse_and_bad_ones_say_why() {
        assert_eq!(
            "10, -5,300,200".parse::<Region>(),
            Ok(Region {
                x: 10,
                y: -5,
                width: 300,
                height: 200
            })
        );
        for bad in ["1,2,3", "1,2,0,4", "a,b,c,d", "1,2,3,4,5"] {
            let e = bad.parse::<Region>().unwrap_err();
            assert!(e.contains("X,Y,W,H"), "{e}");
        }
    }
}
