//! Region reads: compose the tiles a region touches.
//!
//! Tiles already cached are copied. A tile the region covers entirely is
//! decoded whole and cached. A tile the region only clips is, when its codec
//! allows (JPEG), decoded only where needed and not cached: random reads then
//! decode about half the pixels full-tile readers do.

use crate::codec::Crop;
use crate::error::FaultResult;
use crate::{Grid, Slide};

/// One read may return at most 2 GiB of RGBA.
pub(crate) const MAX_REGION_BYTES: u64 = 1 << 31;

/// Where an output buffer receives a level rectangle.
struct Dest<'a> {
    pixels: &'a mut [u8],
    /// Row length of the output buffer, in pixels.
    stride: usize,
    x: usize,
    y: usize,
}

/// Level-space origin and output offset for one axis. A negative level-0
/// origin shifts the output by whole level pixels, rounding toward zero
/// (OpenSlide's rule), and reading starts at level coordinate 0.
fn axis_origin(v_slide: i64, downsample: f64) -> (f64, u64) {
    if v_slide < 0 {
        let shift = (v_slide.unsigned_abs() as f64 / downsample) as u64;
        (0.0, shift)
    } else {
        (v_slide as f64 / downsample, 0)
    }
}

pub(crate) fn read(
    slide: &Slide,
    x_slide: i64,
    y_slide: i64,
    level: usize,
    width: u32,
    height: u32,
    out: &mut [u8],
) -> FaultResult<()> {
    if let Some(pixels) = slide
        .source(level)
        .read_region(x_slide, y_slide, width, height)
    {
        out.copy_from_slice(&pixels?);
        return Ok(());
    }
    let downsample = slide.levels()[level].downsample;
    let (x_level, out_x) = axis_origin(x_slide, downsample);
    let (y_level, out_y) = axis_origin(y_slide, downsample);
    if out_x >= u64::from(width) || out_y >= u64::from(height) {
        return Ok(());
    }
    let (w, h) = (width - out_x as u32, height - out_y as u32);
    let stride = width as usize;
    if x_level.fract() == 0.0 && y_level.fract() == 0.0 {
        let mut dest = Dest {
            pixels: out,
            stride,
            x: out_x as usize,
            y: out_y as usize,
        };
        return copy_level_rect(
            slide,
            level,
            x_level as i64,
            y_level as i64,
            w,
            h,
            &mut dest,
        );
    }
    // A fractional level origin: sample between level pixels, as OpenSlide
    // does by painting tiles at a sub-pixel offset. Unlike OpenSlide (cairo
    // paints each tile separately), we sample across tile borders, so there
    // are no faint seams.
    let (x0, y0) = (x_level.floor(), y_level.floor());
    let (fx, fy) = (x_level - x0, y_level - y0);
    let (sw, sh) = (w + 1, h + 1);
    let mut src = vec![0u8; sw as usize * sh as usize * 4];
    let mut dest = Dest {
        pixels: &mut src,
        stride: sw as usize,
        x: 0,
        y: 0,
    };
    copy_level_rect(slide, level, x0 as i64, y0 as i64, sw, sh, &mut dest)?;
    let mut out = Dest {
        pixels: out,
        stride,
        x: out_x as usize,
        y: out_y as usize,
    };
    bilinear(
        &src,
        sw as usize,
        (fx, fy),
        (w as usize, h as usize),
        &mut out,
    );
    Ok(())
}

/// Level pixels copied as stored (see [`Slide::read_level_rect`]).
pub(crate) fn read_level_rect(
    slide: &Slide,
    level: usize,
    x_level: i64,
    y_level: i64,
    width: u32,
    height: u32,
    out: &mut [u8],
) -> FaultResult<()> {
    let mut dest = Dest {
        pixels: out,
        stride: width as usize,
        x: 0,
        y: 0,
    };
    copy_level_rect(slide, level, x_level, y_level, width, height, &mut dest)
}

/// Sample `src` at a sub-pixel offset `(fx, fy)` into `w` x `h` pixels
/// of `out`.
fn bilinear(
    src: &[u8],
    src_stride: usize,
    (fx, fy): (f64, f64),
    (w, h): (usize, usize),
    out: &mut Dest<'_>,
) {
    // 8-bit weights; premultiplied so transparent neighbours do not darken.
    let wx = (fx * 256.0).round() as u32;
    let wy = (fy * 256.0).round() as u32;
    let weights = [
        (256 - wx) * (256 - wy),
        wx * (256 - wy),
        (256 - wx) * wy,
        wx * wy,
    ];
    for j in 0..h {
        for i in 0..w {
            let at = |dx: usize, dy: usize| ((j + dy) * src_stride + i + dx) * 4;
            let corners = [at(0, 0), at(1, 0), at(0, 1), at(1, 1)];
            let mut alpha = 0u32;
            let mut premul = [0u32; 3];
            for (k, &o) in corners.iter().enumerate() {
                let a = u32::from(src[o + 3]);
                alpha += weights[k] * a;
                for c in 0..3 {
                    premul[c] += weights[k] * a * u32::from(src[o + c]);
                }
            }
            let o = ((out.y + j) * out.stride + out.x + i) * 4;
            let px = &mut out.pixels[o..o + 4];
            if alpha == 0 {
                px.fill(0);
                continue;
            }
            for c in 0..3 {
                px[c] = ((premul[c] + alpha / 2) / alpha).min(255) as u8;
            }
            px[3] = ((alpha + 32768) >> 16).min(255) as u8;
        }
    }
}

/// Copy the level rectangle at (`x`, `y`), `w` x `h`, into `dest`, leaving
/// pixels outside the level or in missing tiles untouched (transparent).
fn copy_level_rect(
    slide: &Slide,
    level: usize,
    x: i64,
    y: i64,
    w: u32,
    h: u32,
    dest: &mut Dest<'_>,
) -> FaultResult<()> {
    let source = slide.source(level);
    let grid: Grid = source.grid();
    let (gw, gh) = (grid.width as i64, grid.height as i64);
    // Clip the request to the level.
    let (cx0, cy0) = (x.max(0), y.max(0));
    let (cx1, cy1) = ((x + i64::from(w)).min(gw), (y + i64::from(h)).min(gh));
    if cx0 >= cx1 || cy0 >= cy1 {
        return Ok(());
    }
    let (tw, th) = (i64::from(grid.tile_width), i64::from(grid.tile_height));
    for row in (cy0 / th)..=((cy1 - 1) / th) {
        for col in (cx0 / tw)..=((cx1 - 1) / tw) {
            let (tx, ty) = (col * tw, row * th);
            // The part of this tile inside both the request and the level.
            let ix0 = cx0.max(tx);
            let iy0 = cy0.max(ty);
            let ix1 = cx1.min(tx + tw);
            let iy1 = cy1.min(ty + th);
            let crop = Crop {
                x: (ix0 - tx) as u32,
                y: (iy0 - ty) as u32,
                width: (ix1 - ix0) as u32,
                height: (iy1 - iy0) as u32,
            };
            let valid_w = (gw - tx).min(tw);
            let valid_h = (gh - ty).min(th);
            let whole = crop.x == 0
                && crop.y == 0
                && i64::from(crop.width) == valid_w
                && i64::from(crop.height) == valid_h;
            let (col, row) = (col as u32, row as u32);
            let part = || format!("level {level} tile ({col}, {row})");
            let dx = dest.x + (ix0 - x) as usize;
            let dy = dest.y + (iy0 - y) as usize;
            let cached = slide.cache().get(&(level as u32, col, row));
            if cached.is_none() && !whole && source.partial_decode_is_cheaper() {
                let Some(pixels) = crate::decode_cell(source, col, row, Some(crop))
                    .map_err(|f| f.within(part()))?
                else {
                    continue;
                };
                blit(&pixels, crop.width as usize, 0, 0, crop, dest, dx, dy);
                continue;
            }
            let tile = match cached {
                Some(t) => t,
                None => match slide
                    .decode_and_cache(level, col, row)
                    .map_err(|f| f.within(part()))?
                {
                    Some(t) => t,
                    None => continue,
                },
            };
            blit(
                &tile.rgba,
                tile.width as usize,
                crop.x as usize,
                crop.y as usize,
                crop,
                dest,
                dx,
                dy,
            );
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn blit(
    src: &[u8],
    src_stride: usize,
    sx: usize,
    sy: usize,
    crop: Crop,
    dest: &mut Dest<'_>,
    dx: usize,
    dy: usize,
) {
    let n = crop.width as usize * 4;
    for r in 0..crop.height as usize {
        let s = ((sy + r) * src_stride + sx) * 4;
        let d = ((dy + r) * dest.stride + dx) * 4;
        dest.pixels[d..d + n].copy_from_slice(&src[s..s + n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_origin_shifts_by_whole_level_pixels() {
        assert_eq!(axis_origin(-10, 1.0), (0.0, 10));
        assert_eq!(axis_origin(-10, 4.0), (0.0, 2));
        assert_eq!(axis_origin(10, 4.0), (2.5, 0));
    }

    #[test]
    fn bilinear_at_half_averages_and_respects_alpha() {
        // 2x2 source: left column opaque grey 100, right column transparent.
        let src = [
            100, 100, 100, 255, 0, 0, 0, 0, //
            100, 100, 100, 255, 0, 0, 0, 0,
        ];
        let mut px = [0u8; 4];
        let mut out = Dest {
            pixels: &mut px,
            stride: 1,
            x: 0,
            y: 0,
        };
        bilinear(&src, 2, (0.5, 0.0), (1, 1), &mut out);
        let out = px;
        // colour is not darkened by the transparent neighbour
        assert_eq!(&out[..3], &[100, 100, 100]);
        assert!((127..=128).contains(&out[3]));
    }
}
