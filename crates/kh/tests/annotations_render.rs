//! `kh render --annotations` against an independent rasterisation
//! (tests/oracle/overlay_oracle.py: shapely at pixel centres): fills
//! exactly the class colour at opacity 1 and blended at 0.25, outlines
//! and markers in it, hidden classes and everything far from an object
//! left as the slide alone — at several zooms and all four rotations.

use kh_testkit::{fixtures_dir, python, workspace_root};
use std::path::Path;
use std::process::Command;

const SHAPES: &str = r#"{"type":"FeatureCollection","features":[
 {"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[200,200],[1200,300],[1000,1200],[300,1000],[200,200]],[[500,500],[800,500],[700,800],[500,500]]]},
  "properties":{"objectType":"annotation","classification":{"name":"Tumor","color":[200,0,0]}}},
 {"type":"Feature","geometry":{"type":"MultiPolygon","coordinates":[[[[1300,1500],[2000,1500],[2000,2000],[1300,2000],[1300,1500]]],[[[1400,2200],[1900,2200],[1650,2700],[1400,2200]]]]},
  "properties":{"objectType":"annotation","classification":{"name":"Stroma","color":[0,160,0]}}},
 {"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[1500,300],[2000,300],[2000,800],[1500,800],[1500,300]]]},
  "properties":{"objectType":"annotation","classification":{"name":"Necrosis","color":[90,60,200]}}},
 {"type":"Feature","geometry":{"type":"LineString","coordinates":[[100,2000],[900,2800],[1200,1800]]},
  "properties":{"classification":{"name":"Margin","color":[0,0,255]}}},
 {"type":"Feature","geometry":{"type":"MultiPoint","coordinates":[[300,1500],[400,1600],[500,1700]]},
  "properties":{"classification":{"name":"Mitosis","color":[255,200,0]}}}
]}"#;

/// Centre, zoom, rotation, fill opacity, hidden class.
type Case = ([f64; 2], f64, i64, f64, Option<&'static str>);

fn render(slide: &Path, out: &Path, view: &[String], extra: &[&str]) {
    let output = Command::new(env!("CARGO_BIN_EXE_kh"))
        .arg("render")
        .arg(slide)
        .args(["--width", "640", "--height", "480", "--out"])
        .arg(out)
        .args(view)
        .args(extra)
        .output()
        .expect("kh runs");
    assert!(
        output.status.success(),
        "kh render: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_overlay_matches_an_independent_rasterisation() {
    let dir = tempfile::tempdir().unwrap();
    let shapes = dir.path().join("shapes.geojson");
    std::fs::write(&shapes, SHAPES).unwrap();
    let slide = fixtures_dir().join("real/cmu_small_region.svs");
    let cases: [Case; 6] = [
        ([1110.0, 1483.5], 5.0, 0, 1.0, None),
        ([700.0, 700.0], 1.5, 90, 1.0, None),
        ([1650.0, 1300.0], 3.0, 180, 1.0, Some("Stroma")),
        ([1000.0, 1500.0], 4.0, 270, 1.0, None),
        ([1110.0, 1483.5], 5.0, 90, 0.25, None),
        ([1100.0, 1000.0], 2.5, 0, 0.25, Some("Tumor")),
    ];
    for (n, (centre, zoom, rotation, opacity, hidden)) in cases.into_iter().enumerate() {
        let view: Vec<String> = vec![
            "--center-x".into(),
            centre[0].to_string(),
            "--center-y".into(),
            centre[1].to_string(),
            "--zoom".into(),
            zoom.to_string(),
            "--rotation".into(),
            rotation.to_string(),
        ];
        let plain = dir.path().join(format!("plain{n}.png"));
        let drawn = dir.path().join(format!("drawn{n}.png"));
        render(&slide, &plain, &view, &[]);
        let opacity_arg = opacity.to_string();
        let mut extra: Vec<&str> = vec![
            "--annotations",
            shapes.to_str().unwrap(),
            "--fill-opacity",
            &opacity_arg,
            "--outline-px",
            "3",
        ];
        if let Some(h) = hidden {
            extra.extend(["--hide-class", h]);
        }
        render(&slide, &drawn, &view, &extra);
        let mut oracle = Command::new(python());
        oracle
            .arg(workspace_root().join("tests/oracle/overlay_oracle.py"))
            .arg(&shapes)
            .arg(&plain)
            .arg(&drawn)
            .arg("--center")
            .arg(centre[0].to_string())
            .arg(centre[1].to_string())
            .args(["--zoom", &zoom.to_string()])
            .args(["--rotation", &rotation.to_string()])
            .args(["--fill-opacity", &opacity_arg, "--outline-px", "3"]);
        if let Some(h) = hidden {
            oracle.args(["--hide-class", h]);
        }
        let out = oracle.output().expect("the oracle runs");
        assert!(
            out.status.success(),
            "oracle: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let verdict: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(verdict["ok"], true, "case {n}: {verdict}");
        // The check looked at something: interiors, and the untouched rest.
        assert!(
            verdict["checked"]["fill"].as_u64().unwrap() > 1000,
            "case {n}: {verdict}"
        );
        assert!(
            verdict["checked"]["untouched"].as_u64().unwrap() > 1000,
            "case {n}: {verdict}"
        );
    }
}
