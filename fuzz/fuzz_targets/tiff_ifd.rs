//! TIFF/BigTIFF/NDPI directory parsing and value reads.
#![no_main]
use kh_slide::tiff::Tiff;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let bytes = data.to_vec();
    if let Ok(tiff) = Tiff::parse(&bytes) {
        for ifd in tiff.all_ifds() {
            for tag in ifd.tags().collect::<Vec<_>>() {
                let _ = tiff.value(&bytes, ifd, tag);
                let _ = tiff.uint(&bytes, ifd, tag);
                let _ = tiff.ascii(&bytes, ifd, tag);
            }
        }
    }
});
