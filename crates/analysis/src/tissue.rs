//! Tissue detection: where on the slide there is tissue, as polygons.
//!
//! The whole slide is read at one low level (a few million pixels at
//! most, so a 100k × 100k slide costs one small read). A pixel is tissue
//! when it is coloured: stained tissue is saturated, glass is white or
//! grey, dust and debris are dark and grey. The saturation threshold is
//! Otsu's over the slide's own pixels (clamped to a sane range, for a
//! slide that is nearly all tissue or nearly none). The mask is closed
//! and opened (3 × 3), pieces smaller than a speck are dropped and holes
//! smaller than one are filled; the outlines become polygons in level-0
//! pixels.

use crate::contour::{Mask, polygons_from_mask};
use crate::{AnalysisError, Run, VERSION};
use kh_annotations::{Annotations, Colour, Geometry, Kind, Object, Point, Polygon, Provenance};
use kh_slide::Slide;

/// The level read holds at most this many pixels.
pub const MAX_PIXELS: u64 = 4 << 20;

#[derive(Debug, Clone, Default)]
pub struct TissueOptions {
    /// The level to read (default: the largest within [`MAX_PIXELS`]).
    pub level: Option<usize>,
    /// Pieces (and holes) smaller than this many level-0 pixels² are
    /// specks: dropped (filled). Default: 0.01 mm² with a resolution, else
    /// 1/5000 of the slide.
    pub min_area: Option<f64>,
}

pub fn detect(
    slide: &Slide,
    options: &TissueOptions,
    run: &Run,
) -> Result<Annotations, AnalysisError> {
    let levels = slide.levels();
    let level = match options.level {
        Some(l) if l < levels.len() => l,
        Some(l) => {
            return Err(AnalysisError::Refused(format!(
                "level {l}: the slide has {} levels",
                levels.len()
            )));
        }
        // The most detailed level within the budget, else the coarsest.
        None => (0..levels.len())
            .find(|&l| levels[l].width * levels[l].height <= MAX_PIXELS)
            .unwrap_or(levels.len() - 1),
    };
    let lv = levels[level];
    if lv.width * lv.height > 4 * MAX_PIXELS {
        return Err(AnalysisError::Refused(format!(
            "level {level} is {}×{}: too large to detect tissue on; name a coarser level",
            lv.width, lv.height
        )));
    }
    run.check(0.0)?;
    let image = slide.read_region(0, 0, level, lv.width as u32, lv.height as u32)?;
    run.check(0.5)?;
    let (w, h) = (image.width as usize, image.height as usize);
    let saturation: Vec<Option<f32>> = image
        .pixels
        .chunks_exact(4)
        .map(|p| {
            let a = f32::from(p[3]);
            if a < 128.0 {
                return None;
            }
            let (r, g, b) = (f32::from(p[0]), f32::from(p[1]), f32::from(p[2]));
            let max = r.max(g).max(b);
            let min = r.min(g).min(b);
            Some(if max <= 0.0 { 0.0 } else { (max - min) / max })
        })
        .collect();
    let threshold = otsu(saturation.iter().flatten().copied()).clamp(0.05, 0.3);
    let mut mask = Mask {
        width: w,
        height: h,
        data: saturation
            .iter()
            .map(|s| s.is_some_and(|s| s > threshold))
            .collect(),
    };
    close_then_open(&mut mask);
    run.check(0.7)?;
    let (ds_x, ds_y) = (
        slide.dimensions().0 as f64 / w as f64,
        slide.dimensions().1 as f64 / h as f64,
    );
    let min_area_level0 = options.min_area.unwrap_or_else(|| {
        let (mx, my) = slide.mpp();
        match (mx, my) {
            // 0.01 mm² = 10,000 µm².
            (Some(mx), Some(my)) => 10_000.0 / (mx * my),
            _ => slide.dimensions().0 as f64 * slide.dimensions().1 as f64 / 5000.0,
        }
    });
    let min_pixels = (min_area_level0 / (ds_x * ds_y)).max(4.0) as usize;
    drop_small(&mut mask, min_pixels, true);
    drop_small(&mut mask, min_pixels, false);
    run.check(0.8)?;
    let polygons = polygons_from_mask(&mask, 0.75);
    let mut out = Annotations::default();
    let class = out.class_id("Tissue", Some(Colour::rgb(0, 160, 80)));
    let provenance = out.provenance_id(Provenance::Algorithm {
        name: "kakehashi tissue".into(),
        version: VERSION.into(),
        when: None,
    });
    let area = out.measurement_id("Area px^2");
    let to_level0 = |p: &Point| Point::new(p.x * ds_x, p.y * ds_y);
    for p in polygons {
        let polygon = Polygon {
            exterior: p.exterior.iter().map(to_level0).collect(),
            holes: p
                .holes
                .iter()
                .map(|h| h.iter().map(to_level0).collect())
                .collect(),
        };
        let mut o = Object::new(Kind::Annotation, Geometry::Polygon(polygon.clone()));
        o.class = Some(class);
        o.provenance = provenance;
        o.measurements = vec![(area, polygon.area())];
        out.objects.push(o);
    }
    run.check(1.0)?;
    Ok(out)
}

/// Otsu's threshold of values in [0, 1] (256 bins).
fn otsu(values: impl Iterator<Item = f32>) -> f32 {
    let mut hist = [0u64; 256];
    let mut n = 0u64;
    for v in values {
        hist[(v.clamp(0.0, 1.0) * 255.0) as usize] += 1;
        n += 1;
    }
    if n == 0 {
        return 0.5;
    }
    let total: f64 = hist
        .iter()
        .enumerate()
        .map(|(i, &c)| i as f64 * c as f64)
        .sum();
    let (mut sum_b, mut w_b, mut best, mut at) = (0.0, 0.0, 0.0, 0usize);
    for (i, &c) in hist.iter().enumerate() {
        w_b += c as f64;
        if w_b == 0.0 {
            continue;
        }
        let w_f = n as f64 - w_b;
        if w_f == 0.0 {
            break;
        }
        sum_b += i as f64 * c as f64;
        let (m_b, m_f) = (sum_b / w_b, (total - sum_b) / w_f);
        let between = w_b * w_f * (m_b - m_f).powi(2);
        if between > best {
            best = between;
            at = i;
        }
    }
    (at as f32 + 0.5) / 255.0
}

/// Morphological closing then opening with a 3 × 3 square: bridges
/// one-pixel gaps in tissue, then removes one-pixel noise.
fn close_then_open(mask: &mut Mask) {
    let dilate = |m: &Mask, value: bool| -> Vec<bool> {
        let mut out = m.data.clone();
        for y in 0..m.height as isize {
            for x in 0..m.width as isize {
                let any = (-1..=1).any(|dy| (-1..=1).any(|dx| m.get(x + dx, y + dy) == value));
                if any {
                    out[y as usize * m.width + x as usize] = value;
                }
            }
        }
        out
    };
    mask.data = dilate(mask, true);
    mask.data = dilate(mask, false);
    mask.data = dilate(mask, false);
    mask.data = dilate(mask, true);
}

/// Connected pieces (4-connected) of `value` smaller than `min` pixels
/// flipped: specks of tissue dropped, or small holes filled. Pieces of
/// background that touch the border are never holes.
fn drop_small(mask: &mut Mask, min: usize, value: bool) {
    let (w, h) = (mask.width, mask.height);
    let mut seen = vec![false; w * h];
    let mut stack = Vec::new();
    let mut piece = Vec::new();
    for start in 0..w * h {
        if seen[start] || mask.data[start] != value {
            continue;
        }
        piece.clear();
        stack.push(start);
        seen[start] = true;
        let mut touches_border = false;
        while let Some(k) = stack.pop() {
            piece.push(k);
            let (x, y) = (k % w, k / w);
            touches_border |= x == 0 || y == 0 || x == w - 1 || y == h - 1;
            let mut visit = |n: usize| {
                if !seen[n] && mask.data[n] == value {
                    seen[n] = true;
                    stack.push(n);
                }
            };
            if x > 0 {
                visit(k - 1);
            }
            if x + 1 < w {
                visit(k + 1);
            }
            if y > 0 {
                visit(k - w);
            }
            if y + 1 < h {
                visit(k + w);
            }
        }
        let keep = piece.len() >= min || (!value && touches_border);
        if !keep {
            for &k in &piece {
                mask.data[k] = !value;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn otsu_splits_two_populations() {
        let values = std::iter::repeat_n(0.02f32, 1000).chain(std::iter::repeat_n(0.6f32, 300));
        let t = otsu(values);
        assert!(t > 0.02 && t < 0.6, "{t}");
    }

    #[test]
    fn specks_go_and_small_holes_fill() {
        let (w, h) = (30, 30);
        let mut data = vec![false; w * h];
        for y in 5..25 {
            for x in 5..25 {
                data[y * w + x] = true;
            }
        }
        data[15 * w + 15] = false; // a pinhole
        data[2 * w + 2] = true; // a speck
        let mut m = Mask {
            width: w,
            height: h,
            data,
        };
        drop_small(&mut m, 5, true);
        drop_small(&mut m, 5, false);
        assert!(!m.get(2, 2));
        assert!(m.get(15, 15));
        assert!(!m.get(0, 0));
    }
}
