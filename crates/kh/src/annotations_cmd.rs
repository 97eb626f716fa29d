//! `kh annotations`: what an annotation file holds, and converting it.

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use kh_annotations::dicom::SlideReference;
use kh_annotations::{Format, Limits, Summary};
use kh_i18n::tr;
use kh_slide::Slide;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum AnnotationsCommand {
    Info {
        file: PathBuf,
        #[arg(long)]
        slide: Option<PathBuf>,
    },
    Convert {
        input: PathBuf,
        output: PathBuf,
        #[arg(long)]
        slide: Option<PathBuf>,
    },
}

/// The slide a command names, and its DICOM reference when it is DICOM.
fn open_slide(path: Option<&PathBuf>) -> Result<Option<(Slide, Option<SlideReference>)>> {
    let Some(path) = path else { return Ok(None) };
    let slide = Slide::open(path)?;
    let reference = SlideReference::from_properties(slide.properties());
    Ok(Some((slide, reference)))
}

/// What a reader needs of the slide a command names.
fn on_slide(slide: Option<&(Slide, Option<SlideReference>)>) -> kh_annotations::OnSlide<'_> {
    kh_annotations::OnSlide {
        size: slide.map(|s| s.0.dimensions()),
        dicom: slide.and_then(|s| s.1.as_ref()),
    }
}

pub fn run(cmd: AnnotationsCommand) -> Result<()> {
    let limits = Limits::default();
    match cmd {
        AnnotationsCommand::Info { file, slide } => {
            let slide = open_slide(slide.as_ref())?;
            let (format, annotations) =
                kh_annotations::read_for_slide(&file, &limits, on_slide(slide.as_ref()))?;
            let summary = Summary::of(format, &annotations);
            println!("{}", serde_json::to_string_pretty(&summary)?);
        }
        AnnotationsCommand::Convert {
            input,
            output,
            slide,
        } => {
            let Some(format) = Format::from_extension(&output) else {
                bail!(tr!(
                    "cli-annotations-output-format",
                    path = output.display().to_string()
                ));
            };
            let slide = open_slide(slide.as_ref())?;
            let reference = slide.as_ref().and_then(|s| s.1.as_ref());
            let (_, annotations) =
                kh_annotations::read_for_slide(&input, &limits, on_slide(slide.as_ref()))?;
            if let Some((opened, _)) = &slide {
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
                        "{}",
                        kh_i18n::tr!("cli-beyond-slide", count = outside, width = w, height = h)
                    );
                }
            }
            if format == Format::DicomAnn && slide.is_some() && reference.is_none() {
                eprintln!("{}", kh_i18n::tr!("cli-not-dicom-slide"));
            }
            let written = kh_annotations::write_for_slide(&output, &annotations, format, reference)
                .with_context(|| tr!("cli-converting", path = input.display().to_string()))?;
            for note in &written.notes {
                let note = kh_console::ForPeople::for_people(note);
                eprintln!("{}", kh_i18n::tr!("cli-note", note = note));
            }
            eprintln!(
                "{}",
                kh_i18n::tr!(
                    "cli-objects-written",
                    count = annotations.objects.len(),
                    path = output.display().to_string()
                )
            );
        }
    }
    Ok(())
}
