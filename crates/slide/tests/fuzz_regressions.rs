//! Inputs the fuzz targets found (or that reach the same paths), kept as
//! regression tests: each runs through the harness of its target and must
//! not panic. Add a crash by copying `fuzz/artifacts/<target>/crash-*` into
//! `tests/fuzz_regressions/<target>/`.

mod support;

use std::path::Path;
use support::counting::{MEMORY_BOUND, measured};

fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz_regressions")
        .join(target);
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .filter(|e| e.path().is_file() && e.file_name() != ".keep")
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn tiff_ifd_inputs() {
    let cases = inputs("tiff_ifd");
    assert!(!cases.is_empty());
    for (_, bytes) in cases {
        if let Ok(tiff) = kh_slide::tiff::Tiff::parse(&bytes) {
            for ifd in tiff.all_ifds() {
                for tag in ifd.tags().collect::<Vec<_>>() {
                    let _ = tiff.value(&bytes, ifd, tag);
                }
            }
        }
    }
}

#[test]
fn slide_inputs() {
    let mut n = 0;
    for target in ["slide_tiff", "ndpi"] {
        for (name, bytes) in inputs(target) {
            let o = measured(|| kh_slide::exercise(&name, bytes));
            assert!(
                o.peak < MEMORY_BOUND,
                "{target}/{name}: {} MiB",
                o.peak >> 20
            );
            n += 1;
        }
    }
    assert!(n > 0);
}

#[test]
fn dicom_inputs() {
    let cases = inputs("dicom");
    assert!(!cases.is_empty());
    for (name, data) in cases {
        let mut bytes = vec![0u8; 128];
        bytes.extend_from_slice(b"DICM");
        bytes.extend_from_slice(&data);
        let o = measured(|| kh_slide::exercise(&name, bytes));
        assert!(o.peak < MEMORY_BOUND, "dicom/{name}: {} MiB", o.peak >> 20);
    }
}
