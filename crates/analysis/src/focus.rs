//! Focus QC: how sharp each tile of tissue is, so that out-of-focus areas
//! are seen before the slide is judged.
//!
//! Sharpness is the variance of the Laplacian of the grey image (Pech-
//! Pacheco et al., 2000): edges and chromatin texture give large second
//! derivatives, blur flattens them. It depends on the stain and the
//! tissue, so a tile is judged against the slide's own sharp tissue: the
//! 90th percentile of its tiles. Each tile becomes a `tile` object with
//! the sharpness, the sharpness relative to that reference (a 0–1 heatmap
//! value) and a class, "In focus" or "Out of focus". A slide blurred all
//! over has no sharp reference; its absolute sharpness says so.

use crate::tiles::{self, Tile, level_of};
use crate::tissue;
use crate::{AnalysisError, Region, Run, provenance_of};
use kh_annotations::{Annotations, Colour, Kind, Object};
use kh_slide::Slide;

/// A tile under this share of the reference sharpness is out of focus.
/// Blur of 1 µm (σ) on the fixture's texture leaves under a tenth; tissue
/// that is merely sparse stays above a half.
pub const OUT_OF_FOCUS: f64 = 0.25;

/// The reference: this percentile of the tiles' sharpness.
const REFERENCE_PERCENTILE: f64 = 0.9;

/// Tiles with less tissue than this share are not judged.
const TISSUE_SHARE: f64 = 0.25;

/// Tiles are this many pixels of the level square.
pub const TILE: u32 = 256;

/// The level read by default: the most detailed within this many µm per
/// pixel of 0.5 (20×), where focus matters for diagnosis.
const UM_PER_PIXEL: f64 = 0.5;

#[derive(Debug, Clone, Default)]
pub struct FocusOptions {
    /// The level to read (default: about 0.5 µm per pixel, else level 0).
    pub level: Option<usize>,
    /// Level-0 pixels to judge (default: all tissue).
    pub region: Option<Region>,
}

pub fn detect(
    slide: &Slide,
    options: &FocusOptions,
    run: &Run,
) -> Result<Annotations, AnalysisError> {
    let level = match options.level {
        Some(l) => l,
        None => match slide.mpp() {
            (Some(x), Some(y)) => slide.best_level_for_downsample(UM_PER_PIXEL / (x * y).sqrt()),
            _ => 0,
        },
    };
    let lv = level_of(slide, level)?;
    let tiles = tissue::tiles_over(slide, &lv, TILE, options.region, TISSUE_SHARE, run)?;
    let sharpness = tiles::for_each(&tiles, run, (0.1, 1.0), Vec::new, |tile, rgba| {
        slide.read_level_rect(level, tile.x, tile.y, tile.width, tile.height, rgba)?;
        Ok(laplacian_variance(
            rgba,
            tile.width as usize,
            tile.height as usize,
        ))
    })?;
    let judged: Vec<(Tile, f64)> = tiles
        .into_iter()
        .zip(sharpness)
        .filter_map(|(t, s)| Some((t, s?)))
        .collect();
    let mut sorted: Vec<f64> = judged.iter().map(|(_, s)| *s).collect();
    sorted.sort_by(f64::total_cmp);
    let reference = percentile(&sorted, REFERENCE_PERCENTILE).unwrap_or(0.0);

    let mut out = Annotations::default();
    let sharp = out.class_id("In focus", Some(Colour::rgb(40, 180, 90)));
    let blurred = out.class_id("Out of focus", Some(Colour::rgb(230, 60, 40)));
    out.provenance_id(provenance_of("kakehashi focus"));
    let sharpness_name = out.measurement_id("Sharpness (Laplacian variance)");
    let relative_name = out.measurement_id("Relative sharpness");
    let ds = lv.downsample;
    for (t, s) in judged {
        let relative = if reference > 0.0 { s / reference } else { 0.0 };
        let mut o = Object::new(Kind::Tile, t.footprint(ds));
        o.class = Some(if relative < OUT_OF_FOCUS {
            blurred
        } else {
            sharp
        });
        o.provenance = 1;
        o.measurements = vec![(sharpness_name, s), (relative_name, relative)];
        out.objects.push(o);
    }
    Ok(out)
}

/// The variance of the 4-neighbour Laplacian of the grey image (ITU-R
/// BT.601 weights, 0–255), over pixels whose neighbourhood is all opaque;
/// `None` when fewer than 16 such pixels.
pub fn laplacian_variance(rgba: &[u8], w: usize, h: usize) -> Option<f64> {
    let grey: Vec<Option<f64>> = rgba
        .chunks_exact(4)
        .map(|p| {
            (p[3] >= 128).then(|| {
                0.299 * f64::from(p[0]) + 0.587 * f64::from(p[1]) + 0.114 * f64::from(p[2])
            })
        })
        .collect();
    let (mut n, mut sum, mut sum_sq) = (0u64, 0f64, 0f64);
    for y in 1..h.saturating_sub(1) {
        for x in 1..w.saturating_sub(1) {
            let at = |xx: usize, yy: usize| grey[yy * w + xx];
            let (Some(c), Some(l), Some(r), Some(u), Some(d)) = (
                at(x, y),
                at(x - 1, y),
                at(x + 1, y),
                at(x, y - 1),
                at(x, y + 1),
            ) else {
                continue;
            };
            let lap = l + r + u + d - 4.0 * c;
            n += 1;
            sum += lap;
            sum_sq += lap * lap;
        }
    }
    (n >= 16).then(|| {
        let mean = sum / n as f64;
        (sum_sq / n as f64 - mean * mean).max(0.0)
    })
}

/// The nearest-rank percentile `p` (0–1) of sorted values.
fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rgba_of(grey: &[u8]) -> Vec<u8> {
        grey.iter().flat_map(|&g| [g, g, g, 255]).collect()
    }

    #[test]
    fn a_flat_image_has_no_sharpness_and_a_checkerboard_much() {
        let flat = rgba_of(&[128; 64]);
        assert_eq!(laplacian_variance(&flat, 8, 8), Some(0.0));
        let checks: Vec<u8> = (0..64)
            .map(|k| if (k % 8 + k / 8) % 2 == 0 { 0 } else { 255 })
            .collect();
        let v = laplacian_variance(&rgba_of(&checks), 8, 8).unwrap();
        // Every interior Laplacian is ±4·255 (grey weights sum to 1).
        assert!((v / (4.0 * 255.0f64).powi(2) - 1.0).abs() < 1e-9, "{v}");
        // Transparent pixels are not judged.
        let mut holey = rgba_of(&checks);
        holey.iter_mut().skip(3).step_by(4).for_each(|a| *a = 0);
        assert_eq!(laplacian_variance(&holey, 8, 8), None);
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.9), Some(9.0));
        assert_eq!(percentile(&v, 0.0), Some(1.0));
        assert_eq!(percentile(&[], 0.5), None);
    }
}
