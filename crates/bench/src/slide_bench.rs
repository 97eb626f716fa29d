//! `kh-bench slide`: random region reads, the workload of analysis jobs and
//! of a viewer jumping around a slide. The regions can come from a file so
//! the project's benchmark script reads exactly the same ones with
//! OpenSlide and libvips in the same run.

use anyhow::{Context, Result, bail};
use kh_slide::{OpenOptions, Slide};
use rand::{RngExt, SeedableRng, rngs::StdRng};
use std::path::PathBuf;
use std::time::Instant;

use crate::samples::median;

#[derive(clap::Args)]
pub struct BenchArgs {
    file: PathBuf,
    /// Number of random regions to read.
    #[arg(long, default_value_t = 1000)]
    regions: usize,
    /// Region width and height, in pixels of the level.
    #[arg(long, default_value_t = 512)]
    size: u32,
    #[arg(long, default_value_t = 0)]
    level: usize,
    /// Reader threads sharing one open slide.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Decoded-tile cache budget in MiB.
    #[arg(long, default_value_t = 256)]
    cache_mib: u64,
    /// Read the level-0 origins ("x y" per line) from this file instead.
    #[arg(long)]
    regions_file: Option<PathBuf>,
    /// Times to open the slide for the reported median open time.
    #[arg(long, default_value_t = 10)]
    open_repeats: usize,
}

pub fn run(args: BenchArgs) -> Result<()> {
    if args.threads == 0 || args.size == 0 {
        bail!("--threads and --size must be at least 1");
    }
    let options = OpenOptions {
        cache_bytes: args.cache_mib << 20,
        ..OpenOptions::default()
    };
    // Opening is lazy about tile tables, so also time open + the first tile
    // (middle of level 0), which pays for loading them.
    let mut open_ms = Vec::with_capacity(args.open_repeats.max(1));
    let mut first_tile_ms = Vec::with_capacity(args.open_repeats.max(1));
    for _ in 0..args.open_repeats.max(1) {
        let start = Instant::now();
        let slide = Slide::open_with(&args.file, &options)?;
        open_ms.push(start.elapsed().as_secs_f64() * 1e3);
        let l = slide.levels()[0];
        slide.read_tile(0, l.tiles_across() / 2, l.tiles_down() / 2)?;
        first_tile_ms.push(start.elapsed().as_secs_f64() * 1e3);
    }
    let open_ms_median = median(&mut open_ms);
    let first_tile_ms_median = median(&mut first_tile_ms);
    let slide = Slide::open_with(&args.file, &options)?;
    let level = *slide.levels().get(args.level).with_context(|| {
        format!(
            "--level {}: the slide has {} levels",
            args.level,
            slide.levels().len()
        )
    })?;
    let origins: Vec<(i64, i64)> = match &args.regions_file {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("reading {}", path.display()))?
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let mut it = l.split_whitespace().map(str::parse::<i64>);
                match (it.next(), it.next()) {
                    (Some(Ok(x)), Some(Ok(y))) => Ok((x, y)),
                    _ => bail!("bad line in {}: {l:?}", path.display()),
                }
            })
            .collect::<Result<_>>()?,
        None => {
            let mut rng = StdRng::seed_from_u64(args.seed);
            let span_x = level.width.saturating_sub(u64::from(args.size)).max(1);
            let span_y = level.height.saturating_sub(u64::from(args.size)).max(1);
            (0..args.regions)
                .map(|_| {
                    let lx = rng.random_range(0..span_x) as f64;
                    let ly = rng.random_range(0..span_y) as f64;
                    (
                        (lx * level.downsample) as i64,
                        (ly * level.downsample) as i64,
                    )
                })
                .collect()
        }
    };
    let size = args.size;
    let start = Instant::now();
    let chunk = origins.len().div_ceil(args.threads).max(1);
    std::thread::scope(|scope| -> Result<()> {
        let handles: Vec<_> = origins
            .chunks(chunk)
            .map(|part| {
                let slide = &slide;
                scope.spawn(move || -> Result<()> {
                    let mut buf = Vec::new();
                    for &(x, y) in part {
                        slide.read_region_into(x, y, args.level, size, size, &mut buf)?;
                    }
                    Ok(())
                })
            })
            .collect();
        for h in handles {
            h.join()
                .map_err(|_| anyhow::anyhow!("a reader thread panicked"))??;
        }
        Ok(())
    })?;
    let seconds = start.elapsed().as_secs_f64().max(1e-9);
    let n = origins.len() as f64;
    let megapixels = n * f64::from(size) * f64::from(size) / 1e6;
    let report = serde_json::json!({
        "tool": "kh",
        "file": args.file,
        "level": args.level,
        "size": size,
        "regions": origins.len(),
        "threads": args.threads,
        "seconds": seconds,
        "regions_per_s": n / seconds,
        "megapixels_per_s": megapixels / seconds,
        "open_ms_median": open_ms_median,
        "open_and_first_tile_ms_median": first_tile_ms_median,
        "cache_budget_bytes": slide.cache().budget(),
        "cache_peak_bytes": slide.cache().peak_bytes(),
    });
    println!("{report}");
    Ok(())
}
