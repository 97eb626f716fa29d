//! Golden images against OpenSlide (or tifffile, where the parity suite uses
//! it): the renderer's output for views of every fixture, one test each.
//!
//! - At a zoom equal to a level's downsample, with the view aligned to that
//!   level's pixels, the render is OpenSlide's `read_region` of the same
//!   area (rotated for rotated views), within the fixture's tolerance + 1
//!   (the sRGB round trip through float).
//! - At fractional zooms the render is compared with an independent
//!   reference: the exact box (area) average, in linear light, of the
//!   oracle's pixels of the drawn level. Trilinear mip filtering is a
//!   different filter, so they agree within a PSNR bound, not exactly.
//! - Magnified views (zoom below 1) are bilinear between level-0 pixels.

mod common;

use common::support::{self, Fixture, ask_oracle};
use glam::DVec2;
use kh_render::{Rotation, View, Viewport};
use kh_slide::Slide;
use libtest_mimic::{Arguments, Failed, Trial};
use rand::{RngExt, SeedableRng, rngs::StdRng};
use std::sync::Arc;

/// Fractional zooms must reach this PSNR against the box reference.
const MIN_PSNR_DB: f64 = 30.0;

const VIEWPORT: Viewport = Viewport {
    width: 160,
    height: 120,
};

fn main() {
    let args = Arguments::from_args();
    let trials = support::fixtures()
        .into_iter()
        .filter(|f| f.oracle.is_some() && !f.openslide_level0 && f.expect_error.is_none())
        .filter(|f| !f.name.contains("beyond_4gib"))
        .map(|f| Trial::test(format!("golden::{}", f.name), move || check(&f)))
        .collect();
    libtest_mimic::run(&args, trials).exit();
}

fn seed_of(name: &str) -> u64 {
    name.bytes().fold(0x9e37_79b9_7f4a_7c15u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// A view and the oracle region that covers it.
struct Case {
    view: View,
    /// `[x, y, level, w, h]` for the oracle.
    region: [i64; 5],
    kind: Kind,
}

enum Kind {
    /// Screen pixels map 1:1 onto the region's pixels (rotated).
    Aligned,
    /// Screen pixel centres map to region coordinates by this affine
    /// (region pixels, origin at the region's corner).
    Resampled {
        region_from_screen: glam::DAffine2,
        footprint: f64,
    },
}

/// A level origin whose level-0 coordinate is a whole number, so OpenSlide
/// reads without resampling; 0 where the downsample makes that rare.
fn aligned_origin(rng: &mut StdRng, downsample: f64, extent: u64, span: u32) -> i64 {
    for _ in 0..64 {
        let l = rng.random_range(-(i64::from(span) / 4)..(extent as i64).max(1));
        let x = l as f64 * downsample;
        if (x - x.round()).abs() < 1e-9 {
            return l;
        }
    }
    0
}

fn plan(slide: &Slide, name: &str) -> Vec<Case> {
    let mut rng = StdRng::seed_from_u64(seed_of(name));
    let mut cases = Vec::new();
    let (w, h) = (VIEWPORT.width, VIEWPORT.height);
    for (index, level) in slide.levels().iter().enumerate() {
        let ds = level.downsample;
        for rotation in [
            Rotation::Deg0,
            Rotation::Deg90,
            Rotation::Deg180,
            Rotation::Deg270,
        ] {
            let (rw, rh) = match rotation {
                Rotation::Deg0 | Rotation::Deg180 => (w, h),
                _ => (h, w),
            };
            let lx = aligned_origin(&mut rng, ds, level.width, rw);
            let ly = aligned_origin(&mut rng, ds, level.height, rh);
            let center = [
                (lx as f64 + f64::from(rw) / 2.0) * ds,
                (ly as f64 + f64::from(rh) / 2.0) * ds,
            ];
            cases.push(Case {
                view: View {
                    center_slide: center,
                    zoom: ds,
                    rotation,
                },
                region: [
                    (lx as f64 * ds).round() as i64,
                    (ly as f64 * ds).round() as i64,
                    index as i64,
                    i64::from(rw),
                    i64::from(rh),
                ],
                kind: Kind::Aligned,
            });
        }
        // Fractional zooms drawn from this level: between it and the next.
        let next = slide
            .levels()
            .get(index + 1)
            .map_or(ds * 2.0, |n| n.downsample);
        for _ in 0..2 {
            let zoom = ds * rng.random_range(1.1..(next / ds).min(4.0) * 0.97);
            cases.push(resampled_case(&mut rng, slide, index, zoom));
        }
        if index == 0 {
            let zoom = rng.random_range(0.3..0.9);
            cases.push(resampled_case(&mut rng, slide, 0, zoom));
        }
    }
    cases
}

fn resampled_case(rng: &mut StdRng, slide: &Slide, index: usize, zoom: f64) -> Case {
    let level = slide.levels()[index];
    let ds = level.downsample;
    let scale = zoom / ds;
    // Region: the view's level footprint plus a margin for the filter.
    let margin = (scale.ceil() as i64) + 2;
    let rw = (f64::from(VIEWPORT.width) * scale).ceil() as i64 + 2 * margin;
    let rh = (f64::from(VIEWPORT.height) * scale).ceil() as i64 + 2 * margin;
    let lx = aligned_origin(rng, ds, level.width, rw as u32);
    let ly = aligned_origin(rng, ds, level.height, rh as u32);
    // Screen (0,0) corner sits `margin` level pixels into the region, plus
    // a random sub-pixel offset so texel centres do not line up.
    let sub = DVec2::new(rng.random_range(0.0..1.0), rng.random_range(0.0..1.0));
    let corner_level = DVec2::new((lx + margin) as f64, (ly + margin) as f64) + sub;
    let center_level = corner_level
        + DVec2::new(f64::from(VIEWPORT.width), f64::from(VIEWPORT.height)) * scale / 2.0;
    let region_from_screen = glam::DAffine2::from_scale_angle_translation(
        DVec2::splat(scale),
        0.0,
        DVec2::splat(margin as f64) + sub,
    );
    Case {
        view: View {
            center_slide: (center_level * ds).to_array(),
            zoom,
            rotation: Rotation::Deg0,
        },
        region: [
            (lx as f64 * ds).round() as i64,
            (ly as f64 * ds).round() as i64,
            index as i64,
            rw,
            rh,
        ],
        kind: Kind::Resampled {
            region_from_screen,
            footprint: scale,
        },
    }
}

/// Region pixel shown at screen pixel (sx, sy) of an aligned, rotated view.
fn region_pixel(rotation: Rotation, sx: u32, sy: u32, rw: u32, rh: u32) -> (u32, u32) {
    match rotation {
        Rotation::Deg0 => (sx, sy),
        Rotation::Deg90 => (sy, rh - 1 - sx),
        Rotation::Deg180 => (rw - 1 - sx, rh - 1 - sy),
        Rotation::Deg270 => (rw - 1 - sy, sx),
    }
}

fn check(f: &Fixture) -> Result<(), Failed> {
    let slide = Arc::new(Slide::open(&f.path).map_err(|e| e.to_string())?);
    let cases = plan(&slide, &f.name);
    let regions: Vec<[i64; 5]> = cases.iter().map(|c| c.region).collect();
    let answer = ask_oracle(f, &regions)?;
    let mut renderer = common::renderer(slide.clone(), 64);
    let tolerance = i32::from(f.tolerance) + 1;
    let (mut worst_diff, mut worst_db) = (0, f64::INFINITY);
    for (case, expected) in cases.iter().zip(&answer.regions) {
        let got = common::render(&mut renderer, &case.view, VIEWPORT);
        let [_, _, level, rw, rh] = case.region;
        let what = format!(
            "level {level} view {:?} zoom {} {:?}",
            case.view.center_slide, case.view.zoom, case.view.rotation
        );
        match &case.kind {
            Kind::Aligned => {
                let diff = compare_aligned(
                    &got,
                    expected,
                    case.view.rotation,
                    (rw as u32, rh as u32),
                    tolerance,
                )
                .map_err(|e| format!("{what}: {e}"))?;
                worst_diff = worst_diff.max(diff);
            }
            Kind::Resampled {
                region_from_screen,
                footprint,
            } => {
                let (reference, mask) = box_reference(
                    expected,
                    (rw as usize, rh as usize),
                    region_from_screen,
                    *footprint,
                );
                if mask.iter().filter(|m| **m).count() < 100 {
                    continue;
                }
                let db = common::psnr(&got, &reference, &mask);
                worst_db = worst_db.min(db);
                if db < MIN_PSNR_DB {
                    return Err(format!(
                        "{what}: PSNR {db:.1} dB against the box reference (at least {MIN_PSNR_DB})"
                    )
                    .into());
                }
            }
        }
    }
    eprintln!(
        "golden {}: {} views; aligned: largest difference {worst_diff}; fractional: lowest PSNR {worst_db:.1} dB",
        f.name,
        cases.len()
    );
    Ok(())
}

/// The largest channel difference over opaque pixels, or where it exceeds
/// the tolerance.
fn compare_aligned(
    got: &[u8],
    expected: &[u8],
    rotation: Rotation,
    (rw, rh): (u32, u32),
    tolerance: i32,
) -> Result<i32, String> {
    let mut worst = 0;
    let mut compared = 0;
    for sy in 0..VIEWPORT.height {
        for sx in 0..VIEWPORT.width {
            let (rx, ry) = region_pixel(rotation, sx, sy, rw, rh);
            let e = ((ry * rw + rx) * 4) as usize;
            let g = ((sy * VIEWPORT.width + sx) * 4) as usize;
            let alpha = expected[e + 3];
            if alpha == 0 {
                // Outside the slide or a missing tile: the background.
                if got[g..g + 3] != kh_render::renderer::BACKGROUND {
                    return Err(format!(
                        "screen ({sx}, {sy}) shows {:?} where the slide has nothing",
                        &got[g..g + 3]
                    ));
                }
                continue;
            }
            if alpha != 255 {
                continue;
            }
            compared += 1;
            for c in 0..3 {
                let d = (i32::from(got[g + c]) - i32::from(expected[e + c])).abs();
                if d > worst {
                    worst = d;
                }
                if d > tolerance {
                    return Err(format!(
                        "screen ({sx}, {sy}) = {:?}, OpenSlide {:?} (tolerance {tolerance})",
                        &got[g..g + 3],
                        &expected[e..e + 3]
                    ));
                }
            }
        }
    }
    if compared == 0 {
        return Ok(0);
    }
    Ok(worst)
}

/// The box (area) average over each screen pixel's footprint, in linear
/// light, of an opaque region; `mask` keeps pixels whose footprint lies
/// wholly on opaque pixels.
fn box_reference(
    region: &[u8],
    (rw, rh): (usize, usize),
    region_from_screen: &glam::DAffine2,
    footprint: f64,
) -> (Vec<f64>, Vec<bool>) {
    let (w, h) = (VIEWPORT.width as usize, VIEWPORT.height as usize);
    let mut out = vec![0.0; w * h * 4];
    let mut mask = vec![false; w * h];
    // Magnified views have a footprint below one texel: the reference is
    // then the bilinear interpolation (the area average's limit).
    let half = footprint.max(1.0) / 2.0;
    for sy in 0..h {
        for sx in 0..w {
            let c =
                region_from_screen.transform_point2(DVec2::new(sx as f64 + 0.5, sy as f64 + 0.5));
            let (x0, x1) = (c.x - half, c.x + half);
            let (y0, y1) = (c.y - half, c.y + half);
            let (ix0, ix1) = (x0.floor() as i64, (x1.ceil() as i64) - 1);
            let (iy0, iy1) = (y0.floor() as i64, (y1.ceil() as i64) - 1);
            if ix0 < 0 || iy0 < 0 || ix1 >= rw as i64 || iy1 >= rh as i64 {
                continue;
            }
            let mut sum = [0.0; 3];
            let mut weight = 0.0;
            let mut opaque = true;
            for iy in iy0..=iy1 {
                let wy = (y1.min(iy as f64 + 1.0) - y0.max(iy as f64)).max(0.0);
                for ix in ix0..=ix1 {
                    let wx = (x1.min(ix as f64 + 1.0) - x0.max(ix as f64)).max(0.0);
                    let p = (iy as usize * rw + ix as usize) * 4;
                    if region[p + 3] != 255 {
                        opaque = false;
                    }
                    for (ch, s) in sum.iter_mut().enumerate() {
                        *s += wx * wy * common::srgb_to_linear(region[p + ch]);
                    }
                    weight += wx * wy;
                }
            }
            if !opaque || weight == 0.0 {
                continue;
            }
            mask[sy * w + sx] = true;
            for ch in 0..3 {
                out[(sy * w + sx) * 4 + ch] = common::linear_to_srgb(sum[ch] / weight);
            }
        }
    }
    (out, mask)
}
