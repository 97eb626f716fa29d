//! Shared by the integration tests of every crate: where the fixtures and
//! the oracle live, and damaged copies of slides. Fixtures and oracle are
//! built by `cargo xtask fixtures` (the README's test command runs it); a
//! missing fixture tree fails the tests rather than skipping them.
//!
//! Test code: a missing fixture or a broken oracle is a failed test, so
//! this panics with the reason instead of returning errors.

mod damage;
pub mod ime;
pub mod needs;
pub mod vm;
pub mod x11;

pub use damage::damage_tiles_from;

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Peak signal-to-noise ratio of two 8-bit planes (or whole pictures) of
/// the same layout, in dB; identical inputs give a large finite figure.
pub fn psnr_u8(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len(), "psnr of pictures of different sizes");
    let mse = a
        .iter()
        .zip(b)
        .map(|(x, y)| (f64::from(*x) - f64::from(*y)).powi(2))
        .sum::<f64>()
        / a.len() as f64;
    10.0 * (255.0f64.powi(2) / mse.max(1e-9)).log10()
}

pub fn workspace_root() -> PathBuf {
    // This crate is crates/testkit.
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

pub fn fixtures_dir() -> PathBuf {
    let dir = std::env::var_os("KH_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/fixtures"));
    assert!(
        dir.join("manifest.json").is_file(),
        "no fixtures in {}: run `cargo xtask fixtures` (or the README's test command) first",
        dir.display()
    );
    dir
}

pub fn python() -> PathBuf {
    let py = std::env::var_os("KH_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".venv/bin/python"));
    assert!(
        py.is_file(),
        "no oracle Python at {}: run `cargo xtask setup` first",
        py.display()
    );
    py
}

/// ONNX Runtime's library as the test venv's `onnxruntime` wheel ships it
/// (the one the package ships too), for `ORT_DYLIB_PATH`.
pub fn onnxruntime_library() -> PathBuf {
    let lib = workspace_root().join(".venv/lib");
    let found = std::fs::read_dir(&lib).ok().and_then(|pythons| {
        pythons.flatten().find_map(|python| {
            let capi = python.path().join("site-packages/onnxruntime/capi");
            std::fs::read_dir(capi)
                .ok()?
                .flatten()
                .map(|e| e.path())
                .find(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("libonnxruntime.so."))
                })
        })
    });
    found.unwrap_or_else(|| {
        panic!(
            "no ONNX Runtime under {}: run `cargo xtask setup` first (tests/requirements.txt installs onnxruntime)",
            lib.display()
        )
    })
}

#[derive(Debug, Clone, serde::Deserialize)]
pub struct Fixture {
    pub name: String,
    pub path: PathBuf,
    pub oracle: Option<String>,
    #[serde(default)]
    pub lossless: bool,
    pub vendor: Option<String>,
    pub mpp: Option<f64>,
    pub expect_error: Option<String>,
    #[serde(default)]
    pub openslide_level0: bool,
    /// Largest per-channel difference allowed (0: bit-exact).
    #[serde(default)]
    pub tolerance: u8,
}

#[derive(serde::Deserialize)]
struct Manifest {
    fixtures: Vec<Fixture>,
}

pub fn fixtures() -> Vec<Fixture> {
    let dir = fixtures_dir();
    let text = std::fs::read_to_string(dir.join("manifest.json")).expect("manifest");
    serde_json::from_str::<Manifest>(&text)
        .expect("manifest.json")
        .fixtures
}

/// Ask the reference reader (tests/oracle/slide_oracle.py) for regions
/// `[x, y, level, w, h]` of a fixture.
/// What the oracle read: its info JSON, each region's RGBA, and the
/// associated images (width, height, RGBA).
pub struct Answer {
    pub info: Value,
    pub regions: Vec<Vec<u8>>,
    pub associated: BTreeMap<String, (u32, u32, Vec<u8>)>,
}

pub fn ask_oracle(f: &Fixture, regions: &[[i64; 5]]) -> Result<Answer, String> {
    let dir = tempfile::tempdir().map_err(|e| format!("tempdir: {e}"))?;
    let request = serde_json::json!({
        "path": f.path, "oracle": f.oracle, "regions": regions, "associated": true,
    });
    let req_path = dir.path().join("request.json");
    std::fs::write(&req_path, request.to_string()).map_err(|e| e.to_string())?;
    let prefix = dir.path().join("answer");
    let script = workspace_root().join("tests/oracle/slide_oracle.py");
    let status = std::process::Command::new(python())
        .arg(&script)
        .arg(&req_path)
        .arg(&prefix)
        .status()
        .map_err(|e| format!("running the oracle: {e}"))?;
    if !status.success() {
        return Err(format!("oracle exited with {status}"));
    }
    let json: Value = serde_json::from_str(
        &std::fs::read_to_string(prefix.with_extension("json")).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    if let Some(err) = json["error"].as_str() {
        return Err(format!("the oracle could not read {}: {err}", f.name));
    }
    let blob = std::fs::read(prefix.with_extension("bin")).map_err(|e| e.to_string())?;
    let slice = |v: &Value| -> (u32, u32, Vec<u8>) {
        let a = v.as_array().expect("range");
        let (start, len) = (
            a[0].as_u64().unwrap() as usize,
            a[1].as_u64().unwrap() as usize,
        );
        (
            a[2].as_u64().unwrap() as u32,
            a[3].as_u64().unwrap() as u32,
            blob[start..start + len].to_vec(),
        )
    };
    Ok(Answer {
        info: json["info"].clone(),
        regions: json["regions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| slice(v).2)
            .collect(),
        associated: json["associated"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), slice(v)))
            .collect(),
    })
}
