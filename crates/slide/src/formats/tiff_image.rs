//! One TIFF directory as a grid of independently coded tiles. Strips are
//! tiles one image wide, so stripped images (Aperio labels, small slides)
//! use the same path as tiled pyramids.

use crate::codec::tiff_samples::{self, SampleLayout};
use crate::codec::{EncodedTile, TileCodec, jpeg};
use crate::error::{Fault, FaultResult};
use crate::source::{ByteSourceExt, MAX_READ, SharedSource};
use crate::tiff::{Ifd, Tiff, tag};
use crate::{AssociatedSource, Grid, LevelSource, RgbaImage};
use std::collections::HashSet;
use std::sync::{Arc, OnceLock};

/// Largest tile (or strip) we decode: 8k x 8k, 256 MiB of RGBA. Real
/// slide tiles are at most 4k square.
const MAX_TILE_PIXELS: u64 = 1 << 26;

#[derive(Debug, Clone)]
enum Coding {
    /// `tables`: shared JPEGTables; `rgb`: samples are RGB, not YCbCr.
    Jpeg {
        tables: Option<Vec<u8>>,
        rgb: bool,
    },
    Jpeg2000 {
        ycbcr: bool,
    },
    Samples(SampleLayout),
}

pub(crate) struct TiffImage {
    src: SharedSource,
    tiff: Arc<Tiff>,
    ifd: Ifd,
    grid: Grid,
    coding: Coding,
    tiled: bool,
    /// Tiles per row as the TIFF stores them (the grid may be clipped to a
    /// smaller visible size, as Philips levels are).
    stored_across: u32,
    stored_down: u32,
    stored_height: u64,
    /// Tile offsets and byte counts, read on first use: a 100k x 100k slide
    /// has megabytes of them and opening must stay fast.
    locations: OnceLock<Result<Locations, Fault>>,
    /// Tiles treated as absent beyond zero-length ones (Aperio propagation).
    extra_missing: HashSet<(u32, u32)>,
}

struct Locations {
    offsets: Vec<u64>,
    counts: Vec<u64>,
}

impl TiffImage {
    pub fn new(src: SharedSource, tiff: Arc<Tiff>, ifd: &Ifd) -> FaultResult<TiffImage> {
        let s = src.as_ref();
        let part = ifd.name.as_str();
        let width = tiff.required_uint(s, ifd, tag::IMAGE_WIDTH)?;
        let height = tiff.required_uint(s, ifd, tag::IMAGE_LENGTH)?;
        if width == 0 || height == 0 {
            return Err(Fault::corrupt(
                part,
                format!("image is {width}x{height} pixels"),
            ));
        }
        if width > u64::from(u32::MAX) || height > u64::from(u32::MAX) {
            return Err(Fault::limit(
                part,
                format!("image is {width}x{height} pixels"),
            ));
        }
        let compression = tiff.uint(s, ifd, tag::COMPRESSION)?.unwrap_or(1) as u16;
        let photometric = tiff.uint(s, ifd, tag::PHOTOMETRIC)?;
        let spp = tiff.uint(s, ifd, tag::SAMPLES_PER_PIXEL)?.unwrap_or(1) as u16;
        let bits = tiff.uints(s, ifd, tag::BITS_PER_SAMPLE)?;
        if bits.iter().any(|&b| b != 8) {
            return Err(Fault::unsupported(
                part,
                format!("{bits:?} bits per sample; only 8-bit samples are read"),
            ));
        }
        let planar = tiff.uint(s, ifd, tag::PLANAR_CONFIG)?.unwrap_or(1);
        if planar != 1 && spp > 1 {
            return Err(Fault::unsupported(
                part,
                "separate colour planes (PlanarConfiguration 2)",
            ));
        }
        let tiled = ifd.has(tag::TILE_WIDTH) && ifd.has(tag::TILE_LENGTH);
        let (tile_width, tile_height) = if tiled {
            (
                tiff.required_uint(s, ifd, tag::TILE_WIDTH)?,
                tiff.required_uint(s, ifd, tag::TILE_LENGTH)?,
            )
        } else {
            let rows = tiff
                .uint(s, ifd, tag::ROWS_PER_STRIP)?
                .unwrap_or(height)
                .min(height);
            (width, rows)
        };
        if tile_width == 0 || tile_height == 0 {
            return Err(Fault::corrupt(part, "zero tile or strip size"));
        }
        if tile_width * tile_height > MAX_TILE_PIXELS {
            return Err(Fault::limit(
                part,
                format!("{tile_width}x{tile_height} pixel tiles or strips are too large to decode"),
            ));
        }
        let coding = match compression {
            tiff_samples::JPEG => {
                let tables = tiff.bytes(s, ifd, tag::JPEG_TABLES)?;
                Coding::Jpeg {
                    tables,
                    rgb: photometric == Some(2),
                }
            }
            tiff_samples::APERIO_J2K_YCBCR => Coding::Jpeg2000 { ycbcr: true },
            tiff_samples::APERIO_J2K_RGB | tiff_samples::JPEG2000 => {
                Coding::Jpeg2000 { ycbcr: false }
            }
            c if tiff_samples::is_supported(c) => {
                let predictor = tiff.uint(s, ifd, tag::PREDICTOR)?.unwrap_or(1) as u16;
                let photometric = photometric.unwrap_or(if spp >= 3 { 2 } else { 1 }) as u16;
                if photometric == 6 {
                    return Err(Fault::unsupported(
                        part,
                        "uncompressed YCbCr samples (photometric 6 without JPEG)",
                    ));
                }
                Coding::Samples(SampleLayout {
                    compression: c,
                    predictor,
                    samples_per_pixel: spp,
                    photometric,
                })
            }
            c => {
                return Err(Fault::unsupported(
                    part,
                    format!("TIFF compression {}", tiff_samples::compression_name(c)),
                ));
            }
        };
        let grid = Grid {
            width,
            height,
            tile_width: tile_width as u32,
            tile_height: tile_height as u32,
        };
        Ok(TiffImage {
            src,
            tiff,
            ifd: ifd.clone(),
            grid,
            coding,
            tiled,
            stored_across: grid.across(),
            stored_down: grid.down(),
            stored_height: height,
            locations: OnceLock::new(),
            extra_missing: HashSet::new(),
        })
    }

    fn locations(&self) -> FaultResult<&Locations> {
        let loaded = self.locations.get_or_init(|| {
            let s = self.src.as_ref();
            let (otag, ctag) = if self.tiled {
                (tag::TILE_OFFSETS, tag::TILE_BYTE_COUNTS)
            } else {
                (tag::STRIP_OFFSETS, tag::STRIP_BYTE_COUNTS)
            };
            let expected = u64::from(self.stored_across) * u64::from(self.stored_down);
            let found = self.tiff.count(&self.ifd, otag);
            if found != expected || self.tiff.count(&self.ifd, ctag) != expected {
                return Err(Fault::corrupt(
                    &self.ifd.name,
                    format!(
                        "{} tile offsets and {} byte counts for {expected} tiles",
                        found,
                        self.tiff.count(&self.ifd, ctag)
                    ),
                ));
            }
            let mut offsets = self.tiff.uints(s, &self.ifd, otag)?;
            if self.tiff.ndpi {
                for o in &mut offsets {
                    *o = crate::tiff::fix_ndpi_offset(self.ifd.offset, *o);
                }
            }
            let counts = self.tiff.uints(s, &self.ifd, ctag)?;
            Ok(Locations { offsets, counts })
        });
        loaded.as_ref().map_err(Clone::clone)
    }

    /// Show only the top-left `width` x `height` pixels (levels whose TIFF
    /// size includes padding).
    pub fn clip(&mut self, width: u64, height: u64) {
        self.grid.width = width.min(self.grid.width);
        self.grid.height = height.min(self.grid.height);
    }

    /// Mark tiles absent (besides zero-length ones).
    pub fn set_extra_missing(&mut self, missing: HashSet<(u32, u32)>) {
        self.extra_missing = missing;
    }

    /// Zero-length tiles: absent in the slide.
    pub fn zero_length_tiles(&self) -> FaultResult<Vec<(u32, u32)>> {
        let loc = self.locations()?;
        let across = self.stored_across;
        Ok(loc
            .counts
            .iter()
            .enumerate()
            .filter(|(_, c)| **c == 0)
            .map(|(i, _)| ((i as u32) % across, (i as u32) / across))
            .collect())
    }

    /// Read the stored bytes of a tile; `None` if absent.
    fn stored(&self, col: u32, row: u32) -> FaultResult<Option<Vec<u8>>> {
        if self.extra_missing.contains(&(col, row)) {
            return Ok(None);
        }
        let loc = self.locations()?;
        let i = row as usize * self.stored_across as usize + col as usize;
        let (offset, count) = (loc.offsets[i], loc.counts[i]);
        if count == 0 {
            return Ok(None);
        }
        if count > MAX_READ {
            return Err(Fault::limit(
                &self.ifd.name,
                format!("tile of {count} bytes"),
            ));
        }
        self.src.read_vec(offset, count, &self.ifd.name).map(Some)
    }

    /// Pixel size of tile (`col`, `row`) as coded: strips at the bottom may
    /// be shorter than the others.
    fn coded_size(&self, row: u32) -> (u32, u32) {
        if self.tiled {
            (self.grid.tile_width, self.grid.tile_height)
        } else {
            let top = u64::from(row) * u64::from(self.grid.tile_height);
            let rows = (self.stored_height - top).min(u64::from(self.grid.tile_height));
            (self.grid.tile_width, rows as u32)
        }
    }
}

impl LevelSource for TiffImage {
    fn grid(&self) -> Grid {
        self.grid
    }

    fn encoded_tile(&self, col: u32, row: u32) -> FaultResult<Option<EncodedTile>> {
        let Some(bytes) = self.stored(col, row)? else {
            return Ok(None);
        };
        let (width, height) = self.coded_size(row);
        let part = &self.ifd.name;
        let (codec, bytes) = match &self.coding {
            Coding::Jpeg { tables, rgb } => {
                let mut stream = match tables {
                    Some(t) => jpeg::merge_tables(t, &bytes, part)?,
                    None => bytes,
                };
                if *rgb {
                    stream = jpeg::mark_rgb(&stream, part)?;
                }
                (TileCodec::Jpeg { scale_denom: 1 }, stream)
            }
            Coding::Jpeg2000 { ycbcr } => (TileCodec::Jpeg2000 { ycbcr: *ycbcr }, bytes),
            Coding::Samples(layout) => (TileCodec::TiffSamples(*layout), bytes),
        };
        Ok(Some(EncodedTile {
            width,
            height,
            codec,
            bytes,
        }))
    }

    fn name(&self) -> &str {
        &self.ifd.name
    }

    fn partial_decode_is_cheaper(&self) -> bool {
        matches!(self.coding, Coding::Jpeg { .. })
    }
}

impl AssociatedSource for TiffImage {
    fn size(&self) -> (u32, u32) {
        (self.grid.width as u32, self.grid.height as u32)
    }
    fn read(&self) -> FaultResult<RgbaImage> {
        crate::read_whole(self)
    }
}

/// The `tiff.*` properties OpenSlide reports from a directory, and
/// `openslide.comment`.
pub(crate) fn tiff_properties(
    src: &dyn crate::source::ByteSource,
    tiff: &Tiff,
    ifd: &Ifd,
    props: &mut std::collections::BTreeMap<String, String>,
) {
    let strings = [
        ("tiff.ImageDescription", tag::IMAGE_DESCRIPTION),
        ("tiff.Make", tag::MAKE),
        ("tiff.Model", tag::MODEL),
        ("tiff.Software", tag::SOFTWARE),
        ("tiff.DateTime", tag::DATE_TIME),
        ("tiff.Artist", tag::ARTIST),
        ("tiff.HostComputer", tag::HOST_COMPUTER),
        ("tiff.Copyright", tag::COPYRIGHT),
        ("tiff.DocumentName", tag::DOCUMENT_NAME),
    ];
    for (name, t) in strings {
        if let Ok(Some(v)) = tiff.ascii(src, ifd, t) {
            if t == tag::IMAGE_DESCRIPTION {
                props.insert("openslide.comment".into(), v.clone());
            }
            props.insert(name.into(), v);
        }
    }
    let floats = [
        ("tiff.XResolution", tag::X_RESOLUTION),
        ("tiff.YResolution", tag::Y_RESOLUTION),
        ("tiff.XPosition", tag::X_POSITION),
        ("tiff.YPosition", tag::Y_POSITION),
    ];
    for (name, t) in floats {
        if let Ok(Some(v)) = tiff.float(src, ifd, t) {
            props.insert(name.into(), crate::format_double(v));
        }
    }
    let unit = match tiff.uint(src, ifd, tag::RESOLUTION_UNIT) {
        Ok(None) => "inch",
        Ok(Some(1)) => "none",
        Ok(Some(2)) => "inch",
        Ok(Some(3)) => "centimeter",
        _ => "unknown",
    };
    props.insert("tiff.ResolutionUnit".into(), unit.into());
    if let Ok(Some(crate::tiff::Value::Bytes(b))) = tiff.value(src, ifd, tag::ICC_PROFILE) {
        props.insert("openslide.icc-size".into(), b.len().to_string());
    }
}

/// Microns per pixel from TIFF resolution, when given in centimetres.
pub(crate) fn mpp_from_resolution(props: &mut std::collections::BTreeMap<String, String>) {
    if props.get("tiff.ResolutionUnit").map(String::as_str) != Some("centimeter") {
        return;
    }
    for (res, mpp) in [
        ("tiff.XResolution", "openslide.mpp-x"),
        ("tiff.YResolution", "openslide.mpp-y"),
    ] {
        if let Some(r) = props.get(res).and_then(|v| v.parse::<f64>().ok())
            && r > 0.0
            && r.is_finite()
        {
            props.insert(mpp.into(), crate::format_double(10000.0 / r));
        }
    }
}
