//! `kh render`: draw a view of a slide offscreen with the viewer's renderer.

use anyhow::{Context, Result, bail};
use kh_i18n::tr;
use kh_render::offscreen::Target;
use kh_render::overlay::mesh::OverlayMesh;
use kh_render::overlay::{AnnotationOverlay, ColourBy, OverlayStyle};
use kh_render::{Adjustments, Gpu, RendererOptions, Rotation, SlideRenderer, View, Viewport};
use kh_slide::Slide;
use kh_viewer::png_file as png_out;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(clap::Args)]
pub struct RenderArgs {
    file: PathBuf,
    #[arg(long, default_value_t = 1920)]
    width: u32,
    #[arg(long, default_value_t = 1080)]
    height: u32,
    #[arg(long, allow_hyphen_values = true)]
    center_x: Option<f64>,
    #[arg(long, allow_hyphen_values = true)]
    center_y: Option<f64>,
    #[arg(long)]
    zoom: Option<f64>,
    #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
    rotation: i64,
    #[arg(long, default_value_t = 0.0, allow_hyphen_values = true)]
    brightness: f32,
    #[arg(long, default_value_t = 1.0)]
    contrast: f32,
    #[arg(long, default_value_t = 1.0)]
    gamma: f32,
    #[arg(long)]
    budget_mib: Option<u64>,
    #[arg(long, default_value = "render.png")]
    out: PathBuf,
    #[arg(long, default_value_t = 0)]
    frames: usize,
    #[arg(long = "annotations")]
    annotations: Vec<PathBuf>,
    #[arg(long, default_value_t = 0.25)]
    fill_opacity: f32,
    #[arg(long, default_value_t = 1.5)]
    outline_px: f32,
    #[arg(long = "hide-class")]
    hide_class: Vec<String>,
    #[arg(long)]
    heatmap: Option<String>,
    #[arg(long)]
    overlay_budget_mib: Option<u64>,
    #[arg(long, value_parser = range_from_arg)]
    heatmap_range: Option<(f64, f64)>,
}

/// `LOW,HIGH`, finite, LOW below HIGH.
fn range_from_arg(s: &str) -> Result<(f64, f64), String> {
    let bad = || format!("{s:?}: expected LOW,HIGH (two finite numbers, LOW below HIGH)");
    let (lo, hi) = s.split_once(',').ok_or_else(bad)?;
    let (lo, hi): (f64, f64) = (
        lo.trim().parse().map_err(|_| bad())?,
        hi.trim().parse().map_err(|_| bad())?,
    );
    if !(lo.is_finite() && hi.is_finite() && lo < hi) {
        return Err(bad());
    }
    Ok((lo, hi))
}

pub fn run(args: RenderArgs) -> Result<()> {
    if args.width == 0 || args.height == 0 {
        bail!(tr!("cli-size-at-least-one"));
    }
    let rotation = Rotation::from_degrees(args.rotation)
        .with_context(|| tr!("cli-rotation", degrees = args.rotation.to_string()))?;
    let slide = Arc::new(Slide::open(&args.file)?);
    let reference = kh_annotations::dicom::SlideReference::from_properties(slide.properties());
    let on_slide = kh_annotations::OnSlide {
        size: Some(slide.dimensions()),
        dicom: reference.as_ref(),
    };
    let viewport = Viewport {
        width: args.width,
        height: args.height,
    };
    let fit = View::fit(slide.dimensions(), viewport, rotation);
    let zoom = args.zoom.unwrap_or(fit.zoom);
    within(
        "--zoom",
        zoom,
        zoom,
        kh_render::view::MIN_ZOOM,
        kh_render::view::MAX_ZOOM,
    )?;
    let view = View {
        center_slide: [
            args.center_x.unwrap_or(fit.center_slide[0]),
            args.center_y.unwrap_or(fit.center_slide[1]),
        ],
        zoom,
        rotation,
    };
    let adjustments = Adjustments {
        brightness: args.brightness,
        contrast: args.contrast,
        gamma: args.gamma,
    };
    let gpu = Gpu::headless()?;
    tracing::info!("rendering on {}", gpu.describe());
    let options = RendererOptions {
        budget_bytes: args.budget_mib.map(|m| m << 20),
        ..Default::default()
    };
    let mut renderer = SlideRenderer::new(&gpu.device, slide, &options, Arc::new(|| {}))?;
    let (opacity, outline) = (args.fill_opacity, args.outline_px);
    within("--fill-opacity", opacity, f64::from(opacity), 0.0, 1.0)?;
    within("--outline-px", outline, f64::from(outline), 0.0, 64.0)?;
    let mut files = Vec::new();
    for file in &args.annotations {
        let limits = kh_annotations::Limits::default();
        let read = kh_annotations::read_for_slide(file, &limits, on_slide)?;
        files.push((file, read.1));
    }
    let colour_by = match (&args.heatmap, args.heatmap_range) {
        (None, None) => None,
        (None, Some(_)) => bail!(tr!("cli-heatmap-range-alone")),
        (Some(name), range) => {
            let (low, high) = match range {
                Some(r) => r,
                None => files
                    .iter()
                    .filter_map(|(_, a)| a.measurement_range(name))
                    .reduce(|(a, b), (c, d)| (a.min(c), b.max(d)))
                    .with_context(|| tr!("cli-heatmap-nothing", name = name.as_str()))?,
            };
            Some(ColourBy {
                measurement: name.clone(),
                low,
                high,
            })
        }
    };
    let style = OverlayStyle {
        fill_opacity: args.fill_opacity,
        outline_px: args.outline_px,
        hidden_classes: args.hide_class.iter().cloned().collect(),
        colour_by,
        ..OverlayStyle::default()
    };
    let mut overlays = Vec::new();
    let mut objects = 0;
    let budget = args
        .overlay_budget_mib
        .map_or(kh_render::overlay::DEFAULT_BUDGET, |m| {
            m.saturating_mul(1 << 20)
        });
    let mut used = 0u64;
    for (file, annotations) in &files {
        objects += annotations.objects.len();
        let mesh = OverlayMesh::from_annotations(annotations);
        kh_render::overlay::fits_budget(used, mesh.gpu_bytes(), budget)
            .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
        used += mesh.gpu_bytes();
        let overlay = AnnotationOverlay::from_mesh(&gpu.device, mesh, annotations, style.clone())
            .with_context(|| tr!("cli-drawing", path = file.display().to_string()))?;
        overlays.push(overlay);
    }
    let target = Target::new(&gpu, viewport)?;
    let pixels =
        target.render_complete_with(&gpu, &mut renderer, &mut overlays, &view, &adjustments)?;
    let gpu_errors = gpu.take_errors();
    if !gpu_errors.is_empty() {
        bail!(tr!("cli-gpu-errors", errors = gpu_errors.join("; ")));
    }
    for error in renderer.take_errors() {
        eprintln!(
            "{}",
            kh_i18n::tr!("cli-warning", problem = error.to_string())
        );
    }
    png_out::write_rgba(&args.out, args.width, args.height, &pixels)?;
    let mut frame_us = Vec::with_capacity(args.frames);
    let mut frame_done_ms = Vec::with_capacity(args.frames);
    for _ in 0..args.frames {
        let start = std::time::Instant::now();
        target.draw_with(&gpu, &mut renderer, &mut overlays, &view, &adjustments);
        frame_us.push(start.elapsed().as_secs_f64() * 1e6);
        gpu.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| anyhow::anyhow!(tr!("cli-waiting-for-gpu", problem = e.to_string())))?;
        frame_done_ms.push(start.elapsed().as_secs_f64() * 1e3);
    }
    let median_us = median(&mut frame_us);
    let done_ms = median(&mut frame_done_ms);
    let stats = renderer.stats();
    println!(
        "{}",
        serde_json::json!({
            "out": args.out, "view": view, "level": stats.level,
            "visible_tiles": stats.visible_tiles, "adapter": gpu.describe(),
            "frames": args.frames, "frame_cpu_us_median": median_us,
            "frame_until_gpu_done_ms_median": done_ms,
            "gpu_bytes": stats.gpu_bytes, "resident_bytes": stats.resident_bytes,
            "annotation_objects": objects,
            "annotation_gpu_bytes": overlays.iter().map(AnnotationOverlay::gpu_bytes).sum::<u64>(),
            "annotation_draw_calls": overlays.iter().map(AnnotationOverlay::draw_calls).sum::<usize>(),
        })
    );
    Ok(())
}

/// The median (upper middle for an even count); `None` for no samples.
fn median(samples: &mut [f64]) -> Option<f64> {
    samples.sort_by(f64::total_cmp);
    samples.get(samples.len() / 2).copied()
}

/// `value` of `flag` (written as the user gave it: `shown`) is a finite
/// number from `low` to `high`, or kh says which flag is outside which
/// range.
fn within(
    flag: &str,
    shown: impl std::fmt::Display,
    value: f64,
    low: f64,
    high: f64,
) -> Result<()> {
    if value.is_finite() && (low..=high).contains(&value) {
        return Ok(());
    }
    bail!(tr!(
        "cli-outside",
        flag = flag,
        value = shown.to_string(),
        low = low.to_string(),
        high = high.to_string()
    ))
}
