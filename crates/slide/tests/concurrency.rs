//! One slide, many threads: reads agree with single-threaded reads, and the
//! decoded-tile cache never exceeds its budget even while threads evict each
//! other's tiles.

mod support;

use kh_slide::{OpenOptions, Slide};
use std::sync::Arc;

#[test]
fn many_threads_read_the_same_pixels_within_the_cache_budget() {
    let fixture = support::fixtures()
        .into_iter()
        .find(|f| f.name == "vips/jpeg_q85_t256.tiff")
        .expect("fixture");
    // A budget of a few dozen tiles forces constant eviction.
    let options = OpenOptions {
        cache_bytes: 40 * 256 * 256 * 4,
        ..OpenOptions::default()
    };
    let slide = Arc::new(Slide::open_with(&fixture.path, &options).unwrap());
    let mut regions = Vec::new();
    let mut seed = 7u64;
    for i in 0..96 {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        let level = i % 3;
        let l = slide.levels()[level];
        let x = ((seed >> 20) % (l.width - 300)) as i64 * l.downsample as i64;
        let y = ((seed >> 40) % (l.height - 300)) as i64 * l.downsample as i64;
        regions.push((x, y, level));
    }
    let expected: Vec<Vec<u8>> = {
        let fresh = Slide::open(&fixture.path).unwrap();
        regions
            .iter()
            .map(|&(x, y, l)| fresh.read_region(x, y, l, 300, 200).unwrap().pixels)
            .collect()
    };
    std::thread::scope(|s| {
        for t in 0..8 {
            let slide = slide.clone();
            let regions = &regions;
            let expected = &expected;
            s.spawn(move || {
                for k in 0..regions.len() {
                    let i = (k * 7 + t * 13) % regions.len();
                    let (x, y, l) = regions[i];
                    let got = slide.read_region(x, y, l, 300, 200).unwrap();
                    assert!(got.pixels == expected[i], "thread {t}: region {i} differs");
                    if k % 5 == 0 {
                        let _ = slide.read_tile(l, 1, 1).unwrap();
                    }
                }
            });
        }
    });
    let cache = slide.cache();
    assert!(cache.peak_bytes() > 0);
    assert!(
        cache.peak_bytes() <= cache.budget(),
        "peak {} over budget {}",
        cache.peak_bytes(),
        cache.budget()
    );
}
