//! ASAP XML: any bytes fail with a fault or give annotations that, written
//! as ASAP XML and as GeoJSON, read back with the same shapes.
#![no_main]
use kh_annotations::Limits;
use kh_annotations::asap::{annotations_from_asap, asap_from_annotations};
use kh_annotations::geojson::{annotations_from_geojson, geojson_from_annotations};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let Ok(a) = annotations_from_asap(data, &limits) else {
        return;
    };
    let mut xml = Vec::new();
    asap_from_annotations(&a, &mut xml).expect("writing to memory");
    let b = annotations_from_asap(xml.as_slice(), &limits)
        .unwrap_or_else(|f| panic!("our own ASAP XML does not read: {f}"));
    assert_eq!(a.objects.len(), b.objects.len());
    for (x, y) in a.objects.iter().zip(&b.objects) {
        assert_eq!(x.geometry, y.geometry);
    }
    let mut json = Vec::new();
    geojson_from_annotations(&a, &mut json).expect("writing to memory");
    let c = annotations_from_geojson(json.as_slice(), &limits)
        .unwrap_or_else(|f| panic!("our own GeoJSON does not read: {f}"));
    assert_eq!(a.objects.len(), c.objects.len());
});
