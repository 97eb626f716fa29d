//! DICOM VL Whole Slide Microscopy: one instance (file) per pyramid level,
//! plus label / overview / thumbnail instances, grouped by Series Instance
//! UID. A slide opens from its folder or from any one of its files.
//!
//! Attributes are parsed by `dicom-object`; where the frames lie is found by
//! [`super::dicom_layout`] so a level's pixels are never read whole. Tiles are
//! frames: JPEG baseline, JPEG 2000 or uncompressed RGB, organised
//! TILED_FULL (row-major) or TILED_SPARSE (per-frame positions).

use super::dicom_layout::{self, Layout, PixelData};
use crate::codec::{EncodedTile, SampleLayout, TileCodec, j2k, tiff_samples};
use crate::error::{Fault, FaultResult};
use crate::source::{ByteSourceExt, FileSource, MAX_READ, SharedSource};
use crate::{AssociatedSource, Grid, LevelSource, Opened, RgbaImage};
use dicom_core::Tag;
use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry};
use dicom_core::value::Value;
use dicom_dictionary_std::{StandardDataDictionary, tags};
use dicom_object::InMemDicomObject;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

const WSI_SOP_CLASS: &str = "1.2.840.10008.5.1.4.1.1.77.1.6";
/// Files examined when looking for a slide's other instances.
const MAX_FOLDER_FILES: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coding {
    Jpeg,
    /// `ycbcr_photometric`: YBR_ICT/YBR_RCT, converted by us unless the
    /// codestream's own multiple-component transform already did.
    Jpeg2000 {
        ycbcr_photometric: bool,
    },
    Rgb,
}

struct Instance {
    name: String,
    src: SharedSource,
    data: InMemDicomObject,
    meta_elements: Vec<(Tag, String)>,
    layout: Layout,
    series: String,
    sop_instance: String,
    image_type: Vec<String>,
    total: (u64, u64),
    frame_size: (u32, u32),
    frames: usize,
    coding: Coding,
}

fn text(obj: &InMemDicomObject, tag: Tag) -> Option<String> {
    obj.get(tag)
        .and_then(|e| e.to_str().ok())
        .map(|s| s.trim_end_matches(['\0', ' ']).to_string())
}

fn int(obj: &InMemDicomObject, tag: Tag) -> Option<i64> {
    obj.get(tag).and_then(|e| e.to_int::<i64>().ok())
}

fn first_item(obj: &InMemDicomObject, tag: Tag) -> Option<&InMemDicomObject> {
    obj.get(tag).and_then(|e| e.items()).and_then(|i| i.first())
}

fn floats(obj: &InMemDicomObject, tag: Tag) -> Vec<f64> {
    obj.get(tag)
        .and_then(|e| e.to_multi_float64().ok())
        .unwrap_or_default()
}

/// Parse one file's attributes and pixel layout.
fn read_instance(src: SharedSource, name: &str) -> FaultResult<Instance> {
    let layout = dicom_layout::locate(src.as_ref())?;
    let prefix = src.read_vec(0, layout.pixel_data_element, "DICOM attributes")?;
    // dicom-object parses untrusted bytes; a panic inside it must become
    // an error about this file, not a crash.
    let parsed = std::panic::catch_unwind(|| {
        dicom_object::OpenFileOptions::new()
            .read_preamble(dicom_object::file::ReadPreamble::Always)
            .from_reader(std::io::Cursor::new(&prefix))
    });
    let obj = match parsed {
        Ok(Ok(obj)) => obj,
        Ok(Err(e)) => return Err(Fault::corrupt("DICOM attributes", e.to_string())),
        Err(_) => return Err(Fault::corrupt("DICOM attributes", "unparseable attributes")),
    };
    let sop_class = obj
        .meta()
        .media_storage_sop_class_uid()
        .trim_end_matches(['\0', ' '])
        .to_string();
    if sop_class != WSI_SOP_CLASS {
        return Err(Fault::unsupported(
            "DICOM",
            format!("not a whole-slide image (SOP class {sop_class})"),
        ));
    }
    let meta_elements = obj
        .meta()
        .to_element_iter()
        .filter_map(|e| {
            let v = e.to_str().ok()?.trim_end_matches(['\0', ' ']).to_string();
            Some((e.header().tag, v))
        })
        .collect();
    let data = obj.into_inner();
    let series = text(&data, tags::SERIES_INSTANCE_UID)
        .ok_or_else(|| Fault::corrupt("DICOM", "no SeriesInstanceUID"))?;
    let sop_instance = text(&data, tags::SOP_INSTANCE_UID).unwrap_or_default();
    let image_type: Vec<String> = data
        .get(tags::IMAGE_TYPE)
        .and_then(|e| e.to_multi_str().ok())
        .map(|v| v.iter().map(|s| s.trim().to_string()).collect())
        .unwrap_or_default();
    let need = |tag: Tag, what: &str| -> FaultResult<u64> {
        int(&data, tag)
            .filter(|v| *v > 0 && *v <= i64::from(u32::MAX))
            .map(|v| v as u64)
            .ok_or_else(|| Fault::corrupt("DICOM", format!("missing or invalid {what}")))
    };
    let total = (
        need(tags::TOTAL_PIXEL_MATRIX_COLUMNS, "TotalPixelMatrixColumns")?,
        need(tags::TOTAL_PIXEL_MATRIX_ROWS, "TotalPixelMatrixRows")?,
    );
    let frame_size = (
        need(tags::COLUMNS, "Columns")? as u32,
        need(tags::ROWS, "Rows")? as u32,
    );
    if u64::from(frame_size.0) * u64::from(frame_size.1) > 1 << 26 {
        return Err(Fault::limit("DICOM", "frames larger than 8k x 8k pixels"));
    }
    let frames = int(&data, tags::NUMBER_OF_FRAMES).unwrap_or(1);
    if !(1..=1 << 26).contains(&frames) {
        return Err(Fault::corrupt("DICOM", format!("NumberOfFrames {frames}")));
    }
    for (tag, want, what) in [
        (tags::BITS_ALLOCATED, 8, "BitsAllocated"),
        (tags::BITS_STORED, 8, "BitsStored"),
        (tags::SAMPLES_PER_PIXEL, 3, "SamplesPerPixel"),
    ] {
        if let Some(v) = int(&data, tag)
            && v != want
        {
            return Err(Fault::unsupported(
                "DICOM",
                format!("{what} {v}; {want} expected"),
            ));
        }
    }
    if int(&data, tags::PLANAR_CONFIGURATION).unwrap_or(0) != 0 {
        return Err(Fault::unsupported("DICOM", "colour-by-plane pixel data"));
    }
    let photometric = text(&data, tags::PHOTOMETRIC_INTERPRETATION).unwrap_or_default();
    let ts = layout.transfer_syntax.as_str();
    let coding = match (ts, photometric.as_str()) {
        (dicom_layout::JPEG_BASELINE, "YBR_FULL_422" | "RGB" | "YBR_FULL") => Coding::Jpeg,
        (dicom_layout::JPEG2000 | dicom_layout::JPEG2000_LOSSLESS, "YBR_ICT" | "YBR_RCT") => {
            Coding::Jpeg2000 {
                ycbcr_photometric: true,
            }
        }
        (dicom_layout::JPEG2000 | dicom_layout::JPEG2000_LOSSLESS, "RGB") => Coding::Jpeg2000 {
            ycbcr_photometric: false,
        },
        (dicom_layout::EXPLICIT_VR_LE | dicom_layout::IMPLICIT_VR_LE, "RGB") => Coding::Rgb,
        (ts, p) => {
            return Err(Fault::unsupported(
                "DICOM",
                format!("transfer syntax {ts} with photometric interpretation {p}"),
            ));
        }
    };
    if let PixelData::Native { length, .. } = layout.pixel_data {
        let need = frames as u64 * u64::from(frame_size.0) * u64::from(frame_size.1) * 3;
        if length < need {
            return Err(Fault::corrupt(
                "DICOM Pixel Data",
                format!(
                    "{length} bytes for {frames} frames of {}x{}",
                    frame_size.0, frame_size.1
                ),
            ));
        }
    }
    Ok(Instance {
        name: name.to_string(),
        src,
        data,
        meta_elements,
        layout,
        series,
        sop_instance,
        image_type,
        total,
        frame_size,
        frames: frames as usize,
        coding,
    })
}

/// Byte ranges of each frame (a frame may span several fragments).
type FrameRanges = Vec<Vec<(u64, u64)>>;

/// A multi-frame instance as a grid of tiles.
struct FrameGrid {
    inst: Arc<Instance>,
    grid: Grid,
    /// Frame number of each tile, when the organisation is sparse.
    sparse: Option<HashMap<(u32, u32), usize>>,
    ranges: OnceLock<Result<FrameRanges, Fault>>,
}

impl FrameGrid {
    fn new(inst: Arc<Instance>) -> FaultResult<FrameGrid> {
        let grid = Grid {
            width: inst.total.0,
            height: inst.total.1,
            tile_width: inst.frame_size.0,
            tile_height: inst.frame_size.1,
        };
        let tiles = grid.across() as usize * grid.down() as usize;
        let organisation = text(&inst.data, tags::DIMENSION_ORGANIZATION_TYPE).unwrap_or_default();
        let sparse = if organisation == "TILED_FULL"
            || (organisation.is_empty() && inst.frames == tiles)
        {
            if inst.frames < tiles {
                return Err(Fault::corrupt(
                    &inst.name,
                    format!("{} frames for {tiles} tiles", inst.frames),
                ));
            }
            None
        } else {
            // Per-frame positions (1-based pixel coordinates of each
            // frame's top-left corner in the total pixel matrix).
            let items = inst
                .data
                .get(tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE)
                .and_then(|e| e.items())
                .ok_or_else(|| {
                    Fault::unsupported(
                        &inst.name,
                        format!("tile organisation {organisation:?} without frame positions"),
                    )
                })?;
            let mut map = HashMap::with_capacity(items.len());
            for (i, item) in items.iter().enumerate().take(inst.frames) {
                let pos =
                    first_item(item, tags::PLANE_POSITION_SLIDE_SEQUENCE).ok_or_else(|| {
                        Fault::corrupt(&inst.name, format!("frame {i} has no plane position"))
                    })?;
                let col = int(pos, tags::COLUMN_POSITION_IN_TOTAL_IMAGE_PIXEL_MATRIX).unwrap_or(0);
                let row = int(pos, tags::ROW_POSITION_IN_TOTAL_IMAGE_PIXEL_MATRIX).unwrap_or(0);
                if col < 1
                    || row < 1
                    || (col - 1) as u64 >= grid.width
                    || (row - 1) as u64 >= grid.height
                {
                    return Err(Fault::corrupt(
                        &inst.name,
                        format!("frame {i} at ({col}, {row}) outside the image"),
                    ));
                }
                let key = (
                    ((col - 1) as u64 / u64::from(grid.tile_width)) as u32,
                    ((row - 1) as u64 / u64::from(grid.tile_height)) as u32,
                );
                map.entry(key).or_insert(i);
            }
            Some(map)
        };
        Ok(FrameGrid {
            inst,
            grid,
            sparse,
            ranges: OnceLock::new(),
        })
    }

    fn frame_ranges(&self, frame: usize) -> FaultResult<Vec<(u64, u64)>> {
        let inst = &self.inst;
        let (w, h) = inst.frame_size;
        match inst.layout.pixel_data {
            PixelData::Native { offset, .. } => {
                let size = u64::from(w) * u64::from(h) * 3;
                Ok(vec![(offset + frame as u64 * size, size)])
            }
            PixelData::Encapsulated { items } => {
                let all = self.ranges.get_or_init(|| {
                    let extended: Option<Vec<u64>> = inst
                        .data
                        .get(Tag(0x7FE0, 0x0001))
                        .and_then(|e| e.to_multi_int::<u64>().ok());
                    dicom_layout::frame_fragments(
                        inst.src.as_ref(),
                        items,
                        inst.frames,
                        extended.as_deref(),
                    )
                });
                let all = all.as_ref().map_err(Clone::clone)?;
                Ok(all[frame].clone())
            }
        }
    }
}

impl LevelSource for FrameGrid {
    fn grid(&self) -> Grid {
        self.grid
    }

    fn encoded_tile(&self, col: u32, row: u32) -> FaultResult<Option<EncodedTile>> {
        let frame = match &self.sparse {
            None => row as usize * self.grid.across() as usize + col as usize,
            Some(map) => match map.get(&(col, row)) {
                Some(&f) => f,
                None => return Ok(None),
            },
        };
        let part = format!("{} frame {frame}", self.inst.name);
        let ranges = self.frame_ranges(frame)?;
        let total: u64 = ranges.iter().map(|r| r.1).sum();
        if total > MAX_READ {
            return Err(Fault::limit(&part, format!("{total}-byte frame")));
        }
        let mut bytes = Vec::with_capacity(total as usize);
        for (offset, len) in ranges {
            bytes.extend_from_slice(&self.inst.src.read_vec(offset, len, &part)?);
        }
        let (width, height) = self.coded_size(col, row, &bytes, &part)?;
        let codec = match self.inst.coding {
            Coding::Jpeg => TileCodec::Jpeg { scale_denom: 1 },
            Coding::Jpeg2000 { ycbcr_photometric } => TileCodec::Jpeg2000 {
                ycbcr: ycbcr_photometric && !j2k::codestream_has_mct(&bytes),
            },
            Coding::Rgb => TileCodec::TiffSamples(SampleLayout {
                compression: tiff_samples::NONE,
                predictor: 1,
                samples_per_pixel: 3,
                photometric: 2,
            }),
        };
        Ok(Some(EncodedTile {
            width,
            height,
            codec,
            bytes,
        }))
    }

    fn name(&self) -> &str {
        &self.inst.name
    }

    fn partial_decode_is_cheaper(&self) -> bool {
        self.inst.coding == Coding::Jpeg
    }
}

impl FrameGrid {
    /// The size a frame is actually coded at. DICOM requires Rows x
    /// Columns, but some converters (wsidicomizer's generated levels) write
    /// edge frames only as large as the image part they hold; accept those
    /// when they cover every visible pixel of the tile.
    fn coded_size(&self, col: u32, row: u32, bytes: &[u8], part: &str) -> FaultResult<(u32, u32)> {
        let (fw, fh) = self.inst.frame_size;
        let coded = match self.inst.coding {
            Coding::Jpeg => {
                let h = crate::codec::jpeg::read_header(bytes, part)?;
                (h.width, h.height)
            }
            Coding::Jpeg2000 { .. } => j2k::codestream_size(bytes, part)?,
            Coding::Rgb => return Ok((fw, fh)),
        };
        if coded == (fw, fh) {
            return Ok(coded);
        }
        let visible_w =
            (self.grid.width - u64::from(col) * u64::from(fw)).min(u64::from(fw)) as u32;
        let visible_h =
            (self.grid.height - u64::from(row) * u64::from(fh)).min(u64::from(fh)) as u32;
        if coded.0 > fw || coded.1 > fh || coded.0 < visible_w || coded.1 < visible_h {
            return Err(Fault::corrupt(
                part,
                format!(
                    "frame is coded at {}x{}, the image has {fw}x{fh} frames ({visible_w}x{visible_h} visible here)",
                    coded.0, coded.1
                ),
            ));
        }
        Ok(coded)
    }
}

impl AssociatedSource for FrameGrid {
    fn size(&self) -> (u32, u32) {
        (self.grid.width as u32, self.grid.height as u32)
    }
    fn read(&self) -> FaultResult<RgbaImage> {
        crate::read_whole(self)
    }
    fn icc_size(&self) -> Option<usize> {
        icc_profile_size(&self.inst.data)
    }
}

fn icc_profile_size(data: &InMemDicomObject) -> Option<usize> {
    first_item(data, tags::OPTICAL_PATH_SEQUENCE)
        .and_then(|o| o.get(tags::ICC_PROFILE))
        .and_then(|e| e.to_bytes().ok())
        .map(|b| b.len())
}

fn is_level(t: &[String]) -> bool {
    let t: Vec<&str> = t.iter().map(String::as_str).collect();
    matches!(
        t.as_slice(),
        ["ORIGINAL", "PRIMARY", "VOLUME", "NONE"]
            | ["DERIVED", "PRIMARY", "VOLUME", "NONE"]
            | ["DERIVED", "PRIMARY", "VOLUME", "RESAMPLED"]
    )
}

fn associated_name(t: &[String]) -> Option<&'static str> {
    let t: Vec<&str> = t.iter().map(String::as_str).collect();
    match t.as_slice() {
        ["ORIGINAL" | "DERIVED", "PRIMARY", "LABEL", "NONE"] => Some("label"),
        ["ORIGINAL" | "DERIVED", "PRIMARY", "OVERVIEW", "NONE"] => Some("macro"),
        // OpenSlide 4.0 accepts NONE here, later versions RESAMPLED.
        [
            "ORIGINAL" | "DERIVED",
            "PRIMARY",
            "THUMBNAIL",
            "RESAMPLED" | "NONE",
        ] => Some("thumbnail"),
        _ => None,
    }
}

fn has_dicm(path: &Path) -> bool {
    let mut head = [0u8; 132];
    std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
        .is_ok()
        && &head[128..] == b"DICM"
}

fn open_instance_file(path: &Path) -> FaultResult<Instance> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let src: SharedSource = Arc::new(FileSource::open(path).map_err(|e| Fault::io(&name, &e))?);
    read_instance(src, &name).map_err(|f| f.within(&name))
}

fn dicom_files_in(dir: &Path) -> FaultResult<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|e| Fault::io("folder", &e))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .take(MAX_FOLDER_FILES)
        .filter(|p| has_dicm(p))
        .collect();
    files.sort();
    Ok(files)
}

/// Open the slide in a folder of DICOM files.
pub(crate) fn open_folder(dir: &Path) -> FaultResult<Opened> {
    let files = dicom_files_in(dir)?;
    let mut instances = Vec::new();
    let mut rejected = Vec::new();
    for f in &files {
        match open_instance_file(f) {
            Ok(i) => instances.push(i),
            Err(e) => rejected.push(e.to_string()),
        }
    }
    one_series(instances, &rejected, files.is_empty())
}

/// The slide of several instances from memory (fuzzing the series logic:
/// instances that disagree on levels, frames and series).
pub(crate) fn open_sources(sources: Vec<SharedSource>) -> FaultResult<Opened> {
    let mut instances = Vec::new();
    let mut rejected = Vec::new();
    let none = sources.is_empty();
    for (i, src) in sources.into_iter().enumerate() {
        match read_instance(src, &format!("instance {i}")) {
            Ok(instance) => instances.push(instance),
            Err(e) => rejected.push(e.to_string()),
        }
    }
    one_series(instances, &rejected, none)
}

/// The instances of one folder as one slide, or why they are not one.
fn one_series(
    instances: Vec<Instance>,
    rejected: &[String],
    no_files: bool,
) -> FaultResult<Opened> {
    let Some(first) = instances.first() else {
        return Err(Fault::unsupported(
            "folder",
            if no_files {
                "no DICOM files".to_string()
            } else {
                format!("no whole-slide DICOM instances: {}", rejected.join("; "))
            },
        ));
    };
    let series = first.series.clone();
    let others: Vec<_> = instances
        .iter()
        .filter(|i| i.series != series)
        .map(|i| i.series.clone())
        .collect();
    if !others.is_empty() {
        return Err(Fault::unsupported(
            "folder",
            format!(
                "holds more than one slide (series {series} and {}); open one of its files",
                others[0]
            ),
        ));
    }
    assemble(instances)
}

/// Open the slide a DICOM file belongs to, with its sibling instances.
pub(crate) fn open_file_and_series(path: &Path) -> FaultResult<Opened> {
    let start = open_instance_file(path)?;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut instances = vec![];
    for f in dicom_files_in(dir)? {
        if f.file_name() == path.file_name() {
            continue;
        }
        // Unreadable neighbours and other slides are not part of this one.
        if let Ok(i) = open_instance_file(&f)
            && i.series == start.series
        {
            instances.push(i);
        }
    }
    instances.insert(0, start);
    assemble(instances)
}

/// A single DICOM instance from memory (tests, fuzzing).
pub(crate) fn open_single_source(src: SharedSource) -> FaultResult<Opened> {
    assemble(vec![read_instance(src, "instance")?])
}

fn assemble(instances: Vec<Instance>) -> FaultResult<Opened> {
    let mut levels: Vec<Arc<Instance>> = Vec::new();
    let mut associated: BTreeMap<String, Arc<Instance>> = BTreeMap::new();
    for inst in instances {
        let inst = Arc::new(inst);
        if is_level(&inst.image_type) {
            if let Some(prev) = levels.iter().find(|l| l.total == inst.total) {
                if prev.sop_instance != inst.sop_instance {
                    return Err(Fault::corrupt(
                        &inst.name,
                        format!(
                            "a second {}x{} level ({} and {})",
                            inst.total.0, inst.total.1, prev.name, inst.name
                        ),
                    ));
                }
                continue;
            }
            levels.push(inst);
        } else if let Some(name) = associated_name(&inst.image_type) {
            if let Some(prev) = associated.get(name) {
                if prev.sop_instance != inst.sop_instance {
                    return Err(Fault::corrupt(&inst.name, format!("a second {name} image")));
                }
                continue;
            }
            associated.insert(name.to_string(), inst);
        }
    }
    if levels.is_empty() {
        return Err(Fault::corrupt("DICOM", "no pyramid levels (VOLUME images)"));
    }
    levels.sort_by_key(|l| std::cmp::Reverse(l.total.0));
    let level0 = levels[0].clone();
    let mut properties = BTreeMap::new();
    let pixel_spacing = first_item(&level0.data, tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE)
        .and_then(|g| first_item(g, tags::PIXEL_MEASURES_SEQUENCE))
        .map(|m| floats(m, tags::PIXEL_SPACING))
        .unwrap_or_default();
    if pixel_spacing.len() >= 2 && pixel_spacing[0] > 0.0 && pixel_spacing[1] > 0.0 {
        properties.insert(
            "openslide.mpp-x".into(),
            crate::format_double(1000.0 * pixel_spacing[0]),
        );
        properties.insert(
            "openslide.mpp-y".into(),
            crate::format_double(1000.0 * pixel_spacing[1]),
        );
    }
    if let Some(power) = first_item(&level0.data, tags::OPTICAL_PATH_SEQUENCE)
        .map(|o| floats(o, tags::OBJECTIVE_LENS_POWER))
        .and_then(|v| v.first().copied())
        .filter(|p| *p > 0.0)
    {
        properties.insert(
            "openslide.objective-power".into(),
            crate::format_double(power),
        );
    }
    if let Some(icc) = icc_profile_size(&level0.data) {
        properties.insert("openslide.icc-size".into(), icc.to_string());
    }
    for (tag, value) in &level0.meta_elements {
        // OpenSlide leaves out the group's length and version.
        if *tag == Tag(0x0002, 0x0000) || *tag == Tag(0x0002, 0x0001) {
            continue;
        }
        if let Some(k) = keyword(*tag) {
            properties.insert(format!("dicom.{k}"), value.clone());
        }
    }
    flatten(&level0.data, "dicom", &mut properties);
    let mut level_sources: Vec<Box<dyn LevelSource>> = Vec::new();
    for l in levels {
        level_sources.push(Box::new(FrameGrid::new(l)?));
    }
    let mut assoc: BTreeMap<String, Box<dyn AssociatedSource>> = BTreeMap::new();
    for (name, inst) in associated {
        assoc.insert(name, Box::new(FrameGrid::new(inst)?));
    }
    Ok(Opened {
        vendor: "dicom".into(),
        levels: level_sources,
        downsamples: None,
        properties,
        associated: assoc,
    })
}

fn keyword(tag: Tag) -> Option<&'static str> {
    StandardDataDictionary.by_tag(tag).map(|e| e.alias())
}

/// Every known attribute as `dicom.Keyword`, `dicom.Keyword[i]` for
/// multiple values and `dicom.Sequence[i].Keyword` inside sequences, as
/// OpenSlide names them. Binary values are left out.
fn flatten(obj: &InMemDicomObject, prefix: &str, props: &mut BTreeMap<String, String>) {
    use dicom_core::VR;
    for element in obj.iter() {
        let tag = element.header().tag;
        let Some(k) = keyword(tag) else { continue };
        match element.value() {
            Value::Sequence(seq) => {
                for (i, item) in seq.items().iter().enumerate() {
                    flatten(item, &format!("{prefix}.{k}[{i}]"), props);
                }
            }
            Value::PixelSequence(_) => {}
            Value::Primitive(p) => {
                let values: Vec<String> = match element.vr() {
                    VR::OB | VR::OW | VR::OF | VR::OD | VR::OL | VR::OV | VR::UN => continue,
                    VR::FL | VR::FD => match p.to_multi_float64() {
                        Ok(v) => v.into_iter().map(crate::format_double).collect(),
                        Err(_) => continue,
                    },
                    VR::SS | VR::US | VR::SL | VR::UL | VR::SV | VR::UV => {
                        match p.to_multi_int::<i128>() {
                            Ok(v) => v.into_iter().map(|x| x.to_string()).collect(),
                            Err(_) => continue,
                        }
                    }
                    // A tag value reads as its group and element numbers.
                    VR::AT => match p {
                        dicom_core::PrimitiveValue::Tags(t) => t
                            .iter()
                            .flat_map(|t| [t.0.to_string(), t.1.to_string()])
                            .collect(),
                        _ => continue,
                    },
                    // Decimal and integer strings keep their stored text.
                    VR::DS | VR::IS => p
                        .to_multi_str()
                        .iter()
                        .map(|s| s.trim_end_matches('\0').to_string())
                        .collect(),
                    _ => p
                        .to_multi_str()
                        .iter()
                        .map(|s| s.trim_end_matches(['\0', ' ']).to_string())
                        .collect(),
                };
                match values.len() {
                    0 => {
                        props.insert(format!("{prefix}.{k}"), String::new());
                    }
                    1 => {
                        props.insert(
                            format!("{prefix}.{k}"),
                            values.into_iter().next().unwrap_or_default(),
                        );
                    }
                    _ => {
                        for (i, v) in values.into_iter().enumerate() {
                            props.insert(format!("{prefix}.{k}[{i}]"), v);
                        }
                    }
                }
            }
        }
    }
}
