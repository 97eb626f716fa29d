//! Shared by the integration tests: where the fixtures and the oracle live.
//! Both are built by `cargo xtask fixtures` (the README's test command runs
//! it); a missing fixture tree fails the tests rather than skipping them.

#![allow(dead_code)]

pub mod counting;

use std::path::PathBuf;

pub fn workspace_root() -> PathBuf {
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
