//! A slide that fails part-way: the lower half of its full-resolution tiles
//! is damaged (each tile's data overwritten from its middle on, as a failed
//! copy or a bad disk leaves them). The renderer reports each failing tile
//! once, naming the file and the tile; the intact part draws exactly as from
//! the whole file; where full detail failed, the coarser level stays on
//! screen instead of a hole.

mod common;

use kh_render::{Rotation, View, Viewport};
use kh_slide::Slide;
use std::collections::HashSet;
use std::sync::Arc;

#[test]
fn damaged_tiles_are_reported_and_the_rest_stays_usable() {
    let fixture = common::support::fixtures_dir().join("vips/jpeg_q85_t256.tiff");
    let whole = std::fs::read(&fixture).expect("fixture (cargo xtask fixtures)");
    let intact = Arc::new(Slide::open(&fixture).expect("open"));
    let level = intact.levels()[0];
    let first_bad_row = level.tiles_down() / 2;
    let dir = tempfile::tempdir().expect("tempdir");
    let cut = dir.path().join("damaged.tiff");
    std::fs::write(
        &cut,
        common::support::damage_tiles_from(
            whole,
            0,
            (first_bad_row * level.tiles_across()) as usize,
        ),
    )
    .expect("write");
    let broken = Arc::new(Slide::open(&cut).expect("the directory is intact, so the slide opens"));

    let viewport = Viewport {
        width: 512,
        height: 384,
    };
    let (w, h) = intact.dimensions();
    let mut good = common::renderer(intact.clone(), 64);
    let mut bad = common::renderer(broken, 64);

    // Top-left at full resolution: tiles that are all there.
    let top = View {
        center_slide: [1024.0, 768.0],
        zoom: 1.0,
        rotation: Rotation::Deg0,
    };
    assert_eq!(
        common::render(&mut bad, &top, viewport),
        common::render(&mut good, &top, viewport),
        "the intact part draws as from the whole file"
    );
    assert!(
        bad.take_errors().is_empty(),
        "no errors where nothing failed"
    );

    // Bottom at full resolution: every visible tile fails, the render still
    // completes, with the coarser level where detail is missing.
    let bottom = View {
        center_slide: [w as f64 / 2.0, h as f64 - 1024.0],
        zoom: 1.0,
        rotation: Rotation::Deg0,
    };
    let got = common::render(&mut bad, &bottom, viewport);
    let want = common::render(&mut good, &bottom, viewport);
    let mut errors = bad.take_errors();
    assert!(!errors.is_empty(), "the damaged tiles in view are reported");
    let all = vec![true; (viewport.width * viewport.height) as usize];
    let want_f: Vec<f64> = want.iter().map(|&v| f64::from(v)).collect();
    let close = common::psnr(&got, &want_f, &all);
    // The level above, magnified 2x, against full detail: softer but the
    // same tissue (a blank or garbage area is far below this). The view
    // waits for those stand-ins, so this does not depend on timing.
    assert!(
        close > 30.0,
        "where tiles failed the coarser level shows ({close:.1} dB against full detail)"
    );
    assert!(
        got != want,
        "the failed tiles are not drawn from damaged data as if intact"
    );

    // The same view again, and the whole slide: more damaged tiles (the
    // prefetch ring) may be reported, but never one twice.
    common::render(&mut bad, &bottom, viewport);
    common::render(
        &mut bad,
        &View::fit((w, h), viewport, Rotation::Deg0),
        viewport,
    );
    errors.extend(bad.take_errors());
    for e in &errors {
        assert!(
            e.contains("damaged.tiff") && e.contains("level 0 tile"),
            "an error names the file and the tile: {e}"
        );
    }
    let unique: HashSet<_> = errors.iter().collect();
    assert_eq!(
        unique.len(),
        errors.len(),
        "each tile is reported once: {errors:#?}"
    );
}
