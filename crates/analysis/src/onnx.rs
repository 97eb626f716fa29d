//! Any ONNX model over the slide's patches, with ONNX Runtime loaded at run
//! time (the library ships with the package; `ORT_DYLIB_PATH` names
//! another).
//!
//! The conventions, which a model exported for this follows:
//! - input: the model's first input, float32 `[N, 3, H, W]` with fixed H
//!   and W (the patch size); RGB in [0, 1], then `(x − mean) / std` when
//!   the model's metadata has `mean` and `std` (three numbers each,
//!   comma-separated);
//! - patches tile the chosen level from its origin every `stride` pixels
//!   (the patch size unless told), wholly inside the level; patches less
//!   than half tissue are skipped unless every patch is asked for;
//! - an output `[N, K]` classifies patches: each becomes a `tile` object
//!   whose measurements are the K scores, named by the metadata's
//!   `classes` (comma-separated) or `class 0` … `class K−1`, classified as
//!   the highest;
//! - an output `[N, K, H', W']` segments: the arg-max class of each pixel
//!   (class 0 is background) becomes polygons of that class, per patch, in
//!   level-0 pixels;
//! - the model's graph name (else its file's name) and version are the
//!   findings' provenance.
//!
//! Patches are read and prepared on every core, a batch at a time; the
//! session runs one batch at a time with ONNX Runtime's own threads.

use crate::contour::{Mask, polygons_from_mask};
use crate::tiles::{self, Keep, Tile, level_of};
use crate::tissue::{self, TissueOptions};
use crate::{AnalysisError, Region, Run, provenance_of};
use kh_annotations::{Annotations, Geometry, Kind, Object, Point, Polygon};
use kh_slide::Slide;
use ort::ep::{self, ExecutionProvider, ExecutionProviderDispatch};
use ort::session::Session;
use ort::value::{Tensor, TensorElementType, ValueType};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// Patches a batch holds.
pub const BATCH: usize = 16;

/// A patch is read when at least this share of it is tissue.
const TISSUE_SHARE: f64 = 0.5;

/// Patches one run may walk: ten million (a 100k × 100k level in 32-pixel
/// patches). More is a mistake of level, stride or patch size, and would
/// only exhaust memory.
pub const MAX_PATCHES: u64 = 10_000_000;

/// Patch sizes accepted (a model asking for more is not a patch model).
const MAX_PATCH: i64 = 4096;

/// Classes a model may have.
const MAX_CLASSES: i64 = 4096;

/// Segmentation outlines are simplified to within this many output
/// pixels.
const OUTLINE_TOLERANCE: f64 = 0.5;

#[derive(Debug, Clone)]
pub struct OnnxOptions {
    pub model: PathBuf,
    /// The level to read (default 0).
    pub level: Option<usize>,
    /// Level-0 pixels to cover (default: the tissue).
    pub region: Option<Region>,
    /// Pixels of the level between patches (default: the patch size).
    pub stride: Option<u32>,
    /// Every patch, tissue or not.
    pub all_patches: bool,
}

/// Where ONNX Runtime was loaded from and its version, or why it could
/// not be.
pub fn runtime() -> Result<&'static RuntimeInfo, AnalysisError> {
    static LOADED: OnceLock<Result<RuntimeInfo, String>> = OnceLock::new();
    LOADED
        .get_or_init(load_runtime)
        .as_ref()
        .map_err(|e| AnalysisError::Refused(e.clone()))
}

/// The ONNX Runtime in use.
#[derive(Debug, Clone)]
pub struct RuntimeInfo {
    pub path: PathBuf,
    /// ONNX Runtime's build description (version, commit).
    pub build: String,
    /// Execution providers this build has, by ONNX Runtime's names.
    pub providers: Vec<(&'static str, bool)>,
}

/// The places ONNX Runtime is looked for: `ORT_DYLIB_PATH` alone when set;
/// else beside the executable, then where the Debian package puts it
/// (`/usr/lib/Kakehashi/onnxruntime`, found from `/usr/bin/kh` too).
pub fn runtime_candidates() -> Vec<PathBuf> {
    const NAME: &str = "libonnxruntime.so";
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
        return vec![PathBuf::from(p)];
    }
    let mut paths = Vec::new();
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        paths.push(dir.join(NAME));
        paths.push(dir.join("../lib/Kakehashi/onnxruntime").join(NAME));
    }
    paths.push(PathBuf::from("/usr/lib/Kakehashi/onnxruntime").join(NAME));
    paths
}

/// ONNX Runtime's name for a provider, whether the loaded build has it,
/// and the request for it.
type GpuProvider = (
    &'static str,
    fn() -> bool,
    fn() -> ExecutionProviderDispatch,
);

/// The GPU execution providers a session asks for, in order of
/// preference: ONNX Runtime's name, whether the loaded build has it, and
/// the request. Listed once, for `kh doctor`'s report and for sessions.
const GPU_PROVIDERS: [GpuProvider; 4] = [
    (
        "CUDAExecutionProvider",
        || ep::CUDA::default().is_available().unwrap_or(false),
        || ep::CUDA::default().build(),
    ),
    (
        "TensorrtExecutionProvider",
        || ep::TensorRT::default().is_available().unwrap_or(false),
        || ep::TensorRT::default().build(),
    ),
    (
        "CoreMLExecutionProvider",
        || ep::CoreML::default().is_available().unwrap_or(false),
        || ep::CoreML::default().build(),
    ),
    (
        "DmlExecutionProvider",
        || ep::DirectML::default().is_available().unwrap_or(false),
        || ep::DirectML::default().build(),
    ),
];

fn load_runtime() -> Result<RuntimeInfo, String> {
    let candidates = runtime_candidates();
    let Some(path) = candidates
        .iter()
        .find(|p| p.exists())
        .map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.clone()))
    else {
        let tried: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
        return Err(format!(
            "ONNX Runtime (libonnxruntime.so) was not found (looked at {}); set ORT_DYLIB_PATH to it",
            tried.join(", ")
        ));
    };
    let builder = ort::init_from(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    builder.with_name("kakehashi").commit();
    let providers = std::iter::once(("CPUExecutionProvider", true))
        .chain(
            GPU_PROVIDERS
                .iter()
                .map(|(name, present, _)| (*name, present())),
        )
        .collect();
    Ok(RuntimeInfo {
        path,
        build: ort::info().to_owned(),
        providers,
    })
}

/// What the model says about itself and how to feed it.
struct Model {
    session: Mutex<Session>,
    input: String,
    patch: (u32, u32),
    mean: [f32; 3],
    std: [f32; 3],
    classes: Option<Vec<String>>,
    name: String,
    version: Option<i64>,
}

fn model_of(path: &Path) -> Result<Model, AnalysisError> {
    let runtime = runtime()?;
    let refused = |why: String| AnalysisError::Refused(format!("{}: {why}", path.display()));
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    // Enable the GPU providers this build has (CPU when none takes).
    let providers: Vec<_> = GPU_PROVIDERS
        .iter()
        .filter(|(name, _, _)| runtime.providers.contains(&(name, true)))
        .map(|(_, _, dispatch)| dispatch())
        .collect();
    let session = Session::builder()
        .and_then(|b| b.with_intra_threads(threads).map_err(Into::into))
        .and_then(|b| b.with_execution_providers(providers).map_err(Into::into))
        .and_then(|mut b| b.commit_from_file(path))
        .map_err(|e| refused(format!("ONNX Runtime could not load it: {e}")))?;
    let Some(first) = session.inputs().first() else {
        return Err(refused("the model has no input".into()));
    };
    let input = first.name().to_owned();
    let patch = match first.dtype() {
        ValueType::Tensor {
            ty: TensorElementType::Float32,
            shape,
            ..
        } if shape.len() == 4
            && shape[1] == 3
            && (1..=MAX_PATCH).contains(&shape[2])
            && (1..=MAX_PATCH).contains(&shape[3]) =>
        {
            (shape[3] as u32, shape[2] as u32)
        }
        other => {
            return Err(refused(format!(
                "input {input:?} is {other}; expected float32 [N, 3, H, W] with fixed H and W"
            )));
        }
    };
    let metadata = session
        .metadata()
        .map_err(|e| refused(format!("its metadata: {e}")))?;
    let triple = |key: &str, default: f32| -> Result<[f32; 3], AnalysisError> {
        // ONNX Runtime answers "" for a key the model does not have.
        let Some(text) = metadata.custom(key).filter(|t| !t.trim().is_empty()) else {
            return Ok([default; 3]);
        };
        let values: Vec<f32> = text
            .split(',')
            .map(|v| v.trim().parse::<f32>())
            .collect::<Result<_, _>>()
            .map_err(|_| refused(format!("metadata {key}={text:?} is not three numbers")))?;
        match values[..] {
            [a, b, c] if values.iter().all(|v| v.is_finite()) => Ok([a, b, c]),
            _ => Err(refused(format!(
                "metadata {key}={text:?} is not three numbers"
            ))),
        }
    };
    let mean = triple("mean", 0.0)?;
    let std = triple("std", 1.0)?;
    if std.contains(&0.0) {
        return Err(refused("metadata std has a zero".into()));
    }
    let classes = metadata
        .custom("classes")
        .filter(|t| !t.trim().is_empty())
        .map(|c| c.split(',').map(|n| n.trim().to_owned()).collect());
    let name = metadata
        .name()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| {
            path.file_stem()
                .map_or("model".into(), |s| s.to_string_lossy().into_owned())
        });
    let version = metadata.version();
    drop(metadata);
    Ok(Model {
        session: Mutex::new(session),
        input,
        patch,
        mean,
        std,
        classes,
        name,
        version,
    })
}

/// One patch's result.
enum Found {
    Scores(Vec<f32>),
    /// Class per output pixel, row-major, and the output's size.
    Classes {
        labels: Vec<u16>,
        width: usize,
        height: usize,
    },
}

pub fn detect(
    slide: &Slide,
    options: &OnnxOptions,
    run: &Run,
) -> Result<Annotations, AnalysisError> {
    let level = options.level.unwrap_or(0);
    let lv = level_of(slide, level)?;
    let model = model_of(&options.model)?;
    let (pw, ph) = model.patch;
    let stride = match options.stride {
        Some(0) => return Err(AnalysisError::Refused("--stride must be at least 1".into())),
        Some(s) => (s, s),
        None => (pw, ph),
    };
    let walked = tiles::grid_count(&lv, (pw, ph), stride, true);
    if walked > MAX_PATCHES {
        return Err(AnalysisError::Refused(format!(
            "{walked} patches of {pw}×{ph} every {}×{} pixels of level {level}: more than {MAX_PATCHES}; \
             use a coarser --level or a larger --stride",
            stride.0, stride.1
        )));
    }
    // Unless every patch is asked for, patches are kept to the tissue
    // (within the region when there is one).
    let tissue = if options.all_patches {
        None
    } else {
        Some(run.within(0.0, 0.1, |run| {
            tissue::mask(slide, &TissueOptions::default(), run)
        })?)
    };
    let keep = match (options.region, &tissue) {
        (None, None) => Keep::All,
        (Some(r), None) => Keep::Region(r),
        (None, Some(t)) => Keep::Tissue {
            mask: &t.mask,
            fraction: TISSUE_SHARE,
        },
        (Some(region), Some(t)) => Keep::TissueIn {
            region,
            mask: &t.mask,
            fraction: TISSUE_SHARE,
        },
    };
    let patches = tiles::grid(&lv, (pw, ph), stride, true, &keep);
    let batches: Vec<&[Tile]> = patches.chunks(BATCH).collect();
    let found = tiles::for_each(
        &batches,
        run,
        (0.1, 1.0),
        Batch::default,
        |batch, scratch| infer(slide, level, &model, batch, scratch),
    )?;

    let mut out = Annotations::default();
    out.provenance_id(provenance_of(&match model.version {
        Some(v) => format!("onnx {} (model version {v})", model.name),
        None => format!("onnx {}", model.name),
    }));
    let ds = lv.downsample;
    let class_name = |k: usize| -> String {
        model
            .classes
            .as_ref()
            .and_then(|c| c.get(k).cloned())
            .unwrap_or_else(|| format!("class {k}"))
    };
    for (patch, result) in patches.iter().zip(found.into_iter().flatten()) {
        let (x0, y0) = (patch.x as f64 * ds, patch.y as f64 * ds);
        match result {
            Found::Scores(scores) => {
                let best = first_max(scores.iter().copied());
                let mut o = Object::new(Kind::Tile, patch.footprint(ds));
                o.class = Some(out.class_id(&class_name(best), None));
                o.provenance = 1;
                o.measurements = scores
                    .iter()
                    .enumerate()
                    .map(|(k, &s)| (out.measurement_id(&class_name(k)), f64::from(s)))
                    .collect();
                out.objects.push(o);
            }
            Found::Classes {
                labels,
                width,
                height,
            } => {
                // Output pixels to level-0 pixels.
                let (sx, sy) = (
                    f64::from(pw) / width as f64 * ds,
                    f64::from(ph) / height as f64 * ds,
                );
                let top = labels.iter().copied().max().unwrap_or(0);
                for k in 1..=top {
                    let mask = Mask {
                        width,
                        height,
                        data: labels.iter().map(|&l| l == k).collect(),
                    };
                    if !mask.data.contains(&true) {
                        continue;
                    }
                    let class = out.class_id(&class_name(usize::from(k)), None);
                    for p in polygons_from_mask(&mask, OUTLINE_TOLERANCE) {
                        let to_level0 = |q: &Point| Point::new(x0 + q.x * sx, y0 + q.y * sy);
                        let polygon = Polygon {
                            exterior: p.exterior.iter().map(to_level0).collect(),
                            holes: p
                                .holes
                                .iter()
                                .map(|h| h.iter().map(to_level0).collect())
                                .collect(),
                        };
                        let mut o = Object::new(Kind::Detection, Geometry::Polygon(polygon));
                        o.class = Some(class);
                        o.provenance = 1;
                        out.objects.push(o);
                    }
                }
            }
        }
    }
    Ok(out)
}

/// A worker's buffers.
#[derive(Default)]
struct Batch {
    rgba: Vec<u8>,
}

/// Reads a batch of patches, runs the model on them, and returns each
/// patch's result.
fn infer(
    slide: &Slide,
    level: usize,
    model: &Model,
    patches: &[Tile],
    scratch: &mut Batch,
) -> Result<Vec<Found>, AnalysisError> {
    let (pw, ph) = (model.patch.0 as usize, model.patch.1 as usize);
    let plane = pw * ph;
    let mut input = vec![0f32; patches.len() * 3 * plane];
    for (i, t) in patches.iter().enumerate() {
        slide.read_level_rect(level, t.x, t.y, pw as u32, ph as u32, &mut scratch.rgba)?;
        let base = i * 3 * plane;
        for (k, px) in scratch.rgba.chunks_exact(4).enumerate() {
            for c in 0..3 {
                input[base + c * plane + k] =
                    (f32::from(px[c]) / 255.0 - model.mean[c]) / model.std[c];
            }
        }
    }
    let n = patches.len();
    let tensor = Tensor::from_array(([n, 3, ph, pw], input))
        .map_err(|e| AnalysisError::Refused(format!("a batch's input: {e}")))?;
    let mut session = model.session.lock().unwrap_or_else(|p| p.into_inner());
    let outputs = session
        .run(vec![(model.input.as_str(), tensor)])
        .map_err(|e| AnalysisError::Refused(format!("the model failed on a batch: {e}")))?;
    let (shape, values) = outputs[0]
        .try_extract_tensor::<f32>()
        .map_err(|e| AnalysisError::Refused(format!("its first output is not float32: {e}")))?;
    let dims: Vec<i64> = shape.to_vec();
    let bad_shape = || {
        AnalysisError::Refused(format!(
            "its first output is {dims:?}; expected [N, K] (classes) or [N, K, H, W] (segmentation) with N = {n}"
        ))
    };
    match dims[..] {
        [b, k] if b == n as i64 && (1..=MAX_CLASSES).contains(&k) => {
            let k = k as usize;
            Ok(values
                .chunks_exact(k)
                .map(|s| Found::Scores(s.to_vec()))
                .collect())
        }
        [b, k, h, w]
            if b == n as i64
                && (1..=MAX_CLASSES.min(i64::from(u16::MAX))).contains(&k)
                && (1..=MAX_PATCH).contains(&h)
                && (1..=MAX_PATCH).contains(&w) =>
        {
            let (k, h, w) = (k as usize, h as usize, w as usize);
            let per = h * w;
            Ok(values
                .chunks_exact(k * per)
                .map(|scores| {
                    let labels = (0..per)
                        .map(|p| first_max((0..k).map(|c| scores[c * per + p])) as u16)
                        .collect();
                    Found::Classes {
                        labels,
                        width: w,
                        height: h,
                    }
                })
                .collect())
        }
        _ => Err(bad_shape()),
    }
}

/// The index of the greatest value, the first on a tie (as numpy's
/// `argmax`); NaN never wins.
fn first_max(values: impl Iterator<Item = f32>) -> usize {
    let mut best = (0, f32::NEG_INFINITY);
    for (i, v) in values.enumerate() {
        if v > best.1 {
            best = (i, v);
        }
    }
    best.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_of_equal_scores_wins() {
        assert_eq!(first_max([0.1, 0.7, 0.7, 0.2].into_iter()), 1);
        assert_eq!(first_max([f32::NAN, 0.0].into_iter()), 1);
        assert_eq!(first_max(std::iter::empty()), 0);
    }
}
