//! A multi-file DICOM slide: instances that disagree on series, levels,
//! frame grids and sizes, read as one slide.
//!
//! Input: instances as [length u32 BE][bytes] (each given the preamble and
//! the DICM marker if it lacks them), at most 6.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    let mut instances = Vec::new();
    while rest.len() >= 4 && instances.len() < 6 {
        let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        rest = &rest[4..];
        let body = &rest[..len.min(rest.len())];
        rest = &rest[body.len()..];
        let mut bytes = Vec::with_capacity(body.len() + 132);
        if body.get(128..132) != Some(b"DICM".as_slice()) {
            bytes.resize(128, 0);
            bytes.extend_from_slice(b"DICM");
        }
        bytes.extend_from_slice(body);
        instances.push(bytes);
    }
    let _ = kh_slide::exercise_dicom_series(instances);
});
