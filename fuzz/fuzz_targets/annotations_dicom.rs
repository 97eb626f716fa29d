//! DICOM ANN: any bytes fail with a fault or give annotations that, written
//! as DICOM ANN, read back as the same objects.
#![no_main]
use kh_annotations::Limits;
use kh_annotations::dicom::{annotations_from_dicom, dicom_from_annotations};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let Ok(a) = annotations_from_dicom(data, &limits, None) else {
        return;
    };
    let mut written = Vec::new();
    dicom_from_annotations(&a, None, &mut written).expect("writing to memory");
    let b = annotations_from_dicom(&written, &limits, None)
        .unwrap_or_else(|f| panic!("our own DICOM ANN does not read: {f}"));
    assert_eq!(a.objects.len(), b.objects.len());
});
