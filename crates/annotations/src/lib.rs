//! Annotations on a slide: the objects AI analyses and people mark (cells,
//! detections, regions, tiles with scores), and the files they come in —
//! QuPath GeoJSON, ASAP XML and DICOM ANN read and written. No GPU, no UI: the
//! renderer draws these, the viewer and the console act on them.
//!
//! Coordinates are level-0 slide pixels. Every reader streams: memory is
//! the result plus one object, whatever the file declares, and every count,
//! size and coordinate is checked against [`Limits`] before it is kept.

pub mod asap;
pub mod cache;
pub mod dicom;
pub mod edit;
mod error;
pub mod geojson;
mod index;
mod limits;
mod loss;
mod model;
pub mod plane;
pub mod raster;
mod summary;

pub use error::{Error, ErrorKind, Fault};
pub use index::{SpatialIndex, hit};
pub use limits::Limits;
pub use loss::{Loss, WriteNote};
pub use model::{
    Annotations, Bounds, Class, ClassId, Colour, Geometry, Kind, NameId, Object, Point, Polygon,
    Provenance, ProvenanceId, iso8601_from_unix,
};
pub use summary::Summary;

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

/// The file formats read and written here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// QuPath's GeoJSON (and plain GeoJSON, which it extends).
    GeoJson,
    /// ASAP XML.
    AsapXml,
    /// DICOM Microscopy Bulk Simple Annotations.
    DicomAnn,
    /// A probability raster (`.npy`, grayscale `.png`) over the slide,
    /// read as tiles (never written).
    Raster,
}

/// What a reader may need of the slide the annotations lie on.
#[derive(Debug, Clone, Copy, Default)]
pub struct OnSlide<'a> {
    /// Level-0 width and height: where a probability raster is stretched.
    pub size: Option<(u64, u64)>,
    /// A DICOM slide's identity and geometry: where DICOM ANN in 3D slide
    /// coordinates is placed.
    pub dicom: Option<&'a dicom::SlideReference>,
}

impl Format {
    /// The name `kh annotations info` reports.
    pub fn name(self) -> &'static str {
        match self {
            Format::GeoJson => "geojson",
            Format::AsapXml => "asap-xml",
            Format::DicomAnn => "dicom-ann",
            Format::Raster => "raster",
        }
    }

    /// The format a file name asks for: `.geojson` or `.json`, `.xml`,
    /// `.dcm`.
    pub fn from_extension(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "geojson" | "json" => Some(Format::GeoJson),
            "xml" => Some(Format::AsapXml),
            "dcm" => Some(Format::DicomAnn),
            "npy" | "png" => Some(Format::Raster),
            _ => None,
        }
    }

    /// The format the first bytes show.
    pub fn sniff(head: &[u8]) -> Option<Format> {
        if dicom::looks_like_dicom(head) {
            return Some(Format::DicomAnn);
        }
        if head.starts_with(b"\x93NUMPY") || head.starts_with(b"\x89PNG") {
            return Some(Format::Raster);
        }
        let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
        match head.iter().find(|b| !b.is_ascii_whitespace())? {
            b'{' | b'[' => Some(Format::GeoJson),
            b'<' => Some(Format::AsapXml),
            _ => None,
        }
    }
}

/// Whether a file is one of ours: by its extension, and for `.dcm` (slides
/// are `.dcm` too) by the SOP class its file meta information names.
pub fn is_annotation_file(path: &Path) -> bool {
    match Format::from_extension(path) {
        Some(Format::DicomAnn) => {
            let mut head = Vec::new();
            let read = File::open(path).and_then(|f| {
                std::io::Read::read_to_end(&mut std::io::Read::take(f, 64 * 1024), &mut head)
            });
            read.is_ok()
                && kh_dicom::file_meta(&head.as_slice())
                    .is_ok_and(|m| m.sop_class.as_deref() == Some(dicom::ANN_SOP_CLASS))
        }
        Some(_) => true,
        None => false,
    }
}

/// Read an annotation file, its format from its contents.
pub fn read(path: &Path) -> Result<(Format, Annotations), Error> {
    read_with(path, &Limits::default())
}

pub fn read_with(path: &Path, limits: &Limits) -> Result<(Format, Annotations), Error> {
    read_for_slide(path, limits, OnSlide::default())
}

/// Read an annotation file over a slide: DICOM ANN in 3D slide
/// coordinates needs the DICOM slide, a probability raster the slide's size.
pub fn read_for_slide(
    path: &Path,
    limits: &Limits,
    slide: OnSlide,
) -> Result<(Format, Annotations), Error> {
    let open = || {
        File::open(path)
            .map(|f| BufReader::with_capacity(1 << 16, f))
            .map_err(|e| Fault::io(&e).at(path))
    };
    let mut r = open()?;
    let head = r.fill_buf().map_err(|e| Fault::io(&e).at(path))?;
    let format = Format::sniff(head).ok_or_else(|| {
        Fault::unsupported("neither GeoJSON, XML nor DICOM: not an annotation file this reads")
            .at(path)
    })?;
    let result = match format {
        // Collections and arrays on every core; anything else, and any
        // file the fast path does not take, by the serial reader.
        Format::GeoJson => match geojson::annotations_from_big_geojson(r, limits) {
            Some(result) => result,
            None => read_serial_geojson(open()?, limits, open)?,
        },
        Format::AsapXml => asap::annotations_from_asap(r, limits),
        Format::DicomAnn => read_dicom(path, limits, slide.dicom)?,
        Format::Raster => read_raster(path, limits, slide.size)?,
    };
    result.map(|a| (format, a)).map_err(|f| f.at(path))
}

/// A DICOM ANN file is parsed whole (its coordinates are one array), so its
/// size is bounded first: the largest the limits could ever need.
fn read_dicom(
    path: &Path,
    limits: &Limits,
    slide: Option<&dicom::SlideReference>,
) -> Result<Result<Annotations, Fault>, Error> {
    let io = |e: std::io::Error| Fault::io(&e).at(path);
    let size = std::fs::metadata(path).map_err(io)?.len();
    if size > MAX_DICOM_BYTES {
        return Ok(Err(Fault::limit(format!(
            "{size} bytes: DICOM ANN files over {MAX_DICOM_BYTES} bytes are not read"
        ))));
    }
    let bytes = std::fs::read(path).map_err(io)?;
    Ok(dicom::annotations_from_dicom_file(bytes, limits, slide))
}

/// A probability raster, as tiles over a slide of `size` level-0 pixels.
fn read_raster(
    path: &Path,
    limits: &Limits,
    size: Option<(u64, u64)>,
) -> Result<Result<Annotations, Fault>, Error> {
    let Some(size) = size else {
        return Ok(Err(Fault::unsupported(
            "a probability raster: it is stretched over its slide, so it needs one (--slide)",
        )));
    };
    let io = |e: std::io::Error| Fault::io(&e).at(path);
    // Eight bytes a pixel at most (float64), a pixel an object at most.
    let most = (limits.max_objects as u64).saturating_mul(8) + (1 << 20);
    let bytes_on_disk = std::fs::metadata(path).map_err(io)?.len();
    if bytes_on_disk > most {
        return Ok(Err(Fault::limit(format!(
            "{bytes_on_disk} bytes: rasters over {most} bytes are not read"
        ))));
    }
    let bytes = std::fs::read(path).map_err(io)?;
    let raster = if bytes.starts_with(b"\x89PNG") {
        raster::raster_from_png(&bytes, limits)
    } else {
        raster::raster_from_npy(&bytes, limits)
    };
    Ok(raster.map(|r| raster::tiles_from_raster(&r, size)))
}

/// 16 GiB: ten million polygons of a hundred vertices in doubles.
const MAX_DICOM_BYTES: u64 = 16 << 30;

fn read_serial_geojson(
    r: BufReader<File>,
    limits: &Limits,
    open: impl Fn() -> Result<BufReader<File>, Error>,
) -> Result<Result<Annotations, Fault>, Error> {
    Ok(match geojson::annotations_from_geojson(r, limits) {
        // QuPath's files may hold bare NaN (not JSON): read once more
        // with those as null. A file broken otherwise fails the same
        // way again, and that is the error reported.
        Err(f) if f.kind == ErrorKind::Corrupt => {
            geojson::annotations_from_lenient_geojson(open()?, limits)
        }
        other => other,
    })
}

/// Whether [`read_cached`] used the binary cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheUse {
    /// Read from the cache.
    Hit,
    /// Parsed, and the cache written for next time.
    Written,
    /// Parsed; the cache could not be written (the reason is logged by
    /// the caller, the file was read all the same).
    NotWritten,
}

/// Read an annotation file through a binary cache in `cache_dir`: a cache
/// made from this very file (same size and modification time) is decoded
/// instead of parsing; otherwise the file is parsed and the cache written
/// (atomically) for next time. `slide` as for [`read_for_slide`]; rasters
/// (small, and placed by the slide's size) are read without a cache.
pub fn read_cached(
    path: &Path,
    cache_dir: &Path,
    limits: &Limits,
    slide: OnSlide,
) -> Result<(Format, Annotations, CacheUse), Error> {
    if Format::from_extension(path) == Some(Format::Raster) {
        let (format, a) = read_for_slide(path, limits, slide)?;
        return Ok((format, a, CacheUse::NotWritten));
    }
    let stamp = cache::SourceStamp::of(path).map_err(|e| Fault::io(&e).at(path))?;
    let cache_path = cache_dir.join(cache::file_name(path));
    let format = Format::from_extension(path);
    if let Ok(a) = cache::annotations_from_cache_file(&cache_path, stamp, limits) {
        return Ok((format.unwrap_or(Format::GeoJson), a, CacheUse::Hit));
    }
    let (format, a) = read_for_slide(path, limits, slide)?;
    let written = cache::write_cache(&cache_path, &a, stamp).is_ok();
    let used = if written {
        CacheUse::Written
    } else {
        CacheUse::NotWritten
    };
    Ok((format, a, used))
}

/// What writing had to approximate (formats that cannot hold everything),
/// one note per kind for the user.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Written {
    pub notes: Vec<WriteNote>,
}

/// Write annotations in `format`, atomically: to a temporary file beside
/// `path`, flushed to disk, then renamed over it. A crash or a full disk
/// leaves the old file or none, never half of one.
pub fn write(path: &Path, a: &Annotations, format: Format) -> Result<Written, Error> {
    write_for_slide(path, a, format, None)
}

/// [`write`], for a slide: DICOM ANN then refers to it and is written in its
/// slide coordinates (other formats are the same for any slide).
pub fn write_for_slide(
    path: &Path,
    a: &Annotations,
    format: Format,
    slide: Option<&dicom::SlideReference>,
) -> Result<Written, Error> {
    let io = |e: std::io::Error| Fault::io(&e).at(path);
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let tmp = tempfile::Builder::new()
        .prefix(".kh-annotations-")
        .tempfile_in(dir)
        .map_err(io)?;
    let mut w = BufWriter::with_capacity(1 << 16, tmp);
    let written = match format {
        Format::GeoJson => {
            geojson::geojson_from_annotations(a, &mut w).map_err(io)?;
            Written::default()
        }
        Format::AsapXml => Written {
            notes: asap::asap_from_annotations(a, &mut w).map_err(io)?.notes(),
        },
        Format::DicomAnn => Written {
            notes: dicom::dicom_from_annotations(a, slide, &mut w).map_err(io)?,
        },
        Format::Raster => {
            return Err(Fault::unsupported(
                "rasters are read, not written: write .geojson, .xml or .dcm",
            )
            .at(path));
        }
    };
    w.flush().map_err(io)?;
    let tmp = w.into_inner().map_err(|e| io(e.into_error()))?;
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(written)
}
