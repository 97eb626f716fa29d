//! Whole-slide images: open by content, read tiles (decoded or as stored) and
//! regions, with OpenSlide's semantics and a decoded-tile cache.
//!
//! ```no_run
//! let slide = kh_slide::Slide::open("case.svs")?;
//! let level0 = slide.levels()[0];
//! let region = slide.read_region(1000, 2000, 0, 512, 512)?; // RGBA8
//! # Ok::<(), kh_slide::SlideError>(())
//! ```
//!
//! Coordinates: `slide` space is level-0 pixels (origin top-left); `level`
//! space is pixels of one pyramid level; `tile` is a column/row in a level.

pub mod cache;
pub mod codec;
pub mod error;
mod formats;
mod region;
pub mod source;
pub mod tiff;

pub use cache::{TileCache, TilePixels};
pub use codec::{Crop, EncodedTile, TileCodec};
pub use error::{ErrorKind, Fault, Result, SlideError};
pub use formats::openslide_backend::{BackendPolicy, library as openslide_library};

use error::FaultResult;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One level of the pyramid.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Level {
    pub width: u64,
    pub height: u64,
    /// Level-0 pixels per pixel of this level.
    pub downsample: f64,
    pub tile_width: u32,
    pub tile_height: u32,
}

impl Level {
    pub fn tiles_across(&self) -> u32 {
        self.width.div_ceil(u64::from(self.tile_width)) as u32
    }
    pub fn tiles_down(&self) -> u32 {
        self.height.div_ceil(u64::from(self.tile_height)) as u32
    }
}

/// An RGBA8 image, rows packed, not premultiplied; transparent (0,0,0,0)
/// where the slide has no pixels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RgbaImage {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
}

/// Pixel geometry of a level as its tile source sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Grid {
    pub width: u64,
    pub height: u64,
    pub tile_width: u32,
    pub tile_height: u32,
}

impl Grid {
    pub fn across(&self) -> u32 {
        self.width.div_ceil(u64::from(self.tile_width)) as u32
    }
    pub fn down(&self) -> u32 {
        self.height.div_ceil(u64::from(self.tile_height)) as u32
    }
}

/// Where a level's tiles come from. Implemented once per storage layout
/// (TIFF tiles/strips, NDPI restart intervals, DICOM frames, OpenSlide).
pub(crate) trait LevelSource: Send + Sync {
    fn grid(&self) -> Grid;
    /// The stored form of a tile; `None` for a tile the slide does not have.
    fn encoded_tile(&self, col: u32, row: u32) -> FaultResult<Option<EncodedTile>>;
    /// Decoded RGBA of a tile's grid cell (all of it, or `crop` of it);
    /// `None` if missing.
    fn decode_tile(&self, col: u32, row: u32, crop: Option<Crop>) -> FaultResult<Option<Vec<u8>>> {
        let g = self.grid();
        match self.encoded_tile(col, row)? {
            None => Ok(None),
            Some(t) => t
                .decode_in_cell((g.tile_width, g.tile_height), crop, self.name())
                .map(Some),
        }
    }
    /// What to call this source in errors ("IFD 3", a DICOM file's name).
    fn name(&self) -> &str {
        ""
    }
    /// Whether decoding part of a tile is cheaper than all of it.
    fn partial_decode_is_cheaper(&self) -> bool {
        false
    }
    /// A source that composes regions itself (the OpenSlide backend)
    /// answers here with RGBA; others leave composition to [`region`].
    fn read_region(
        &self,
        _x_slide: i64,
        _y_slide: i64,
        _width: u32,
        _height: u32,
    ) -> Option<FaultResult<Vec<u8>>> {
        None
    }
}

/// A label, macro or thumbnail image.
pub(crate) trait AssociatedSource: Send + Sync {
    fn size(&self) -> (u32, u32);
    fn read(&self) -> FaultResult<RgbaImage>;
    /// Size of the image's own ICC colour profile, if it has one.
    fn icc_size(&self) -> Option<usize> {
        None
    }
}

/// What a format reader produces.
pub(crate) struct Opened {
    pub vendor: String,
    pub levels: Vec<Box<dyn LevelSource>>,
    /// Explicit downsamples; when `None`, OpenSlide's rule (mean of the
    /// width and height ratios to level 0) is used.
    pub downsamples: Option<Vec<f64>>,
    pub properties: BTreeMap<String, String>,
    pub associated: BTreeMap<String, Box<dyn AssociatedSource>>,
}

/// Options for [`Slide::open_with`].
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// Byte budget of the decoded-tile cache.
    pub cache_bytes: u64,
    /// Whether formats read only by the system OpenSlide library may use it.
    pub backend: BackendPolicy,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            cache_bytes: 256 << 20,
            backend: BackendPolicy::IfInstalled,
        }
    }
}

/// An open slide. Cheap to clone; safe to use from many threads at once.
#[derive(Clone)]
pub struct Slide {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    vendor: String,
    levels: Vec<Level>,
    sources: Vec<Box<dyn LevelSource>>,
    properties: BTreeMap<String, String>,
    associated: BTreeMap<String, Box<dyn AssociatedSource>>,
    cache: TileCache,
}

impl std::fmt::Debug for Slide {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slide")
            .field("path", &self.inner.path)
            .field("vendor", &self.inner.vendor)
            .field("levels", &self.inner.levels)
            .finish()
    }
}

/// A summary of a slide, as `kh slide info` prints it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SlideInfo {
    pub format: String,
    pub levels: Vec<Level>,
    pub mpp_x: Option<f64>,
    pub mpp_y: Option<f64>,
    pub objective_power: Option<f64>,
    pub associated_images: BTreeMap<String, AssociatedInfo>,
    pub properties: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct AssociatedInfo {
    pub width: u32,
    pub height: u32,
}

impl Slide {
    /// Open a slide file (or a DICOM folder), recognising the format by
    /// content, not by extension.
    pub fn open(path: impl AsRef<Path>) -> Result<Slide> {
        Self::open_with(path, &OpenOptions::default())
    }

    pub fn open_with(path: impl AsRef<Path>, options: &OpenOptions) -> Result<Slide> {
        let path = path.as_ref();
        let opened = formats::open_path(path, options).map_err(|f| f.at(path))?;
        Self::assemble(path.to_path_buf(), opened, options).map_err(|f| f.at(path))
    }

    /// Open a single-file slide held in memory (tests and fuzzing).
    pub fn from_bytes(name: &str, bytes: Vec<u8>) -> Result<Slide> {
        let options = OpenOptions {
            backend: BackendPolicy::Never,
            ..OpenOptions::default()
        };
        let src: source::SharedSource = Arc::new(bytes);
        let opened = formats::open_source(src, &options).map_err(|f| f.at(name))?;
        Self::assemble(PathBuf::from(name), opened, &options).map_err(|f| f.at(name))
    }

    fn assemble(path: PathBuf, opened: Opened, options: &OpenOptions) -> FaultResult<Slide> {
        let Opened {
            vendor,
            levels: sources,
            downsamples,
            mut properties,
            associated,
        } = opened;
        if sources.is_empty() {
            return Err(Fault::corrupt("pyramid", "the slide has no levels"));
        }
        let base = sources[0].grid();
        if base.width == 0 || base.height == 0 {
            return Err(Fault::corrupt("level 0", "zero width or height"));
        }
        let mut levels = Vec::with_capacity(sources.len());
        for (i, s) in sources.iter().enumerate() {
            let g = s.grid();
            if g.width == 0 || g.height == 0 || g.tile_width == 0 || g.tile_height == 0 {
                return Err(Fault::corrupt(
                    format!("level {i}"),
                    format!(
                        "{}x{} pixels in {}x{} tiles",
                        g.width, g.height, g.tile_width, g.tile_height
                    ),
                ));
            }
            let downsample = match &downsamples {
                Some(d) => d[i],
                None => {
                    (base.height as f64 / g.height as f64 + base.width as f64 / g.width as f64)
                        / 2.0
                }
            };
            levels.push(Level {
                width: g.width,
                height: g.height,
                downsample,
                tile_width: g.tile_width,
                tile_height: g.tile_height,
            });
        }
        properties.insert("openslide.vendor".into(), vendor.clone());
        properties.insert("openslide.level-count".into(), levels.len().to_string());
        for (i, l) in levels.iter().enumerate() {
            let p = |k: &str| format!("openslide.level[{i}].{k}");
            properties.insert(p("width"), l.width.to_string());
            properties.insert(p("height"), l.height.to_string());
            properties.insert(p("downsample"), format_double(l.downsample));
            properties.insert(p("tile-width"), l.tile_width.to_string());
            properties.insert(p("tile-height"), l.tile_height.to_string());
        }
        for (name, a) in &associated {
            let (w, h) = a.size();
            properties.insert(format!("openslide.associated.{name}.width"), w.to_string());
            properties.insert(format!("openslide.associated.{name}.height"), h.to_string());
            if let Some(icc) = a.icc_size() {
                properties.insert(
                    format!("openslide.associated.{name}.icc-size"),
                    icc.to_string(),
                );
            }
        }
        Ok(Slide {
            inner: Arc::new(Inner {
                path,
                vendor,
                levels,
                sources,
                properties,
                associated,
                cache: TileCache::new(options.cache_bytes),
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The format's vendor name, as OpenSlide reports it ("aperio",
    /// "hamamatsu", "generic-tiff", "philips", "dicom", "ome-tiff"...).
    pub fn vendor(&self) -> &str {
        &self.inner.vendor
    }

    pub fn levels(&self) -> &[Level] {
        &self.inner.levels
    }

    pub fn dimensions(&self) -> (u64, u64) {
        let l = &self.inner.levels[0];
        (l.width, l.height)
    }

    pub fn properties(&self) -> &BTreeMap<String, String> {
        &self.inner.properties
    }

    fn float_property(&self, name: &str) -> Option<f64> {
        self.inner
            .properties
            .get(name)
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|v| v.is_finite() && *v > 0.0)
    }

    /// Micrometres per level-0 pixel, horizontally and vertically.
    pub fn mpp(&self) -> (Option<f64>, Option<f64>) {
        (
            self.float_property("openslide.mpp-x"),
            self.float_property("openslide.mpp-y"),
        )
    }

    /// Magnification of the scanner's objective (20, 40...).
    pub fn objective_power(&self) -> Option<f64> {
        self.float_property("openslide.objective-power")
    }

    pub fn associated_images(&self) -> BTreeMap<String, AssociatedInfo> {
        self.inner
            .associated
            .iter()
            .map(|(n, a)| {
                let (width, height) = a.size();
                (n.clone(), AssociatedInfo { width, height })
            })
            .collect()
    }

    pub fn read_associated(&self, name: &str) -> Result<RgbaImage> {
        let a = self.inner.associated.get(name).ok_or_else(|| {
            Fault::argument(
                format!("associated image {name:?}"),
                format!(
                    "no such image; the slide has {:?}",
                    self.inner.associated.keys().collect::<Vec<_>>()
                ),
            )
            .at(&self.inner.path)
        })?;
        a.read().map_err(|f| {
            f.within(format!("associated image {name:?}"))
                .at(&self.inner.path)
        })
    }

    pub fn info(&self) -> SlideInfo {
        let (mpp_x, mpp_y) = self.mpp();
        SlideInfo {
            format: self.inner.vendor.clone(),
            levels: self.inner.levels.clone(),
            mpp_x,
            mpp_y,
            objective_power: self.objective_power(),
            associated_images: self.associated_images(),
            properties: self.inner.properties.clone(),
        }
    }

    /// The level to read for a wanted downsample (OpenSlide's rule: the
    /// largest downsample not above it).
    pub fn best_level_for_downsample(&self, downsample: f64) -> usize {
        let levels = &self.inner.levels;
        if downsample < levels[0].downsample {
            return 0;
        }
        for (i, l) in levels.iter().enumerate().skip(1) {
            if downsample < l.downsample {
                return i - 1;
            }
        }
        levels.len() - 1
    }

    pub fn cache(&self) -> &TileCache {
        &self.inner.cache
    }

    fn check_tile(&self, level: usize, col: u32, row: u32) -> Result<()> {
        let l = self.inner.levels.get(level).ok_or_else(|| {
            Fault::argument(
                format!("level {level}"),
                format!("the slide has {} levels", self.inner.levels.len()),
            )
            .at(&self.inner.path)
        })?;
        if col >= l.tiles_across() || row >= l.tiles_down() {
            return Err(Fault::argument(
                format!("level {level} tile ({col}, {row})"),
                format!(
                    "the level has {}x{} tiles",
                    l.tiles_across(),
                    l.tiles_down()
                ),
            )
            .at(&self.inner.path));
        }
        Ok(())
    }

    /// The tile as stored (compressed), ready to send elsewhere and decode
    /// there with [`EncodedTile::decode`]. `None` for a missing tile.
    pub fn read_tile_encoded(
        &self,
        level: usize,
        col: u32,
        row: u32,
    ) -> Result<Option<EncodedTile>> {
        self.check_tile(level, col, row)?;
        self.inner.sources[level]
            .encoded_tile(col, row)
            .map_err(|f| self.tile_error(f, level, col, row))
    }

    /// The decoded tile (RGBA8, full tile size: pixels beyond the level's
    /// edge are transparent), from the cache when possible. `None` for a
    /// missing tile.
    pub fn read_tile(&self, level: usize, col: u32, row: u32) -> Result<Option<Arc<TilePixels>>> {
        self.check_tile(level, col, row)?;
        self.full_tile(level, col, row)
            .map_err(|f| self.tile_error(f, level, col, row))
    }

    fn tile_error(&self, f: Fault, level: usize, col: u32, row: u32) -> SlideError {
        f.within(format!("level {level} tile ({col}, {row})"))
            .at(&self.inner.path)
    }

    /// A tile from the cache, or decoded and cached.
    pub(crate) fn full_tile(
        &self,
        level: usize,
        col: u32,
        row: u32,
    ) -> FaultResult<Option<Arc<TilePixels>>> {
        match self.inner.cache.get(&(level as u32, col, row)) {
            Some(t) => Ok(Some(t)),
            None => self.decode_and_cache(level, col, row),
        }
    }

    /// Decode a whole tile (the caller found it not cached) and cache it.
    pub(crate) fn decode_and_cache(
        &self,
        level: usize,
        col: u32,
        row: u32,
    ) -> FaultResult<Option<Arc<TilePixels>>> {
        let source = &self.inner.sources[level];
        let g = source.grid();
        let Some(mut rgba) = decode_cell(source.as_ref(), col, row, None)? else {
            return Ok(None);
        };
        // Pixels past the image edge are padding: make them transparent, as
        // OpenSlide does, so a tile never shows what is not in the slide.
        let valid_w = (g.width - u64::from(col) * u64::from(g.tile_width))
            .min(u64::from(g.tile_width)) as usize;
        let valid_h = (g.height - u64::from(row) * u64::from(g.tile_height))
            .min(u64::from(g.tile_height)) as usize;
        let tw = g.tile_width as usize;
        if valid_w < tw || valid_h < g.tile_height as usize {
            for (y, line) in rgba.chunks_exact_mut(tw * 4).enumerate() {
                if y >= valid_h {
                    line.fill(0);
                } else {
                    line[valid_w * 4..].fill(0);
                }
            }
        }
        let tile = Arc::new(TilePixels {
            width: g.tile_width,
            height: g.tile_height,
            rgba,
        });
        self.inner.cache.put((level as u32, col, row), tile.clone());
        Ok(Some(tile))
    }

    /// Read a region: `x`, `y` in level-0 pixels, `width` x `height` pixels of
    /// `level`. Exactly OpenSlide's `read_region`: transparent outside the
    /// image and in missing tiles.
    pub fn read_region(
        &self,
        x: i64,
        y: i64,
        level: usize,
        width: u32,
        height: u32,
    ) -> Result<RgbaImage> {
        let mut pixels = Vec::new();
        self.read_region_into(x, y, level, width, height, &mut pixels)?;
        Ok(RgbaImage {
            width,
            height,
            pixels,
        })
    }

    /// [`Self::read_region`] into a caller's buffer (resized as needed), to
    /// reuse allocations across many reads.
    pub fn read_region_into(
        &self,
        x: i64,
        y: i64,
        level: usize,
        width: u32,
        height: u32,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        self.prepare_read(level, width, height, out)?;
        region::read(self, x, y, level, width, height, out).map_err(|f| f.at(&self.inner.path))
    }

    /// Read `width` x `height` pixels of `level` at level coordinates
    /// (`x_level`, `y_level`), exactly as stored: no resampling, transparent
    /// outside the level and in missing tiles. Renderers that keep their own
    /// tile grid read through here; `out` is resized as needed.
    pub fn read_level_rect(
        &self,
        level: usize,
        x_level: i64,
        y_level: i64,
        width: u32,
        height: u32,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        self.prepare_read(level, width, height, out)?;
        region::read_level_rect(self, level, x_level, y_level, width, height, out)
            .map_err(|f| f.at(&self.inner.path))
    }

    /// Check a read's level and size, and size `out` for it (zeroed:
    /// transparent).
    fn prepare_read(&self, level: usize, width: u32, height: u32, out: &mut Vec<u8>) -> Result<()> {
        if level >= self.inner.levels.len() {
            return Err(Fault::argument(
                format!("level {level}"),
                format!("the slide has {} levels", self.inner.levels.len()),
            )
            .at(&self.inner.path));
        }
        let bytes = u64::from(width) * u64::from(height) * 4;
        if bytes > region::MAX_REGION_BYTES {
            return Err(Fault::limit(
                "region",
                format!("{width}x{height} pixels is more than a single read may return"),
            )
            .at(&self.inner.path));
        }
        out.clear();
        out.resize(bytes as usize, 0);
        Ok(())
    }

    pub(crate) fn source(&self, level: usize) -> &dyn LevelSource {
        self.inner.sources[level].as_ref()
    }
}

/// Decode a tile's cell (or `crop` of it) and check the source kept its
/// contract: exactly the cell's (or crop's) pixels. Every decode goes
/// through here, so nothing downstream re-checks sizes.
pub(crate) fn decode_cell(
    source: &dyn LevelSource,
    col: u32,
    row: u32,
    crop: Option<Crop>,
) -> FaultResult<Option<Vec<u8>>> {
    let g = source.grid();
    let (w, h) = crop.map_or((g.tile_width, g.tile_height), |c| (c.width, c.height));
    let pixels = source.decode_tile(col, row, crop)?;
    if let Some(p) = &pixels
        && p.len() != w as usize * h as usize * 4
    {
        return Err(Fault::corrupt(
            format!("tile ({col}, {row})"),
            format!("decoded to {} bytes, {w}x{h} RGBA expected", p.len()),
        ));
    }
    Ok(pixels)
}

/// Largest image read whole (associated images): 64 Mpixel, 256 MiB.
const MAX_WHOLE_PIXELS: u64 = 1 << 26;

/// Decode every tile of a source into one image (associated images are
/// small, and stored as strips or frames like a level).
pub(crate) fn read_whole(source: &dyn LevelSource) -> FaultResult<RgbaImage> {
    let g = source.grid();
    if g.width * g.height > MAX_WHOLE_PIXELS {
        return Err(Fault::limit(
            "image",
            format!("{}x{} pixels is too large to read whole", g.width, g.height),
        ));
    }
    let (w, h) = (g.width as usize, g.height as usize);
    let (tw, th) = (g.tile_width as usize, g.tile_height as usize);
    // The output is sized only once a tile has decoded: a file that merely
    // declares a large image costs nothing.
    let mut pixels: Vec<u8> = Vec::new();
    for row in 0..g.down() {
        for col in 0..g.across() {
            let Some(tile) = decode_cell(source, col, row, None)? else {
                continue;
            };
            if pixels.is_empty() {
                pixels = vec![0u8; w * h * 4];
            }
            let (x0, y0) = (col as usize * tw, row as usize * th);
            let copy_w = (w - x0).min(tw);
            for r in 0..(h - y0).min(th) {
                let s = r * tw * 4;
                let d = ((y0 + r) * w + x0) * 4;
                pixels[d..d + copy_w * 4].copy_from_slice(&tile[s..s + copy_w * 4]);
            }
        }
    }
    if pixels.is_empty() {
        pixels = vec![0u8; w * h * 4];
    }
    Ok(RgbaImage {
        width: g.width as u32,
        height: g.height as u32,
        pixels,
    })
}

/// Format a double for a property value exactly as OpenSlide (glib's
/// `g_ascii_dtostr`) does: `%.15g` when that reads back as the same value,
/// else `%.17g`. So properties compare equal as text across the two.
pub fn format_double(v: f64) -> String {
    if !v.is_finite() {
        return if v.is_nan() {
            "nan".into()
        } else if v > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    let short = format_g(v, 15);
    if short.parse::<f64>().ok() == Some(v) {
        short
    } else {
        format_g(v, 17)
    }
}

/// C's `%.{precision}g`.
fn format_g(v: f64, precision: usize) -> String {
    if v == 0.0 {
        return if v.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    // `{:e}` always writes a mantissa, an 'e' and an integer exponent.
    let sci = format!("{:.*e}", precision - 1, v);
    let (mantissa, exp) = sci.split_once('e').expect("exponent");
    let exp: i32 = exp.parse().expect("exponent digits");
    let strip = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    if exp < -4 || exp >= precision as i32 {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", strip(mantissa), exp.abs())
    } else {
        let decimals = (precision as i32 - 1 - exp).max(0) as usize;
        strip(&format!("{v:.decimals$}"))
    }
}

/// Drive every read path of a slide held in memory, as the fuzz targets and
/// the hostile-input tests do: open, then tiles (decoded and stored) at
/// every level, a region straddling the edge, and associated images.
/// Returns the errors met; panicking is the failure this exists to find.
#[doc(hidden)]
pub fn exercise(name: &str, bytes: Vec<u8>) -> Vec<SlideError> {
    match Slide::from_bytes(name, bytes) {
        Ok(slide) => exercise_slide(&slide),
        Err(e) => vec![e],
    }
}

/// A multi-file DICOM slide from memory, read as [`exercise`] reads one
/// (fuzzing: instances that disagree with each other).
#[doc(hidden)]
pub fn exercise_dicom_series(instances: Vec<Vec<u8>>) -> Vec<SlideError> {
    let options = OpenOptions {
        backend: BackendPolicy::Never,
        ..OpenOptions::default()
    };
    let sources = instances
        .into_iter()
        .map(|bytes| Arc::new(bytes) as source::SharedSource)
        .collect();
    let opened = formats::dicom::open_sources(sources)
        .and_then(|opened| Slide::assemble(PathBuf::from("series"), opened, &options));
    match opened {
        Ok(slide) => exercise_slide(&slide),
        Err(fault) => vec![fault.at("series")],
    }
}

#[doc(hidden)]
pub fn exercise_slide(slide: &Slide) -> Vec<SlideError> {
    let mut errors = Vec::new();
    for (i, l) in slide.levels().iter().enumerate().take(12) {
        let (across, down) = (l.tiles_across(), l.tiles_down());
        let picks = [
            (0, 0),
            (across - 1, down - 1),
            (across / 2, down / 2),
            (across - 1, 0),
            (0, down - 1),
        ];
        for (c, r) in picks {
            if let Err(e) = slide.read_tile(i, c, r) {
                errors.push(e);
            }
            if let Err(e) = slide.read_tile_encoded(i, c, r) {
                errors.push(e);
            }
        }
        let x = (l.width as f64 * l.downsample / 2.0) as i64;
        if let Err(e) = slide.read_region(-(l.downsample as i64) * 3, x, i, 97, 61) {
            errors.push(e);
        }
    }
    for name in slide.associated_images().keys() {
        if let Err(e) = slide.read_associated(name) {
            errors.push(e);
        }
    }
    errors
}

#[cfg(test)]
mod format_tests {
    use super::format_double;

    #[test]
    fn matches_openslide_text() {
        assert_eq!(format_double(0.499), "0.499");
        assert_eq!(format_double(4.016129032258064), "4.0161290322580641");
        assert_eq!(format_double(2.0), "2");
        assert_eq!(
            format_double(10000.0 / 28.346_456_527_709_96),
            "352.77777983377013"
        );
        assert_eq!(format_double(0.007984000258147717), "0.0079840002581477165");
        assert_eq!(format_double(1e-7), "1e-07");
        assert_eq!(
            format_double(1.0000000000000002e-7),
            "1.0000000000000002e-07"
        );
        assert_eq!(format_double(20.0), "20");
        assert_eq!(format_double(-3400.0), "-3400");
    }
}
