//! The GPU budget holds over a pan across the whole slide: a cache far
//! smaller than the slide evicts as it goes, never holds more than its
//! budget, and what it draws afterwards is exactly what a fresh renderer
//! draws (eviction never leaves a stale tile behind in the page table).

mod common;

use kh_render::{Rotation, View, Viewport};
use kh_slide::Slide;
use std::sync::Arc;
use std::time::Duration;

#[test]
fn budget_holds_during_a_pan_across_the_slide() {
    let fixture = common::support::fixtures_dir().join("vips/jpeg_q85_t256.tiff");
    let slide = Arc::new(Slide::open(&fixture).expect("open"));
    let (w, h) = slide.dimensions();
    let viewport = Viewport {
        width: 320,
        height: 240,
    };
    let budget_mib = 14;
    let budget = budget_mib << 20;
    let mut renderer = common::renderer(slide.clone(), budget_mib);
    let (capacity, _) = renderer.slot_capacity();
    let target = kh_render::offscreen::Target::new(common::gpu(), viewport).expect("target");

    // A serpentine over the slide at full resolution and at 2x, with a
    // little wait for tiles at each step (a user's pan, not a teleport).
    let rows = 8;
    let steps_per_row = 24;
    let mut uploaded = 0;
    let mut frames = 0;
    for zoom in [1.0, 2.0] {
        for row in 0..rows {
            for step in 0..=steps_per_row {
                let f = f64::from(step) / f64::from(steps_per_row);
                let x = if row % 2 == 0 { f } else { 1.0 - f } * w as f64;
                let y = (f64::from(row) + 0.5) / f64::from(rows) * h as f64;
                let view = View {
                    center_slide: [x, y],
                    zoom,
                    rotation: Rotation::Deg0,
                };
                target.draw(
                    common::gpu(),
                    &mut renderer,
                    &view,
                    &kh_render::Adjustments::default(),
                );
                renderer.wait_for_tile(Duration::from_millis(20));
                let stats = renderer.stats();
                frames += 1;
                assert!(
                    stats.gpu_bytes <= budget,
                    "frame {frames}: {} GPU bytes held over a budget of {budget}",
                    stats.gpu_bytes
                );
                assert!(
                    stats.resident_bytes <= stats.gpu_bytes,
                    "frame {frames}: resident tiles {} exceed the allocation {}",
                    stats.resident_bytes,
                    stats.gpu_bytes
                );
                uploaded += stats.uploaded;
            }
        }
    }
    assert!(
        uploaded > 3 * capacity,
        "the pan must load more tiles ({uploaded}) than the cache holds ({capacity}) to test eviction"
    );
    assert!(common::gpu().take_errors().is_empty());

    // After all that churn, a view draws exactly as from a fresh renderer.
    let view = View {
        center_slide: [w as f64 * 0.3, h as f64 * 0.6],
        zoom: 1.3,
        rotation: Rotation::Deg0,
    };
    let churned = common::render(&mut renderer, &view, viewport);
    let mut fresh = common::renderer(slide, budget_mib);
    assert!(
        churned == common::render(&mut fresh, &view, viewport),
        "a renderer that evicted draws differently from a fresh one"
    );
    assert!(renderer.take_errors().is_empty());
}
