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
use crate::morphology::{close_then_open, drop_small, otsu};
use crate::tiles::{self, Keep, Tile, level_of};
use crate::{AnalysisError, Region, Run, provenance_of};
use kh_annotations::{Annotations, Colour, Geometry, Kind, Object, Point, Polygon};
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

/// Where the tissue is, as a mask over the whole slide at the level read.
pub struct TissueMask {
    pub mask: Mask,
    /// Level-0 pixels per mask pixel, across and down.
    pub downsample: (f64, f64),
}

pub fn detect(
    slide: &Slide,
    options: &TissueOptions,
    run: &Run,
) -> Result<Annotations, AnalysisError> {
    let TissueMask {
        mask,
        downsample: (ds_x, ds_y),
    } = run.within(0.0, 0.8, |run| mask(slide, options, run))?;
    let polygons = polygons_from_mask(&mask, 0.75);
    let mut out = Annotations::default();
    let class = out.class_id("Tissue", Some(Colour::rgb(0, 160, 80)));
    let provenance = out.provenance_id(provenance_of("kakehashi tissue"));
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

/// Tiles of `size` pixels of `level` over a region (refused when it lies
/// outside the slide) or, without one, over the tissue: tissue detection
/// runs first (the first tenth of `run`'s progress) and a tile is kept
/// with at least `fraction` of it tissue (any, at 0).
pub fn tiles_over(
    slide: &Slide,
    level: &kh_slide::Level,
    size: u32,
    region: Option<Region>,
    fraction: f64,
    run: &Run,
) -> Result<Vec<Tile>, AnalysisError> {
    if let Some(r) = region {
        let (w, h) = slide.dimensions();
        if r.x >= w as i64
            || r.y >= h as i64
            || r.x + r.width as i64 <= 0
            || r.y + r.height as i64 <= 0
        {
            return Err(AnalysisError::Refused(format!(
                "region {},{},{},{} lies outside the slide ({w}×{h})",
                r.x, r.y, r.width, r.height
            )));
        }
        return Ok(tiles::plan(level, size, &Keep::Region(r)));
    }
    let tissue = run.within(0.0, 0.1, |run| mask(slide, &TissueOptions::default(), run))?;
    Ok(tiles::plan(
        level,
        size,
        &Keep::Tissue {
            mask: &tissue.mask,
            fraction,
        },
    ))
}

/// The tissue mask: one low level read whole, coloured pixels kept,
/// cleaned up (closed, opened, specks dropped, small holes filled).
pub fn mask(
    slide: &Slide,
    options: &TissueOptions,
    run: &Run,
) -> Result<TissueMask, AnalysisError> {
    let levels = slide.levels();
    let level = match options.level {
        Some(l) => {
            level_of(slide, l)?;
            l
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
    run.check(0.6)?;
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
    let threshold = otsu(saturation.iter().flatten().copied(), 0.0, 1.0)
        .unwrap_or(0.5)
        .clamp(0.05, 0.3);
    let mut mask = Mask {
        width: w,
        height: h,
        data: saturation
            .iter()
            .map(|s| s.is_some_and(|s| s > threshold))
            .collect(),
    };
    close_then_open(&mut mask);
    run.check(0.85)?;
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
    run.check(1.0)?;
    Ok(TissueMask {
        mask,
        downsample: (ds_x, ds_y),
    })
}
