//! Probability rasters (.npy, PNG): any bytes fail with a fault or give a
//! raster whose size agrees with its values, and its tiles lie on the slide.
#![no_main]
use kh_annotations::Limits;
use kh_annotations::raster::{raster_from_npy, raster_from_png, tiles_from_raster};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_objects: 1 << 20,
        ..Limits::default()
    };
    for raster in [raster_from_npy(data, &limits), raster_from_png(data, &limits)] {
        let Ok(r) = raster else { continue };
        assert_eq!(r.values.len(), r.width * r.height);
        let tiles = tiles_from_raster(&r, (1000, 800));
        for o in &tiles.objects {
            let b = o.geometry.bounds().expect("a tile has corners");
            assert!(b.min_x >= 0.0 && b.max_x <= 1000.0 + 1e-6 && b.max_y <= 800.0 + 1e-6);
        }
    }
});
