//! Hamamatsu NDPI: the input is forced to look like NDPI (TIFF header plus
//! the NDPI format tag in its directory) so mutations explore restart
//! intervals, MCU starts and offsets rather than failing detection.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 16 || &data[..4] != b"II*\0" {
        return;
    }
    let _ = kh_slide::exercise("fuzz.ndpi", data.to_vec());
});
