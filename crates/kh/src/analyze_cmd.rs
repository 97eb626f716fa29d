//! `kh analyze`: run an analysis on a slide and write its findings as
//! QuPath GeoJSON (QuPath opens the result), progress on stderr.

use anyhow::{Result, bail};
use kh_analysis::focus::{self, FocusOptions};
use kh_analysis::nuclei::{self, NucleiOptions};
use kh_analysis::onnx::{self, OnnxOptions};
use kh_analysis::tissue::{self, TissueOptions};
use kh_analysis::{Region, Run};
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
    let found = match args.model.as_str() {
        "tissue" => {
            if args.region.is_some() || args.stride.is_some() || args.all_patches {
                bail!("--region, --stride and --all-patches do not apply to tissue detection");
            }
            tissue::detect(
                &slide,
                &TissueOptions {
                    level: args.level,
                    ..TissueOptions::default()
                },
                &run,
            )?
        }
        "nuclei" | "focus" if args.stride.is_some() || args.all_patches => {
            bail!("--stride and --all-patches apply to ONNX models only")
        }
        "nuclei" => nuclei::detect(
            &slide,
            &NucleiOptions {
                level: args.level,
                region: args.region,
                ..NucleiOptions::default()
            },
            &run,
        )?,
        "focus" => focus::detect(
            &slide,
            &FocusOptions {
                level: args.level,
                region: args.region,
            },
            &run,
        )?,
        other if other.starts_with("onnx:") => {
            let model = PathBuf::from(&other["onnx:".len()..]);
            if !model.is_file() {
                bail!("--model {other}: {} is not a file", model.display());
            }
            onnx::detect(
                &slide,
                &OnnxOptions {
                    model,
                    level: args.level,
                    region: args.region,
                    stride: args.stride,
                    all_patches: args.all_patches,
                },
                &run,
            )?
        }
        other => bail!("--model {other}: expected tissue, nuclei, focus or onnx:PATH"),
    };
    eprintln!();
    kh_annotations::write(&args.out, &found, kh_annotations::Format::GeoJson)?;
    eprintln!(
        "kh: {} objects written to {}",
        found.objects.len(),
        args.out.display()
    );
    Ok(())
}
