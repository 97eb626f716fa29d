//! `kh annotations` end to end on real files: the QuPath GeoJSON and ASAP
//! XML samples of the wsidicom source package and a generated QuPath cell
//! export, checked against Python's own reading of the same files with
//! shapely (tests/oracle/annotation_oracle.py).

use kh_testkit::{fixtures_dir, python, workspace_root};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn kh(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kh"))
        .args(args)
        .output()
        .expect("kh runs")
}

fn oracle(args: &[&std::ffi::OsStr]) -> serde_json::Value {
    let out = Command::new(python())
        .arg(workspace_root().join("tests/oracle/annotation_oracle.py"))
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

fn samples() -> Vec<PathBuf> {
    let root = fixtures_dir().join("annotations");
    let mut files = Vec::new();
    for dir in [
        "wsidicom/qupath_geojson",
        "wsidicom/qupath_geojson_advanced",
        "wsidicom/asap",
        "generated",
    ] {
        let mut here: Vec<PathBuf> = std::fs::read_dir(root.join(dir))
            .unwrap_or_else(|e| panic!("{dir}: {e}: run `cargo xtask fixtures`"))
            .flatten()
            .map(|e| e.path())
            .collect();
        here.sort();
        files.extend(here);
    }
    assert!(files.len() >= 14, "{files:?}");
    files
}

fn ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn info_agrees_with_an_independent_reading() {
    for file in samples() {
        let out = kh(&["annotations".as_ref(), "info".as_ref(), file.as_os_str()]);
        ok(&out, &file.display().to_string());
        let ours: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let theirs = oracle(&["info".as_ref(), file.as_os_str()]);
        let name = file.display();
        let expected_format = if file.extension().is_some_and(|e| e == "xml") {
            "asap-xml"
        } else {
            "geojson"
        };
        assert_eq!(ours["format"], expected_format, "{name}");
        assert_eq!(ours["objects"], theirs["objects"], "{name}");
        assert_eq!(ours["by_type"], theirs["by_type"], "{name}");
        assert_eq!(ours["by_class"], theirs["by_class"], "{name}");
        let b = &ours["bounds"];
        let ours_bounds = [&b["min_x"], &b["min_y"], &b["max_x"], &b["max_y"]]
            .map(|v| v.as_f64().expect("bounds are numbers"));
        for (o, t) in ours_bounds.iter().zip(theirs["bounds"].as_array().unwrap()) {
            assert!(
                (o - t.as_f64().unwrap()).abs() < 1e-9,
                "{name}: {b} vs {}",
                theirs["bounds"]
            );
        }
    }
}

#[test]
fn conversions_keep_geometry_and_properties() {
    let dir = tempfile::tempdir().unwrap();
    for file in samples() {
        let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
        let geojson = dir.path().join(format!("{stem}.geojson"));
        let out = kh(&[
            "annotations".as_ref(),
            "convert".as_ref(),
            file.as_os_str(),
            geojson.as_os_str(),
        ]);
        ok(&out, &file.display().to_string());
        let verdict = oracle(&["compare".as_ref(), file.as_os_str(), geojson.as_os_str()]);
        assert_eq!(verdict["ok"], true, "{}: {verdict}", file.display());

        // Through ASAP XML and back: lossless for what ASAP holds (the
        // ASAP samples, and annotations without holes or measurements).
        let is_asap = file.extension().is_some_and(|e| e == "xml");
        let xml = dir.path().join(format!("{stem}.xml"));
        let out = kh(&[
            "annotations".as_ref(),
            "convert".as_ref(),
            file.as_os_str(),
            xml.as_os_str(),
        ]);
        ok(&out, &xml.display().to_string());
        if is_asap {
            let back = dir.path().join(format!("{stem}.back.geojson"));
            let out = kh(&[
                "annotations".as_ref(),
                "convert".as_ref(),
                xml.as_os_str(),
                back.as_os_str(),
            ]);
            ok(&out, &back.display().to_string());
            let verdict = oracle(&["compare".as_ref(), file.as_os_str(), back.as_os_str()]);
            assert_eq!(verdict["ok"], true, "{}: {verdict}", file.display());
        }
    }
}

#[test]
fn the_cell_export_loses_nothing_qupath_keeps() {
    // The generated export has bare NaN measurements (not JSON): they read,
    // and what is written is strict JSON that any parser takes.
    let dir = tempfile::tempdir().unwrap();
    let cells = fixtures_dir().join("annotations/generated/qupath-cells.geojson");
    let out_path = dir.path().join("cells.geojson");
    let out = kh(&[
        "annotations".as_ref(),
        "convert".as_ref(),
        cells.as_os_str(),
        out_path.as_os_str(),
    ]);
    ok(&out, "convert");
    let text = std::fs::read_to_string(&out_path).unwrap();
    assert!(!text.contains("NaN"));
    let v: serde_json::Value = serde_json::from_str(&text).expect("strict JSON");
    let first = &v["features"][0];
    assert_eq!(first["properties"]["objectType"], "cell");
    assert!(first["nucleusGeometry"]["coordinates"].is_array());
    // The ASAP conversion says what ASAP could not hold.
    let xml = dir.path().join("cells.xml");
    let out = kh(&[
        "annotations".as_ref(),
        "convert".as_ref(),
        cells.as_os_str(),
        xml.as_os_str(),
    ]);
    ok(&out, "convert to ASAP");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("2000 cell nuclei left out"), "{said}");
    assert!(said.contains("measurements left out"), "{said}");
}

fn fails(path: &Path, why: &str) {
    let out = kh(&["annotations".as_ref(), "info".as_ref(), path.as_os_str()]);
    assert_eq!(out.status.code(), Some(1), "{}", path.display());
    let said = String::from_utf8_lossy(&out.stderr);
    let name = path.file_name().unwrap().to_string_lossy();
    assert!(
        said.contains(name.as_ref()) && said.contains(why),
        "{}: {said} (wanted {why:?})",
        path.display()
    );
    // One line: what, where, why; no backtrace, no panic.
    assert_eq!(said.trim_end().lines().count(), 1, "{said}");
    assert!(!said.contains("panicked"), "{said}");
}

#[test]
fn hostile_files_get_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let cells =
        std::fs::read_to_string(fixtures_dir().join("annotations/generated/qupath-cells.geojson"))
            .unwrap();
    let put = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    fails(
        &put("truncated.geojson", &cells[..cells.len() / 2]),
        "not valid JSON",
    );
    fails(
        &put(
            "infinite.geojson",
            r#"[{"type":"Feature","geometry":{"type":"Point","coordinates":[Infinity,1]}}]"#,
        ),
        "object 0: a coordinate is null",
    );
    fails(
        &put(
            "far.geojson",
            r#"{"type":"Feature","geometry":{"type":"Point","coordinates":[1e200,1]}}"#,
        ),
        "beyond",
    );
    let deep = format!("{}{}", "[".repeat(200_000), "]".repeat(200_000));
    fails(&put("deep.geojson", &deep), "not valid JSON");
    fails(
        &put("not.geojson", "hello"),
        "neither GeoJSON, XML nor DICOM",
    );
    fails(
        &put("broken.xml", "<ASAP_Annotations><Annotations><Annotation"),
        "broken.xml",
    );
    fails(&dir.path().join("missing.geojson"), "No such file");
}
