//! Seams: a slide whose tiles each carry a 1-pixel dark border (left column
//! and top row), written by this test as a tiled TIFF pyramid, rendered at
//! 50 random zooms, offsets and rotations. The reference samples the same
//! level as one untiled image on the CPU (f64), so any gap, doubled line or
//! clamp at a tile border shows as a difference there.

mod common;

use glam::DVec2;
use kh_render::{Rotation, View, Viewport};
use kh_slide::Slide;
use rand::{RngExt, SeedableRng, rngs::StdRng};
use std::sync::Arc;

const TILE: u32 = 256;
const VIEWPORT: Viewport = Viewport {
    width: 200,
    height: 150,
};

/// Level 0 content: a colour gradient, dark lines along each tile's left
/// column and top row.
fn level0(width: u32, height: u32) -> Vec<u8> {
    let mut rgb = Vec::with_capacity((width * height * 3) as usize);
    for y in 0..height {
        for x in 0..width {
            if x % TILE == 0 || y % TILE == 0 {
                rgb.extend_from_slice(&[20, 30, 40]);
            } else {
                rgb.extend_from_slice(&[
                    (60 + x * 180 / width) as u8,
                    (200 - y * 150 / height) as u8,
                    (100 + (x + y) % 97) as u8,
                ]);
            }
        }
    }
    rgb
}

/// Halve an RGB image with a 2x2 box (in sRGB values: how scanners build
/// pyramids; the renderer only sees the result).
fn halve(rgb: &[u8], width: u32, height: u32) -> Vec<u8> {
    let (w, h) = (width / 2, height / 2);
    let mut out = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..h {
        for x in 0..w {
            for c in 0..3 {
                let at = |dx: u32, dy: u32| {
                    u32::from(rgb[(((2 * y + dy) * width + 2 * x + dx) * 3 + c) as usize])
                };
                out.push(((at(0, 0) + at(1, 0) + at(0, 1) + at(1, 1) + 2) / 4) as u8);
            }
        }
    }
    out
}

/// A minimal little-endian tiled TIFF: one IFD per level, RGB, no
/// compression.
fn write_tiff(levels: &[(u32, u32, Vec<u8>)]) -> Vec<u8> {
    let mut file = b"II*\0\0\0\0\0".to_vec();
    let mut link = 4usize;
    for (index, (width, height, rgb)) in levels.iter().enumerate() {
        let (across, down) = (width.div_ceil(TILE), height.div_ceil(TILE));
        let mut offsets = Vec::new();
        for row in 0..down {
            for col in 0..across {
                offsets.push(file.len() as u32);
                for y in 0..TILE {
                    for x in 0..TILE {
                        let (px, py) = (col * TILE + x, row * TILE + y);
                        if px < *width && py < *height {
                            let i = ((py * width + px) * 3) as usize;
                            file.extend_from_slice(&rgb[i..i + 3]);
                        } else {
                            file.extend_from_slice(&[0, 0, 0]);
                        }
                    }
                }
            }
        }
        let tile_bytes = TILE * TILE * 3;
        let offsets_at = file.len() as u32;
        for o in &offsets {
            file.extend_from_slice(&o.to_le_bytes());
        }
        let counts_at = file.len() as u32;
        for _ in &offsets {
            file.extend_from_slice(&tile_bytes.to_le_bytes());
        }
        let bps_at = file.len() as u32;
        file.extend_from_slice(&[8, 0, 8, 0, 8, 0]);
        let n = offsets.len() as u32;
        // (tag, type, count, value): type 3 SHORT, 4 LONG.
        // NewSubfileType 1 marks a reduced-resolution level.
        let entries: [(u16, u16, u32, u32); 11] = [
            (254, 4, 1, u32::from(index > 0)),
            (256, 4, 1, *width),
            (257, 4, 1, *height),
            (258, 3, 3, bps_at),
            (259, 3, 1, 1),
            (262, 3, 1, 2),
            (277, 3, 1, 3),
            (322, 3, 1, TILE),
            (323, 3, 1, TILE),
            (324, 4, n, if n == 1 { offsets[0] } else { offsets_at }),
            (325, 4, n, if n == 1 { tile_bytes } else { counts_at }),
        ];
        if file.len() % 2 == 1 {
            file.push(0);
        }
        let ifd_at = file.len() as u32;
        file[link..link + 4].copy_from_slice(&ifd_at.to_le_bytes());
        file.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        for (tag, kind, count, value) in entries {
            file.extend_from_slice(&tag.to_le_bytes());
            file.extend_from_slice(&kind.to_le_bytes());
            file.extend_from_slice(&count.to_le_bytes());
            file.extend_from_slice(&value.to_le_bytes());
        }
        link = file.len();
        file.extend_from_slice(&[0, 0, 0, 0]);
    }
    file
}

/// The renderer's filter, computed on one untiled image in f64: linear-light
/// 2x2 mips, then bilinear (magnified) or four bilinear taps over the
/// footprint at mip floor(lod).
struct Reference {
    /// Linear RGB per mip: (width, height, pixels).
    mips: Vec<(usize, usize, Vec<[f64; 3]>)>,
}

impl Reference {
    fn new(rgb: &[u8], width: usize, height: usize, mips: u32) -> Reference {
        let base: Vec<[f64; 3]> = rgb
            .chunks_exact(3)
            .map(|p| [0, 1, 2].map(|c| common::srgb_to_linear(p[c])))
            .collect();
        let mut levels = vec![(width, height, base)];
        for _ in 1..mips {
            let (w, h, src) = &levels[levels.len() - 1];
            let (nw, nh) = (w.div_ceil(2), h.div_ceil(2));
            let mut next = Vec::with_capacity(nw * nh);
            for y in 0..nh {
                for x in 0..nw {
                    let mut sum = [0.0; 3];
                    let mut n = 0.0;
                    for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                        let (sx, sy) = (2 * x + dx, 2 * y + dy);
                        if sx < *w && sy < *h {
                            let p = src[sy * w + sx];
                            for c in 0..3 {
                                sum[c] += p[c];
                            }
                            n += 1.0;
                        }
                    }
                    // Stored as 8-bit sRGB on the GPU.
                    next.push(sum.map(|s| {
                        common::srgb_to_linear(common::linear_to_srgb(s / n).round() as u8)
                    }));
                }
            }
            levels.push((nw, nh, next));
        }
        Reference { mips: levels }
    }

    fn bilinear(&self, p: DVec2, mip: usize) -> [f64; 3] {
        let (w, h, px) = &self.mips[mip];
        let q = p / f64::from(1u32 << mip) - DVec2::splat(0.5);
        let f = q.floor();
        let t = q - f;
        let mut out = [0.0; 3];
        for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
            let x = (f.x as i64 + dx).clamp(0, *w as i64 - 1) as usize;
            let y = (f.y as i64 + dy).clamp(0, *h as i64 - 1) as usize;
            let wx = if dx == 1 { t.x } else { 1.0 - t.x };
            let wy = if dy == 1 { t.y } else { 1.0 - t.y };
            for c in 0..3 {
                out[c] += wx * wy * px[y * w + x][c];
            }
        }
        out
    }

    fn sample(&self, p: DVec2, lod: f64) -> [f64; 3] {
        if lod <= 0.0 {
            return self.bilinear(p, 0);
        }
        let mip = (lod.floor() as usize).min(self.mips.len() - 1);
        let quarter = lod.exp2() / 4.0;
        let mut out = [0.0; 3];
        for (sx, sy) in [(-1.0, -1.0), (1.0, -1.0), (-1.0, 1.0), (1.0, 1.0)] {
            let c = self.bilinear(p + DVec2::new(sx, sy) * quarter, mip);
            for i in 0..3 {
                out[i] += c[i] / 4.0;
            }
        }
        out
    }
}

#[test]
fn tile_borders_render_without_seams_at_random_views() {
    let (w0, h0) = (6 * TILE, 4 * TILE);
    let rgb0 = level0(w0, h0);
    let rgb1 = halve(&rgb0, w0, h0);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bordered.tiff");
    std::fs::write(
        &path,
        write_tiff(&[(w0, h0, rgb0.clone()), (w0 / 2, h0 / 2, rgb1.clone())]),
    )
    .expect("write");
    let slide = Arc::new(Slide::open(&path).expect("open the generated slide"));
    assert_eq!(slide.levels().len(), 2);
    let mips = kh_render::pyramid::MAX_MIPS;
    let references = [
        Reference::new(&rgb0, w0 as usize, h0 as usize, mips),
        Reference::new(&rgb1, (w0 / 2) as usize, (h0 / 2) as usize, mips),
    ];
    let mut renderer = common::renderer(slide.clone(), 64);
    let mut rng = StdRng::seed_from_u64(7);
    let mut worst = 0.0f64;
    for round in 0..50 {
        let rotation = Rotation::from_degrees(90 * rng.random_range(0..4)).unwrap_or_default();
        let zoom = 2f64.powf(rng.random_range(-2.0..3.0));
        let view = View {
            center_slide: [
                rng.random_range(100.0..f64::from(w0) - 100.0),
                rng.random_range(100.0..f64::from(h0) - 100.0),
            ],
            zoom,
            rotation,
        };
        let got = common::render(&mut renderer, &view, VIEWPORT);
        let level = renderer.stats().level;
        let ds = slide.levels()[level].downsample;
        let reference = &references[level];
        let slide_from_screen = view.slide_from_screen(VIEWPORT);
        let (lw, lh) = (f64::from(w0) / ds, f64::from(h0) / ds);
        for sy in 0..VIEWPORT.height {
            for sx in 0..VIEWPORT.width {
                let p = slide_from_screen
                    .transform_point2(DVec2::new(f64::from(sx) + 0.5, f64::from(sy) + 0.5))
                    / ds;
                if p.x < 0.0 || p.y < 0.0 || p.x >= lw || p.y >= lh {
                    continue;
                }
                let expected = reference.sample(p, (zoom / ds).log2());
                let i = ((sy * VIEWPORT.width + sx) * 4) as usize;
                for c in 0..3 {
                    let d = (f64::from(got[i + c]) - common::linear_to_srgb(expected[c])).abs();
                    worst = worst.max(d);
                    assert!(
                        d <= 2.5,
                        "round {round}: view {view:?} level {level}: screen ({sx}, {sy}) level ({:.2}, {:.2}) channel {c}: {} vs reference {:.1}",
                        p.x,
                        p.y,
                        got[i + c],
                        common::linear_to_srgb(expected[c])
                    );
                }
            }
        }
    }
    eprintln!("seams: 50 views, largest difference from the untiled reference {worst:.2}");
}
