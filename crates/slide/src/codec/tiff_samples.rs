//! TIFF's lossless codings (none, LZW, Deflate, PackBits, with horizontal
//! prediction) of 8-bit gray, RGB and RGBA samples.
//!
//! Every decompressor writes into a buffer of exactly the expected size and
//! stops there, so a decompression bomb costs one tile's worth of memory.

use crate::error::{Fault, FaultResult};
use std::io::Read;

pub const NONE: u16 = 1;
pub const LZW: u16 = 5;
pub const JPEG: u16 = 7;
pub const DEFLATE: u16 = 8;
pub const ADOBE_DEFLATE: u16 = 32946;
pub const PACKBITS: u16 = 32773;
pub const APERIO_J2K_YCBCR: u16 = 33003;
pub const APERIO_J2K_RGB: u16 = 33005;
pub const JPEG2000: u16 = 34712;

/// How the samples of a TIFF tile or strip are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SampleLayout {
    pub compression: u16,
    /// 1 = none, 2 = horizontal differencing.
    pub predictor: u16,
    pub samples_per_pixel: u16,
    /// 0 = min-is-white, 1 = min-is-black, 2 = RGB.
    pub photometric: u16,
}

pub fn compression_name(c: u16) -> String {
    match c {
        NONE => "none".into(),
        LZW => "LZW".into(),
        6 => "old-style JPEG".into(),
        JPEG => "JPEG".into(),
        DEFLATE | ADOBE_DEFLATE => "Deflate".into(),
        PACKBITS => "PackBits".into(),
        APERIO_J2K_YCBCR => "Aperio JPEG 2000 YCbCr".into(),
        APERIO_J2K_RGB => "Aperio JPEG 2000 RGB".into(),
        JPEG2000 => "JPEG 2000".into(),
        34887 => "JPEG XR".into(),
        50000 => "Zstandard".into(),
        50001 => "WebP".into(),
        other => format!("code {other}"),
    }
}

pub fn is_supported(c: u16) -> bool {
    matches!(c, NONE | LZW | DEFLATE | ADOBE_DEFLATE | PACKBITS)
}

fn inflate(data: &[u8], out: &mut [u8]) -> std::io::Result<usize> {
    let mut decoder = flate2::read::ZlibDecoder::new(data);
    let mut filled = 0;
    while filled < out.len() {
        match decoder.read(&mut out[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

fn unlzw(data: &[u8], out: &mut [u8]) -> Result<usize, String> {
    let mut decoder = weezl::decode::Decoder::with_tiff_size_switch(weezl::BitOrder::Msb, 8);
    let mut filled = 0;
    let mut input = data;
    while filled < out.len() && !input.is_empty() {
        let r = decoder.decode_bytes(input, &mut out[filled..]);
        filled += r.consumed_out;
        input = &input[r.consumed_in..];
        match r.status {
            Ok(weezl::LzwStatus::Done) => break,
            Ok(weezl::LzwStatus::NoProgress) => break,
            Ok(weezl::LzwStatus::Ok) => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(filled)
}

fn unpackbits(data: &[u8], out: &mut [u8]) -> usize {
    let (mut i, mut o) = (0, 0);
    while i < data.len() && o < out.len() {
        let n = data[i] as i8;
        i += 1;
        if n >= 0 {
            let count = (n as usize + 1).min(out.len() - o).min(data.len() - i);
            out[o..o + count].copy_from_slice(&data[i..i + count]);
            i += count;
            o += count;
        } else if n != -128 {
            let count = ((1 - n as isize) as usize).min(out.len() - o);
            if i >= data.len() {
                break;
            }
            out[o..o + count].fill(data[i]);
            i += 1;
            o += count;
        }
    }
    o
}

/// Decode `width` x `height` pixels of samples to RGBA.
pub fn decode_rgba(
    data: &[u8],
    layout: SampleLayout,
    width: u32,
    height: u32,
    part: &str,
) -> FaultResult<Vec<u8>> {
    let spp = usize::from(layout.samples_per_pixel);
    if !(1..=4).contains(&spp) || spp == 2 {
        return Err(Fault::unsupported(part, format!("{spp} samples per pixel")));
    }
    let (w, h) = (width as usize, height as usize);
    let row = w * spp;
    // The most each coding can expand: reject data too short for the
    // declared size before sizing a buffer from the declaration.
    let max_ratio: u64 = match layout.compression {
        NONE => 1,
        PACKBITS => 128,
        DEFLATE | ADOBE_DEFLATE => 1100,
        LZW => 2800,
        _ => 1,
    };
    let need = (row * h) as u64;
    if need > (data.len() as u64).saturating_mul(max_ratio) && layout.compression != NONE {
        return Err(Fault::corrupt(
            part,
            format!(
                "{} bytes of {} data cannot hold {width}x{height} pixels",
                data.len(),
                compression_name(layout.compression)
            ),
        ));
    }
    let mut samples = vec![0u8; row * h];
    let produced = match layout.compression {
        NONE => {
            let n = data.len().min(samples.len());
            samples[..n].copy_from_slice(&data[..n]);
            n
        }
        LZW => {
            unlzw(data, &mut samples).map_err(|e| Fault::corrupt(part, format!("LZW data: {e}")))?
        }
        DEFLATE | ADOBE_DEFLATE => inflate(data, &mut samples)
            .map_err(|e| Fault::corrupt(part, format!("Deflate data: {e}")))?,
        PACKBITS => unpackbits(data, &mut samples),
        c => {
            return Err(Fault::unsupported(
                part,
                format!("TIFF compression {}", compression_name(c)),
            ));
        }
    };
    if produced < samples.len() {
        return Err(Fault::corrupt(
            part,
            format!(
                "{} compressed data holds {produced} bytes, {} expected",
                compression_name(layout.compression),
                samples.len()
            ),
        ));
    }
    match layout.predictor {
        1 => {}
        2 => {
            for line in samples.chunks_exact_mut(row) {
                for i in spp..row {
                    line[i] = line[i].wrapping_add(line[i - spp]);
                }
            }
        }
        p => {
            return Err(Fault::unsupported(part, format!("TIFF predictor {p}")));
        }
    }
    let mut out = vec![0u8; w * h * 4];
    match (spp, layout.photometric) {
        (1, 0) => {
            for (px, &v) in out.chunks_exact_mut(4).zip(&samples) {
                px.copy_from_slice(&[255 - v, 255 - v, 255 - v, 255]);
            }
        }
        (1, _) => {
            for (px, &v) in out.chunks_exact_mut(4).zip(&samples) {
                px.copy_from_slice(&[v, v, v, 255]);
            }
        }
        (3, 2) => {
            for (px, s) in out.chunks_exact_mut(4).zip(samples.chunks_exact(3)) {
                px.copy_from_slice(&[s[0], s[1], s[2], 255]);
            }
        }
        (4, 2) => out.copy_from_slice(&samples),
        (_, p) => {
            return Err(Fault::unsupported(
                part,
                format!("photometric interpretation {p} with {spp} samples per pixel"),
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn layout(compression: u16, predictor: u16) -> SampleLayout {
        SampleLayout {
            compression,
            predictor,
            samples_per_pixel: 3,
            photometric: 2,
        }
    }

    #[test]
    fn deflate_with_predictor_round_trips() {
        let (w, h) = (5u32, 3u32);
        let pixels: Vec<u8> = (0..w * h * 3).map(|i| (i * 11 % 256) as u8).collect();
        let mut diff = pixels.clone();
        for line in diff.chunks_exact_mut(15) {
            for i in (3..15).rev() {
                line[i] = line[i].wrapping_sub(line[i - 3]);
            }
        }
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&diff).unwrap();
        let data = z.finish().unwrap();
        let rgba = decode_rgba(&data, layout(DEFLATE, 2), w, h, "t").unwrap();
        let rgb: Vec<u8> = rgba.chunks_exact(4).flat_map(|p| p[..3].to_vec()).collect();
        assert_eq!(rgb, pixels);
    }

    #[test]
    fn lzw_round_trips_and_short_data_is_an_error() {
        let pixels: Vec<u8> = (0..64 * 3).map(|i| (i % 7) as u8).collect();
        let data = weezl::encode::Encoder::with_tiff_size_switch(weezl::BitOrder::Msb, 8)
            .encode(&pixels)
            .unwrap();
        let rgba = decode_rgba(&data, layout(LZW, 1), 8, 8, "t").unwrap();
        assert_eq!(rgba[4..7], pixels[3..6]);
        let err = decode_rgba(&data[..data.len() / 3], layout(LZW, 1), 8, 8, "t").unwrap_err();
        assert_eq!(err.kind, crate::ErrorKind::Corrupt);
    }

    #[test]
    fn bomb_is_bounded() {
        // 1 GB of zeros compresses to ~1 MB; decoding a 4x4 tile from it
        // must stop after 48 bytes.
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..64 {
            z.write_all(&zeros).unwrap();
        }
        let data = z.finish().unwrap();
        let rgba = decode_rgba(&data, layout(DEFLATE, 1), 4, 4, "t").unwrap();
        assert_eq!(rgba.len(), 64);
    }

    #[test]
    fn packbits_decodes() {
        let data = [0xFEu8, 7, 2, 1, 2, 3];
        let mut out = [0u8; 6];
        assert_eq!(unpackbits(&data, &mut out), 6);
        assert_eq!(out, [7, 7, 7, 1, 2, 3]);
    }
}
