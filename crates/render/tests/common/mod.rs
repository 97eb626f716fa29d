//! Shared by the renderer's tests: one GPU per test process, headless
//! renders, and colour arithmetic for references.

#![allow(dead_code)]

use kh_render::offscreen::Target;
use kh_render::{Adjustments, Gpu, RendererOptions, SlideRenderer, View, Viewport};
use kh_slide::Slide;
use std::sync::{Arc, OnceLock};

#[allow(unused_imports)]
pub use kh_testkit as support;

/// One device for all tests of a process (lavapipe here).
pub fn gpu() -> &'static Gpu {
    static GPU: OnceLock<Gpu> = OnceLock::new();
    GPU.get_or_init(|| match Gpu::headless() {
        Ok(gpu) => gpu,
        Err(e) => panic!("tests need a Vulkan device (mesa-vulkan-drivers for lavapipe): {e}"),
    })
}

pub fn renderer(slide: Arc<Slide>, budget_mib: u64) -> SlideRenderer {
    let options = RendererOptions {
        budget_bytes: Some(budget_mib << 20),
        threads: Some(1),
        ..Default::default()
    };
    match SlideRenderer::new(&gpu().device, slide, &options, Arc::new(|| {})) {
        Ok(r) => r,
        Err(e) => panic!("renderer: {e}"),
    }
}

/// Render `view` to completion: RGBA8, rows packed.
pub fn render(renderer: &mut SlideRenderer, view: &View, viewport: Viewport) -> Vec<u8> {
    let target = Target::new(gpu(), viewport).expect("target");
    let pixels = target
        .render_complete(gpu(), renderer, view, &Adjustments::default())
        .expect("render");
    let errors = gpu().take_errors();
    assert!(errors.is_empty(), "GPU errors: {errors:?}");
    pixels
}

pub fn srgb_to_linear(v: u8) -> f64 {
    let c = f64::from(v) / 255.0;
    if c <= 0.04045 {
        c / 12.92
    } else {
        ((c + 0.055) / 1.055).powf(2.4)
    }
}

pub fn linear_to_srgb(c: f64) -> f64 {
    let c = c.clamp(0.0, 1.0);
    let v = if c <= 0.0031308 {
        c * 12.92
    } else {
        1.055 * c.powf(1.0 / 2.4) - 0.055
    };
    v * 255.0
}

/// Peak signal-to-noise ratio of 8-bit RGB over the pixels `mask` keeps.
pub fn psnr(a: &[u8], b: &[f64], mask: &[bool]) -> f64 {
    let mut sum = 0.0;
    let mut n = 0usize;
    for (i, keep) in mask.iter().enumerate() {
        if !keep {
            continue;
        }
        for c in 0..3 {
            let d = f64::from(a[i * 4 + c]) - b[i * 4 + c];
            sum += d * d;
            n += 1;
        }
    }
    if n == 0 || sum == 0.0 {
        return f64::INFINITY;
    }
    10.0 * (255.0f64 * 255.0 / (sum / n as f64)).log10()
}
