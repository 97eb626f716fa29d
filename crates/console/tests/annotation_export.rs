//! A case's annotation file exported as DICOM ANN and QuPath GeoJSON from
//! the desk: written beside the database, in the case's DICOM slide's
//! study and frame of reference, read back the same, and audited.

use kh_annotations::dicom::SlideReference;
use kh_cases::{AttachmentKind, AuditAction, CaseDetails};
use kh_console::annotation_export::export_annotations;

mod common;

#[test]
fn annotations_export_for_the_cases_dicom_slide_and_are_audited() {
    let dir = tempfile::tempdir().unwrap();
    let desk = common::desk(dir.path(), "");
    let fixtures = kh_testkit::fixtures_dir();
    let slide_dir = fixtures.join("dicom/pyramid_jpeg");
    let instance = std::fs::read_dir(&slide_dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .min()
        .unwrap();
    let cells = fixtures.join("annotations/generated/qupath-cells.geojson");
    let case = desk.create_case(&CaseDetails::default()).unwrap().id;
    desk.attach(case, &instance, Some(AttachmentKind::Slide))
        .unwrap();
    let page = desk
        .attach(case, &cells, Some(AttachmentKind::Annotations))
        .unwrap();
    let attachment = page
        .attachments
        .iter()
        .find(|a| a.kind == AttachmentKind::Annotations)
        .unwrap()
        .id;

    let dicom = export_annotations(&desk, case, attachment, "dicom").unwrap();
    assert!(
        dicom
            .path
            .ends_with(&format!("exports/{case}/qupath-cells.dcm")),
        "{}",
        dicom.path
    );
    assert_eq!(dicom.objects, 2000);
    let slide = kh_slide::Slide::open(&slide_dir).unwrap();
    let reference = SlideReference::from_properties(slide.properties()).unwrap();
    // Written in the slide's slide coordinates: it reads back only with it.
    let limits = kh_annotations::Limits::default();
    assert!(kh_annotations::read(std::path::Path::new(&dicom.path)).is_err());
    let (_, back) = kh_annotations::read_for_slide(
        std::path::Path::new(&dicom.path),
        &limits,
        kh_annotations::OnSlide {
            size: None,
            dicom: Some(&reference),
        },
    )
    .unwrap();
    assert_eq!(back.objects.len(), 2000);
    assert!(back.objects.iter().all(|o| o.nucleus.is_some()));

    let geojson = export_annotations(&desk, case, attachment, "geojson").unwrap();
    let (_, again) = kh_annotations::read(std::path::Path::new(&geojson.path)).unwrap();
    assert_eq!(again.objects.len(), 2000);

    assert!(export_annotations(&desk, case, attachment, "pdf").is_err());
    let exports: Vec<String> = desk
        .open_case(case)
        .unwrap()
        .audit
        .into_iter()
        .filter(|e| e.action == AuditAction::Export)
        .map(|e| e.detail)
        .collect();
    assert_eq!(
        exports,
        [
            "qupath-cells.geojson as DICOM ANN (2000 objects)",
            "qupath-cells.geojson as QuPath GeoJSON (2000 objects)"
        ]
    );
}
