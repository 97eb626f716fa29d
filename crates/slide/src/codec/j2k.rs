//! JPEG 2000 tiles through OpenJPEG (the `jpeg2k` crate's vendored build, the
//! same codec OpenSlide uses for Aperio 33003/33005 and DICOM).

use crate::error::{Fault, FaultResult};

/// Image size from the SIZ marker of a J2K codestream or a JP2 file's `jp2c`
/// box, read before OpenJPEG sizes any buffer from it.
pub fn codestream_size(data: &[u8], part: &str) -> FaultResult<(u32, u32)> {
    let cs = if data.starts_with(&[0xFF, 0x4F, 0xFF, 0x51]) {
        data
    } else {
        find_jp2c(data).ok_or_else(|| {
            Fault::corrupt(
                part,
                "JPEG 2000 data has neither a codestream nor a jp2c box",
            )
        })?
    };
    if cs.len() < 2 + 2 + 2 + 2 + 16 || cs[..4] != [0xFF, 0x4F, 0xFF, 0x51] {
        return Err(Fault::corrupt(
            part,
            "JPEG 2000 codestream lacks SOC/SIZ markers",
        ));
    }
    let be32 = |o: usize| u32::from_be_bytes([cs[o], cs[o + 1], cs[o + 2], cs[o + 3]]);
    // SOC(2) SIZ(2) Lsiz(2) Rsiz(2) Xsiz Ysiz XOsiz YOsiz
    let (x, y, xo, yo) = (be32(8), be32(12), be32(16), be32(20));
    if xo >= x || yo >= y {
        return Err(Fault::corrupt(
            part,
            "JPEG 2000 image offset beyond its size",
        ));
    }
    Ok((x - xo, y - yo))
}

fn find_jp2c(data: &[u8]) -> Option<&[u8]> {
    let mut pos = 0usize;
    while pos + 8 <= data.len() {
        let len = u32::from_be_bytes(data[pos..pos + 4].try_into().ok()?) as usize;
        let kind = &data[pos + 4..pos + 8];
        let (header, body_len) = match len {
            0 => (8, data.len() - pos - 8),
            1 => {
                let l = u64::from_be_bytes(data.get(pos + 8..pos + 16)?.try_into().ok()?) as usize;
                (16, l.checked_sub(16)?)
            }
            l if l >= 8 => (8, l - 8),
            _ => return None,
        };
        let start = pos + header;
        let end = start.checked_add(body_len)?.min(data.len());
        if kind == b"jp2c" {
            return data.get(start..end);
        }
        pos = end;
    }
    None
}

/// Whether the codestream's COD marker asks the decoder to apply the
/// multiple-component (YCbCr to RGB) transform itself.
pub fn codestream_has_mct(data: &[u8]) -> bool {
    let cs = if data.starts_with(&[0xFF, 0x4F]) {
        data
    } else {
        match find_jp2c(data) {
            Some(c) => c,
            None => return false,
        }
    };
    // Walk main-header marker segments after SOC until COD.
    let mut pos = 2usize;
    while pos + 4 <= cs.len() {
        let marker = u16::from_be_bytes([cs[pos], cs[pos + 1]]);
        let len = usize::from(u16::from_be_bytes([cs[pos + 2], cs[pos + 3]]));
        if marker == 0xFF52 {
            // COD: Lcod, Scod, progression order, layers (2), MCT
            return cs.get(pos + 8).is_some_and(|&m| m != 0);
        }
        if marker == 0xFF90 || len < 2 {
            return false; // first tile-part: no COD in the main header
        }
        pos += 2 + len;
    }
    false
}

/// YCbCr to RGB exactly as OpenSlide does for Aperio 33003 (its generated
/// tables: BT.601 full range, G rounded in 16.16 fixed point).
fn ycbcr_to_rgb(y: u8, cb: u8, cr: u8) -> [u8; 3] {
    let (cb, cr) = (f64::from(cb) - 128.0, f64::from(cr) - 128.0);
    let r_cr = (1.402 * cr).round() as i32;
    let g_cb = ((65536.0) * (0.5 - 0.34414 * cb)).round() as i32;
    let g_cr = ((65536.0) * (-0.71414 * cr)).round() as i32;
    let b_cb = (1.772 * cb).round() as i32;
    let y = i32::from(y);
    let clamp = |v: i32| v.clamp(0, 255) as u8;
    [
        clamp(y + r_cr),
        clamp(y + ((g_cb + g_cr) >> 16)),
        clamp(y + b_cb),
    ]
}

/// Decode a JPEG 2000 tile of `expect` pixels to RGBA. `ycbcr`: the three
/// components are YCbCr (possibly subsampled) rather than RGB.
pub fn decode_rgba(
    data: &[u8],
    expect: (u32, u32),
    ycbcr: bool,
    part: &str,
) -> FaultResult<Vec<u8>> {
    let size = codestream_size(data, part)?;
    if size != expect {
        return Err(Fault::corrupt(
            part,
            format!(
                "JPEG 2000 image is {}x{}, expected {}x{}",
                size.0, size.1, expect.0, expect.1
            ),
        ));
    }
    // Strict mode: a truncated codestream is an error, not a half-decoded
    // tile. (Damaged packet data inside a complete codestream cannot be
    // detected by any JPEG 2000 decoder.)
    let params = jpeg2k::DecodeParameters::new().strict(true);
    let image = jpeg2k::Image::from_bytes_with(data, params)
        .map_err(|e| Fault::corrupt(part, format!("JPEG 2000 data: {e}")))?;
    let comps = image.components();
    let (w, h) = (expect.0 as usize, expect.1 as usize);
    let gray = comps.len() == 1;
    if comps.len() != 3 && !gray {
        return Err(Fault::unsupported(
            part,
            format!("JPEG 2000 with {} components", comps.len()),
        ));
    }
    // Chroma planes may be subsampled; index them with integer factors as
    // OpenSlide does (nearest neighbour).
    let mut planes = Vec::with_capacity(comps.len());
    for (i, c) in comps.iter().enumerate() {
        let (cw, ch) = (c.width() as usize, c.height() as usize);
        if cw == 0 || ch == 0 || cw > w || ch > h || c.data().len() < cw * ch {
            return Err(Fault::corrupt(
                part,
                format!("JPEG 2000 component {i} is {cw}x{ch} in a {w}x{h} image"),
            ));
        }
        if c.precision() != 8 {
            return Err(Fault::unsupported(
                part,
                format!("JPEG 2000 component {i} has {}-bit samples", c.precision()),
            ));
        }
        planes.push((c.data(), cw, w / cw, h / ch));
    }
    let mut out = vec![0u8; w * h * 4];
    for y in 0..h {
        for x in 0..w {
            let sample = |k: usize| {
                let (data, cw, sx, sy) = planes[k];
                data[(y / sy) * cw + x / sx].clamp(0, 255) as u8
            };
            let rgb = if gray {
                let v = sample(0);
                [v, v, v]
            } else if ycbcr {
                ycbcr_to_rgb(sample(0), sample(1), sample(2))
            } else {
                [sample(0), sample(1), sample(2)]
            };
            let o = (y * w + x) * 4;
            out[o..o + 3].copy_from_slice(&rgb);
            out[o + 3] = 255;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ycbcr_matches_openslide_tables() {
        // Values from OpenSlide's generated tables: R_Cr[255] = 178,
        // B_Cb[0] = -227.
        assert_eq!(ycbcr_to_rgb(0, 128, 255)[0], 178);
        assert_eq!(ycbcr_to_rgb(255, 0, 128)[2], 28);
        assert_eq!(ycbcr_to_rgb(100, 128, 128), [100, 100, 100]);
    }

    #[test]
    fn size_is_read_from_siz_and_garbage_rejected() {
        let mut cs = vec![0xFF, 0x4F, 0xFF, 0x51, 0, 41, 0, 0];
        for v in [300u32, 200, 0, 0, 300, 200, 0, 0] {
            cs.extend_from_slice(&v.to_be_bytes());
        }
        assert_eq!(codestream_size(&cs, "t").unwrap(), (300, 200));
        assert!(decode_rgba(&cs, (256, 256), false, "t").is_err());
        assert!(decode_rgba(&cs, (300, 200), false, "t").is_err());
        assert!(codestream_size(b"garbage garbage garbage", "t").is_err());
    }
}
