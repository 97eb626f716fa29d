//! JPEG through libjpeg-turbo's TurboJPEG 3 API.
//!
//! libjpeg-turbo is the decoder OpenSlide and libvips use, so pixels match
//! them bit for bit. TJ3 adds cropping, which lets a region read decode only
//! the part of an edge tile it needs: columns outside the crop skip the IDCT
//! and colour conversion, rows above skip them too, and rows below are never
//! entropy-decoded at all.
//!
//! The stream helpers make tiles self-contained (tables merged in, colour
//! space stated with an Adobe marker), so the same bytes decode correctly in
//! any JPEG decoder: the form tiles are streamed to a remote viewer in.

use crate::error::{Fault, FaultResult};
use std::cell::RefCell;
use std::ffi::{CStr, c_int};
use turbojpeg_sys as tj;

/// A JPEG header (tables, comments) longer than this is not a scanner's;
/// read at most this much to learn a stream's geometry.
pub const MAX_HEADER_BYTES: u64 = 1 << 20;

/// Geometry and sampling of a JPEG stream, from its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JpegHeader {
    pub width: u32,
    pub height: u32,
    /// Width and height of one MCU in pixels (8 or 16, or 32 for 4:1:1).
    pub mcu_width: u32,
    pub mcu_height: u32,
}

/// A rectangle inside a decoded image, in the decoded (scaled) pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Crop {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

struct Decompressor(tj::tjhandle);

impl Drop for Decompressor {
    fn drop(&mut self) {
        // SAFETY: the handle came from tj3Init, is non-null, and is dropped
        // exactly once (Decompressor is neither Clone nor Copy).
        unsafe { tj::tj3Destroy(self.0) }
    }
}

impl Decompressor {
    fn new() -> FaultResult<Decompressor> {
        // SAFETY: tj3Init has no preconditions; a null return is checked.
        let h = unsafe { tj::tj3Init(tj::TJINIT_TJINIT_DECOMPRESS as c_int) };
        if h.is_null() {
            return Err(Fault::new(
                crate::ErrorKind::Io,
                "JPEG decoder",
                "libjpeg-turbo could not allocate a decompressor",
            ));
        }
        let handle = Decompressor(h);
        // Corrupt data is an error, not a silently grey tile (OpenSlide
        // also turns libjpeg warnings into errors). The memory cap bounds
        // progressive/multi-scan coefficient buffers a hostile header sizes.
        handle.set(tj::TJPARAM_TJPARAM_STOPONWARNING, 1)?;
        handle.set(tj::TJPARAM_TJPARAM_MAXMEMORY, 1024)?;
        Ok(handle)
    }

    fn set(&self, param: tj::TJPARAM, value: c_int) -> FaultResult<()> {
        // SAFETY: self.0 is a live handle; tj3Set validates param and value.
        let rc = unsafe { tj::tj3Set(self.0, param as c_int, value) };
        if rc != 0 {
            return Err(self.error("JPEG decoder"));
        }
        Ok(())
    }

    fn get(&self, param: tj::TJPARAM) -> c_int {
        // SAFETY: self.0 is a live handle; tj3Get reads a field.
        unsafe { tj::tj3Get(self.0, param as c_int) }
    }

    fn error(&self, part: &str) -> Fault {
        // SAFETY: tj3GetErrorStr returns a pointer to a NUL-terminated
        // string owned by the handle (or a static one), valid until the next
        // call on this handle; we copy it out immediately.
        let msg = unsafe { CStr::from_ptr(tj::tj3GetErrorStr(self.0)) }
            .to_string_lossy()
            .trim()
            .to_string();
        Fault::corrupt(part, format!("JPEG data: {msg}"))
    }

    fn header(&self, jpeg: &[u8], part: &str) -> FaultResult<JpegHeader> {
        // SAFETY: the pointer/length pair describes a live slice; TurboJPEG
        // only reads within it.
        let rc = unsafe { tj::tj3DecompressHeader(self.0, jpeg.as_ptr(), jpeg.len() as _) };
        if rc != 0 {
            return Err(self.error(part));
        }
        let width = self.get(tj::TJPARAM_TJPARAM_JPEGWIDTH);
        let height = self.get(tj::TJPARAM_TJPARAM_JPEGHEIGHT);
        let subsamp = self.get(tj::TJPARAM_TJPARAM_SUBSAMP);
        let (mcu_width, mcu_height) = match subsamp {
            s if s == tj::TJSAMP_TJSAMP_444 as c_int || s == tj::TJSAMP_TJSAMP_GRAY as c_int => {
                (8, 8)
            }
            s if s == tj::TJSAMP_TJSAMP_422 as c_int => (16, 8),
            s if s == tj::TJSAMP_TJSAMP_420 as c_int => (16, 16),
            s if s == tj::TJSAMP_TJSAMP_440 as c_int => (8, 16),
            s if s == tj::TJSAMP_TJSAMP_411 as c_int => (32, 8),
            s if s == tj::TJSAMP_TJSAMP_441 as c_int => (8, 32),
            _ => {
                return Err(Fault::unsupported(
                    part,
                    "JPEG chroma subsampling that libjpeg-turbo cannot classify",
                ));
            }
        };
        if width <= 0 || height <= 0 {
            return Err(Fault::corrupt(part, "JPEG header has a zero dimension"));
        }
        Ok(JpegHeader {
            width: width as u32,
            height: height as u32,
            mcu_width,
            mcu_height,
        })
    }
}

thread_local! {
    // One decompressor per thread: TurboJPEG handles are not thread-safe,
    // and creating one per tile costs more than decoding a small tile.
    static DECODER: RefCell<Option<Decompressor>> = const { RefCell::new(None) };
}

fn with_handle<T>(f: impl FnOnce(&Decompressor) -> FaultResult<T>) -> FaultResult<T> {
    DECODER.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Some(Decompressor::new()?);
        }
        f(slot.as_ref().expect("just set"))
    })
}

pub fn read_header(jpeg: &[u8], part: &str) -> FaultResult<JpegHeader> {
    with_handle(|h| h.header(jpeg, part))
}

/// Decode `jpeg` to RGBA, scaled by 1/`scale_denom` (1, 2, 4 or 8), keeping
/// only `crop` (in scaled pixels) if given. Returns the pixels, `crop.width` x
/// `crop.height` (or the whole scaled image), rows packed.
///
/// `expect` is the scaled size the caller believes the stream has; a stream
/// that disagrees is rejected before any pixel buffer is sized from it.
pub fn decode_rgba(
    jpeg: &[u8],
    scale_denom: u32,
    expect: (u32, u32),
    crop: Option<Crop>,
    part: &str,
) -> FaultResult<Vec<u8>> {
    with_handle(|h| {
        let header = h.header(jpeg, part)?;
        // Even a flat image costs a few bits per 8x8 block: a stream far
        // too short for its declared size is corrupt, and is rejected
        // before a pixel buffer is sized from the declaration.
        let pixels = u64::from(header.width) * u64::from(header.height);
        if pixels > (jpeg.len() as u64).saturating_mul(1024) {
            return Err(Fault::corrupt(
                part,
                format!(
                    "{} bytes of JPEG cannot hold {}x{} pixels",
                    jpeg.len(),
                    header.width,
                    header.height
                ),
            ));
        }
        let sw = header.width.div_ceil(scale_denom);
        let sh = header.height.div_ceil(scale_denom);
        if (sw, sh) != expect {
            return Err(Fault::corrupt(
                part,
                format!(
                    "JPEG is {}x{} (scaled 1/{scale_denom}: {sw}x{sh}), expected {}x{}",
                    header.width, header.height, expect.0, expect.1
                ),
            ));
        }
        // SAFETY: live handle; scaling factors are validated by TurboJPEG.
        let rc = unsafe {
            tj::tj3SetScalingFactor(
                h.0,
                tj::tjscalingfactor {
                    num: 1,
                    denom: scale_denom as c_int,
                },
            )
        };
        if rc != 0 {
            return Err(h.error(part));
        }
        let crop = crop.unwrap_or(Crop {
            x: 0,
            y: 0,
            width: sw,
            height: sh,
        });
        if crop.width == 0
            || crop.height == 0
            || crop.x + crop.width > sw
            || crop.y + crop.height > sh
        {
            return Err(Fault::argument(part, "crop outside the decoded tile"));
        }
        // TurboJPEG crops columns at scaled-MCU boundaries only, and treats
        // the crop's edges as image edges when upsampling chroma, which
        // changes the outermost columns. Decode one extra MCU column on each
        // side (where the image has one) and drop the extra columns, so a
        // partial decode equals the same pixels of a full decode.
        let mcu_w = (header.mcu_width / scale_denom).max(1);
        let x0 = (crop.x / mcu_w * mcu_w).saturating_sub(mcu_w);
        let x1 = ((crop.x + crop.width).div_ceil(mcu_w) * mcu_w + mcu_w).min(sw);
        let decode_w = x1 - x0;
        let region = if (x0, crop.y, decode_w, crop.height) == (0, 0, sw, sh) {
            tj::tjregion {
                x: 0,
                y: 0,
                w: 0,
                h: 0,
            }
        } else {
            tj::tjregion {
                x: x0 as c_int,
                y: crop.y as c_int,
                w: decode_w as c_int,
                h: crop.height as c_int,
            }
        };
        // SAFETY: live handle; the region was validated against the scaled
        // header dimensions above and TurboJPEG re-validates it.
        let rc = unsafe { tj::tj3SetCroppingRegion(h.0, region) };
        if rc != 0 {
            return Err(h.error(part));
        }
        let pitch = decode_w as usize * 4;
        let mut pixels = vec![0u8; pitch * crop.height as usize];
        // SAFETY: `pixels` holds crop.height rows of `pitch` bytes, exactly
        // what TurboJPEG writes for this cropping region in RGBA (4 bytes per
        // pixel); the JPEG slice is live for the call.
        let rc = unsafe {
            tj::tj3Decompress8(
                h.0,
                jpeg.as_ptr(),
                jpeg.len() as _,
                pixels.as_mut_ptr(),
                pitch as c_int,
                tj::TJPF_TJPF_RGBA as c_int,
            )
        };
        // Leave the handle uncropped for the next caller on this thread.
        // SAFETY: live handle; the all-zero region means "no cropping".
        unsafe {
            tj::tj3SetCroppingRegion(
                h.0,
                tj::tjregion {
                    x: 0,
                    y: 0,
                    w: 0,
                    h: 0,
                },
            )
        };
        if rc != 0 {
            return Err(h.error(part));
        }
        if x0 == crop.x && decode_w == crop.width {
            return Ok(pixels);
        }
        let skip = (crop.x - x0) as usize * 4;
        let row = crop.width as usize * 4;
        let mut out = Vec::with_capacity(row * crop.height as usize);
        for line in pixels.chunks_exact(pitch) {
            out.extend_from_slice(&line[skip..skip + row]);
        }
        Ok(out)
    })
}

fn segments(stream: &[u8], part: &str) -> FaultResult<Vec<(u8, std::ops::Range<usize>)>> {
    // Marker segments between SOI and SOS (inclusive), as (marker, byte range).
    if stream.len() < 4 || stream[0] != 0xFF || stream[1] != 0xD8 {
        return Err(Fault::corrupt(part, "JPEG data does not start with SOI"));
    }
    let mut out = Vec::new();
    let mut pos = 2;
    loop {
        if pos + 4 > stream.len() {
            return Err(Fault::corrupt(part, "JPEG header ends before SOS"));
        }
        if stream[pos] != 0xFF {
            return Err(Fault::corrupt(
                part,
                format!("expected a JPEG marker at byte {pos}"),
            ));
        }
        let marker = stream[pos + 1];
        if marker == 0xFF {
            pos += 1; // fill byte
            continue;
        }
        let len = usize::from(u16::from_be_bytes([stream[pos + 2], stream[pos + 3]]));
        if len < 2 || pos + 2 + len > stream.len() {
            return Err(Fault::corrupt(
                part,
                "JPEG marker length runs past the data",
            ));
        }
        out.push((marker, pos..pos + 2 + len));
        pos += 2 + len;
        if marker == 0xDA {
            return Ok(out);
        }
    }
}

/// Splice TIFF JPEGTables into an abbreviated tile stream.
pub fn merge_tables(tables: &[u8], tile: &[u8], part: &str) -> FaultResult<Vec<u8>> {
    if tile.len() < 2 || tile[..2] != [0xFF, 0xD8] {
        return Err(Fault::corrupt(
            part,
            "tile data does not start with a JPEG SOI marker",
        ));
    }
    if tables.len() < 4 || tables[..2] != [0xFF, 0xD8] || tables[tables.len() - 2..] != [0xFF, 0xD9]
    {
        return Err(Fault::corrupt(
            part,
            "JPEGTables is not an SOI..EOI table stream",
        ));
    }
    let mut out = Vec::with_capacity(tables.len() + tile.len());
    out.extend_from_slice(&tables[..tables.len() - 2]);
    out.extend_from_slice(&tile[2..]);
    Ok(out)
}

/// Mark a three-component JPEG as RGB (not YCbCr) with an Adobe APP14
/// segment, replacing any JFIF or Adobe segment. Aperio and some TIFF writers
/// store RGB JPEGs that only the TIFF photometric tag identifies; without the
/// marker every standard decoder applies a YCbCr transform and the colours
/// come out wrong.
pub fn mark_rgb(stream: &[u8], part: &str) -> FaultResult<Vec<u8>> {
    let segs = segments(stream, part)?;
    const ADOBE_RGB: [u8; 16] = [
        0xFF, 0xEE, 0x00, 0x0E, b'A', b'd', b'o', b'b', b'e', 0x00, 0x64, 0x00, 0x00, 0x00, 0x00,
        0x00,
    ];
    let mut out = Vec::with_capacity(stream.len() + ADOBE_RGB.len());
    out.extend_from_slice(&stream[..2]);
    out.extend_from_slice(&ADOBE_RGB);
    let mut end = 2;
    for (marker, range) in segs {
        let body = &stream[range.start + 4..range.end];
        let is_jfif = marker == 0xE0 && body.starts_with(b"JFIF\0");
        let is_adobe = marker == 0xEE && body.starts_with(b"Adobe");
        if !is_jfif && !is_adobe {
            out.extend_from_slice(&stream[range.clone()]);
        }
        end = range.end;
    }
    out.extend_from_slice(&stream[end..]);
    Ok(out)
}

/// Byte offset of the SOF marker and of the first entropy-coded byte (just
/// after the SOS segment).
pub fn header_extent(stream: &[u8], part: &str) -> FaultResult<(usize, usize)> {
    let segs = segments(stream, part)?;
    let sof = segs
        .iter()
        .find(|(m, _)| matches!(m, 0xC0..=0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF))
        .map(|(_, r)| r.start)
        .ok_or_else(|| Fault::corrupt(part, "JPEG header has no SOF marker"))?;
    let sos_end = segs.last().expect("ends with SOS").1.end;
    Ok((sof, sos_end))
}

/// Restart interval (MCUs) from a DRI segment in the header, 0 if none.
pub fn restart_interval(stream: &[u8], part: &str) -> FaultResult<u32> {
    for (marker, range) in segments(stream, part)? {
        if marker == 0xDD {
            if range.len() < 6 {
                return Err(Fault::corrupt(part, "short DRI segment"));
            }
            return Ok(u32::from(u16::from_be_bytes([
                stream[range.start + 4],
                stream[range.start + 5],
            ])));
        }
    }
    Ok(0)
}

/// Overwrite the frame size in the SOF segment that starts at `sof`.
pub fn patch_sof_size(header: &mut [u8], sof: usize, width: u16, height: u16) {
    header[sof + 5..sof + 7].copy_from_slice(&height.to_be_bytes());
    header[sof + 7..sof + 9].copy_from_slice(&width.to_be_bytes());
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Encode RGB pixels with TurboJPEG for tests (quality 90, given
    /// subsampling), optionally with restart markers every `restart` MCUs.
    pub fn encode(rgb: &[u8], w: u32, h: u32, subsamp: tj::TJSAMP, restart: u32) -> Vec<u8> {
        // SAFETY: a fresh compressor handle, checked non-null, destroyed at
        // the end; `rgb` holds w × h × 3 bytes for tj3Compress8 to read;
        // the output buffer TurboJPEG allocates is copied, then freed.
        unsafe {
            let hd = tj::tj3Init(tj::TJINIT_TJINIT_COMPRESS as c_int);
            assert!(!hd.is_null());
            tj::tj3Set(hd, tj::TJPARAM_TJPARAM_QUALITY as c_int, 90);
            tj::tj3Set(hd, tj::TJPARAM_TJPARAM_SUBSAMP as c_int, subsamp as c_int);
            tj::tj3Set(
                hd,
                tj::TJPARAM_TJPARAM_RESTARTBLOCKS as c_int,
                restart as c_int,
            );
            let mut buf: *mut u8 = std::ptr::null_mut();
            let mut size = 0;
            let rc = tj::tj3Compress8(
                hd,
                rgb.as_ptr(),
                w as c_int,
                0,
                h as c_int,
                tj::TJPF_TJPF_RGB as c_int,
                &mut buf,
                &mut size,
            );
            assert_eq!(rc, 0);
            let out = std::slice::from_raw_parts(buf, size as usize).to_vec();
            tj::tj3Free(buf as *mut _);
            tj::tj3Destroy(hd);
            out
        }
    }

    pub fn gradient(w: u32, h: u32) -> Vec<u8> {
        let mut v = Vec::with_capacity((w * h * 3) as usize);
        for y in 0..h {
            for x in 0..w {
                let r = (x * 255 / w.max(1)) as u8;
                let g = (y * 255 / h.max(1)) as u8;
                let b = ((x * 7 + y * 13) % 256) as u8;
                v.extend_from_slice(&[r, g, b]);
            }
        }
        v
    }

    #[test]
    fn crop_equals_full_decode() {
        // Partial decodes must be pixel-identical to the same area of a full
        // decode, at every subsampling, including odd crops and the edges.
        let (w, h) = (256u32, 256u32);
        let rgb = gradient(w, h);
        for subsamp in [
            tj::TJSAMP_TJSAMP_444,
            tj::TJSAMP_TJSAMP_422,
            tj::TJSAMP_TJSAMP_420,
        ] {
            let jpeg = encode(&rgb, w, h, subsamp, 0);
            let full = decode_rgba(&jpeg, 1, (w, h), None, "t").unwrap();
            let mut seed = 0x9E37_79B9_u32;
            let mut next = |n: u32| {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                seed % n
            };
            let mut crops = vec![
                Crop {
                    x: 0,
                    y: 0,
                    width: 17,
                    height: 9,
                },
                Crop {
                    x: 0,
                    y: 0,
                    width: 28,
                    height: 256,
                },
                Crop {
                    x: 255,
                    y: 255,
                    width: 1,
                    height: 1,
                },
            ];
            for _ in 0..300 {
                let (x, y) = (next(w), next(h));
                crops.push(Crop {
                    x,
                    y,
                    width: 1 + next(w - x),
                    height: 1 + next(h - y),
                });
            }
            for crop in crops {
                let part = decode_rgba(&jpeg, 1, (w, h), Some(crop), "t").unwrap();
                for row in 0..crop.height {
                    let a = ((crop.y + row) * w + crop.x) as usize * 4;
                    let b = (row * crop.width) as usize * 4;
                    let n = crop.width as usize * 4;
                    assert_eq!(
                        &full[a..a + n],
                        &part[b..b + n],
                        "subsamp {subsamp} crop {crop:?} row {row}"
                    );
                }
            }
        }
    }

    #[test]
    fn rgb_marker_changes_interpretation() {
        let rgb = gradient(64, 64);
        let jpeg = encode(&rgb, 64, 64, tj::TJSAMP_TJSAMP_444, 0);
        let marked = mark_rgb(&jpeg, "t").unwrap();
        let a = decode_rgba(&jpeg, 1, (64, 64), None, "t").unwrap();
        let b = decode_rgba(&marked, 1, (64, 64), None, "t").unwrap();
        assert_ne!(
            a, b,
            "Adobe transform 0 must switch off the YCbCr transform"
        );
    }

    #[test]
    fn size_mismatch_and_garbage_are_errors() {
        let rgb = gradient(32, 32);
        let jpeg = encode(&rgb, 32, 32, tj::TJSAMP_TJSAMP_420, 0);
        assert!(decode_rgba(&jpeg, 1, (64, 64), None, "t").is_err());
        let mut broken = jpeg.clone();
        let n = broken.len();
        for b in &mut broken[n / 2..n - 2] {
            *b = 0xA5;
        }
        assert!(decode_rgba(&broken, 1, (32, 32), None, "t").is_err());
        assert!(decode_rgba(&[0xFF, 0xD8, 0xFF], 1, (1, 1), None, "t").is_err());
    }
}
