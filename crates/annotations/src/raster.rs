//! Probability rasters: a model's per-region scores as an image of the
//! whole slide at a coarse scale — a NumPy `.npy` array (float32/64,
//! uint8/16; the form Python pipelines save) or a grayscale PNG (8 or 16
//! bit) — turned into tile objects with a `Probability` measurement, so
//! they are drawn, thresholded and coloured as every tile heatmap is.
//!
//! The raster is stretched over the slide's level-0 size: pixel (c, r) of a
//! W × H raster covers [c·w/W, (c+1)·w/W) × [r·h/H, (r+1)·h/H). Pixels that
//! are 0 or NaN are background and make no tile. Integer rasters are
//! scaled to 0–1 (255 and 65535 are 1).

use crate::error::Fault;
use crate::limits::Limits;
use crate::model::{Annotations, Geometry, Kind, Object, Point};

/// The measurement each tile carries.
pub const MEASUREMENT: &str = "Probability";

/// A raster's values, row by row.
#[derive(Debug, Clone, PartialEq)]
pub struct Raster {
    pub width: usize,
    pub height: usize,
    pub values: Vec<f32>,
}

/// Whether a file name is a raster's (`.npy`, `.png`).
pub fn is_raster(path: &std::path::Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("npy") || e.eq_ignore_ascii_case("png"))
}

/// Pixels a raster may have: as many as objects in a file.
fn check_size(width: usize, height: usize, limits: &Limits) -> Result<usize, Fault> {
    let n = width
        .checked_mul(height)
        .filter(|&n| n <= limits.max_objects)
        .ok_or_else(|| {
            Fault::limit(format!(
                "a {width} × {height} raster: more than {} pixels",
                limits.max_objects
            ))
        })?;
    if n == 0 {
        return Err(Fault::corrupt("an empty raster"));
    }
    Ok(n)
}

/// A NumPy array file: version 1–3, a little-endian (or one-byte) element
/// type, C order, two dimensions.
pub fn raster_from_npy(bytes: &[u8], limits: &Limits) -> Result<Raster, Fault> {
    let rest = bytes
        .strip_prefix(b"\x93NUMPY")
        .ok_or_else(|| Fault::unsupported("not a NumPy .npy file (no \\x93NUMPY magic)"))?;
    let (major, rest) = rest
        .split_first()
        .and_then(|(m, r)| Some((*m, r.get(1..)?)))
        .ok_or_else(|| Fault::corrupt("the .npy header ends early"))?;
    let (header_len, rest) = match major {
        1 => (
            usize::from(u16::from_le_bytes([
                *rest.first().unwrap_or(&0),
                *rest.get(1).unwrap_or(&0),
            ])),
            rest.get(2..),
        ),
        2 | 3 => (
            rest.get(..4).map_or(usize::MAX, |b| {
                u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize
            }),
            rest.get(4..),
        ),
        v => return Err(Fault::unsupported(format!(".npy format version {v}"))),
    };
    let rest = rest.ok_or_else(|| Fault::corrupt("the .npy header ends early"))?;
    if header_len > 1 << 16 || header_len > rest.len() {
        return Err(Fault::corrupt(format!(
            "a .npy header of {header_len} bytes in a file of {}",
            bytes.len()
        )));
    }
    let header = std::str::from_utf8(&rest[..header_len])
        .map_err(|_| Fault::corrupt("the .npy header is not text"))?;
    let data = &rest[header_len..];
    let field = |key: &str| -> Option<&str> {
        let at = header.find(&format!("'{key}'"))? + key.len() + 2;
        let after = header[at..].trim_start().strip_prefix(':')?.trim_start();
        Some(after)
    };
    let descr = field("descr")
        .and_then(|d| d.strip_prefix('\'')?.split('\'').next())
        .ok_or_else(|| Fault::corrupt("the .npy header has no descr"))?;
    if field("fortran_order").is_some_and(|f| f.starts_with("True")) {
        return Err(Fault::unsupported(
            "a Fortran-order .npy array (save it C-ordered)",
        ));
    }
    let shape: Vec<usize> = field("shape")
        .and_then(|s| s.strip_prefix('(')?.split(')').next())
        .map(|s| {
            s.split(',')
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .map(|d| d.parse::<usize>())
                .collect::<Result<_, _>>()
        })
        .transpose()
        .map_err(|_| Fault::corrupt("the .npy shape is not numbers"))?
        .ok_or_else(|| Fault::corrupt("the .npy header has no shape"))?;
    let [height, width] = shape[..] else {
        return Err(Fault::unsupported(format!(
            "a .npy array of shape {shape:?}: a raster has two dimensions"
        )));
    };
    let n = check_size(width, height, limits)?;
    let (size, read): (usize, fn(&[u8]) -> f32) = match descr {
        "<f4" => (4, |b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        "<f8" => (8, |b| {
            f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32
        }),
        "|u1" | "<u1" => (1, |b| f32::from(b[0]) / 255.0),
        "<u2" => (2, |b| f32::from(u16::from_le_bytes([b[0], b[1]])) / 65535.0),
        other => {
            return Err(Fault::unsupported(format!(
                "a .npy array of {other}: float32, float64, uint8 or uint16 expected"
            )));
        }
    };
    if data.len() != n * size {
        return Err(Fault::corrupt(format!(
            "{} bytes of data for a {width} × {height} {descr} array ({} expected)",
            data.len(),
            n * size
        )));
    }
    Ok(Raster {
        width,
        height,
        values: data.chunks_exact(size).map(read).collect(),
    })
}

/// A grayscale PNG, 8 or 16 bit.
pub fn raster_from_png(bytes: &[u8], limits: &Limits) -> Result<Raster, Fault> {
    let mut decoder = png::Decoder::new_with_limits(
        std::io::Cursor::new(bytes),
        png::Limits {
            bytes: limits.max_objects.saturating_mul(2),
        },
    );
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder
        .read_info()
        .map_err(|e| Fault::corrupt(format!("not a PNG this reads: {e}")))?;
    let info = reader.info();
    let (width, height) = (info.width as usize, info.height as usize);
    check_size(width, height, limits)?;
    let (colour, depth) = reader.output_color_type();
    if colour != png::ColorType::Grayscale {
        return Err(Fault::unsupported(format!(
            "a {colour:?} PNG: a probability raster is grayscale"
        )));
    }
    let mut buf = vec![0u8; reader.output_buffer_size().unwrap_or(0)];
    let frame = reader
        .next_frame(&mut buf)
        .map_err(|e| Fault::corrupt(format!("the PNG's pixels: {e}")))?;
    let data = &buf[..frame.buffer_size()];
    let values = match depth {
        png::BitDepth::Sixteen => data
            .chunks_exact(2)
            .map(|b| f32::from(u16::from_be_bytes([b[0], b[1]])) / 65535.0)
            .collect(),
        _ => data.iter().map(|&v| f32::from(v) / 255.0).collect(),
    };
    Ok(Raster {
        width,
        height,
        values,
    })
}

/// The raster as tile objects over a slide of `size` level-0 pixels.
pub fn tiles_from_raster(raster: &Raster, size: (u64, u64)) -> Annotations {
    let mut out = Annotations::default();
    let name = out.measurement_id(MEASUREMENT);
    let (sx, sy) = (
        size.0 as f64 / raster.width as f64,
        size.1 as f64 / raster.height as f64,
    );
    for (i, &v) in raster.values.iter().enumerate() {
        if v == 0.0 || v.is_nan() {
            continue;
        }
        let (c, r) = ((i % raster.width) as f64, (i / raster.width) as f64);
        let (x0, y0, x1, y1) = (c * sx, r * sy, (c + 1.0) * sx, (r + 1.0) * sy);
        let mut o = Object::new(
            Kind::Tile,
            Geometry::Rectangle(Box::new([
                Point::new(x0, y0),
                Point::new(x1, y0),
                Point::new(x1, y1),
                Point::new(x0, y1),
            ])),
        );
        o.measurements.push((name, f64::from(v)));
        out.objects.push(o);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
        let mut header =
            format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut v = b"\x93NUMPY\x01\x00".to_vec();
        v.extend_from_slice(&(header.len() as u16).to_le_bytes());
        v.extend_from_slice(header.as_bytes());
        v.extend_from_slice(data);
        v
    }

    #[test]
    fn npy_arrays_become_tiles_over_the_slide() {
        let values: Vec<u8> = [0.0f32, 0.5, f32::NAN, 1.0, 0.25, 0.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let r = raster_from_npy(&npy("<f4", "(2, 3)", &values), &Limits::default()).unwrap();
        assert_eq!((r.width, r.height), (3, 2));
        let a = tiles_from_raster(&r, (300, 100));
        // 0 and NaN are background.
        assert_eq!(a.objects.len(), 3);
        let o = &a.objects[0];
        assert_eq!(a.measurement(o, MEASUREMENT), Some(0.5));
        let b = o.geometry.bounds().unwrap();
        assert_eq!(
            (b.min_x, b.min_y, b.max_x, b.max_y),
            (100.0, 0.0, 200.0, 50.0)
        );
        let r = raster_from_npy(&npy("|u1", "(1, 2)", &[255, 51]), &Limits::default()).unwrap();
        assert_eq!(r.values, [1.0, 0.2]);
    }

    #[test]
    fn broken_or_unsupported_arrays_say_why() {
        let limits = Limits::default();
        let fault = |b: &[u8]| raster_from_npy(b, &limits).unwrap_err().reason;
        assert!(fault(b"hello").contains("magic"));
        assert!(fault(&npy("<f4", "(2, 3)", &[0; 8])).contains("bytes of data"));
        assert!(fault(&npy("<i8", "(1, 1)", &[0; 8])).contains("float32"));
        assert!(fault(&npy("<f4", "(2, 3, 4)", &[])).contains("two dimensions"));
        assert!(fault(&npy("<f4", "(100000, 100000)", &[])).contains("more than"));
        let cut = npy("<f4", "(1, 1)", &[0; 4]);
        for len in 0..cut.len() {
            assert!(raster_from_npy(&cut[..len], &limits).is_err());
        }
    }
}
