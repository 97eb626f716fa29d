//! `kh analyze`: run an analysis on a slide and write its findings as
//! QuPath GeoJSON (QuPath opens the result), progress on stderr.

use anyhow::{Result, bail};
use kh_analysis::{Model, Region, Request, Run};
use kh_i18n::tr;
use kh_slide::Slide;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

#[derive(clap::Args)]
pub struct AnalyzeArgs {
    slide: PathBuf,
    #[arg(long)]
    model: String,
    #[arg(long)]
    level: Option<usize>,
    #[arg(long)]
    region: Option<Region>,
    #[arg(long)]
    stride: Option<u32>,
    #[arg(long)]
    all_patches: bool,
    #[arg(long)]
    out: PathBuf,
}

pub fn run(args: AnalyzeArgs) -> Result<()> {
    if kh_annotations::Format::from_extension(&args.out) != Some(kh_annotations::Format::GeoJson) {
        bail!(tr!(
            "cli-analyze-out-not-geojson",
            path = args.out.display().to_string()
        ));
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
        .map_err(|e: String| anyhow::anyhow!(tr!("cli-analyze-model", problem = e)))?;
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
