//! `kh-bench annotations`: the annotation targets against their reference
//! in the same run.
//!
//! 1. A QuPath GeoJSON export of N detections (`tests/bench/detections.py`,
//!    ~0.43 GB for a million): reading it, indexing it (the spatial index
//!    the viewer's hover uses) and tessellating it for the GPU, against
//!    Python's `orjson.loads` merely parsing the same bytes (best of three
//!    each). Target: at most 0.2×.
//! 2. A reopen from the binary cache (target: within 0.3 s), and with the
//!    index and mesh rebuilt.
//! 3. The overlay uploaded and the first 4K frame drawn (slide + a million
//!    objects), and the renderer's CPU time per frame (prepare + encode +
//!    submit, slide and overlay) at zooms from objects-as-markers to
//!    objects in full detail. Target: at most 2 ms.

use anyhow::{Context, Result, bail};
use kh_annotations::SpatialIndex;
use kh_render::overlay::mesh::OverlayMesh;
use kh_render::{Rotation, View, Viewport};
use serde_json::json;
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

const PARSE_TARGET_RATIO: f64 = 0.2;
const FRAME_TARGET_US: f64 = 2000.0;
const REOPEN_TARGET_S: f64 = 0.3;

#[derive(clap::Args)]
pub struct AnnotationsBenchArgs {
    /// The slide drawn under the overlay.
    #[arg(long)]
    slide: PathBuf,
    /// Detections in the generated file.
    #[arg(long, default_value_t = 1_000_000)]
    objects: usize,
    /// Where the generated file is kept between runs.
    #[arg(long, default_value = "target/bench")]
    work: PathBuf,
    /// The Python with orjson (the test venv's).
    #[arg(long, default_value = ".venv/bin/python")]
    python: PathBuf,
    /// tests/bench/detections.py.
    #[arg(long, default_value = "tests/bench/detections.py")]
    script: PathBuf,
    /// Frames timed per zoom.
    #[arg(long, default_value_t = 20)]
    frames: usize,
    #[arg(long)]
    json: Option<PathBuf>,
}

pub fn run(args: AnnotationsBenchArgs) -> Result<()> {
    std::fs::create_dir_all(&args.work)?;
    let file = args
        .work
        .join(format!("detections_{}.geojson", args.objects));
    if !file.is_file() {
        eprintln!("kh-bench: writing {} …", file.display());
        python(
            &args,
            &[
                "make".as_ref(),
                file.as_os_str(),
                args.objects.to_string().as_ref(),
            ],
        )?;
    }
    let reference: serde_json::Value =
        serde_json::from_str(&python(&args, &["parse".as_ref(), file.as_os_str()])?)?;
    let orjson_s = reference["orjson_seconds"]
        .as_f64()
        .context("the reference printed no orjson_seconds")?;

    let mut read_s = Vec::new();
    let mut prepared_s = Vec::new();
    let mut last = None;
    for _ in 0..3 {
        let start = Instant::now();
        let (_, a) = kh_annotations::read(&file)?;
        let read = start.elapsed().as_secs_f64();
        // As the viewer prepares a layer: the index beside the mesh.
        let (index, mesh) = std::thread::scope(|scope| {
            let index = scope.spawn(|| SpatialIndex::build(&a));
            let mesh = OverlayMesh::from_annotations(&a);
            (index.join(), mesh)
        });
        let index = index.map_err(|_| anyhow::anyhow!("building the index panicked"))?;
        prepared_s.push(start.elapsed().as_secs_f64());
        read_s.push(read);
        last = Some((a, index, mesh));
    }
    let (annotations, index, mesh) = last.context("no rounds")?;

    // A reopen from the binary cache (what the viewer keeps for a file).
    let stamp = kh_annotations::cache::SourceStamp::of(&file)?;
    let cache_path = args.work.join("detections.khann");
    kh_annotations::cache::write_cache(&cache_path, &annotations, stamp)?;
    let mut cache_s = Vec::new();
    let mut cache_ready_s = Vec::new();
    for _ in 0..3 {
        // As the viewer reads it: each worker reads and decodes its blocks.
        let start = Instant::now();
        let a = kh_annotations::cache::annotations_from_cache_file(
            &cache_path,
            stamp,
            &kh_annotations::Limits::default(),
        )
        .map_err(|f| anyhow::anyhow!("{}: {f}", cache_path.display()))?;
        cache_s.push(start.elapsed().as_secs_f64());
        let (index, mesh) = std::thread::scope(|scope| {
            let index = scope.spawn(|| SpatialIndex::build(&a));
            let mesh = OverlayMesh::from_annotations(&a);
            (index.join(), mesh)
        });
        drop((index, mesh));
        cache_ready_s.push(start.elapsed().as_secs_f64());
    }
    let cache_bytes = std::fs::metadata(&cache_path)?.len();
    let reopen = cache_s.iter().copied().fold(f64::INFINITY, f64::min);
    let reopen_ready = cache_ready_s.iter().copied().fold(f64::INFINITY, f64::min);
    let prepared = prepared_s.iter().copied().fold(f64::INFINITY, f64::min);
    let read = read_s.iter().copied().fold(f64::INFINITY, f64::min);

    // The first frame: upload, then the slide and the overlay drawn.
    let viewport = Viewport {
        width: 3840,
        height: 2160,
    };
    let (centre, zooms) = crate::overlay_bench::zooms_for(&annotations, viewport)?;
    let (mut stage, upload_s) =
        crate::overlay_bench::Stage::new(&args.slide, viewport, mesh, &annotations)?;
    let gpu_bytes = stage.overlay_gpu_bytes();
    let (submit_s, done_s) = stage.frame(&View {
        center_slide: centre,
        zoom: zooms[0],
        rotation: Rotation::Deg0,
    })?;
    let (submitted, first_frame) = (upload_s + submit_s, upload_s + done_s);
    let timed = stage.time_frames(centre, &zooms, args.frames)?;
    let worst_us = timed.iter().map(|z| z.cpu_us_median).fold(0.0, f64::max);
    let per_zoom: Vec<_> = timed
        .iter()
        .map(|z| {
            json!({
                "zoom": z.zoom, "frame_cpu_us_median": z.cpu_us_median,
                "draw_calls": z.draw_calls,
            })
        })
        .collect();
    let ratio = prepared / orjson_s;
    let result = json!({
        "file": file, "bytes": reference["bytes"], "objects": annotations.objects.len(),
        "orjson_parse_s": orjson_s,
        "kh_read_s": read,
        "kh_read_index_mesh_s": prepared,
        "ratio_to_orjson": ratio, "ratio_target": PARSE_TARGET_RATIO,
        "index_bytes": index.bytes(),
        "cache_bytes": cache_bytes,
        "reopen_from_cache_s": reopen, "reopen_target_s": REOPEN_TARGET_S,
        "reopen_from_cache_with_index_mesh_s": reopen_ready,
        "overlay_gpu_bytes": gpu_bytes,
        "upload_and_first_frame_submitted_s": submitted,
        "first_frame_done_s": first_frame,
        "adapter": stage.gpu.describe(),
        "frames": per_zoom,
        "frame_cpu_us_worst_median": worst_us, "frame_target_us": FRAME_TARGET_US,
    });
    println!("{result}");
    eprintln!(
        "annotations: read+index+mesh {prepared:.2} s vs orjson parse {orjson_s:.2} s = {ratio:.3}× (target ≤ {PARSE_TARGET_RATIO}×); \
         reopen from the cache {reopen:.2} s (target ≤ {REOPEN_TARGET_S} s; {reopen_ready:.2} s with index and mesh); \
         frame CPU worst median {worst_us:.0} µs (target ≤ {FRAME_TARGET_US} µs)"
    );
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&result)?)?;
    }
    Ok(())
}

fn python(args: &AnnotationsBenchArgs, rest: &[&std::ffi::OsStr]) -> Result<String> {
    let out = Command::new(&args.python)
        .arg(&args.script)
        .args(rest)
        .output()
        .with_context(|| format!("running {}", args.python.display()))?;
    if !out.status.success() {
        bail!(
            "{} failed: {}",
            args.script.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
