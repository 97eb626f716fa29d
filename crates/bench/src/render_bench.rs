//! `kh-bench render`: the renderer's speed targets, each against its
//! reference measured in the same run.
//!
//! 1. Open to a complete full-resolution view (a fresh open, empty caches)
//!    against the floor: decoding just that view's tiles on the same
//!    threads. Rounds alternate so machine noise hits both alike. Two
//!    marks: every visible tile resident on the GPU (uploaded, mips built),
//!    and the first full-detail frame finished. While loading, frames are
//!    prepared (uploads, mips) but not drawn: on a GPU an intermediate
//!    frame costs well under a millisecond, but on a software rasteriser a
//!    4K frame takes seconds of the very cores that decode.
//! 2. Renderer CPU time per frame (prepare + encode + submit) at a
//!    fractional zoom with every tile resident, against the 1 ms target.
//! 3. A scripted pan across the whole slide in real time, logging per frame
//!    the GPU bytes held and the tiles resident, against the budget.

use anyhow::{Context, Result, bail};
use kh_render::offscreen::Target;
use kh_render::pyramid::{self, RenderLevel};
use kh_render::{Adjustments, Gpu, RendererOptions, Rotation, SlideRenderer, View, Viewport};
use kh_slide::Slide;
use serde_json::json;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use crate::samples::{median, percentile};

/// The CPU-time target per frame.
const FRAME_TARGET_US: f64 = 1000.0;

#[derive(clap::Args)]
pub struct RenderBenchArgs {
    file: PathBuf,
    #[arg(long, default_value_t = 3840)]
    width: u32,
    #[arg(long, default_value_t = 2160)]
    height: u32,
    /// Rounds of open-to-complete and of the decode floor (alternating).
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Frames timed for the CPU time per frame.
    #[arg(long, default_value_t = 300)]
    frames: usize,
    /// Length of the scripted pan.
    #[arg(long, default_value_t = 60.0)]
    pan_seconds: f64,
    /// Viewport of the pan, WIDTHxHEIGHT (default: --width x --height).
    #[arg(long)]
    pan_size: Option<String>,
    /// GPU budget for the pan, small enough that tiles are evicted.
    #[arg(long, default_value_t = 256)]
    pan_budget_mib: u64,
    /// Per-frame log of the pan (CSV).
    #[arg(long)]
    pan_log: Option<PathBuf>,
    /// Decoding threads for both the renderer and the floor (default: one
    /// per core).
    #[arg(long)]
    threads: Option<usize>,
    /// Write the summary here as well as to standard output.
    #[arg(long)]
    json: Option<PathBuf>,
}

pub fn run(args: RenderBenchArgs) -> Result<()> {
    if args.width == 0 || args.height == 0 || args.rounds == 0 {
        bail!("--width, --height and --rounds must be at least 1");
    }
    let threads = args.threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let viewport = Viewport {
        width: args.width,
        height: args.height,
    };
    let gpu = Gpu::headless()?;
    let adapter = gpu.describe();
    eprintln!("render-bench on {adapter}, {threads} decoding threads");
    let target = Target::new(&gpu, viewport)?;
    let (width, height) = Slide::open(&args.file)?.dimensions();
    // Full resolution at the slide's centre: the view a pathologist opens
    // at 40x.
    let full = View {
        center_slide: [width as f64 / 2.0, height as f64 / 2.0],
        zoom: 1.0,
        rotation: Rotation::Deg0,
    };

    // 1. Open to complete, against the decode floor.
    let mut resident_ms = Vec::new();
    let mut open_ms = Vec::new();
    let mut floor_ms = Vec::new();
    let mut visible_tiles = 0;
    for round in 0..args.rounds {
        let opened = open_to_complete(&gpu, &target, &args.file, &full, threads)?;
        resident_ms.push(opened.resident_ms);
        open_ms.push(opened.complete_ms);
        visible_tiles = opened.visible_tiles;
        floor_ms.push(decode_floor(&args.file, &full, viewport, threads)?);
        eprintln!(
            "round {}: open to tiles resident {:.1} ms, to complete frame {:.1} ms; decode floor {:.1} ms",
            round + 1,
            opened.resident_ms,
            opened.complete_ms,
            floor_ms[round]
        );
    }
    let resident_median = median(&mut resident_ms).unwrap_or(f64::NAN);
    let open_median = median(&mut open_ms).unwrap_or(f64::NAN);
    let floor_median = median(&mut floor_ms).unwrap_or(f64::NAN);

    // 2. CPU time per frame, everything resident, fractional zoom.
    let slide = Arc::new(Slide::open(&args.file)?);
    let options = RendererOptions {
        threads: Some(threads),
        ..Default::default()
    };
    let mut renderer = SlideRenderer::new(&gpu.device, slide.clone(), &options, Arc::new(|| {}))?;
    let fractional = View { zoom: 1.37, ..full };
    target.render_complete(&gpu, &mut renderer, &fractional, &Adjustments::default())?;
    // Let the prefetch (ring, neighbouring levels) finish too, so the timed
    // frames upload nothing: the steady state of a view at rest.
    loop {
        target.draw(&gpu, &mut renderer, &fractional, &Adjustments::default());
        wait_idle(&gpu)?;
        let stats = renderer.stats();
        if stats.loading == 0 && stats.uploaded == 0 {
            break;
        }
        renderer.wait_for_tile(kh_render::offscreen::TILE_TIMEOUT);
    }
    let mut frame_us = Vec::with_capacity(args.frames);
    for _ in 0..args.frames {
        let start = Instant::now();
        target.draw(&gpu, &mut renderer, &fractional, &Adjustments::default());
        frame_us.push(start.elapsed().as_secs_f64() * 1e6);
        wait_idle(&gpu)?;
    }
    let frame_median = median(&mut frame_us).unwrap_or(f64::NAN);
    let frame_p95 = percentile(&frame_us, 0.95).unwrap_or(f64::NAN);
    let resident = renderer.stats().visible_resident == renderer.stats().visible_tiles;
    drop(renderer);

    // 3. The pan.
    let pan_viewport = match &args.pan_size {
        Some(size) => {
            let (width, height) = crate::parse_size("--pan-size", size)?;
            Viewport { width, height }
        }
        None => viewport,
    };
    let pan_target = Target::new(&gpu, pan_viewport)?;
    let pan = pan(&gpu, &pan_target, slide, &args, threads)?;

    let summary = json!({
        "adapter": adapter,
        "slide": args.file,
        "slide_size": [width, height],
        "viewport": [args.width, args.height],
        "threads": threads,
        "open_to_complete": {
            "visible_tiles": visible_tiles,
            "rounds": args.rounds,
            "resident_ms_median": resident_median,
            "complete_ms_median": open_median,
            "decode_floor_ms_median": floor_median,
            "resident_ratio": resident_median / floor_median,
            "complete_ratio": open_median / floor_median,
            "target_ratio": 1.25,
        },
        "frame_cpu": {
            "zoom": fractional.zoom,
            "all_resident": resident,
            "frames": args.frames,
            "median_us": frame_median,
            "p95_us": frame_p95,
            "ratio_to_target": frame_median / FRAME_TARGET_US,
            "target_us": FRAME_TARGET_US,
        },
        "pan": pan,
    });
    let text = serde_json::to_string_pretty(&summary)?;
    println!("{text}");
    if let Some(path) = &args.json {
        std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))?;
    }
    println!(
        "open to a full-resolution {}x{} view ({visible_tiles} tiles): decode floor {floor_median:.0} ms; tiles resident {resident_median:.0} ms (ratio {:.2}); first complete frame {open_median:.0} ms (ratio {:.2}; target <= 1.25)",
        args.width,
        args.height,
        resident_median / floor_median,
        open_median / floor_median
    );
    println!(
        "renderer CPU per frame: median {frame_median:.0} us, p95 {frame_p95:.0} us, ratio to the 1 ms target {:.2}",
        frame_median / FRAME_TARGET_US
    );
    println!(
        "pan {:.0} s at {}x{}: {} frames ({:.1} fps on this adapter), GPU bytes held at most {} of a {} budget, resident tiles at most {} bytes",
        pan["seconds"].as_f64().unwrap_or(0.0),
        pan_viewport.width,
        pan_viewport.height,
        pan["frames"],
        pan["fps"].as_f64().unwrap_or(0.0),
        pan["gpu_bytes_max"],
        pan["budget_bytes"],
        pan["resident_bytes_max"],
    );
    if pan["gpu_bytes_max"].as_u64() > pan["budget_bytes"].as_u64() {
        bail!("the renderer held more GPU memory than its budget");
    }
    Ok(())
}

struct Opened {
    /// Every visible tile on the GPU, mips built.
    resident_ms: f64,
    /// The first full-detail frame finished by the GPU.
    complete_ms: f64,
    visible_tiles: usize,
}

/// From nothing open to the view complete.
fn open_to_complete(
    gpu: &Gpu,
    target: &Target,
    file: &PathBuf,
    view: &View,
    threads: usize,
) -> Result<Opened> {
    let start = Instant::now();
    let slide = Arc::new(Slide::open(file)?);
    let options = RendererOptions {
        threads: Some(threads),
        ..Default::default()
    };
    let mut renderer = SlideRenderer::new(&gpu.device, slide, &options, Arc::new(|| {}))?;
    loop {
        let mut encoder = gpu
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("uploads"),
            });
        renderer.prepare(
            &gpu.queue,
            &mut encoder,
            view,
            target.viewport,
            &Adjustments::default(),
        );
        gpu.queue.submit([encoder.finish()]);
        if renderer.is_complete() {
            break;
        }
        if !renderer.wait_for_tile(kh_render::offscreen::TILE_TIMEOUT) {
            bail!("the view did not complete: tiles stopped arriving");
        }
    }
    wait_idle(gpu)?;
    let resident_ms = start.elapsed().as_secs_f64() * 1e3;
    target.draw(gpu, &mut renderer, view, &Adjustments::default());
    wait_idle(gpu)?;
    let complete_ms = start.elapsed().as_secs_f64() * 1e3;
    let errors = renderer.take_errors();
    if !errors.is_empty() {
        bail!("tiles failed: {}", errors.join("; "));
    }
    Ok(Opened {
        resident_ms,
        complete_ms,
        visible_tiles: renderer.stats().visible_tiles,
    })
}

/// From nothing open to the view's visible tiles decoded, on `threads`
/// threads, reading exactly what the renderer's loader reads.
fn decode_floor(file: &PathBuf, view: &View, viewport: Viewport, threads: usize) -> Result<f64> {
    let start = Instant::now();
    let slide = Slide::open(file)?;
    let levels: Vec<RenderLevel> = slide
        .levels()
        .iter()
        .map(RenderLevel::from_slide_level)
        .collect();
    let plan = pyramid::plan_view(&levels, None, view, viewport, usize::MAX);
    let next = AtomicUsize::new(0);
    let failures = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let mut pixels = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(key) = plan.visible.get(i) else {
                        return;
                    };
                    if kh_render::loader::read_tile(&slide, &levels, *key, &mut pixels).is_err() {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    if failures.load(Ordering::Relaxed) > 0 {
        bail!("tiles failed to decode in the floor measurement");
    }
    Ok(start.elapsed().as_secs_f64() * 1e3)
}

/// A serpentine across the whole slide in real time, the zoom swinging
/// between 1.5 and 3 level-0 pixels per screen pixel (level changes and
/// fresh tiles all the way), with a small budget so tiles are evicted.
fn pan(
    gpu: &Gpu,
    target: &Target,
    slide: Arc<Slide>,
    args: &RenderBenchArgs,
    threads: usize,
) -> Result<serde_json::Value> {
    let budget = args.pan_budget_mib << 20;
    let options = RendererOptions {
        budget_bytes: Some(budget),
        threads: Some(threads),
        ..Default::default()
    };
    let (width, height) = slide.dimensions();
    let mut renderer = SlideRenderer::new(&gpu.device, slide, &options, Arc::new(|| {}))?;
    let mut log = match &args.pan_log {
        Some(path) => {
            let mut f = std::io::BufWriter::new(
                std::fs::File::create(path)
                    .with_context(|| format!("creating {}", path.display()))?,
            );
            writeln!(
                f,
                "t_s,center_x,center_y,zoom,level,visible_tiles,visible_resident,uploaded,resident_bytes,gpu_bytes,budget_bytes,frame_cpu_us,frame_ms"
            )?;
            Some(f)
        }
        None => None,
    };
    let rows = 6u32;
    let seconds = args.pan_seconds.max(1.0);
    let (w, h) = (width as f64, height as f64);
    let position = |t: f64| -> [f64; 2] {
        // Rows of the serpentine, each crossed in an equal share of time.
        let along = (t / seconds).clamp(0.0, 1.0) * f64::from(rows);
        let row = (along.floor() as u32).min(rows - 1);
        let f = along - f64::from(row);
        let y = (f64::from(row) + 0.5) / f64::from(rows) * h;
        let x = if row.is_multiple_of(2) {
            f * w
        } else {
            (1.0 - f) * w
        };
        [x, y]
    };
    let start = Instant::now();
    let (mut frames, mut complete_frames) = (0u64, 0u64);
    let (mut gpu_max, mut resident_max) = (0u64, 0u64);
    let mut frame_ms = Vec::new();
    loop {
        let t = start.elapsed().as_secs_f64();
        if t >= seconds {
            break;
        }
        let zoom = 2.25 + 0.75 * (t * 0.7).sin();
        let view = View {
            center_slide: position(t),
            zoom,
            rotation: Rotation::Deg0,
        };
        let frame_start = Instant::now();
        target.draw(gpu, &mut renderer, &view, &Adjustments::default());
        let cpu_us = frame_start.elapsed().as_secs_f64() * 1e6;
        wait_idle(gpu)?;
        let ms = frame_start.elapsed().as_secs_f64() * 1e3;
        frame_ms.push(ms);
        let stats = renderer.stats();
        frames += 1;
        if stats.visible_resident == stats.visible_tiles {
            complete_frames += 1;
        }
        gpu_max = gpu_max.max(stats.gpu_bytes);
        resident_max = resident_max.max(stats.resident_bytes);
        if let Some(f) = &mut log {
            writeln!(
                f,
                "{t:.4},{:.1},{:.1},{zoom:.4},{},{},{},{},{},{},{budget},{cpu_us:.0},{ms:.2}",
                view.center_slide[0],
                view.center_slide[1],
                stats.level,
                stats.visible_tiles,
                stats.visible_resident,
                stats.uploaded,
                stats.resident_bytes,
                stats.gpu_bytes,
            )?;
        }
    }
    if let Some(mut f) = log {
        f.flush()?;
    }
    let errors = renderer.take_errors();
    if !errors.is_empty() {
        bail!("tiles failed during the pan: {}", errors.join("; "));
    }
    let elapsed = start.elapsed().as_secs_f64();
    Ok(json!({
        "seconds": elapsed,
        "frames": frames,
        "fps": frames as f64 / elapsed,
        "frame_ms_median": median(&mut frame_ms),
        "frames_at_full_detail": complete_frames as f64 / frames.max(1) as f64,
        "budget_bytes": budget,
        "gpu_bytes_max": gpu_max,
        "resident_bytes_max": resident_max,
        "viewport": [target.viewport.width, target.viewport.height],
        "log": args.pan_log,
    }))
}

fn wait_idle(gpu: &Gpu) -> Result<()> {
    gpu.device
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(|e| anyhow::anyhow!("waiting for the GPU: {e}"))?;
    Ok(())
}
