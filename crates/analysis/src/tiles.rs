//! Where an analysis that works tile by tile reads: a grid over one level,
//! kept to a region or to the tissue, and a pool of workers that process
//! the tiles in parallel, report progress and stop when cancelled.

use crate::contour::Mask;
use crate::{AnalysisError, Region, Run};
use kh_annotations::{Geometry, Point};
use kh_slide::{Level, Slide};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A rectangle of one level, in that level's pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tile {
    pub x: i64,
    pub y: i64,
    pub width: u32,
    pub height: u32,
}

impl Tile {
    /// Where the tile lies on the slide: its rectangle in level-0 pixels,
    /// for a level `downsample` times coarser.
    pub fn footprint(&self, downsample: f64) -> Geometry {
        let (x0, y0) = (self.x as f64 * downsample, self.y as f64 * downsample);
        let (x1, y1) = (
            x0 + f64::from(self.width) * downsample,
            y0 + f64::from(self.height) * downsample,
        );
        Geometry::Rectangle(Box::new([
            Point::new(x0, y0),
            Point::new(x1, y0),
            Point::new(x1, y1),
            Point::new(x0, y1),
        ]))
    }
}

/// Which tiles of the grid are worth reading.
pub enum Keep<'a> {
    /// Every tile.
    All,
    /// Every tile that overlaps the region (level-0 pixels).
    Region(Region),
    /// Tiles with at least `fraction` of their area in the tissue (a mask
    /// over the whole slide, at its own resolution); a fraction of 0 keeps
    /// every tile that touches tissue.
    Tissue { mask: &'a Mask, fraction: f64 },
    /// Tiles that overlap the region and hold tissue as [`Keep::Tissue`]
    /// asks.
    TissueIn {
        region: Region,
        mask: &'a Mask,
        fraction: f64,
    },
}

/// The grid of `size`-pixel tiles over `level` (tiles at the right and
/// bottom edges cut to the level), those `keep` chooses, in rows.
pub fn plan(level: &Level, size: u32, keep: &Keep) -> Vec<Tile> {
    grid(level, (size, size), (size, size), false, keep)
}

/// How many rectangles [`grid`] walks before choosing (its bound on work
/// and memory).
pub fn grid_count(
    level: &Level,
    (width, height): (u32, u32),
    (stride_x, stride_y): (u32, u32),
    whole: bool,
) -> u64 {
    let count = |len: u64, size: u32, stride: u32| -> u64 {
        let last = if whole {
            len.checked_sub(u64::from(size))
        } else {
            len.checked_sub(1)
        };
        last.map_or(0, |last| last / u64::from(stride.max(1)) + 1)
    };
    count(level.width, width, stride_x).saturating_mul(count(level.height, height, stride_y))
}

/// Rectangles of `width` × `height` pixels of `level` every `stride`
/// pixels from the origin, those `keep` chooses, in rows. With `whole`,
/// only rectangles wholly inside the level; else those at the edges are
/// cut to it.
pub fn grid(
    level: &Level,
    (width, height): (u32, u32),
    (stride_x, stride_y): (u32, u32),
    whole: bool,
    keep: &Keep,
) -> Vec<Tile> {
    let (lw, lh) = (level.width, level.height);
    let starts = |len: u64, size: u32, stride: u32| -> Vec<u64> {
        let last = if whole {
            len.checked_sub(u64::from(size))
        } else {
            len.checked_sub(1)
        };
        match last {
            Some(last) => (0..=last).step_by(stride.max(1) as usize).collect(),
            None => Vec::new(),
        }
    };
    let mut tiles = Vec::new();
    for &y in &starts(lh, height, stride_y) {
        for &x in &starts(lw, width, stride_x) {
            let tile = Tile {
                x: x as i64,
                y: y as i64,
                width: (lw - x).min(u64::from(width)) as u32,
                height: (lh - y).min(u64::from(height)) as u32,
            };
            let wanted = match keep {
                Keep::All => true,
                Keep::Region(r) => overlaps(level, &tile, r),
                Keep::Tissue { mask, fraction } => holds_tissue(level, &tile, mask, *fraction),
                Keep::TissueIn {
                    region,
                    mask,
                    fraction,
                } => overlaps(level, &tile, region) && holds_tissue(level, &tile, mask, *fraction),
            };
            if wanted {
                tiles.push(tile);
            }
        }
    }
    tiles
}

/// Whether a tile of `level` overlaps a region of level-0 pixels.
fn overlaps(level: &Level, tile: &Tile, r: &Region) -> bool {
    let ds = level.downsample;
    let (x0, y0) = (tile.x as f64 * ds, tile.y as f64 * ds);
    let (x1, y1) = (
        x0 + f64::from(tile.width) * ds,
        y0 + f64::from(tile.height) * ds,
    );
    x0 < (r.x + r.width as i64) as f64
        && x1 > r.x as f64
        && y0 < (r.y + r.height as i64) as f64
        && y1 > r.y as f64
}

/// Whether a tile holds `fraction` of tissue; at 0, whether it touches
/// any, its footprint widened by a mask pixel each way (the mask is coarse;
/// tissue at a tile's edge must not be lost).
fn holds_tissue(level: &Level, tile: &Tile, mask: &Mask, fraction: f64) -> bool {
    if fraction > 0.0 {
        tissue_fraction(level, tile, mask, 0).is_some_and(|f| f >= fraction)
    } else {
        tissue_fraction(level, tile, mask, 1).is_some_and(|f| f > 0.0)
    }
}

/// The share of a tile's footprint on the mask that is tissue (`None` when
/// the footprint covers no mask pixel at all), the footprint widened by
/// `slack` mask pixels each way.
fn tissue_fraction(level: &Level, tile: &Tile, mask: &Mask, slack: isize) -> Option<f64> {
    let (mw, mh) = (mask.width as f64, mask.height as f64);
    let (lw, lh) = (level.width as f64, level.height as f64);
    let x0 = ((tile.x as f64 / lw * mw).floor() as isize - slack).max(0);
    let y0 = ((tile.y as f64 / lh * mh).floor() as isize - slack).max(0);
    let x1 = (((tile.x as f64 + f64::from(tile.width)) / lw * mw).ceil() as isize + slack)
        .min(mask.width as isize);
    let y1 = (((tile.y as f64 + f64::from(tile.height)) / lh * mh).ceil() as isize + slack)
        .min(mask.height as isize);
    let (mut inside, mut all) = (0usize, 0usize);
    for y in y0..y1 {
        for x in x0..x1 {
            all += 1;
            inside += usize::from(mask.get(x, y));
        }
    }
    (all > 0).then(|| inside as f64 / all as f64)
}

/// Runs `work` on every item (a tile, a batch of patches) on all cores,
/// each worker with its own scratch state from `scratch`; results come
/// back in the items' order.
/// Progress moves from `from` to `to` as tiles finish; the first error (a
/// cancel included) stops every worker.
pub fn for_each<I: Sync, T: Send, S>(
    tiles: &[I],
    run: &Run,
    (from, to): (f32, f32),
    scratch: impl Fn() -> S + Sync,
    work: impl Fn(&I, &mut S) -> Result<T, AnalysisError> + Sync,
) -> Result<Vec<T>, AnalysisError> {
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let failed: Mutex<Option<AnalysisError>> = Mutex::new(None);
    let results: Vec<Mutex<Option<T>>> = tiles.iter().map(|_| Mutex::new(None)).collect();
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(tiles.len().max(1));
    let stop = |e: AnalysisError| {
        let mut f = failed.lock().unwrap_or_else(|p| p.into_inner());
        f.get_or_insert(e);
    };
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let mut state = scratch();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= tiles.len() || failed.lock().map_or(true, |f| f.is_some()) {
                        return;
                    }
                    let finished = done.load(Ordering::Relaxed) as f32 / tiles.len() as f32;
                    if let Err(e) = run.check(from + (to - from) * finished) {
                        return stop(e);
                    }
                    match work(&tiles[i], &mut state) {
                        Ok(t) => {
                            *results[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(t);
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => return stop(e),
                    }
                }
            });
        }
    });
    if let Some(e) = failed.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    run.check(to)?;
    Ok(results
        .into_iter()
        .filter_map(|r| r.into_inner().unwrap_or_else(|p| p.into_inner()))
        .collect())
}

/// A level by index, or an error naming how many there are.
pub fn level_of(slide: &Slide, level: usize) -> Result<Level, AnalysisError> {
    slide.levels().get(level).copied().ok_or_else(|| {
        AnalysisError::Refused(format!(
            "level {level}: the slide has {} levels",
            slide.levels().len()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    fn level(w: u64, h: u64, ds: f64) -> Level {
        Level {
            width: w,
            height: h,
            downsample: ds,
            tile_width: 256,
            tile_height: 256,
        }
    }

    #[test]
    fn a_region_keeps_the_tiles_it_overlaps() {
        let lv = level(1000, 600, 2.0);
        let r = Region {
            x: 500,
            y: 0,
            width: 10,
            height: 10,
        };
        // Level-0 x 500 is level x 250: the second column of 200-pixel tiles.
        let tiles = plan(&lv, 200, &Keep::Region(r));
        assert_eq!(
            tiles,
            vec![Tile {
                x: 200,
                y: 0,
                width: 200,
                height: 200
            }]
        );
        let all = plan(
            &lv,
            256,
            &Keep::Region(Region {
                x: 0,
                y: 0,
                width: 2000,
                height: 1200,
            }),
        );
        assert_eq!(all.len(), 4 * 3);
        assert_eq!(all.last().unwrap().width, 1000 - 768);
        assert_eq!(grid_count(&lv, (256, 256), (256, 256), false), 12);
        // Wholly inside: 3 across (0, 256, 512; 768 + 256 > 1000), 2 down.
        assert_eq!(grid_count(&lv, (256, 256), (256, 256), true), 6);
        assert_eq!(grid(&lv, (256, 256), (256, 256), true, &Keep::All).len(), 6);
        assert_eq!(grid_count(&lv, (2000, 10), (1, 1), true), 0);
    }

    #[test]
    fn tissue_keeps_tiles_by_their_share() {
        let lv = level(400, 400, 1.0);
        // A 4 × 4 mask: tissue in the top-left quarter.
        let mask = Mask {
            width: 4,
            height: 4,
            data: (0..16).map(|k| k % 4 < 2 && k / 4 < 2).collect(),
        };
        let touching = plan(
            &lv,
            100,
            &Keep::Tissue {
                mask: &mask,
                fraction: 0.0,
            },
        );
        // The 2 × 2 tissue tiles and the ring one tile wider (slack).
        assert_eq!(touching.len(), 9);
        let mostly = plan(
            &lv,
            200,
            &Keep::Tissue {
                mask: &mask,
                fraction: 0.5,
            },
        );
        assert_eq!(
            mostly,
            vec![Tile {
                x: 0,
                y: 0,
                width: 200,
                height: 200
            }]
        );
    }

    #[test]
    fn results_come_in_order_and_a_cancel_stops_the_work() {
        let tiles: Vec<Tile> = (0..50)
            .map(|i| Tile {
                x: i,
                y: 0,
                width: 1,
                height: 1,
            })
            .collect();
        let cancel = AtomicBool::new(false);
        let progress = |_: f32| {};
        let run = Run {
            progress: &progress,
            cancel: &cancel,
        };
        let xs = for_each(&tiles, &run, (0.0, 1.0), || (), |t, _| Ok(t.x)).unwrap();
        assert_eq!(xs, (0..50).collect::<Vec<_>>());
        let stopped = for_each(
            &tiles,
            &run,
            (0.0, 1.0),
            || (),
            |t, _| {
                if t.x == 10 {
                    cancel.store(true, Ordering::Relaxed);
                }
                Ok(())
            },
        );
        assert!(matches!(stopped, Err(AnalysisError::Cancelled)));
    }
}
