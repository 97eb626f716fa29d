//! QuPath GeoJSON: any bytes read leniently (bare NaN allowed) fail with a
//! fault or give annotations that, written as GeoJSON, read back strictly
//! with the same objects and shapes; and the parallel fast path, where it
//! takes the bytes at all, gives exactly what the serial reader gives.
#![no_main]
use kh_annotations::Limits;
use kh_annotations::geojson::{
    annotations_from_big_geojson, annotations_from_geojson, annotations_from_lenient_geojson,
    geojson_from_annotations,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let serial = annotations_from_lenient_geojson(data, &limits);
    if let Some(Ok(fast)) = annotations_from_big_geojson(data, &limits) {
        let slow = serial.as_ref().expect("the fast path read what the serial one refused");
        assert_eq!(fast.objects.len(), slow.objects.len());
        for (x, y) in fast.objects.iter().zip(&slow.objects) {
            assert_eq!(x.geometry, y.geometry);
            assert_eq!(x.class.map(|c| &fast.class(c).name), y.class.map(|c| &slow.class(c).name));
        }
    }
    let Ok(a) = serial else {
        return;
    };
    let mut out = Vec::new();
    geojson_from_annotations(&a, &mut out).expect("writing to memory");
    let b = annotations_from_geojson(out.as_slice(), &limits)
        .unwrap_or_else(|f| panic!("our own output does not read: {f}"));
    assert_eq!(a.objects.len(), b.objects.len());
    for (x, y) in a.objects.iter().zip(&b.objects) {
        assert_eq!(x.kind, y.kind);
        assert_eq!(x.geometry, y.geometry);
        assert_eq!(x.nucleus, y.nucleus);
    }
});
