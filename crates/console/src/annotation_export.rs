//! Exporting a case's annotation file (an analysis's findings, the
//! specialist's own marks) as QuPath GeoJSON or DICOM ANN, into
//! `exports/<case>` beside the case database; the export is audited. A
//! DICOM export refers to the case's DICOM slide (its study, series and
//! frame of reference) when the case has one.

use crate::analyses::case_folder;
use crate::desk::{CaseDesk, DeskError};
use kh_annotations::Format;
use kh_annotations::dicom::SlideReference;
use kh_cases::{AttachmentKind, CaseId};
use serde::Serialize;
use std::path::Path;

/// What an export wrote.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Exported {
    pub path: String,
    pub objects: usize,
    /// What the format could not hold, one line each.
    pub notes: Vec<String>,
}

/// Export annotation attachment `attachment` of case `id` as `format`
/// ("geojson" or "dicom").
pub fn export_annotations(
    desk: &CaseDesk,
    id: CaseId,
    attachment: i64,
    format: &str,
) -> Result<Exported, DeskError> {
    let (format, extension, label) = match format {
        "geojson" => (Format::GeoJson, "geojson", "QuPath GeoJSON"),
        "dicom" => (Format::DicomAnn, "dcm", "DICOM ANN"),
        other => {
            return Err(DeskError::Refused(kh_i18n::tr!(
                "console-export-format-unknown",
                format = other
            )));
        }
    };
    let page = desk.page_of(id)?;
    let found = page
        .attachments
        .iter()
        .find(|a| a.id == attachment && a.kind == AttachmentKind::Annotations)
        .ok_or_else(|| {
            DeskError::Refused(kh_i18n::tr!(
                "console-no-such-attachment",
                attachment = attachment.to_string()
            ))
        })?;
    // The case's slides: the first places a raster; a DICOM one, if there
    // is one, is what the export refers to.
    let slides: Vec<kh_slide::Slide> = page
        .attachments
        .iter()
        .filter(|a| a.kind == AttachmentKind::Slide)
        .filter_map(|a| kh_slide::Slide::open(&a.path).ok())
        .collect();
    let reference = slides
        .iter()
        .find_map(|s| SlideReference::from_properties(s.properties()));
    let on_slide = kh_annotations::OnSlide {
        size: slides.first().map(|s| s.dimensions()),
        dicom: reference.as_ref(),
    };
    let limits = kh_annotations::Limits::default();
    let (_, annotations) =
        kh_annotations::read_for_slide(Path::new(&found.path), &limits, on_slide)
            .map_err(|e| DeskError::Refused(crate::ForPeople::for_people(&e)))?;
    let folder = case_folder(desk, "exports", id);
    std::fs::create_dir_all(&folder).map_err(|e| DeskError::file(&folder, &e))?;
    let stem = Path::new(&found.file_name).file_stem().map_or_else(
        || "annotations".into(),
        |s| s.to_string_lossy().into_owned(),
    );
    let file = folder.join(format!("{stem}.{extension}"));
    let written = kh_annotations::write_for_slide(&file, &annotations, format, reference.as_ref())
        .map_err(|e| DeskError::Refused(crate::ForPeople::for_people(&e)))?;
    let objects = annotations.objects.len();
    desk.record_export(
        id,
        &format!("{} as {label} ({objects} objects)", found.file_name),
    )?;
    Ok(Exported {
        path: file.display().to_string(),
        objects,
        notes: written
            .notes
            .iter()
            .map(crate::ForPeople::for_people)
            .collect(),
    })
}
