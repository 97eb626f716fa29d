//! `kh analyze`: run an analysis on a slide and write its findings as
//! QuPath GeoJSON (QuPath opens the result), progress on stderr.

use anyhow::{Result, bail};
use kh_analysis::{Model, Region, Request, Run};
use kh_slide::Slide;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

#[derive(clap::Args)]
pub struct AnalyzeArgs {
    slide: PathBuf,
    /// tissue | nuclei | focus | onnx:PATH
    #[arg(long)]
    model: String,
    /// The level to read (default: chosen by the analysis).
    #[arg(long)]
    level: Option<usize>,
    /// X,Y,W,H in level-0 pixels (nuclei, focus and ONNX models; default:
    /// all tissue).
    #[arg(long)]
    region: Option<Region>,
    /// Patch stride in pixels of the level (ONNX models).
    #[arg(long)]
    stride: Option<u32>,
    /// Keep patches outside tissue (ONNX models).
    #[arg(long)]
    all_patches: bool,
    /// Where the findings go (.geojson).
    #[arg(long)]
    out: PathBuf,
}

pub fn run(args: AnalyzeArgs) -> Result<()> {
    if kh_annotations::Format::from_extension(&args.out) != Some(kh_annotations::Format::GeoJson) {
        bail!("{}: --out must be a .geojson file", args.out.display());
    }
    let slide = Slide::open(&args.slide)?;
    let cancel = AtomicBool::new(false);
    let progress = |done: f32| {
        eprint!("\rkh: {} {:>3.0}%", args.model, done * 100.0);
        let _ = std::io::stderr().flush();
    };
    let run = Run {
        progress: &progress,
        cancel: &cancel,
    };
    let model: Model = args
        .model
        .parse()
        .map_err(|e| anyhow::anyhow!("--model {e}"))?;
    let found = kh_analysis::analyze(
        &slide,
        &Request {
            model,
            level: args.level,
            region: args.region,
            stride: args.stride,
            all_patches: args.all_patches,
        },
        &run,
    )?;
    eprintln!();
    kh_annotations::write(&args.out, &found, kh_annotations::Format::GeoJson)?;
    eprintln!(
        "{}",
        kh_i18n::tr!(
            "cli-objects-written",
            count = found.objects.len(),
            path = args.out.display().to_string()
        )
    );
    Ok(())
}
