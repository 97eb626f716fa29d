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

/// Tiles with scores as a heatmap: each tile's interior is viridis at its
/// score, between the measurement's own range by default or the range
/// given; the tile without a score is not drawn.
#[test]
fn a_heatmap_colours_tiles_by_their_score() {
    let dir = tempfile::tempdir().unwrap();
    let tiles = dir.path().join("tiles.geojson");
    let mut features = Vec::new();
    for row in 0..4 {
        for col in 0..4 {
            let (x, y) = (
                600.0 + 200.0 * f64::from(col),
                800.0 + 200.0 * f64::from(row),
            );
            let k = row * 4 + col;
            let measurements = if k == 5 {
                serde_json::json!({})
            } else {
                serde_json::json!({ "score": f64::from(k) / 15.0 })
            };
            features.push(serde_json::json!({
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [[[x, y], [x + 200.0, y], [x + 200.0, y + 200.0], [x, y + 200.0], [x, y]]]},
                "properties": {"objectType": "tile", "classification": {"name": "Tile", "color": [0, 0, 0]}, "measurements": measurements}
            }));
        }
    }
    let doc = serde_json::json!({"type": "FeatureCollection", "features": features});
    std::fs::write(&tiles, doc.to_string()).unwrap();
    let slide = fixtures_dir().join("real/cmu_small_region.svs");
    // Default range (0..1, the scores' own), opacity 1; a given range at
    // half opacity, rotated.
    let cases: [(i64, &str, Option<&str>, [&str; 2]); 2] = [
        (0, "1", None, ["0", "1"]),
        (90, "0.5", Some("0.2,0.8"), ["0.2", "0.8"]),
    ];
    for (n, (rotation, opacity, range, oracle_range)) in cases.into_iter().enumerate() {
        let view: Vec<String> = vec![
            "--center-x=1000".into(),
            "--center-y=1200".into(),
            "--zoom=2".into(),
            format!("--rotation={rotation}"),
        ];
        let plain = dir.path().join(format!("plain{n}.png"));
        let drawn = dir.path().join(format!("heat{n}.png"));
        render(&slide, &plain, &view, &[]);
        let mut extra = vec![
            "--annotations",
            tiles.to_str().unwrap(),
            "--heatmap",
            "score",
            "--fill-opacity",
            opacity,
            "--outline-px",
            "0",
        ];
        if let Some(r) = range {
            extra.extend(["--heatmap-range", r]);
        }
        render(&slide, &drawn, &view, &extra);
        let out = Command::new(python())
            .arg(workspace_root().join("tests/oracle/overlay_oracle.py"))
            .arg(&tiles)
            .arg(&plain)
            .arg(&drawn)
            .args(["--center", "1000", "1200", "--zoom", "2"])
            .args(["--rotation", &rotation.to_string()])
            .args(["--fill-opacity", opacity, "--outline-px", "0"])
            .args(["--heatmap", "score", "--heatmap-range"])
            .args(oracle_range)
            .output()
            .expect("the oracle runs");
        assert!(
            out.status.success(),
            "oracle: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let verdict: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(verdict["ok"], true, "case {n}: {verdict}");
        assert!(
            verdict["checked"]["fill"].as_u64().unwrap() > 10_000,
            "{verdict}"
        );
        assert!(
            verdict["checked"]["hidden"].as_u64().unwrap() > 1000,
            "{verdict}"
        );
    }
    // A range without a heatmap, or a heatmap nobody has, says so.
    for (args, says) in [
        (vec!["--heatmap-range", "0,1"], "needs --heatmap"),
        (vec!["--heatmap", "Probability"], "no object"),
        (
            vec!["--heatmap", "score", "--heatmap-range", "1,0"],
            "LOW,HIGH",
        ),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_kh"))
            .arg("render")
            .arg(&slide)
            .args(["--width", "64", "--height", "64", "--annotations"])
            .arg(&tiles)
            .args(&args)
            .arg("--out")
            .arg(dir.path().join("x.png"))
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && said.contains(says),
            "{args:?}: {said}"
        );
    }
}

/// A probability raster (NumPy's own `.npy`, and a grayscale PNG written by
/// Pillow) is stretched over the slide and drawn as the tiles it stands
/// for: the render equals the independent rasterisation of those tiles
/// (written here as GeoJSON), and `kh annotations info` counts them.
#[test]
fn a_probability_raster_is_drawn_as_the_tiles_it_stands_for() {
    let dir = tempfile::tempdir().unwrap();
    let slide = fixtures_dir().join("real/cmu_small_region.svs");
    let (w, h) = kh_slide::Slide::open(&slide).unwrap().dimensions();
    let (cols, rows) = (8u32, 6u32);
    // Scores in 0..1 with background (0) and a NaN; the PNG's are k/255.
    let score = |k: u32| -> f64 {
        match k {
            3 | 17 => 0.0,
            _ => f64::from((k * 37) % 256) / 255.0,
        }
    };
    let npy = dir.path().join("heat.npy");
    let png = dir.path().join("heat.png");
    let values: Vec<String> = (0..cols * rows)
        .map(|k| {
            if k == 9 {
                "float('nan')".to_owned()
            } else {
                format!("{:?}", score(k))
            }
        })
        .collect();
    let script = format!(
        "import numpy as np\nfrom PIL import Image\n\
         v = np.array([{}], dtype=np.float32).reshape({rows}, {cols})\n\
         np.save({:?}, v)\n\
         Image.fromarray(np.nan_to_num(np.round(v * 255)).astype(np.uint8)).save({:?})\n",
        values.join(","),
        npy.to_str().unwrap(),
        png.to_str().unwrap()
    );
    let made = Command::new(python())
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    // The tiles each stands for.
    let (sx, sy) = (w as f64 / f64::from(cols), h as f64 / f64::from(rows));
    let features: Vec<serde_json::Value> = (0..cols * rows)
        .filter(|&k| k != 9 && score(k) != 0.0)
        .map(|k| {
            let (c, r) = (f64::from(k % cols), f64::from(k / cols));
            let (x0, y0, x1, y1) = (c * sx, r * sy, (c + 1.0) * sx, (r + 1.0) * sy);
            serde_json::json!({
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]},
                "properties": {"objectType": "tile", "measurements": {"Probability": (score(k) as f32) as f64}}
            })
        })
        .collect();
    let tiles = dir.path().join("tiles.geojson");
    std::fs::write(
        &tiles,
        serde_json::json!({"type": "FeatureCollection", "features": features}).to_string(),
    )
    .unwrap();
    let info = Command::new(env!("CARGO_BIN_EXE_kh"))
        .args(["annotations", "info"])
        .arg(&npy)
        .arg("--slide")
        .arg(&slide)
        .output()
        .unwrap();
    let info: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(info["format"], "raster");
    assert_eq!(info["objects"], features.len());
    assert_eq!(info["by_type"]["tile"], features.len());
    // Without its slide a raster has no size: said in words.
    let bare = Command::new(env!("CARGO_BIN_EXE_kh"))
        .args(["annotations", "info"])
        .arg(&npy)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&bare.stderr).contains("needs one (--slide)"));
    let view: Vec<String> = vec![
        format!("--center-x={}", w / 2),
        format!("--center-y={}", h / 2),
        "--zoom=6".into(),
    ];
    let plain = dir.path().join("plain.png");
    render(&slide, &plain, &view, &[]);
    for raster in [&npy, &png] {
        let drawn = dir.path().join("drawn.png");
        render(
            &slide,
            &drawn,
            &view,
            &[
                "--annotations",
                raster.to_str().unwrap(),
                "--heatmap",
                "Probability",
                "--heatmap-range",
                "0,1",
                "--fill-opacity",
                "1",
                "--outline-px",
                "0",
            ],
        );
        let out = Command::new(python())
            .arg(workspace_root().join("tests/oracle/overlay_oracle.py"))
            .arg(&tiles)
            .arg(&plain)
            .arg(&drawn)
            .args([
                "--center",
                &(w / 2).to_string(),
                &(h / 2).to_string(),
                "--zoom",
                "6",
            ])
            .args([
                "--rotation",
                "0",
                "--fill-opacity",
                "1",
                "--outline-px",
                "0",
            ])
            .args(["--heatmap", "Probability", "--heatmap-range", "0", "1"])
            .output()
            .expect("the oracle runs");
        assert!(
            out.status.success(),
            "oracle: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let verdict: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(verdict["ok"], true, "{}: {verdict}", raster.display());
        assert!(
            verdict["checked"]["fill"].as_u64().unwrap() > 10_000,
            "{verdict}"
        );
    }
}
