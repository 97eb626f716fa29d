//! Whole TIFF-family slides (generic, Aperio SVS, OME, Philips) from
//! memory: open, tiles, regions, associated images.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = kh_slide::exercise("fuzz.tiff", data.to_vec());
});
