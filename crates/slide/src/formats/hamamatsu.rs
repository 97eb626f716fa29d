//! Hamamatsu NDPI: each directory holds a level as one JPEG. Tiles are the
//! JPEG's restart intervals (one MCU row high); a tile becomes a standalone
//! JPEG by joining the header (frame size patched to the tile) with the
//! interval's bytes. Interval starts come from tag 65426 when present and
//! valid, otherwise from scanning for restart markers. Each level is also
//! offered at 1/2, 1/4 and 1/8 through libjpeg's DCT scaling, as OpenSlide
//! does; a directory without restart markers is one tile.
//! Offsets beyond 4 GiB are handled by the TIFF parser's NDPI mode.

use super::tiff_image::tiff_properties;
use super::whole_jpeg::WholeJpeg;
use crate::codec::{EncodedTile, TileCodec, jpeg};
use crate::error::{Fault, FaultResult};
use crate::source::{ByteSourceExt, MAX_READ, SharedSource};
use crate::tiff::{Tiff, tag};
use crate::{AssociatedSource, Grid, LevelSource, Opened};
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::sync::Arc;

/// libjpeg's largest frame dimension.
const JPEG_MAX_DIMENSION: u64 = 65500;

struct NdpiJpeg {
    src: SharedSource,
    part: String,
    start: u64,
    end: u64,
    width: u64,
    height: u64,
    tile_width: u32,
    tile_height: u32,
    tiles_across: u32,
    tiles_down: u32,
    /// SOI .. end of SOS.
    header: Vec<u8>,
    sof: usize,
    /// Interval starts recorded in the file (tag 65426), trusted only after
    /// checking that a restart marker precedes each.
    recorded_starts: Option<Vec<u64>>,
    /// Interval starts found by scanning, in order; scanning resumes where
    /// it stopped.
    scanned: Mutex<Scan>,
}

struct Scan {
    starts: Vec<u64>,
    next_byte: u64,
}

impl NdpiJpeg {
    fn tile_count(&self) -> u32 {
        self.tiles_across * self.tiles_down
    }

    /// File offset where interval `n` begins.
    fn interval_start(&self, n: u32) -> FaultResult<u64> {
        if n == 0 {
            return Ok(self.start + self.header.len() as u64);
        }
        if let Some(recorded) = &self.recorded_starts {
            let at = self.start + recorded[n as usize];
            let marker = self.src.read_array::<2>(at.saturating_sub(2), &self.part)?;
            if at < 2 || marker[0] != 0xFF || !(0xD0..=0xD7).contains(&marker[1]) {
                return Err(Fault::corrupt(
                    &self.part,
                    format!("no restart marker before recorded interval {n} at offset {at}"),
                ));
            }
            return Ok(at);
        }
        let mut scan = self.scanned.lock();
        if scan.starts.is_empty() {
            scan.starts.push(self.start + self.header.len() as u64);
            scan.next_byte = self.start + self.header.len() as u64;
        }
        const CHUNK: u64 = 1 << 20;
        let mut carry_ff = false;
        while scan.starts.len() <= n as usize {
            if scan.next_byte >= self.end {
                return Err(Fault::corrupt(
                    &self.part,
                    format!(
                        "found {} restart intervals, the JPEG needs {}",
                        scan.starts.len(),
                        self.tile_count()
                    ),
                ));
            }
            let len = CHUNK.min(self.end - scan.next_byte);
            let buf = self.src.read_vec(scan.next_byte, len, &self.part)?;
            let base = scan.next_byte;
            let mut i = 0usize;
            if carry_ff && (0xD0..=0xD7).contains(&buf[0]) {
                scan.starts.push(base + 1);
                i = 1;
            }
            carry_ff = false;
            while i < buf.len() {
                if buf[i] == 0xFF {
                    if i + 1 == buf.len() {
                        carry_ff = true;
                        break;
                    }
                    if (0xD0..=0xD7).contains(&buf[i + 1]) {
                        scan.starts.push(base + i as u64 + 2);
                    }
                    i += 2;
                } else {
                    i += 1;
                }
            }
            scan.next_byte += len;
        }
        Ok(scan.starts[n as usize])
    }

    /// Interval `n` as a standalone JPEG of `tile_width` x `tile_height`.
    fn tile_stream(&self, n: u32) -> FaultResult<Vec<u8>> {
        let start = self.interval_start(n)?;
        let stop = if n + 1 == self.tile_count() {
            self.end
        } else {
            self.interval_start(n + 1)?
        };
        if stop <= start || stop - start > MAX_READ {
            return Err(Fault::corrupt(
                &self.part,
                format!("restart interval {n} spans bytes {start}..{stop}"),
            ));
        }
        let mut stream = Vec::with_capacity(self.header.len() + (stop - start) as usize);
        stream.extend_from_slice(&self.header);
        jpeg::patch_sof_size(
            &mut stream,
            self.sof,
            self.tile_width as u16,
            self.tile_height as u16,
        );
        stream.extend_from_slice(&self.src.read_vec(start, stop - start, &self.part)?);
        // The interval ends with its restart marker (or the image's EOI):
        // make it an EOI so the tile is a complete JPEG.
        let n_bytes = stream.len();
        if stream[n_bytes - 2] != 0xFF {
            return Err(Fault::corrupt(
                &self.part,
                format!("restart interval {n} does not end with a marker"),
            ));
        }
        stream[n_bytes - 1] = 0xD9;
        Ok(stream)
    }
}

/// Read and check a directory's JPEG header; returns the NDPI JPEG with its
/// tile geometry.
fn open_jpeg(
    src: &SharedSource,
    tiff: &Tiff,
    ifd: &crate::tiff::Ifd,
    width: u64,
    height: u64,
    start: u64,
    length: u64,
) -> FaultResult<NdpiJpeg> {
    let part = format!("{} JPEG", ifd.name);
    src.check_range(start, length, &part)?;
    let end = start + length;
    let head = src.read_vec(start, length.min(jpeg::MAX_HEADER_BYTES), &part)?;
    let (sof, header_end) = jpeg::header_extent(&head, &part)?;
    let mut header = head[..header_end].to_vec();
    // Levels wider or taller than libjpeg allows carry 0 or a bogus size in
    // the frame header; read the rest of the header with a legal size.
    let dims_valid = width <= JPEG_MAX_DIMENSION && height <= JPEG_MAX_DIMENSION;
    let sof_h = u64::from(u16::from_be_bytes([header[sof + 5], header[sof + 6]]));
    let sof_w = u64::from(u16::from_be_bytes([header[sof + 7], header[sof + 8]]));
    let mut probe = header.clone();
    let fix = |v: u64| if v == 0 || v > JPEG_MAX_DIMENSION { JPEG_MAX_DIMENSION } else { v } as u16;
    jpeg::patch_sof_size(&mut probe, sof, fix(sof_w), fix(sof_h));
    probe.extend_from_slice(&[0xFF, 0xD9]);
    let info = jpeg::read_header(&probe, &part)?;
    if dims_valid && (u64::from(info.width), u64::from(info.height)) != (width, height) {
        return Err(Fault::corrupt(
            &part,
            format!(
                "JPEG is {}x{}, the directory says {width}x{height}",
                info.width, info.height
            ),
        ));
    }
    let interval = jpeg::restart_interval(&header, &part)?;
    let (tile_width, tile_height) = if interval == 0 {
        // No restart markers: the whole image is one tile.
        if !dims_valid {
            return Err(Fault::unsupported(
                &part,
                format!("{width}x{height} JPEG without restart markers is beyond libjpeg's limits"),
            ));
        }
        (width as u32, height as u32)
    } else {
        let mcus_per_row = width.div_ceil(u64::from(info.mcu_width));
        if u64::from(interval) > mcus_per_row {
            return Err(Fault::corrupt(
                &part,
                "restart interval longer than an MCU row",
            ));
        }
        if mcus_per_row % u64::from(interval) != 0 {
            return Err(Fault::corrupt(
                &part,
                "restart intervals do not divide the MCU rows evenly",
            ));
        }
        (info.mcu_width * interval, info.mcu_height)
    };
    let tiles_across = (width / u64::from(tile_width)) as u32;
    let tiles_down = (height / u64::from(tile_height)) as u32;
    let count = u64::from(tiles_across) * u64::from(tiles_down);
    let mut recorded_starts = None;
    if count > 1 && tiff.count(ifd, tag::NDPI_MCU_STARTS) == count {
        recorded_starts = Some(tiff.uints(src.as_ref(), ifd, tag::NDPI_MCU_STARTS)?);
    }
    if sof + 9 > header.len() {
        return Err(Fault::corrupt(&part, "short SOF segment"));
    }
    // The interval streams get the tile size; keep the header otherwise
    // exactly as stored.
    header.truncate(header_end);
    Ok(NdpiJpeg {
        src: src.clone(),
        part,
        start,
        end,
        width,
        height,
        tile_width,
        tile_height,
        tiles_across,
        tiles_down,
        header,
        sof,
        recorded_starts,
        scanned: Mutex::new(Scan {
            starts: Vec::new(),
            next_byte: 0,
        }),
    })
}

/// A pyramid level: a JPEG, possibly DCT-scaled.
struct NdpiLevel {
    jpeg: Arc<NdpiJpeg>,
    scale_denom: u32,
}

impl LevelSource for NdpiLevel {
    fn grid(&self) -> Grid {
        let j = &self.jpeg;
        Grid {
            width: j.width / u64::from(self.scale_denom),
            height: j.height / u64::from(self.scale_denom),
            tile_width: j.tile_width / self.scale_denom,
            tile_height: j.tile_height / self.scale_denom,
        }
    }

    fn encoded_tile(&self, col: u32, row: u32) -> FaultResult<Option<EncodedTile>> {
        let j = &self.jpeg;
        // Pixels past the last whole tile are not addressable in NDPI's
        // tiling (OpenSlide leaves them blank too).
        if col >= j.tiles_across || row >= j.tiles_down {
            return Ok(None);
        }
        let stream = j.tile_stream(row * j.tiles_across + col)?;
        Ok(Some(EncodedTile {
            width: j.tile_width / self.scale_denom,
            height: j.tile_height / self.scale_denom,
            codec: TileCodec::Jpeg {
                scale_denom: self.scale_denom as u8,
            },
            bytes: stream,
        }))
    }

    fn name(&self) -> &str {
        &self.jpeg.part
    }

    fn partial_decode_is_cheaper(&self) -> bool {
        true
    }
}

pub(crate) fn open(src: SharedSource, tiff: Arc<Tiff>) -> FaultResult<Opened> {
    let s = src.as_ref();
    let mut levels: Vec<(Arc<NdpiJpeg>, u64)> = Vec::new();
    let mut associated: BTreeMap<String, Box<dyn AssociatedSource>> = BTreeMap::new();
    let mut min_width = u64::MAX;
    for ifd in &tiff.ifds {
        let width = tiff.required_uint(s, ifd, tag::IMAGE_WIDTH)?;
        let height = tiff.required_uint(s, ifd, tag::IMAGE_LENGTH)?;
        let rows = tiff.required_uint(s, ifd, tag::ROWS_PER_STRIP)?;
        let start = tiff.required_uint(s, ifd, tag::STRIP_OFFSETS)?;
        let start = crate::tiff::fix_ndpi_offset(ifd.offset, start);
        let length = tiff.required_uint(s, ifd, tag::STRIP_BYTE_COUNTS)?;
        let lens = tiff
            .float(s, ifd, tag::NDPI_SOURCE_LENS)?
            .ok_or_else(|| Fault::corrupt(&ifd.name, "no NDPI SourceLens tag (65421)"))?;
        if height != rows {
            return Err(Fault::corrupt(
                &ifd.name,
                format!("{rows} rows per strip in a {height}-row image; NDPI levels are one strip"),
            ));
        }
        if lens > 0.0 {
            let plane = tiff.sint(s, ifd, tag::NDPI_FOCAL_PLANE)?.unwrap_or(0);
            if plane != 0 {
                continue;
            }
            if width >= min_width {
                return Err(Fault::corrupt(
                    &ifd.name,
                    "levels are not stored largest first",
                ));
            }
            min_width = width;
            let jpeg = open_jpeg(&src, &tiff, ifd, width, height, start, length)?;
            levels.push((Arc::new(jpeg), width));
        } else if lens == -1.0 {
            let part = format!("{} macro JPEG", ifd.name);
            let image = WholeJpeg::in_file(src.clone(), start, length, part)?;
            associated.insert("macro".into(), Box::new(image));
        }
    }
    if levels.is_empty() {
        return Err(Fault::corrupt("NDPI", "no pyramid levels"));
    }
    // Each level and its DCT-scaled views, keyed by width; a later
    // directory's level replaces an earlier scaled view of the same width.
    let mut by_width: BTreeMap<u64, NdpiLevel> = BTreeMap::new();
    for (jpeg, width) in levels {
        by_width.insert(
            width,
            NdpiLevel {
                jpeg: jpeg.clone(),
                scale_denom: 1,
            },
        );
        for scale_denom in [2u32, 4, 8] {
            if jpeg.tile_width % scale_denom != 0 || jpeg.tile_height % scale_denom != 0 {
                continue;
            }
            by_width.insert(
                jpeg.width / u64::from(scale_denom),
                NdpiLevel {
                    jpeg: jpeg.clone(),
                    scale_denom,
                },
            );
        }
    }
    let mut properties = BTreeMap::new();
    let first = &tiff.ifds[0];
    tiff_properties(s, &tiff, first, &mut properties);
    if properties.get("tiff.ResolutionUnit").map(String::as_str) == Some("centimeter") {
        for (t, key) in [
            (tag::X_RESOLUTION, "openslide.mpp-x"),
            (tag::Y_RESOLUTION, "openslide.mpp-y"),
        ] {
            if let Some(res) = tiff.float(s, first, t)?.filter(|r| *r > 0.0) {
                properties.insert(key.into(), crate::format_double(10000.0 / res));
            }
        }
    }
    if let Some(lens) = tiff.float(s, first, tag::NDPI_SOURCE_LENS)? {
        properties.insert("hamamatsu.SourceLens".into(), crate::format_double(lens));
        properties.insert(
            "openslide.objective-power".into(),
            crate::format_double(lens),
        );
    }
    for (t, key) in [
        (tag::NDPI_X_OFFSET, "hamamatsu.XOffsetFromSlideCentre"),
        (tag::NDPI_Y_OFFSET, "hamamatsu.YOffsetFromSlideCentre"),
    ] {
        if let Some(v) = tiff.sint(s, first, t)? {
            properties.insert(key.into(), v.to_string());
        }
    }
    if let Some(r) = tiff.ascii(s, first, tag::NDPI_REFERENCE)? {
        properties.insert("hamamatsu.Reference".into(), r);
    }
    if let Some(map) = tiff.ascii(s, first, tag::NDPI_PROPERTY_MAP)? {
        for record in map.split("\r\n") {
            if let Some((k, v)) = record.split_once('=')
                && !k.is_empty()
                && !v.is_empty()
            {
                properties.insert(format!("hamamatsu.{k}"), v.to_string());
            }
        }
    }
    Ok(Opened {
        vendor: "hamamatsu".into(),
        levels: by_width
            .into_values()
            .rev()
            .map(|l| Box::new(l) as Box<dyn LevelSource>)
            .collect(),
        downsamples: None,
        properties,
        associated,
    })
}
