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
