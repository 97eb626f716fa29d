//! `kh-bench` end to end, on the fixtures.

use std::process::Command;

#[test]
fn the_slide_bench_prints_one_json_line() {
    let out = Command::new(env!("CARGO_BIN_EXE_kh-bench"))
        .arg("slide")
        .arg(kh_testkit::fixtures_dir().join("vips/jpeg_q85_t256.tiff"))
        .args([
            "--regions",
            "20",
            "--threads",
            "2",
            "--seed",
            "3",
            "--open-repeats",
            "2",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 1);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["regions"], 20);
    assert!(v["regions_per_s"].as_f64().unwrap() > 0.0);
    assert!(v["megapixels_per_s"].as_f64().unwrap() > 0.0);
    assert!(v["cache_peak_bytes"].as_u64().unwrap() <= v["cache_budget_bytes"].as_u64().unwrap());
}

/// The overlay frame-rate bench (the GPU check's figure) runs end to end on
/// any adapter; here small, on the CPU.
#[test]
fn the_overlay_bench_times_frames_at_four_zooms() {
    let out = Command::new(env!("CARGO_BIN_EXE_kh-bench"))
        .arg("overlay")
        .arg(kh_testkit::fixtures_dir().join("real/cmu_small_region.svs"))
        .args(["--objects", "2000", "--size", "320x240", "--frames", "2"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["objects"], 2000);
    let zooms = v["zooms"].as_array().unwrap();
    assert_eq!(zooms.len(), 4);
    assert!(zooms.iter().all(|z| z["fps"].as_f64().unwrap() > 0.0));
    assert_eq!(v["target_fps"], 120.0);
}
