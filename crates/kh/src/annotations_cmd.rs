//! `kh annotations`: what an annotation file holds, and converting it.

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use kh_annotations::{Format, Summary};
use kh_slide::Slide;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum AnnotationsCommand {
    /// Print format, object count, counts by type and by class, and the
    /// bounds (level-0 pixels) as JSON.
    Info { file: PathBuf },
    /// Convert between QuPath GeoJSON (.geojson, .json) and ASAP XML
    /// (.xml); the output format comes from OUT's extension. With
    /// --slide, objects beyond the slide's level-0 size are reported.
    Convert {
        input: PathBuf,
        output: PathBuf,
        #[arg(long)]
        slide: Option<PathBuf>,
    },
}

pub fn run(cmd: AnnotationsCommand) -> Result<()> {
    match cmd {
        AnnotationsCommand::Info { file } => {
            let (format, annotations) = kh_annotations::read(&file)?;
            let summary = Summary::of(format, &annotations);
            println!("{}", serde_json::to_string_pretty(&summary)?);
        }
        AnnotationsCommand::Convert {
            input,
            output,
            slide,
        } => {
            let Some(format) = Format::from_extension(&output) else {
                if output
                    .extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("dcm"))
                {
                    bail!(
                        "{}: writing DICOM Microscopy Bulk Simple Annotations is not built yet; \
                         write .geojson or .xml",
                        output.display()
                    );
                }
                bail!(
                    "{}: the output format comes from the extension: .geojson or .json (QuPath \
                     GeoJSON), .xml (ASAP XML)",
                    output.display()
                );
            };
            let (_, annotations) = kh_annotations::read(&input)?;
            if let Some(slide) = slide {
                let opened = Slide::open(&slide)?;
                let (w, h) = opened.dimensions();
                let outside = annotations
                    .objects
                    .iter()
                    .filter_map(|o| o.geometry.bounds())
                    .filter(|b| {
                        b.min_x < 0.0 || b.min_y < 0.0 || b.max_x > w as f64 || b.max_y > h as f64
                    })
                    .count();
                if outside > 0 {
                    eprintln!(
                        "kh: warning: {outside} objects reach beyond the slide's {w}×{h} pixels: \
                         are these the slide's annotations?"
                    );
                }
            }
            let written = kh_annotations::write(&output, &annotations, format)
                .with_context(|| format!("converting {}", input.display()))?;
            for note in &written.notes {
                eprintln!("kh: note: {note}");
            }
            eprintln!(
                "kh: wrote {} objects to {}",
                annotations.objects.len(),
                output.display()
            );
        }
    }
    Ok(())
}
