//! `kh analyze --model tissue` on a slide whose tissue is known (the
//! fixture draws it, dust specks and a grey smudge beside it): the
//! polygons it writes cover the true tissue (IoU by shapely), leave the
//! dust and the smudge out, are valid, and keep the hole.

use kh_testkit::{fixtures_dir, python, workspace_root};
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
    // An analysis that is not built says so, naming it.
    let run = Command::new(env!("CARGO_BIN_EXE_kh"))
        .arg("analyze")
        .arg(fixtures.join("tissue.tiff"))
        .args(["--model", "nuclei", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&run.stderr).contains("nuclei"));
}
