//! The `kh` binary end to end, on the fixtures.

use std::path::{Path, PathBuf};
use std::process::Command;

/// kh speaking English whatever the machine's locale (the error tests
/// read its words).
fn kh() -> Command {
    let mut kh = Command::new(env!("CARGO_BIN_EXE_kh"));
    kh.env("KAKEHASHI_UI_LANGUAGE", "en");
    kh
}

fn fixture(relative: &str) -> PathBuf {
    let dir = std::env::var_os("KH_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/fixtures"));
    let p = dir.join(relative);
    assert!(
        p.exists(),
        "{} missing: run `cargo xtask fixtures`",
        p.display()
    );
    p
}

#[test]
fn info_is_json_with_the_promised_fields() {
    let out = kh()
        .args(["slide", "info"])
        .arg(fixture("real/cmu_small_region.svs"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["format"], "aperio");
    assert_eq!(v["levels"][0]["width"], 2220);
    assert_eq!(v["levels"][0]["tile_width"], 240);
    assert_eq!(v["levels"][0]["downsample"], 1.0);
    assert_eq!(v["mpp_x"], 0.499);
    assert_eq!(v["objective_power"], 20.0);
    assert_eq!(v["associated_images"]["label"]["width"], 387);
    assert_eq!(v["properties"]["aperio.AppMag"], "20");
}

#[test]
fn region_png_matches_the_library() {
    let dir = tempfile::tempdir().unwrap();
    let out_png = dir.path().join("r.png");
    let slide_path = fixture("vips/jpeg_odd_t240.tiff");
    let status = kh()
        .args(["slide", "region"])
        .arg(&slide_path)
        .args([
            "--level", "1", "--x", "-20", "--y", "1000", "--width", "300", "--height", "200",
            "--out",
        ])
        .arg(&out_png)
        .status()
        .unwrap();
    assert!(status.success());
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(&out_png).unwrap(),
    ));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (300, 200));
    assert_eq!(info.color_type, png::ColorType::Rgba);
    let expected = kh_slide::Slide::open(&slide_path)
        .unwrap()
        .read_region(-20, 1000, 1, 300, 200)
        .unwrap();
    assert!(
        buf == expected.pixels,
        "PNG differs from the library's region"
    );
    assert_eq!(&buf[..4], &[0, 0, 0, 0], "left of the image is transparent");
}

#[test]
fn errors_name_the_file_and_exit_nonzero() {
    let dir = tempfile::tempdir().unwrap();
    let bogus = dir.path().join("not-a-slide.txt");
    std::fs::write(&bogus, "hello").unwrap();
    let out = kh().args(["slide", "info"]).arg(&bogus).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not-a-slide.txt") && err.contains("unrecognised"),
        "{err}"
    );
    // a failed region write leaves no file behind
    let target = dir.path().join("out.png");
    let out = kh()
        .args(["slide", "region"])
        .arg(fixture("real/boxes.tiff"))
        .args([
            "--level", "9", "--x", "0", "--y", "0", "--width", "10", "--height", "10", "--out",
        ])
        .arg(&target)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("level 9"));
    assert!(!target.exists());
}

/// `--help` and a usage error in Japanese, through the binary: the words
/// come from the catalogue, the exit codes are clap's (0 for help, 2 for a
/// usage error), and nothing of clap's English is left.
#[test]
fn help_and_usage_errors_speak_japanese() {
    let out = kh()
        .args(["--language", "ja", "slide", "--help"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("使い方: kh slide"), "{help}");
    assert!(
        help.contains("region") && help.contains("RGBA の PNG に書き出す"),
        "{help}"
    );
    assert!(
        !help.contains("Usage:") && !help.contains("Print help"),
        "{help}"
    );

    let out = kh()
        .args(["slide", "tile", "--language=ja", "x.svs", "--coll", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let error = String::from_utf8_lossy(&out.stderr);
    assert!(
        error.starts_with("kh：エラー：ここに '--coll' という引数はありません"),
        "{error}"
    );
    assert!(error.contains("'--col' のことですか"), "{error}");
    assert!(error.contains("詳しくは --help"), "{error}");
    assert!(
        !error.contains("error:") && !error.contains("Usage:"),
        "{error}"
    );
}

/// A command that fails says so in Japanese: kh's own refusal, and a
/// parser's error in words (what kind of failure, which file) with the
/// library's detail kept for support.
#[test]
fn failures_speak_japanese_and_keep_the_detail() {
    let dir = tempfile::tempdir().unwrap();
    let bogus = dir.path().join("検体メモ.txt");
    std::fs::write(&bogus, "hello").unwrap();
    let out = kh()
        .args(["--language", "ja", "slide", "info"])
        .arg(&bogus)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let error = String::from_utf8_lossy(&out.stderr);
    assert!(error.starts_with("kh：エラー："), "{error}");
    assert!(
        error.contains("検体メモ.txt：読める形式のスライドではありません（詳細："),
        "{error}"
    );
    assert!(error.contains("unrecognised"), "{error}");

    let out = kh()
        .args(["--language", "ja", "render"])
        .arg(&bogus)
        .args(["--width", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let error = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        error.trim(),
        "kh：エラー：--width と --height は 1 以上にしてください"
    );
}
