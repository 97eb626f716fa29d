//! A single DICOM WSI instance: element walking, attribute parsing,
//! fragment tables, frame decoding.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut bytes = vec![0u8; 128];
    bytes.extend_from_slice(b"DICM");
    bytes.extend_from_slice(data);
    let _ = kh_slide::exercise("fuzz.dcm", bytes);
});
