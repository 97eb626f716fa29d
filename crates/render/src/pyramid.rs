//! The renderer's tile grid over a slide's levels, and which tiles a view
//! wants, in the order it wants them.

use crate::view::{View, Viewport};
use glam::DVec2;

/// Stored tiles outside these sides (whole-level strips, huge JPEG tiles,
/// NDPI restart intervals a few rows high) are drawn as virtual tiles of
/// [`VIRTUAL_TILE`] read from the level: a slot per 256x8 interval would
/// need thousands of slots for one screen.
pub const MAX_STORED_TILE: u32 = 1024;
pub const MIN_STORED_TILE: u32 = 64;
pub const VIRTUAL_TILE: u32 = 512;
/// Deepest mip kept per tile: 2^5 = 32x minification within one level.
pub const MAX_MIPS: u32 = 6;

/// A tile of the render grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileKey {
    pub level: u32,
    pub col: u32,
    pub row: u32,
}

/// One level as the renderer tiles it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RenderLevel {
    pub width: u64,
    pub height: u64,
    pub downsample: f64,
    pub tile_width: u32,
    pub tile_height: u32,
    /// Mip levels a tile of this level gets (the tile size must halve
    /// exactly at each, so neighbouring tiles stay aligned).
    pub mips: u32,
}

impl RenderLevel {
    pub fn from_slide_level(level: &kh_slide::Level) -> RenderLevel {
        let side = MIN_STORED_TILE..=MAX_STORED_TILE;
        let stored_fits = side.contains(&level.tile_width) && side.contains(&level.tile_height);
        // Drawing with the stored grid means each tile decodes exactly once.
        let (tile_width, tile_height) = if stored_fits {
            (level.tile_width.max(1), level.tile_height.max(1))
        } else {
            (VIRTUAL_TILE, VIRTUAL_TILE)
        };
        let halvings = tile_width
            .trailing_zeros()
            .min(tile_height.trailing_zeros());
        RenderLevel {
            width: level.width,
            height: level.height,
            downsample: level.downsample,
            tile_width,
            tile_height,
            mips: (halvings + 1).min(MAX_MIPS),
        }
    }

    pub fn tiles_across(&self) -> u32 {
        self.width.div_ceil(u64::from(self.tile_width)) as u32
    }

    pub fn tiles_down(&self) -> u32 {
        self.height.div_ceil(u64::from(self.tile_height)) as u32
    }

    pub fn tile_count(&self) -> u64 {
        u64::from(self.tiles_across()) * u64::from(self.tiles_down())
    }

    /// The level pixels a tile covers, clipped to the level: (x, y, w, h).
    pub fn tile_rect(&self, col: u32, row: u32) -> (u64, u64, u32, u32) {
        let x = u64::from(col) * u64::from(self.tile_width);
        let y = u64::from(row) * u64::from(self.tile_height);
        let w = (self.width - x).min(u64::from(self.tile_width)) as u32;
        let h = (self.height - y).min(u64::from(self.tile_height)) as u32;
        (x, y, w, h)
    }
}

/// The level drawn at a zoom: the coarsest one still giving at least one
/// level pixel per screen pixel (so only minification, which mips handle).
pub fn level_for_zoom(levels: &[RenderLevel], zoom: f64) -> usize {
    let mut best = 0;
    for (index, level) in levels.iter().enumerate() {
        // A hair of tolerance: vips pyramids have downsamples like 2.0003.
        if level.downsample <= zoom * 1.001 && level.downsample >= levels[best].downsample {
            best = index;
        }
    }
    best
}

/// The level kept resident whole beneath everything: the finest with at most
/// `max_tiles` tiles. `None` when even the coarsest level has more (a slide
/// without a pyramid): then nothing is pinned.
pub fn base_level(levels: &[RenderLevel], max_tiles: u64) -> Option<usize> {
    (0..levels.len())
        .filter(|&i| levels[i].tile_count() <= max_tiles)
        .min_by(|&a, &b| levels[a].downsample.total_cmp(&levels[b].downsample))
}

/// Why a tile is wanted; earlier groups load first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Want {
    /// The level kept whole beneath everything.
    Base,
    /// On screen at the drawn level.
    Visible,
    /// One tile around the view at the drawn level (pans).
    Ring,
    /// The next coarser level around the view (zooming out, fast pans).
    Coarser,
    /// The next finer level near the view centre (zooming in).
    Finer,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Wanted {
    pub key: TileKey,
    pub want: Want,
    /// Distance from the view centre in screen pixels (orders within a group).
    pub distance: f64,
}

/// What a view wants: the level it draws, the tiles on screen at that
/// level, and everything to load, best first.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub level: usize,
    pub visible: Vec<TileKey>,
    pub wanted: Vec<Wanted>,
}

/// Enumerates tiles around a view centre.
struct Scan<'a> {
    levels: &'a [RenderLevel],
    center_slide: DVec2,
    zoom: f64,
}

impl Scan<'_> {
    /// Tiles of `level` overlapping the slide rectangle `rect` grown by
    /// `ring` tiles, with their distance to the centre in screen pixels.
    fn tiles(&self, level: usize, rect: (DVec2, DVec2), ring: u32, want: Want) -> Vec<Wanted> {
        let lv = &self.levels[level];
        let (min, max) = rect;
        let (tw, th) = (
            f64::from(lv.tile_width) * lv.downsample,
            f64::from(lv.tile_height) * lv.downsample,
        );
        let ring = i64::from(ring);
        let c0 = ((min.x / tw).floor() as i64 - ring).max(0);
        let r0 = ((min.y / th).floor() as i64 - ring).max(0);
        let c1 = ((max.x / tw).ceil() as i64 + ring).min(i64::from(lv.tiles_across()));
        let r1 = ((max.y / th).ceil() as i64 + ring).min(i64::from(lv.tiles_down()));
        let mut out = Vec::new();
        for row in r0..r1 {
            for col in c0..c1 {
                let tile_center = DVec2::new((col as f64 + 0.5) * tw, (row as f64 + 0.5) * th);
                out.push(Wanted {
                    key: TileKey {
                        level: level as u32,
                        col: col as u32,
                        row: row as u32,
                    },
                    want,
                    distance: (tile_center - self.center_slide).length() / self.zoom,
                });
            }
        }
        out
    }
}

/// The next level coarser (`Ordering::Greater`) or finer (`Less`) than
/// `level` by downsample.
fn neighbour_level(
    levels: &[RenderLevel],
    level: usize,
    direction: std::cmp::Ordering,
) -> Option<usize> {
    let here = levels[level].downsample;
    let candidates =
        (0..levels.len()).filter(|&i| levels[i].downsample.total_cmp(&here) == direction);
    if direction == std::cmp::Ordering::Greater {
        candidates.min_by(|&a, &b| levels[a].downsample.total_cmp(&levels[b].downsample))
    } else {
        candidates.max_by(|&a, &b| levels[a].downsample.total_cmp(&levels[b].downsample))
    }
}

/// Plan a view: at most `capacity` tiles wanted. `base` is the level kept
/// whole.
pub fn plan_view(
    levels: &[RenderLevel],
    base: Option<usize>,
    view: &View,
    viewport: Viewport,
    capacity: usize,
) -> Plan {
    use std::cmp::Ordering::{Greater, Less};
    let rect = view.visible_slide_rect(viewport);
    let scan = Scan {
        levels,
        center_slide: DVec2::from(view.center_slide),
        zoom: view.zoom,
    };
    let base_tiles = base.map_or(0, |b| levels[b].tile_count() as usize);
    let mut level = level_for_zoom(levels, view.zoom);
    // A view needing more tiles than the cache holds (a pyramid missing its
    // coarse levels) draws from a coarser level instead of thrashing.
    let mut ring = scan.tiles(level, rect, 1, Want::Ring);
    while ring.len() + base_tiles > capacity {
        match neighbour_level(levels, level, Greater) {
            Some(c) => {
                level = c;
                ring = scan.tiles(level, rect, 1, Want::Ring);
            }
            None => break,
        }
    }
    // The tiles the shader reads: the screen's rectangle grown by its
    // filter's reach. A view edge on a tile border reads the neighbour's
    // edge texel (weight ~0, but a missing tile there sends the pixel to the
    // coarser level); not waiting for it left a column of coarse pixels
    // whose presence depended on prefetch timing.
    let rect = grown(rect, filter_reach_slide(&levels[level], view.zoom));
    let visible = scan.tiles(level, rect, 0, Want::Visible);
    let mut wanted = Vec::new();
    if let Some(b) = base {
        let everything = (DVec2::ZERO, DVec2::splat(f64::MAX / 4.0));
        wanted.extend(scan.tiles(b, everything, 0, Want::Base));
    }
    wanted.extend(visible.iter().copied());
    wanted.extend(
        ring.into_iter()
            .filter(|w| !tile_in_rect(levels, w.key, rect)),
    );
    if let Some(c) = neighbour_level(levels, level, Greater) {
        wanted.extend(scan.tiles(c, rect, 1, Want::Coarser));
    }
    if let Some(f) = neighbour_level(levels, level, Less) {
        // Only the middle of the view: where a zoom-in usually lands.
        let quarter = (rect.1 - rect.0) / 4.0;
        let mid = (scan.center_slide - quarter, scan.center_slide + quarter);
        wanted.extend(scan.tiles(f, mid, 0, Want::Finer));
    }
    wanted.sort_by(|a, b| a.want.cmp(&b.want).then(a.distance.total_cmp(&b.distance)));
    // A tile wanted twice (base and visible) keeps its best reason.
    let mut seen = std::collections::HashSet::new();
    wanted.retain(|w| seen.insert(w.key));
    wanted.truncate(capacity);
    Plan {
        level,
        visible: visible.into_iter().map(|w| w.key).collect(),
        wanted,
    }
}

/// How far (in slide pixels) the tile shader's filter reads beyond a pixel
/// centre when drawing from `level` at `zoom`: one texel for bilinear, plus
/// the quarter footprint and a mip texel of the minifying filter.
fn filter_reach_slide(level: &RenderLevel, zoom: f64) -> f64 {
    let level_per_screen = (zoom / level.downsample).max(1.0);
    level.downsample * (1.0 + 1.25 * level_per_screen)
}

fn grown(rect: (DVec2, DVec2), by: f64) -> (DVec2, DVec2) {
    (rect.0 - DVec2::splat(by), rect.1 + DVec2::splat(by))
}

/// The next coarser level by downsample, if any.
pub fn coarser_level(levels: &[RenderLevel], level: usize) -> Option<usize> {
    neighbour_level(levels, level, std::cmp::Ordering::Greater)
}

/// The tiles of `level` under the slide area of `key` (a tile of another
/// level): what draws there when `key` cannot.
pub fn tiles_under(levels: &[RenderLevel], key: TileKey, level: usize) -> Vec<TileKey> {
    let from = &levels[key.level as usize];
    let (x, y, w, h) = from.tile_rect(key.col, key.row);
    let min = DVec2::new(x as f64, y as f64) * from.downsample;
    let max = DVec2::new((x + u64::from(w)) as f64, (y + u64::from(h)) as f64) * from.downsample;
    let scan = Scan {
        levels,
        center_slide: DVec2::ZERO,
        zoom: 1.0,
    };
    scan.tiles(level, (min, max), 0, Want::Coarser)
        .into_iter()
        .map(|w| w.key)
        .collect()
}

/// Whether a tile overlaps a slide rectangle.
fn tile_in_rect(levels: &[RenderLevel], key: TileKey, rect: (DVec2, DVec2)) -> bool {
    let lv = &levels[key.level as usize];
    let (tw, th) = (
        f64::from(lv.tile_width) * lv.downsample,
        f64::from(lv.tile_height) * lv.downsample,
    );
    let x0 = f64::from(key.col) * tw;
    let y0 = f64::from(key.row) * th;
    x0 < rect.1.x && x0 + tw > rect.0.x && y0 < rect.1.y && y0 + th > rect.0.y
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::Rotation;

    fn pyramid() -> Vec<RenderLevel> {
        (0..8)
            .map(|i| {
                let d = 1u64 << i;
                RenderLevel::from_slide_level(&kh_slide::Level {
                    width: 49152 / d,
                    height: 49152 / d,
                    downsample: d as f64,
                    tile_width: 256,
                    tile_height: 256,
                })
            })
            .collect()
    }

    #[test]
    fn a_view_edge_on_a_tile_border_waits_for_the_neighbour_the_filter_reads() {
        let levels = pyramid();
        // 512 screen pixels wide at 1:1 from x = 768 (= 3 tiles) to 1280.
        let view = View {
            center_slide: [1024.0, 768.0],
            zoom: 1.0,
            rotation: Rotation::Deg0,
        };
        let plan = plan_view(
            &levels,
            None,
            &view,
            Viewport {
                width: 512,
                height: 384,
            },
            4096,
        );
        let cols: std::collections::BTreeSet<u32> = plan.visible.iter().map(|k| k.col).collect();
        assert_eq!(plan.level, 0);
        assert!(cols.contains(&2), "the tile left of the edge: {cols:?}");
        assert!(
            !cols.contains(&1) && !cols.contains(&6),
            "no more than the reach: {cols:?}"
        );
    }

    #[test]
    fn level_is_coarsest_not_magnified() {
        let levels = pyramid();
        assert_eq!(level_for_zoom(&levels, 0.5), 0);
        assert_eq!(level_for_zoom(&levels, 1.0), 0);
        assert_eq!(level_for_zoom(&levels, 1.9), 0);
        assert_eq!(level_for_zoom(&levels, 2.0), 1);
        assert_eq!(level_for_zoom(&levels, 3.99), 1);
        assert_eq!(level_for_zoom(&levels, 1000.0), 7);
        assert_eq!(levels[0].mips, MAX_MIPS);
    }

    #[test]
    fn base_level_is_small_and_visible_tiles_come_first_nearest_centre() {
        let levels = pyramid();
        let base = base_level(&levels, 16);
        assert_eq!(base.map(|b| levels[b].width), Some(768));
        let view = View {
            center_slide: [20000.0, 20000.0],
            zoom: 1.0,
            rotation: Rotation::Deg0,
        };
        let vp = Viewport {
            width: 3840,
            height: 2160,
        };
        let plan = plan_view(&levels, base, &view, vp, 2000);
        let wanted = plan.wanted;
        assert_eq!(plan.level, 0);
        assert!(wanted[..9].iter().all(|w| w.want == Want::Base));
        let visible: Vec<_> = wanted.iter().filter(|w| w.want == Want::Visible).collect();
        // 3840 px spans 15 or 16 tiles of 256; 2160 spans 9 or 10.
        assert!((135..=160).contains(&visible.len()), "{}", visible.len());
        assert_eq!(visible.len(), plan.visible.len());
        assert!(visible.windows(2).all(|p| p[0].distance <= p[1].distance));
        assert_eq!(visible[0].key.level, 0);
        let ring = wanted.iter().filter(|w| w.want == Want::Ring).count();
        assert!(ring > 40 && ring < 60, "{ring}");
    }

    #[test]
    fn tiles_under_cover_a_tile_at_a_coarser_level() {
        let levels = pyramid();
        let key = TileKey {
            level: 0,
            col: 5,
            row: 3,
        };
        // Level-0 tile (5, 3) is slide [1280, 1536) x [768, 1024): inside
        // level 1's (2, 1) of 512-pixel slide tiles.
        assert_eq!(coarser_level(&levels, 0), Some(1));
        assert_eq!(
            tiles_under(&levels, key, 1),
            vec![TileKey {
                level: 1,
                col: 2,
                row: 1
            }]
        );
        // And a coarse tile lies over many fine ones.
        let coarse = TileKey {
            level: 1,
            col: 0,
            row: 0,
        };
        assert_eq!(tiles_under(&levels, coarse, 0).len(), 4);
        assert_eq!(coarser_level(&levels, levels.len() - 1), None);
    }

    #[test]
    fn capacity_pushes_to_a_coarser_level() {
        let levels = pyramid();
        let view = View {
            center_slide: [20000.0, 20000.0],
            zoom: 1.0,
            rotation: Rotation::Deg0,
        };
        let vp = Viewport {
            width: 3840,
            height: 2160,
        };
        let plan = plan_view(&levels, Some(6), &view, vp, 100);
        assert_eq!(plan.level, 1);
        assert!(plan.wanted.len() <= 100);
        assert!(base_level(&levels[..1], 16).is_none());
    }
}
