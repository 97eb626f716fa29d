//! DICOM ANN (Microscopy Bulk Simple Annotations) both ways against
//! highdicom, Supplement 222's reference implementation
//! (tests/oracle/dicom_ann_oracle.py): files highdicom writes for a DICOM
//! slide read here at the same pixels, in 2D image and 3D slide
//! coordinates; files written here read back in highdicom with the same
//! objects, measurements and references to the slide; hostile files end in
//! one clear line.

use kh_testkit::{fixtures_dir, python, workspace_root};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn kh(args: &[&OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kh"))
        .args(args)
        .output()
        .expect("kh runs")
}

fn ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn oracle(args: &[&OsStr]) -> serde_json::Value {
    let out = Command::new(python())
        .arg(workspace_root().join("tests/oracle/dicom_ann_oracle.py"))
        .args(args)
        .output()
        .expect("the oracle runs");
    assert!(
        out.status.success(),
        "oracle: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("oracle JSON")
}

fn slide() -> PathBuf {
    fixtures_dir().join("dicom/pyramid_jpeg")
}

fn convert(input: &Path, output: &Path, slide: Option<&Path>) -> Output {
    let mut args: Vec<&OsStr> = vec![
        "annotations".as_ref(),
        "convert".as_ref(),
        input.as_os_str(),
        output.as_os_str(),
    ];
    if let Some(s) = slide {
        args.extend(["--slide".as_ref(), s.as_os_str()]);
    }
    kh(&args)
}

/// highdicom's files for the slide: 2D (float32) and 3D (float64).
fn highdicom_files(dir: &Path) {
    let made = oracle(&["write".as_ref(), slide().as_os_str(), dir.as_os_str()]);
    assert_eq!(made["ok"], true, "{made}");
}

#[test]
fn highdicom_files_read_at_the_same_pixels() {
    let dir = tempfile::tempdir().unwrap();
    highdicom_files(dir.path());
    let expected = dir.path().join("expected.json");
    for name in ["hd2d", "hd3d"] {
        let dcm = dir.path().join(format!("{name}.dcm"));
        let geojson = dir.path().join(format!("{name}.geojson"));
        ok(&convert(&dcm, &geojson, Some(&slide())), name);
        let verdict = oracle(&[
            "compare".as_ref(),
            expected.as_os_str(),
            geojson.as_os_str(),
        ]);
        assert_eq!(verdict["ok"], true, "{name}: {verdict}");

        let out = kh(&[
            "annotations".as_ref(),
            "info".as_ref(),
            dcm.as_os_str(),
            "--slide".as_ref(),
            slide().as_os_str(),
        ]);
        ok(&out, name);
        let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(info["format"], "dicom-ann");
        assert_eq!(info["objects"], 50, "{info}");
        assert_eq!(info["by_class"]["Lymphocyte"], 40, "{info}");
        assert_eq!(info["by_type"]["detection"], 41, "{info}");
    }
    // Slide coordinates say nothing without their slide.
    let out = kh(&[
        "annotations".as_ref(),
        "info".as_ref(),
        dir.path().join("hd3d.dcm").as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("--slide"), "{said}");
    // Nor over another slide (another frame of reference).
    let other = fixtures_dir().join("dicom/pyramid_jpeg2000");
    let out = kh(&[
        "annotations".as_ref(),
        "info".as_ref(),
        dir.path().join("hd3d.dcm").as_os_str(),
        "--slide".as_ref(),
        other.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("frame of reference"), "{said}");
}

#[test]
fn written_files_read_back_in_highdicom() {
    let dir = tempfile::tempdir().unwrap();
    let cells = fixtures_dir().join("annotations/generated/qupath-cells.geojson");
    // For the DICOM slide: its study, series and frame of reference, in
    // slide coordinates; for none, 2D pixels in a study of their own.
    for with_slide in [true, false] {
        let dcm = dir.path().join(format!("cells-{with_slide}.dcm"));
        let s = slide();
        let out = convert(&cells, &dcm, with_slide.then_some(s.as_path()));
        ok(&out, "convert to DICOM");
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(!said.contains("nuclei dropped"), "{said}");
        let mut args: Vec<&OsStr> = vec!["check".as_ref(), dcm.as_os_str(), cells.as_os_str()];
        if with_slide {
            args.push(s.as_os_str());
        }
        let verdict = oracle(&args);
        assert_eq!(verdict["ok"], true, "{verdict}");
        assert_eq!(
            verdict["annotations"], 4000,
            "cells and their nuclei: {verdict}"
        );
    }
    // Every sample the other tests read, through DICOM ANN.
    let root = fixtures_dir().join("annotations/wsidicom");
    for sub in ["qupath_geojson", "qupath_geojson_advanced", "asap"] {
        for entry in std::fs::read_dir(root.join(sub)).unwrap().flatten() {
            let file = entry.path();
            let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
            let source = dir.path().join(format!("{stem}.geojson"));
            ok(&convert(&file, &source, None), &stem);
            let dcm = dir.path().join(format!("{stem}.dcm"));
            ok(&convert(&file, &dcm, None), &stem);
            let verdict = oracle(&["check".as_ref(), dcm.as_os_str(), source.as_os_str()]);
            assert_eq!(verdict["ok"], true, "{stem}: {verdict}");
        }
    }
}

#[test]
fn cells_come_back_with_their_nuclei() {
    let dir = tempfile::tempdir().unwrap();
    let cells = fixtures_dir().join("annotations/generated/qupath-cells.geojson");
    let dcm = dir.path().join("cells.dcm");
    ok(&convert(&cells, &dcm, Some(&slide())), "to DICOM");
    let (_, before) = kh_annotations::read(&cells).unwrap();
    let reference = kh_slide::Slide::open(slide())
        .map(|s| kh_annotations::dicom::SlideReference::from_properties(s.properties()))
        .unwrap()
        .expect("a DICOM slide");
    let limits = kh_annotations::Limits::default();
    let (format, after) = kh_annotations::read_for_slide(
        &dcm,
        &limits,
        kh_annotations::OnSlide {
            size: None,
            dicom: Some(&reference),
        },
    )
    .unwrap();
    assert_eq!(format, kh_annotations::Format::DicomAnn);
    assert_eq!(after.objects.len(), before.objects.len());
    // Grouped by class in the file: compare each cell with the one at the
    // same first vertex.
    let key = |a: &kh_annotations::Annotations, o: &kh_annotations::Object| {
        let first = o.geometry.vertices().next().unwrap();
        let class = o.class.map(|c| a.class(c).name.clone());
        (
            class,
            (first.x * 100.0).round() as i64,
            (first.y * 100.0).round() as i64,
        )
    };
    let mut by_key = std::collections::HashMap::new();
    for o in &after.objects {
        by_key.insert(key(&after, o), o);
    }
    for o in &before.objects {
        let back = by_key.get(&key(&before, o)).expect("the same cell");
        assert_eq!(back.kind, o.kind);
        let (Some(n0), Some(n1)) = (&o.nucleus, &back.nucleus) else {
            panic!("a nucleus lost");
        };
        for (p, q) in n0.vertices().zip(n1.vertices()) {
            assert!((p.x - q.x).abs() < 1e-6 && (p.y - q.y).abs() < 1e-6);
        }
        for &(name, v) in &o.measurements {
            let name = before.measurement_name(name);
            match after.measurement(back, name) {
                Some(w) => assert_eq!(w, f64::from(v as f32), "{name}"),
                None => assert!(v.is_nan(), "{name} lost"),
            }
        }
    }
    // Class colours survive CIELab.
    let tumour = after.classes().iter().find(|c| c.name == "Tumor").unwrap();
    assert_eq!(tumour.colour, Some(kh_annotations::Colour::rgb(200, 0, 0)));
}

#[test]
fn hostile_dicom_files_get_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    highdicom_files(dir.path());
    let hd2d = dir.path().join("hd2d.dcm");
    let verdict = oracle(&["hostile".as_ref(), hd2d.as_os_str(), dir.path().as_os_str()]);
    assert_eq!(verdict["ok"], true);
    for (name, why) in [
        ("huge_count.dcm", "1000000000 annotations"),
        ("past_end.dcm", "point index 1073741824"),
        ("nan.dcm", "not a finite number"),
        ("bad_measurement.dcm", "annotation index 1048576 outside"),
        ("truncated.dcm", "runs past"),
    ] {
        let path = dir.path().join(name);
        let out = kh(&["annotations".as_ref(), "info".as_ref(), path.as_os_str()]);
        assert_eq!(out.status.code(), Some(1), "{name}");
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(said.contains(name) && said.contains(why), "{name}: {said}");
        assert_eq!(said.trim_end().lines().count(), 1, "{said}");
        assert!(!said.contains("panicked"), "{said}");
    }
    // A slide's own instance is not annotations, and says so.
    let instance = std::fs::read_dir(slide())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "dcm"))
        .unwrap();
    let out = kh(&[
        "annotations".as_ref(),
        "info".as_ref(),
        instance.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not Microscopy Bulk Simple Annotations")
    );
    // And an annotation file among a slide's instances leaves the slide
    // readable, and is refused as a slide in words.
    let folder = dir.path().join("slide");
    std::fs::create_dir(&folder).unwrap();
    for e in std::fs::read_dir(slide()).unwrap().flatten() {
        std::fs::copy(e.path(), folder.join(e.file_name())).unwrap();
    }
    std::fs::copy(&hd2d, folder.join("annotations.dcm")).unwrap();
    ok(
        &kh(&["slide".as_ref(), "info".as_ref(), folder.as_os_str()]),
        "slide with annotations",
    );
    let out = kh(&[
        "slide".as_ref(),
        "info".as_ref(),
        folder.join("annotations.dcm").as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("open it as annotations"));
}
