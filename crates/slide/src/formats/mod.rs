//! Format detection (by content) and the reader for each vendor format, one
//! module per format as OpenSlide does.

mod aperio;
pub(crate) mod dicom;
mod dicom_layout;
mod generic_tiff;
mod hamamatsu;
mod ome;
#[allow(
    unsafe_code,
    reason = "the system's OpenSlide is a C library, loaded at run time"
)]
pub mod openslide_backend;
mod philips;
pub(crate) mod tiff_image;
mod whole_jpeg;

use crate::error::{Fault, FaultResult};
use crate::source::{ByteSource, FileSource, SharedSource};
use crate::tiff::{Tiff, is_tiff_header, tag};
use crate::{OpenOptions, Opened};
use std::path::Path;
use std::sync::Arc;

/// What the first bytes (and, for TIFF, the first directory) say a file is.
#[derive(Debug)]
pub(crate) enum Detected {
    Tiff(TiffFlavour, Arc<Tiff>),
    Dicom,
    /// A format read only through the system OpenSlide library.
    OpenSlideOnly(&'static str),
    NotASlide(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TiffFlavour {
    Ndpi,
    Aperio,
    Philips,
    Ome,
    Generic,
}

pub(crate) fn open_path(path: &Path, options: &OpenOptions) -> FaultResult<Opened> {
    let meta = std::fs::metadata(path).map_err(|e| Fault::io("file", &e))?;
    if meta.is_dir() {
        return dicom::open_folder(path);
    }
    let src: SharedSource = Arc::new(FileSource::open(path).map_err(|e| Fault::io("file", &e))?);
    let detected = detect(src.as_ref(), Some(path))?;
    match detected {
        Detected::Dicom => dicom::open_file_and_series(path),
        Detected::OpenSlideOnly(format) => openslide_backend::open(path, format, options.backend),
        Detected::Tiff(flavour, tiff) => open_tiff(src, tiff, flavour),
        Detected::NotASlide(why) => Err(Fault::unsupported("file", why)),
    }
}

/// Open a single-file slide from any byte source (no sibling files).
pub(crate) fn open_source(src: SharedSource, _options: &OpenOptions) -> FaultResult<Opened> {
    match detect(src.as_ref(), None)? {
        Detected::Tiff(flavour, tiff) => open_tiff(src, tiff, flavour),
        Detected::Dicom => dicom::open_single_source(src),
        Detected::OpenSlideOnly(format) => Err(Fault::unsupported(
            "file",
            format!("looks like {format}, which is read only from a file through OpenSlide"),
        )),
        Detected::NotASlide(why) => Err(Fault::unsupported("file", why)),
    }
}

fn open_tiff(src: SharedSource, tiff: Arc<Tiff>, flavour: TiffFlavour) -> FaultResult<Opened> {
    match flavour {
        TiffFlavour::Ndpi => hamamatsu::open(src, tiff),
        TiffFlavour::Aperio => aperio::open(src, tiff),
        TiffFlavour::Philips => philips::open(src, tiff),
        TiffFlavour::Ome => ome::open(src, tiff),
        TiffFlavour::Generic => generic_tiff::open(src, tiff),
    }
}

fn read_head(src: &dyn ByteSource) -> FaultResult<Vec<u8>> {
    let n = src.len().min(4096) as usize;
    let mut head = vec![0u8; n];
    src.read_exact_at(0, &mut head)
        .map_err(|e| Fault::io("file header", &e))?;
    Ok(head)
}

/// Recognise a slide by content. `path` lets multi-file formats (MIRAX) look
/// at their sibling folder.
pub(crate) fn detect(src: &dyn ByteSource, path: Option<&Path>) -> FaultResult<Detected> {
    let head = read_head(src)?;
    if head.is_empty() {
        return Err(Fault::corrupt("file", "the file is empty"));
    }
    if is_tiff_header(&head) {
        let tiff = Tiff::parse(src)?;
        let flavour = classify_tiff(src, &tiff)?;
        return Ok(match flavour {
            Ok(flavour) => Detected::Tiff(flavour, Arc::new(tiff)),
            Err(other) => other,
        });
    }
    if head.len() >= 132 && &head[128..132] == b"DICM" {
        return Ok(Detected::Dicom);
    }
    if head.starts_with(b"ZISRAWFILE") {
        return Ok(Detected::OpenSlideOnly("Zeiss CZI"));
    }
    if head.starts_with(b"SQLite format 3\0") {
        return Ok(Detected::OpenSlideOnly("Sakura SVSlide (SQLite)"));
    }
    let text = String::from_utf8_lossy(&head);
    if text.contains("[Virtual Microscope Specimen]") {
        return Ok(Detected::OpenSlideOnly("Hamamatsu VMS"));
    }
    if text.contains("[Uncompressed Virtual Microscope Specimen]") {
        return Ok(Detected::OpenSlideOnly("Hamamatsu VMU"));
    }
    if let Some(path) = path {
        // MIRAX: the .mrxs file is a thumbnail-ish stub; the slide is the
        // folder beside it holding Slidedat.ini.
        if let (Some(stem), Some(dir)) = (path.file_stem(), path.parent())
            && dir.join(stem).join("Slidedat.ini").is_file()
        {
            return Ok(Detected::OpenSlideOnly("MIRAX"));
        }
    }
    let what = if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        "a JPEG image"
    } else if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        "a PNG image"
    } else if head.starts_with(&[0xFF, 0x4F, 0xFF, 0x51]) || head.get(4..8) == Some(b"jP  ") {
        "a JPEG 2000 image"
    } else if head.starts_with(b"GIF8") {
        "a GIF image"
    } else if head.starts_with(b"BM") {
        "a BMP image"
    } else if head.starts_with(b"PK\x03\x04") {
        "a ZIP archive"
    } else {
        return Ok(Detected::NotASlide(format!(
            "unrecognised format (first bytes {:02x?})",
            &head[..head.len().min(8)]
        )));
    };
    Ok(Detected::NotASlide(format!(
        "this is {what}, not a whole-slide image"
    )))
}

/// A TIFF's flavour, or what else it is (a TIFF-based format only
/// OpenSlide reads).
fn classify_tiff(src: &dyn ByteSource, tiff: &Tiff) -> FaultResult<Result<TiffFlavour, Detected>> {
    let first = &tiff.ifds[0];
    if tiff.ndpi || first.has(tag::NDPI_FORMAT_FLAG) {
        return Ok(Ok(TiffFlavour::Ndpi));
    }
    // A broken description should not stop detection; it is reported where
    // it matters (when a reader needs it).
    let description = tiff
        .ascii(src, first, tag::IMAGE_DESCRIPTION)
        .ok()
        .flatten()
        .unwrap_or_default();
    let software = tiff
        .ascii(src, first, tag::SOFTWARE)
        .ok()
        .flatten()
        .unwrap_or_default();
    let tiled = first.has(tag::TILE_WIDTH) && first.has(tag::TILE_LENGTH);
    if tiled && description.starts_with("Aperio") {
        return Ok(Ok(TiffFlavour::Aperio));
    }
    if software.starts_with("Philips") && description.contains("DPUfsImport") {
        return Ok(Ok(TiffFlavour::Philips));
    }
    if description.contains("http://www.leica-microsystems.com/scn/") {
        return Ok(Err(Detected::OpenSlideOnly("Leica SCN")));
    }
    let xmp = tiff
        .bytes(src, first, tag::XMP)
        .ok()
        .flatten()
        .unwrap_or_default();
    if String::from_utf8_lossy(&xmp).contains("iScan")
        || tiff.all_ifds().any(|ifd| {
            tiff.ascii(src, ifd, tag::IMAGE_DESCRIPTION)
                .ok()
                .flatten()
                .is_some_and(|d| d.starts_with("level=") && d.contains("mag="))
        })
    {
        return Ok(Err(Detected::OpenSlideOnly("Ventana BIF")));
    }
    if software.starts_with("MedScan") {
        return Ok(Err(Detected::OpenSlideOnly("Trestle TIFF")));
    }
    if description.contains("<OME") && description.contains("openmicroscopy.org") {
        return Ok(Ok(TiffFlavour::Ome));
    }
    Ok(Ok(TiffFlavour::Generic))
}
