//! Nuclei on H&E: where the haematoxylin is, split into nuclei, each a
//! polygon with its area, shape and stain measurements.
//!
//! Tile by tile over the tissue (or a region), on every core: colour
//! deconvolution to haematoxylin ([`crate::stain`]), smoothed 3 × 3, a
//! threshold (Otsu's over a sample of the tissue's tiles, glass left out),
//! an opening, small holes filled, then a watershed on the distance
//! transform that cuts touching nuclei at their necks. Pieces outside a
//! nucleus's size range are dropped. Each tile is read with a margin as
//! wide as the largest nucleus, and a nucleus belongs to the tile holding
//! its centre, so nuclei across tile edges are found once and whole.

use crate::contour::{Mask, polygons_from_mask};
use crate::morphology::{distance_transform, drop_small, open, otsu, watershed};
use crate::stain::Deconvolution;
use crate::tiles::{self, Tile, level_of};
use crate::tissue;
use crate::{AnalysisError, Region, Run, provenance_of};
use kh_annotations::plane::{distance, ring_area};
use kh_annotations::{Annotations, Colour, Geometry, Kind, Object, Point, Polygon};
use kh_slide::Slide;

/// Nuclei kept, by area: a small lymphocyte's nucleus is about 20 µm², a
/// large tumour nucleus a few hundred; below 10 µm² is debris or noise.
pub const MIN_AREA_UM2: f64 = 10.0;
pub const MAX_AREA_UM2: f64 = 500.0;

/// µm per level-0 pixel assumed (for the size range only) when the slide
/// does not say: a 40× scan's.
const ASSUMED_MPP: f64 = 0.25;

/// The haematoxylin threshold (base-10 OD) is Otsu's, kept within this
/// range: below, pale stroma would count; above, pale nuclei would not.
const THRESHOLD_RANGE: (f32, f32) = (0.1, 1.5);

/// A pixel darker than this in total (base-10 OD over R, G, B) is not
/// glass: only such pixels inform the threshold.
const GLASS_DENSITY: f32 = 0.2;

/// Tiles sampled for the threshold.
const THRESHOLD_TILES: usize = 16;

/// Tiles are this many pixels of the level square (plus the margin).
const TILE: u32 = 1024;

/// A neck between two touching nuclei must be this many pixels narrower
/// (in distance to the background) than the smaller nucleus's centre for
/// the watershed's cut to stand.
const NECK_DEPTH: f32 = 1.5;

/// Polygon outlines are simplified to within this many pixels of the
/// level: under half a pixel, so a nucleus of a few dozen pixels keeps
/// its area (at 0.5 the outline of a 10 × 6 block lost an eighth of it).
const OUTLINE_TOLERANCE: f64 = 0.3;

#[derive(Debug, Clone, Default)]
pub struct NucleiOptions {
    /// The level to read (default 0: nuclei need full resolution).
    pub level: Option<usize>,
    /// Level-0 pixels to search (default: all tissue).
    pub region: Option<Region>,
    /// Haematoxylin threshold, base-10 OD (default: from the slide).
    pub threshold: Option<f32>,
}

/// One nucleus as a tile finds it.
struct Nucleus {
    /// Level-0 pixels.
    outline: Polygon,
    haematoxylin_mean: f64,
    haematoxylin_max: f64,
    eosin_mean: f64,
}

/// What segmentation needs to know, fixed for the run.
struct Plan<'a> {
    slide: &'a Slide,
    level: usize,
    downsample: f64,
    threshold: f32,
    /// Pieces kept, in pixels of the level.
    min_pixels: f64,
    max_pixels: f64,
    /// The margin read around each tile.
    halo: u32,
    /// The smallest nucleus's radius: peaks closer than this are one.
    radius: usize,
    /// Level coordinates kept (the region), if any.
    region: Option<[f64; 4]>,
    deconvolution: Deconvolution,
}

pub fn detect(
    slide: &Slide,
    options: &NucleiOptions,
    run: &Run,
) -> Result<Annotations, AnalysisError> {
    let level = options.level.unwrap_or(0);
    let lv = level_of(slide, level)?;
    let (mpp, measured) = match slide.mpp() {
        (Some(x), Some(y)) => ((x * y).sqrt(), true),
        _ => (ASSUMED_MPP, false),
    };
    let um_per_pixel = mpp * lv.downsample;
    let min_pixels = (MIN_AREA_UM2 / (um_per_pixel * um_per_pixel)).max(4.0);
    let max_pixels = MAX_AREA_UM2 / (um_per_pixel * um_per_pixel);
    if max_pixels < 16.0 {
        return Err(AnalysisError::Refused(format!(
            "level {level} has {um_per_pixel:.2} µm per pixel: too coarse to see nuclei; use level 0"
        )));
    }
    let tiles = tissue::tiles_over(slide, &lv, TILE, options.region, 0.0, run)?;
    let deconvolution = Deconvolution::hed();
    let threshold = match options.threshold {
        Some(t) => t,
        None => run.within(0.1, 0.2, |run| {
            threshold_of(slide, level, &tiles, &deconvolution, run)
        })?,
    };
    let plan = Plan {
        slide,
        level,
        downsample: lv.downsample,
        threshold,
        min_pixels,
        max_pixels,
        halo: (2.0 * (max_pixels / std::f64::consts::PI).sqrt()).ceil() as u32 + 2,
        radius: ((min_pixels / std::f64::consts::PI).sqrt() as usize).max(2),
        region: options.region.map(|r| {
            let ds = lv.downsample;
            [
                r.x as f64 / ds,
                r.y as f64 / ds,
                (r.x as f64 + r.width as f64) / ds,
                (r.y as f64 + r.height as f64) / ds,
            ]
        }),
        deconvolution,
    };
    let found = tiles::for_each(
        &tiles,
        run,
        (0.2, 1.0),
        Scratch::default,
        |tile, scratch| segment(&plan, tile, scratch),
    )?;

    let mut out = Annotations::default();
    let class = out.class_id("Nucleus", Some(Colour::rgb(60, 60, 220)));
    out.objects.reserve(found.iter().map(Vec::len).sum());
    out.provenance_id(provenance_of("kakehashi nuclei"));
    let (area_name, perimeter_name, scale) = if measured {
        ("Nucleus: Area µm^2", "Nucleus: Perimeter µm", mpp)
    } else {
        ("Nucleus: Area px^2", "Nucleus: Perimeter px", 1.0)
    };
    let names = [
        out.measurement_id(area_name),
        out.measurement_id(perimeter_name),
        out.measurement_id("Nucleus: Circularity"),
        out.measurement_id("Nucleus: Hematoxylin OD mean"),
        out.measurement_id("Nucleus: Hematoxylin OD max"),
        out.measurement_id("Nucleus: Eosin OD mean"),
    ];
    for n in found.into_iter().flatten() {
        let area = ring_area(&n.outline.exterior)
            - n.outline.holes.iter().map(|h| ring_area(h)).sum::<f64>();
        let ring = &n.outline.exterior;
        let perimeter: f64 = (0..ring.len())
            .map(|i| distance(ring[i], ring[(i + 1) % ring.len()]))
            .sum();
        let circularity = (4.0 * std::f64::consts::PI * area / (perimeter * perimeter)).min(1.0);
        let mut o = Object::new(Kind::Detection, Geometry::Polygon(n.outline));
        o.class = Some(class);
        o.provenance = 1;
        o.measurements = vec![
            (names[0], area * scale * scale),
            (names[1], perimeter * scale),
            (names[2], circularity),
            (names[3], n.haematoxylin_mean),
            (names[4], n.haematoxylin_max),
            (names[5], n.eosin_mean),
        ];
        out.objects.push(o);
    }
    run.check(1.0)?;
    Ok(out)
}

/// Otsu's threshold of haematoxylin over the stained pixels of up to
/// [`THRESHOLD_TILES`] tiles spread over the plan.
fn threshold_of(
    slide: &Slide,
    level: usize,
    tiles: &[Tile],
    deconvolution: &Deconvolution,
    run: &Run,
) -> Result<f32, AnalysisError> {
    let picks: Vec<Tile> = if tiles.len() <= THRESHOLD_TILES {
        tiles.to_vec()
    } else {
        (0..THRESHOLD_TILES)
            .map(|i| tiles[i * tiles.len() / THRESHOLD_TILES])
            .collect()
    };
    let mut values = Vec::new();
    let mut rgba = Vec::new();
    for (i, t) in picks.iter().enumerate() {
        run.check(i as f32 / picks.len() as f32)?;
        slide.read_level_rect(level, t.x, t.y, t.width, t.height, &mut rgba)?;
        values.extend(
            rgba.chunks_exact(4)
                .filter(|p| p[3] >= 128 && deconvolution.total_of(p[0], p[1], p[2]) > GLASS_DENSITY)
                .map(|p| deconvolution.hed_of(p[0], p[1], p[2])[0]),
        );
    }
    let (lo, hi) = THRESHOLD_RANGE;
    Ok(otsu(values.into_iter(), 0.0, 2.0)
        .unwrap_or(hi)
        .clamp(lo, hi))
}

/// A worker's buffers, kept from tile to tile.
#[derive(Default)]
struct Scratch {
    rgba: Vec<u8>,
    haematoxylin: Vec<f32>,
    eosin: Vec<f32>,
    smooth: Vec<f32>,
}

/// Per label, while measuring.
#[derive(Clone, Copy)]
struct Tally {
    pixels: u32,
    h_sum: f64,
    h_max: f32,
    e_sum: f64,
    x_sum: f64,
    y_sum: f64,
    bounds: [usize; 4],
    on_edge: bool,
}

/// The nuclei whose centres lie in one tile.
fn segment(plan: &Plan, tile: &Tile, s: &mut Scratch) -> Result<Vec<Nucleus>, AnalysisError> {
    let halo = plan.halo;
    let (x0, y0) = (tile.x - i64::from(halo), tile.y - i64::from(halo));
    let (w, h) = (
        (tile.width + 2 * halo) as usize,
        (tile.height + 2 * halo) as usize,
    );
    plan.slide
        .read_level_rect(plan.level, x0, y0, w as u32, h as u32, &mut s.rgba)?;
    s.haematoxylin.clear();
    s.eosin.clear();
    for p in s.rgba.chunks_exact(4) {
        let [hh, e, _] = if p[3] >= 128 {
            plan.deconvolution.hed_of(p[0], p[1], p[2])
        } else {
            [0.0; 3]
        };
        s.haematoxylin.push(hh);
        s.eosin.push(e);
    }
    smooth3(&s.haematoxylin, w, h, &mut s.smooth);
    let mut mask = Mask {
        width: w,
        height: h,
        data: s.smooth.iter().map(|&v| v > plan.threshold).collect(),
    };
    open(&mut mask);
    drop_small(&mut mask, plan.min_pixels as usize, false);
    drop_small(&mut mask, (plan.min_pixels / 2.0) as usize, true);
    let distance = distance_transform(&mask);
    let (labels, count) = watershed(&mask, &distance, plan.radius, NECK_DEPTH);

    let empty = Tally {
        pixels: 0,
        h_sum: 0.0,
        h_max: 0.0,
        e_sum: 0.0,
        x_sum: 0.0,
        y_sum: 0.0,
        bounds: [usize::MAX, usize::MAX, 0, 0],
        on_edge: false,
    };
    let mut tally = vec![empty; count as usize + 1];
    for (k, &l) in labels.iter().enumerate() {
        if l == 0 {
            continue;
        }
        let (x, y) = (k % w, k / w);
        let t = &mut tally[l as usize];
        t.pixels += 1;
        t.h_sum += f64::from(s.haematoxylin[k]);
        t.h_max = t.h_max.max(s.haematoxylin[k]);
        t.e_sum += f64::from(s.eosin[k]);
        t.x_sum += x as f64 + 0.5;
        t.y_sum += y as f64 + 0.5;
        t.bounds = [
            t.bounds[0].min(x),
            t.bounds[1].min(y),
            t.bounds[2].max(x),
            t.bounds[3].max(y),
        ];
        t.on_edge |= x == 0 || y == 0 || x == w - 1 || y == h - 1;
    }
    let mut found = Vec::new();
    for (l, t) in tally.iter().enumerate().skip(1) {
        let n = f64::from(t.pixels);
        if n < plan.min_pixels || n > plan.max_pixels || t.on_edge {
            continue;
        }
        // The centre, in level pixels: this tile's if inside its core.
        let (cx, cy) = (x0 as f64 + t.x_sum / n, y0 as f64 + t.y_sum / n);
        let core =
            |c: f64, start: i64, len: u32| c >= start as f64 && c < (start + i64::from(len)) as f64;
        if !core(cx, tile.x, tile.width) || !core(cy, tile.y, tile.height) {
            continue;
        }
        if let Some([rx0, ry0, rx1, ry1]) = plan.region
            && !(cx >= rx0 && cx < rx1 && cy >= ry0 && cy < ry1)
        {
            continue;
        }
        let Some(outline) = outline_of(&labels, w, l as u32, t.bounds) else {
            continue;
        };
        let (ox, oy) = (
            (x0 + t.bounds[0] as i64 - 1) as f64,
            (y0 + t.bounds[1] as i64 - 1) as f64,
        );
        let ds = plan.downsample;
        let to_level0 = |p: &Point| Point::new((p.x + ox) * ds, (p.y + oy) * ds);
        found.push(Nucleus {
            outline: Polygon {
                exterior: outline.exterior.iter().map(to_level0).collect(),
                holes: outline
                    .holes
                    .iter()
                    .map(|r| r.iter().map(to_level0).collect())
                    .collect(),
            },
            haematoxylin_mean: t.h_sum / n,
            haematoxylin_max: f64::from(t.h_max),
            eosin_mean: t.e_sum / n,
        });
    }
    Ok(found)
}

/// The outline of label `l` within its bounds, in pixels of a box one
/// pixel wider each way than the bounds (so the outline closes).
fn outline_of(
    labels: &[u32],
    w: usize,
    l: u32,
    [bx0, by0, bx1, by1]: [usize; 4],
) -> Option<Polygon> {
    let (sw, sh) = (bx1 - bx0 + 3, by1 - by0 + 3);
    let mut sub = Mask {
        width: sw,
        height: sh,
        data: vec![false; sw * sh],
    };
    for y in by0..=by1 {
        for x in bx0..=bx1 {
            sub.data[(y - by0 + 1) * sw + (x - bx0 + 1)] = labels[y * w + x] == l;
        }
    }
    // One piece (the watershed grows 4-connected); the largest ring is it.
    polygons_from_mask(&sub, OUTLINE_TOLERANCE)
        .into_iter()
        .max_by(|a, b| ring_area(&a.exterior).total_cmp(&ring_area(&b.exterior)))
}

/// A 3 × 3 binomial blur ([1 2 1] ⊗ [1 2 1] / 16), edges repeated: takes
/// the grain out of the stain before thresholding.
fn smooth3(values: &[f32], w: usize, h: usize, out: &mut Vec<f32>) {
    let mut rows = vec![0f32; w * h];
    for y in 0..h {
        for x in 0..w {
            let at = |xx: usize| values[y * w + xx];
            rows[y * w + x] =
                (at(x.saturating_sub(1)) + 2.0 * at(x) + at((x + 1).min(w - 1))) / 4.0;
        }
    }
    out.clear();
    out.resize(w * h, 0.0);
    for y in 0..h {
        for x in 0..w {
            let at = |yy: usize| rows[yy * w + x];
            out[y * w + x] = (at(y.saturating_sub(1)) + 2.0 * at(y) + at((y + 1).min(h - 1))) / 4.0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smoothing_keeps_a_flat_image_flat_and_spreads_a_spike() {
        let mut out = Vec::new();
        smooth3(&[2.0; 12], 4, 3, &mut out);
        assert!(out.iter().all(|&v| (v - 2.0).abs() < 1e-6));
        let mut spike = vec![0.0; 9];
        spike[4] = 16.0;
        smooth3(&spike, 3, 3, &mut out);
        assert_eq!(out, vec![1.0, 2.0, 1.0, 2.0, 4.0, 2.0, 1.0, 2.0, 1.0]);
    }

    #[test]
    fn an_outline_is_the_label_s_pixels() {
        // A 10 × 6 block of label 7 in a 16 × 9 image.
        let w = 16;
        let mut labels = vec![0u32; w * 9];
        for y in 1..7 {
            for x in 2..12 {
                labels[y * w + x] = 7;
            }
        }
        labels[3 * w + 14] = 2;
        let p = outline_of(&labels, w, 7, [2, 1, 11, 6]).unwrap();
        // In the sub-box (one pixel of margin) the block spans 1..11 × 1..7;
        // the outline runs through the boundary's midpoints, corners cut.
        assert!((ring_area(&p.exterior) - 60.0).abs() < 2.0, "{p:?}");
        let xs = p.exterior.iter().map(|q| q.x);
        assert!(xs.clone().fold(f64::MAX, f64::min) >= 0.9);
        assert!(xs.fold(f64::MIN, f64::max) <= 11.1);
    }
}
