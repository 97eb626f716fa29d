//! `kh analyze` on slides the fixtures draw, against what they drew and
//! against independent computations:
//! - tissue (an ellipse, a polygon with a lumen, a strip, dust and a grey
//!   smudge beside them): the polygons cover the true tissue (IoU by
//!   shapely), leave the dust and the smudge out, are valid, keep the hole;
//! - nuclei (H&E made in optical density, touching pairs among them):
//!   matched one to one with the true ellipses, split where they touch,
//!   their stain means those of scikit-image's `rgb2hed`;
//! - focus (the same slide, its right part blurred): each tile's sharpness
//!   as numpy computes it, the blurred tiles flagged and no sharp one.

use kh_testkit::{fixtures_dir, python, workspace_root};
use std::path::{Path, PathBuf};
use std::process::Command;

#[test]
fn tissue_is_found_and_dust_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tissue.geojson");
    let fixtures = fixtures_dir().join("analysis");
    let run = Command::new(env!("CARGO_BIN_EXE_kh"))
        .args(["analyze"])
        .arg(fixtures.join("tissue.tiff"))
        .args(["--model", "tissue", "--out"])
        .arg(&out)
        .output()
        .expect("kh runs");
    let said = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{said}");
    assert!(said.contains("100%"), "progress on stderr: {said}");
    let oracle = Command::new(python())
        .arg(workspace_root().join("tests/oracle/tissue_oracle.py"))
        .arg(fixtures.join("tissue_truth.png"))
        .arg(fixtures.join("tissue_dust.json"))
        .arg(&out)
        .output()
        .expect("the oracle runs");
    assert!(
        oracle.status.success(),
        "{}",
        String::from_utf8_lossy(&oracle.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&oracle.stdout).unwrap();
    assert!(v["iou"].as_f64().unwrap() >= 0.95, "{v}");
    assert_eq!(v["dust_inside"], 0, "{v}");
    assert_eq!(v["smudge_inside"], false, "{v}");
    assert_eq!(v["invalid"], 0, "{v}");
    // Three pieces of tissue: the ellipse, the polygon (with its lumen as
    // a hole) and the strip.
    assert_eq!(v["objects"], 3, "{v}");
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let holes: usize = written["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["geometry"]["coordinates"].as_array().unwrap().len() - 1)
        .sum();
    assert_eq!(holes, 1, "the lumen is a hole");
    assert_eq!(
        written["features"][0]["properties"]["provenance"]["kind"],
        "algorithm"
    );
}

/// Runs `kh analyze` and the named oracle on its output, returning the
/// oracle's JSON and what kh said on stderr.
fn analyze_and_judge(
    slide: &Path,
    args: &[&str],
    oracle: &str,
    oracle_args: &[&str],
) -> (serde_json::Value, String, PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("found.geojson");
    let run = Command::new(env!("CARGO_BIN_EXE_kh"))
        .arg("analyze")
        .arg(slide)
        .args(args)
        .arg("--out")
        .arg(&out)
        .output()
        .expect("kh runs");
    let said = String::from_utf8_lossy(&run.stderr).into_owned();
    assert!(run.status.success(), "{said}");
    let fixtures = fixtures_dir().join("analysis");
    let judged = Command::new(python())
        .arg(workspace_root().join("tests/oracle").join(oracle))
        .arg(slide)
        .arg(fixtures.join("he_truth.json"))
        .arg(&out)
        .args(oracle_args)
        .output()
        .expect("the oracle runs");
    assert!(
        judged.status.success(),
        "{}",
        String::from_utf8_lossy(&judged.stderr)
    );
    let v = serde_json::from_slice(&judged.stdout).unwrap();
    (v, said, out, dir)
}

#[test]
fn nuclei_are_found_split_and_measured_as_scikit_image_does() {
    let slide = fixtures_dir().join("analysis/he.tiff");
    // A region of sharp tissue (level-0 pixels).
    let (v, said, out, _dir) = analyze_and_judge(
        &slide,
        &["--model", "nuclei", "--region", "300,300,1800,1400"],
        "nuclei_oracle.py",
        &["--window", "300,300,2100,1700"],
    );
    assert!(said.contains("100%"), "progress on stderr: {said}");
    assert!(v["truth"].as_u64().unwrap() > 300, "{v}");
    assert!(v["recall"].as_f64().unwrap() >= 0.95, "{v}");
    assert!(v["precision"].as_f64().unwrap() >= 0.95, "{v}");
    assert!(v["mean_iou"].as_f64().unwrap() >= 0.8, "{v}");
    // Touching pairs are cut apart: each half matched on its own.
    assert!(
        v["pairs_split"].as_f64().unwrap() >= 0.9 * v["pairs"].as_f64().unwrap(),
        "{v}"
    );
    assert_eq!(v["invalid"], 0, "{v}");
    assert!(v["h_median_err"].as_f64().unwrap() < 0.01, "{v}");
    assert!(v["h_p95_err"].as_f64().unwrap() < 0.05, "{v}");
    assert!(v["e_median_err"].as_f64().unwrap() < 0.02, "{v}");
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let first = &written["features"][0]["properties"];
    assert_eq!(first["objectType"], "detection");
    assert_eq!(first["provenance"]["name"], "kakehashi nuclei");
    // The slide says 0.5 µm per pixel: areas in µm².
    let area = first["measurements"]["Nucleus: Area µm^2"]
        .as_f64()
        .unwrap();
    assert!((10.0..=500.0).contains(&area), "{first}");
}

#[test]
fn nuclei_over_all_tissue_and_none_on_glass() {
    let slide = fixtures_dir().join("analysis/he.tiff");
    let (v, _, _, _dir) =
        analyze_and_judge(&slide, &["--model", "nuclei"], "nuclei_oracle.py", &[]);
    assert_eq!(v["outside_tissue"], 0, "{v}");
    assert!(v["truth"].as_u64().unwrap() > 1000, "{v}");
    assert!(v["recall"].as_f64().unwrap() >= 0.95, "{v}");
    assert!(v["precision"].as_f64().unwrap() >= 0.95, "{v}");
}

#[test]
fn focus_qc_finds_the_blurred_part_and_measures_as_numpy_does() {
    let slide = fixtures_dir().join("analysis/he.tiff");
    let (v, _, _, _dir) = analyze_and_judge(&slide, &["--model", "focus"], "focus_oracle.py", &[]);
    assert!(v["max_rel_err"].as_f64().unwrap() < 1e-6, "{v}");
    assert!(v["blurred"].as_u64().unwrap() >= 20, "{v}");
    assert!(v["sharp"].as_u64().unwrap() >= 60, "{v}");
    assert_eq!(v["blurred_missed"], 0, "{v}");
    assert_eq!(v["sharp_flagged"], 0, "{v}");
}

#[test]
fn bad_analysis_arguments_say_what_is_wrong() {
    let slide = fixtures_dir().join("analysis/he.tiff");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.geojson");
    for (args, says) in [
        (vec!["--model", "nuclei", "--region", "1,2,3"], "X,Y,W,H"),
        (
            vec!["--model", "nuclei", "--region", "90000,0,10,10"],
            "outside the slide",
        ),
        (vec!["--model", "nuclei", "--level", "9"], "levels"),
        (vec!["--model", "focus", "--stride", "64"], "ONNX"),
        (
            vec!["--model", "onnx:/nonexistent.onnx"],
            "no such model file",
        ),
        (vec!["--model", "cells"], "expected tissue, nuclei, focus"),
    ] {
        let run = Command::new(env!("CARGO_BIN_EXE_kh"))
            .arg("analyze")
            .arg(&slide)
            .args(&args)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&run.stderr);
        assert!(!run.status.success(), "{args:?}");
        assert!(said.contains(says), "{args:?}: {said}");
        assert!(!out.exists(), "nothing written for {args:?}");
    }
}

/// Runs `kh analyze` with ONNX Runtime from the test venv.
fn analyze_onnx(slide: &Path, args: &[&str], out: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kh"))
        .env("ORT_DYLIB_PATH", kh_testkit::onnxruntime_library())
        .arg("analyze")
        .arg(slide)
        .args(args)
        .arg("--out")
        .arg(out)
        .output()
        .expect("kh runs")
}

/// The test's models, built by the `onnx` package.
fn models(dir: &Path) {
    let made = Command::new(python())
        .arg(workspace_root().join("tests/oracle/onnx_oracle.py"))
        .arg("make")
        .arg(dir)
        .output()
        .expect("the oracle runs");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
}

/// The oracle's verdict on `found` (onnxruntime's Python API on the same
/// patches).
fn onnx_verdict(
    slide: &Path,
    level: &str,
    model: &Path,
    found: &Path,
    region: &[&str],
) -> serde_json::Value {
    let judged = Command::new(python())
        .arg(workspace_root().join("tests/oracle/onnx_oracle.py"))
        .arg("check")
        .arg(slide)
        .arg(level)
        .arg(model)
        .arg(found)
        .args(region)
        .output()
        .expect("the oracle runs");
    assert!(
        judged.status.success(),
        "{}",
        String::from_utf8_lossy(&judged.stderr)
    );
    serde_json::from_slice(&judged.stdout).unwrap()
}

#[test]
fn an_onnx_patch_classifier_scores_as_onnxruntime_does() {
    let slide = fixtures_dir().join("analysis/he.tiff");
    let dir = tempfile::tempdir().unwrap();
    models(dir.path());
    let model = dir.path().join("classifier.onnx");
    let spec = format!("onnx:{}", model.display());
    // Every patch of level 2 (glass included), then only the tissue's.
    let all = dir.path().join("all.geojson");
    let run = analyze_onnx(
        &slide,
        &["--model", &spec, "--level", "2", "--all-patches"],
        &all,
    );
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let v = onnx_verdict(&slide, "2", &model, &all, &[]);
    // 1024 × 768 in 32-pixel patches.
    assert_eq!(v["patches"], 32 * 24, "{v}");
    assert!(v["max_abs_err"].as_f64().unwrap() < 1e-5, "{v}");
    assert_eq!(v["class_mismatch"], 0, "{v}");
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&all).unwrap()).unwrap();
    let classes: std::collections::BTreeSet<String> = written["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            f["properties"]["classification"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert!(
        classes.contains("Background") && classes.contains("Stroma"),
        "{classes:?}"
    );
    let provenance = &written["features"][0]["properties"]["provenance"];
    assert_eq!(
        provenance["name"],
        "onnx patch classifier (model version 3)"
    );
    assert!(provenance["when"].as_str().unwrap().ends_with('Z'));

    let tissue = dir.path().join("tissue.geojson");
    let run = analyze_onnx(
        &slide,
        &["--model", &spec, "--level", "2", "--stride", "16"],
        &tissue,
    );
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let v = onnx_verdict(&slide, "2", &model, &tissue, &[]);
    // Overlapping patches (stride 16) over the tissue only: fewer than
    // the whole grid at stride 16, more than the tissue at stride 32.
    let n = v["patches"].as_u64().unwrap();
    assert!(n > 900 && n < 63 * 47, "{v}");
    assert!(v["max_abs_err"].as_f64().unwrap() < 1e-5, "{v}");
}

#[test]
fn an_onnx_segmenter_draws_what_onnxruntime_classifies() {
    let slide = fixtures_dir().join("analysis/he.tiff");
    let dir = tempfile::tempdir().unwrap();
    models(dir.path());
    let model = dir.path().join("segmenter.onnx");
    let out = dir.path().join("segments.geojson");
    let spec = format!("onnx:{}", model.display());
    let region = "300,300,600,400";
    let run = analyze_onnx(&slide, &["--model", &spec, "--region", region], &out);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let v = onnx_verdict(&slide, "0", &model, &out, &[region]);
    assert_eq!(v["patches"], 20 * 13, "{v}");
    assert!(v["agree"].as_f64().unwrap() > 0.99, "{v}");
}

#[test]
fn a_model_that_is_not_a_patch_model_or_no_runtime_says_why() {
    let slide = fixtures_dir().join("analysis/he.tiff");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.geojson");
    let junk = dir.path().join("junk.onnx");
    std::fs::write(&junk, b"not a model").unwrap();
    let run = analyze_onnx(
        &slide,
        &["--model", &format!("onnx:{}", junk.display())],
        &out,
    );
    let said = String::from_utf8_lossy(&run.stderr);
    assert!(
        !run.status.success() && said.contains("junk.onnx"),
        "{said}"
    );
    assert!(!out.exists());
    // Patches beyond the bound (one pixel apart on level 0: 8.8 million
    // of the classifier's 32-pixel patches fit, stride 1 walks 12 million).
    models(dir.path());
    let run = analyze_onnx(
        &slide,
        &[
            "--model",
            &format!("onnx:{}", dir.path().join("classifier.onnx").display()),
            "--stride",
            "1",
            "--all-patches",
        ],
        &out,
    );
    let said = String::from_utf8_lossy(&run.stderr);
    assert!(
        !run.status.success() && said.contains("more than 10000000"),
        "{said}"
    );
    // No runtime where it is looked for: one line saying what to do.
    let run = Command::new(env!("CARGO_BIN_EXE_kh"))
        .env(
            "ORT_DYLIB_PATH",
            dir.path().join("missing/libonnxruntime.so"),
        )
        .arg("analyze")
        .arg(&slide)
        .arg("--model")
        .arg(format!(
            "onnx:{}",
            dir.path().join("classifier.onnx").display()
        ))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&run.stderr);
    assert!(
        !run.status.success() && said.contains("ORT_DYLIB_PATH"),
        "{said}"
    );
    assert!(!said.contains("panicked"), "{said}");
}
