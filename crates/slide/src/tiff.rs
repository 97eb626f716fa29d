//! TIFF, BigTIFF and NDPI directory parsing.
//!
//! Hand-written rather than on the `tiff` crate because slides need what that
//! crate does not offer: Hamamatsu NDPI's "classic TIFF with 64-bit next-IFD
//! pointers and implied high offset bits", SubIFD pyramids (OME-TIFF), lazy
//! loading of million-entry tile tables, and a hard bound on every count a
//! hostile file can write. Values are only read when asked for.

use crate::error::{Fault, FaultResult};
use crate::source::{ByteSource, ByteSourceExt};
use std::collections::HashSet;

pub mod tag {
    pub const NEW_SUBFILE_TYPE: u16 = 254;
    pub const IMAGE_WIDTH: u16 = 256;
    pub const IMAGE_LENGTH: u16 = 257;
    pub const BITS_PER_SAMPLE: u16 = 258;
    pub const COMPRESSION: u16 = 259;
    pub const PHOTOMETRIC: u16 = 262;
    pub const DOCUMENT_NAME: u16 = 269;
    pub const IMAGE_DESCRIPTION: u16 = 270;
    pub const MAKE: u16 = 271;
    pub const MODEL: u16 = 272;
    pub const STRIP_OFFSETS: u16 = 273;
    pub const SAMPLES_PER_PIXEL: u16 = 277;
    pub const ROWS_PER_STRIP: u16 = 278;
    pub const STRIP_BYTE_COUNTS: u16 = 279;
    pub const X_RESOLUTION: u16 = 282;
    pub const Y_RESOLUTION: u16 = 283;
    pub const PLANAR_CONFIG: u16 = 284;
    pub const X_POSITION: u16 = 286;
    pub const Y_POSITION: u16 = 287;
    pub const RESOLUTION_UNIT: u16 = 296;
    pub const SOFTWARE: u16 = 305;
    pub const DATE_TIME: u16 = 306;
    pub const ARTIST: u16 = 315;
    pub const HOST_COMPUTER: u16 = 316;
    pub const PREDICTOR: u16 = 317;
    pub const TILE_WIDTH: u16 = 322;
    pub const TILE_LENGTH: u16 = 323;
    pub const TILE_OFFSETS: u16 = 324;
    pub const TILE_BYTE_COUNTS: u16 = 325;
    pub const SUB_IFDS: u16 = 330;
    pub const EXTRA_SAMPLES: u16 = 338;
    pub const SAMPLE_FORMAT: u16 = 339;
    pub const JPEG_TABLES: u16 = 347;
    pub const YCBCR_SUBSAMPLING: u16 = 530;
    pub const XMP: u16 = 700;
    pub const COPYRIGHT: u16 = 33432;
    pub const ICC_PROFILE: u16 = 34675;
    pub const NDPI_FORMAT_FLAG: u16 = 65420;
    pub const NDPI_SOURCE_LENS: u16 = 65421;
    pub const NDPI_X_OFFSET: u16 = 65422;
    pub const NDPI_Y_OFFSET: u16 = 65423;
    pub const NDPI_FOCAL_PLANE: u16 = 65424;
    pub const NDPI_MCU_STARTS: u16 = 65426;
    pub const NDPI_REFERENCE: u16 = 65427;
    pub const NDPI_PROPERTY_MAP: u16 = 65449;
}

/// A directory count above this is not a slide, it is an attack or garbage.
const MAX_ENTRIES_PER_IFD: u64 = 4096;
/// Real slides hold at most a few dozen directories (NDPI z-stacks ~ hundreds).
const MAX_IFDS: usize = 8192;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteOrder {
    Little,
    Big,
}

impl ByteOrder {
    fn u16(self, b: [u8; 2]) -> u16 {
        match self {
            ByteOrder::Little => u16::from_le_bytes(b),
            ByteOrder::Big => u16::from_be_bytes(b),
        }
    }
    fn u32(self, b: [u8; 4]) -> u32 {
        match self {
            ByteOrder::Little => u32::from_le_bytes(b),
            ByteOrder::Big => u32::from_be_bytes(b),
        }
    }
    fn u64(self, b: [u8; 8]) -> u64 {
        match self {
            ByteOrder::Little => u64::from_le_bytes(b),
            ByteOrder::Big => u64::from_be_bytes(b),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub tag: u16,
    pub field_type: u16,
    pub count: u64,
    /// The raw value/offset field, as stored.
    raw: [u8; 8],
    /// Absolute offset of the values when they do not fit inline.
    values_offset: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct Ifd {
    /// Index in the main chain ("IFD 3") or "IFD 0 SubIFD 2" for error messages.
    pub name: String,
    pub offset: u64,
    entries: Vec<Entry>,
    pub sub_ifds: Vec<Ifd>,
}

impl Ifd {
    pub fn entry(&self, tag: u16) -> Option<&Entry> {
        self.entries
            .binary_search_by_key(&tag, |e| e.tag)
            .ok()
            .map(|i| &self.entries[i])
    }
    pub fn has(&self, tag: u16) -> bool {
        self.entry(tag).is_some_and(|e| e.count > 0)
    }
    pub fn tags(&self) -> impl Iterator<Item = u16> + '_ {
        self.entries.iter().map(|e| e.tag)
    }
}

#[derive(Debug, Clone)]
pub struct Tiff {
    pub order: ByteOrder,
    pub bigtiff: bool,
    /// Hamamatsu NDPI: classic TIFF whose offsets can exceed 4 GiB.
    pub ndpi: bool,
    pub ifds: Vec<Ifd>,
}

/// A decoded tag value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Uints(Vec<u64>),
    Sints(Vec<i64>),
    Floats(Vec<f64>),
    Ascii(String),
    Bytes(Vec<u8>),
}

fn type_size(field_type: u16) -> Option<u64> {
    Some(match field_type {
        1 | 2 | 6 | 7 => 1,
        3 | 8 => 2,
        4 | 9 | 11 | 13 => 4,
        5 | 10 | 12 | 16 | 17 | 18 => 8,
        _ => return None,
    })
}

fn type_name(field_type: u16) -> &'static str {
    match field_type {
        1 => "BYTE",
        2 => "ASCII",
        3 => "SHORT",
        4 => "LONG",
        5 => "RATIONAL",
        6 => "SBYTE",
        7 => "UNDEFINED",
        8 => "SSHORT",
        9 => "SLONG",
        10 => "SRATIONAL",
        11 => "FLOAT",
        12 => "DOUBLE",
        13 => "IFD",
        16 => "LONG8",
        17 => "SLONG8",
        18 => "IFD8",
        _ => "unknown",
    }
}

/// Re-add the high 32 bits NDPI drops from an offset: the largest value below
/// the directory's own offset (NDPI writes directories after their data).
pub fn fix_ndpi_offset(dir_offset: u64, offset: u64) -> u64 {
    let result = (dir_offset & !0xffff_ffff) | (offset & 0xffff_ffff);
    if result >= dir_offset {
        result.checked_sub(1 << 32).unwrap_or(result)
    } else {
        result
    }
}

/// True when the first bytes are a TIFF or BigTIFF header.
pub fn is_tiff_header(head: &[u8]) -> bool {
    matches!(
        head.get(..4),
        Some(b"II*\0") | Some(b"MM\0*") | Some(b"II+\0") | Some(b"MM\0+")
    )
}

struct Walker<'a> {
    src: &'a dyn ByteSource,
    order: ByteOrder,
    bigtiff: bool,
    ndpi: bool,
    visited: HashSet<u64>,
    first: Option<Ifd>,
}

impl Walker<'_> {
    /// Read one directory; returns it and the offset of the next one (0 = end).
    fn read_ifd(&mut self, offset: u64, name: String) -> FaultResult<(Ifd, u64)> {
        let part = name.as_str();
        if offset == 0 || offset >= self.src.len() {
            return Err(Fault::corrupt(
                part,
                format!(
                    "directory offset {offset} is outside the file ({} bytes)",
                    self.src.len()
                ),
            ));
        }
        if !self.visited.insert(offset) {
            return Err(Fault::corrupt(
                part,
                format!("directory loop: offset {offset} was already read"),
            ));
        }
        if self.visited.len() > MAX_IFDS {
            return Err(Fault::limit(
                part,
                format!("more than {MAX_IFDS} directories"),
            ));
        }
        let (count_size, entry_size, value_size) = if self.bigtiff {
            (8u64, 20u64, 8usize)
        } else {
            (2, 12, 4)
        };
        let count = if self.bigtiff {
            self.order.u64(self.src.read_array::<8>(offset, part)?)
        } else {
            u64::from(self.order.u16(self.src.read_array::<2>(offset, part)?))
        };
        if count > MAX_ENTRIES_PER_IFD {
            return Err(Fault::limit(
                part,
                format!("{count} entries, more than the {MAX_ENTRIES_PER_IFD} allowed"),
            ));
        }
        let next_size = if self.bigtiff || self.ndpi { 8 } else { 4 };
        let body = self
            .src
            .read_vec(offset + count_size, count * entry_size + next_size, part)?;
        let mut entries = Vec::with_capacity(count as usize);
        for chunk in body[..(count * entry_size) as usize].chunks_exact(entry_size as usize) {
            let tag = self.order.u16([chunk[0], chunk[1]]);
            let field_type = self.order.u16([chunk[2], chunk[3]]);
            let (count, raw_field) = if self.bigtiff {
                (
                    self.order.u64(chunk[4..12].try_into().expect("8 bytes")),
                    &chunk[12..20],
                )
            } else {
                (
                    u64::from(self.order.u32(chunk[4..8].try_into().expect("4 bytes"))),
                    &chunk[8..12],
                )
            };
            let mut raw = [0u8; 8];
            raw[..value_size].copy_from_slice(raw_field);
            let values_offset = match type_size(field_type) {
                // Unknown types are kept (a later lookup reports them) but
                // never dereferenced.
                None => None,
                Some(size) => {
                    let total = size.checked_mul(count).ok_or_else(|| {
                        Fault::corrupt(part, format!("tag {tag}: value count {count} overflows"))
                    })?;
                    if total <= value_size as u64 {
                        None
                    } else {
                        let stored = if self.bigtiff {
                            self.order.u64(raw)
                        } else {
                            u64::from(self.order.u32(raw[..4].try_into().expect("4 bytes")))
                        };
                        let fixed = if self.ndpi {
                            // A value shared with the first directory keeps its
                            // offset there (OpenSlide's rule for NDPI).
                            let shared =
                                self.first
                                    .as_ref()
                                    .and_then(|f| f.entry(tag))
                                    .and_then(|e| {
                                        let first_stored =
                                            u64::from(self.order.u32(e.raw[..4].try_into().ok()?));
                                        (first_stored == stored)
                                            .then_some(e.values_offset)
                                            .flatten()
                                    });
                            shared.unwrap_or_else(|| fix_ndpi_offset(offset, stored))
                        } else {
                            stored
                        };
                        Some(fixed)
                    }
                }
            };
            entries.push(Entry {
                tag,
                field_type,
                count,
                raw,
                values_offset,
            });
        }
        let tail = &body[(count * entry_size) as usize..];
        let next = if next_size == 8 {
            self.order.u64(tail.try_into().expect("8 bytes"))
        } else {
            u64::from(self.order.u32(tail.try_into().expect("4 bytes")))
        };
        entries.sort_by_key(|e| e.tag);
        entries.dedup_by_key(|e| e.tag);
        Ok((
            Ifd {
                name,
                offset,
                entries,
                sub_ifds: Vec::new(),
            },
            next,
        ))
    }
}

impl Tiff {
    /// Parse the header and every directory (and SubIFD) of a TIFF, BigTIFF
    /// or NDPI file. Values stay on disk until asked for.
    pub fn parse(src: &dyn ByteSource) -> FaultResult<Tiff> {
        let head: [u8; 16] = if src.len() >= 16 {
            src.read_array::<16>(0, "TIFF header")?
        } else {
            let mut h = [0u8; 16];
            let n = src.len() as usize;
            src.read_exact_at(0, &mut h[..n])
                .map_err(|e| Fault::io("TIFF header", &e))?;
            if n < 8 {
                return Err(Fault::corrupt(
                    "TIFF header",
                    format!("file is only {n} bytes long"),
                ));
            }
            h
        };
        let order = match &head[..2] {
            b"II" => ByteOrder::Little,
            b"MM" => ByteOrder::Big,
            _ => return Err(Fault::unsupported("TIFF header", "no TIFF byte-order mark")),
        };
        let version = order.u16([head[2], head[3]]);
        let bigtiff = match version {
            42 => false,
            43 => {
                let offset_size = order.u16([head[4], head[5]]);
                let pad = order.u16([head[6], head[7]]);
                if offset_size != 8 || pad != 0 {
                    return Err(Fault::corrupt(
                        "BigTIFF header",
                        format!("offset size {offset_size} and padding {pad}, expected 8 and 0"),
                    ));
                }
                true
            }
            v => {
                return Err(Fault::unsupported(
                    "TIFF header",
                    format!("unknown TIFF version {v}"),
                ));
            }
        };
        let mut walker = Walker {
            src,
            order,
            bigtiff,
            ndpi: false,
            visited: HashSet::new(),
            first: None,
        };
        let mut ifds = Vec::new();
        let mut next = if bigtiff {
            order.u64(head[8..16].try_into().expect("8 bytes"))
        } else {
            // NDPI is classic TIFF pretending to be BigTIFF: if the first
            // offset read as 64 bits leads to a directory with the NDPI tag,
            // the file is NDPI (OpenSlide's detection rule).
            let wide = order.u64(head[4..12].try_into().expect("8 bytes"));
            walker.ndpi = true;
            let trial = walker.read_ifd(wide, "IFD 0".into());
            match trial {
                Ok((ifd, next)) if ifd.has(tag::NDPI_FORMAT_FLAG) => {
                    walker.first = Some(ifd.clone());
                    ifds.push(ifd);
                    next
                }
                _ => {
                    walker.ndpi = false;
                    walker.visited.clear();
                    u64::from(order.u32(head[4..8].try_into().expect("4 bytes")))
                }
            }
        };
        if next == 0 && ifds.is_empty() {
            return Err(Fault::corrupt("TIFF header", "the file has no directories"));
        }
        while next != 0 {
            let name = format!("IFD {}", ifds.len());
            let (ifd, following) = walker.read_ifd(next, name)?;
            if walker.first.is_none() {
                walker.first = Some(ifd.clone());
            }
            ifds.push(ifd);
            next = following;
        }
        let mut tiff = Tiff {
            order,
            bigtiff,
            ndpi: walker.ndpi,
            ifds,
        };
        // SubIFD trees (OME-TIFF pyramids). One level deep is all any slide
        // format uses.
        for i in 0..tiff.ifds.len() {
            let offsets = match tiff.ifds[i].entry(tag::SUB_IFDS) {
                Some(_) => tiff.uints(src, &tiff.ifds[i], tag::SUB_IFDS)?,
                None => continue,
            };
            let mut subs = Vec::with_capacity(offsets.len().min(64));
            for (k, off) in offsets.iter().enumerate() {
                let name = format!("{} SubIFD {k}", tiff.ifds[i].name);
                let (sub, _) = walker.read_ifd(*off, name)?;
                subs.push(sub);
            }
            tiff.ifds[i].sub_ifds = subs;
        }
        Ok(tiff)
    }

    fn part(ifd: &Ifd, tag: u16) -> String {
        format!("{} tag {}", ifd.name, tag_name(tag))
    }

    /// Read and decode all values of a tag.
    pub fn value(&self, src: &dyn ByteSource, ifd: &Ifd, tag: u16) -> FaultResult<Option<Value>> {
        let Some(e) = ifd.entry(tag) else {
            return Ok(None);
        };
        let part = Self::part(ifd, tag);
        let size = type_size(e.field_type)
            .ok_or_else(|| Fault::corrupt(&part, format!("unknown field type {}", e.field_type)))?;
        let len = size * e.count;
        let bytes = match e.values_offset {
            None => e.raw[..len as usize].to_vec(),
            Some(off) => src.read_vec(off, len, &part)?,
        };
        let o = self.order;
        let v = match e.field_type {
            1 => Value::Uints(bytes.iter().map(|&b| u64::from(b)).collect()),
            7 => Value::Bytes(bytes),
            2 => {
                // Keep text up to the first NUL, as libtiff and OpenSlide do.
                let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
                Value::Ascii(String::from_utf8_lossy(&bytes[..end]).into_owned())
            }
            3 => Value::Uints(
                bytes
                    .chunks_exact(2)
                    .map(|c| u64::from(o.u16([c[0], c[1]])))
                    .collect(),
            ),
            4 | 13 => Value::Uints(
                bytes
                    .chunks_exact(4)
                    .map(|c| u64::from(o.u32(c.try_into().expect("4"))))
                    .collect(),
            ),
            16 | 18 => Value::Uints(
                bytes
                    .chunks_exact(8)
                    .map(|c| o.u64(c.try_into().expect("8")))
                    .collect(),
            ),
            6 => Value::Sints(bytes.iter().map(|&b| i64::from(b as i8)).collect()),
            8 => Value::Sints(
                bytes
                    .chunks_exact(2)
                    .map(|c| i64::from(o.u16([c[0], c[1]]) as i16))
                    .collect(),
            ),
            9 => Value::Sints(
                bytes
                    .chunks_exact(4)
                    .map(|c| i64::from(o.u32(c.try_into().expect("4")) as i32))
                    .collect(),
            ),
            17 => Value::Sints(
                bytes
                    .chunks_exact(8)
                    .map(|c| o.u64(c.try_into().expect("8")) as i64)
                    .collect(),
            ),
            5 => Value::Floats(
                bytes
                    .chunks_exact(8)
                    .map(|c| {
                        let n = o.u32(c[..4].try_into().expect("4"));
                        let d = o.u32(c[4..].try_into().expect("4"));
                        f64::from(n) / f64::from(d)
                    })
                    .collect(),
            ),
            10 => Value::Floats(
                bytes
                    .chunks_exact(8)
                    .map(|c| {
                        let n = o.u32(c[..4].try_into().expect("4")) as i32;
                        let d = o.u32(c[4..].try_into().expect("4")) as i32;
                        f64::from(n) / f64::from(d)
                    })
                    .collect(),
            ),
            11 => Value::Floats(
                bytes
                    .chunks_exact(4)
                    .map(|c| f64::from(f32::from_bits(o.u32(c.try_into().expect("4")))))
                    .collect(),
            ),
            12 => Value::Floats(
                bytes
                    .chunks_exact(8)
                    .map(|c| f64::from_bits(o.u64(c.try_into().expect("8"))))
                    .collect(),
            ),
            t => return Err(Fault::corrupt(&part, format!("unknown field type {t}"))),
        };
        Ok(Some(v))
    }

    fn type_error(ifd: &Ifd, tag: u16, wanted: &str) -> Fault {
        let found = ifd
            .entry(tag)
            .map(|e| type_name(e.field_type))
            .unwrap_or("-");
        Fault::corrupt(
            Self::part(ifd, tag),
            format!("has type {found}, expected {wanted}"),
        )
    }

    /// All values of an unsigned-integer tag (empty if absent).
    pub fn uints(&self, src: &dyn ByteSource, ifd: &Ifd, tag: u16) -> FaultResult<Vec<u64>> {
        match self.value(src, ifd, tag)? {
            None => Ok(Vec::new()),
            Some(Value::Uints(v)) => Ok(v),
            Some(_) => Err(Self::type_error(ifd, tag, "an unsigned integer")),
        }
    }

    /// The first value of an unsigned-integer tag.
    pub fn uint(&self, src: &dyn ByteSource, ifd: &Ifd, tag: u16) -> FaultResult<Option<u64>> {
        let Some(e) = ifd.entry(tag) else {
            return Ok(None);
        };
        if e.count == 0 {
            return Ok(None);
        }
        if !matches!(e.field_type, 1 | 3 | 4 | 13 | 16 | 18) {
            return Err(Self::type_error(ifd, tag, "an unsigned integer"));
        }
        // Read just the first value: a huge array tag must not be loaded to
        // answer a scalar question.
        let size = type_size(e.field_type).expect("known type");
        let bytes = match e.values_offset {
            None => e.raw[..size as usize].to_vec(),
            Some(off) => src.read_vec(off, size, &Self::part(ifd, tag))?,
        };
        let o = self.order;
        Ok(Some(match size {
            1 => u64::from(bytes[0]),
            2 => u64::from(o.u16([bytes[0], bytes[1]])),
            4 => u64::from(o.u32(bytes[..4].try_into().expect("4"))),
            _ => o.u64(bytes[..8].try_into().expect("8")),
        }))
    }

    pub fn required_uint(&self, src: &dyn ByteSource, ifd: &Ifd, tag: u16) -> FaultResult<u64> {
        self.uint(src, ifd, tag)?
            .ok_or_else(|| Fault::corrupt(Self::part(ifd, tag), "required tag is missing"))
    }

    pub fn sint(&self, src: &dyn ByteSource, ifd: &Ifd, tag: u16) -> FaultResult<Option<i64>> {
        match self.value(src, ifd, tag)? {
            None => Ok(None),
            Some(Value::Sints(v)) => Ok(v.first().copied()),
            Some(Value::Uints(v)) => Ok(v.first().map(|&u| u as i64)),
            Some(_) => Err(Self::type_error(ifd, tag, "an integer")),
        }
    }

    pub fn float(&self, src: &dyn ByteSource, ifd: &Ifd, tag: u16) -> FaultResult<Option<f64>> {
        match self.value(src, ifd, tag)? {
            None => Ok(None),
            Some(Value::Floats(v)) => Ok(v.first().copied()),
            Some(Value::Uints(v)) => Ok(v.first().map(|&u| u as f64)),
            Some(Value::Sints(v)) => Ok(v.first().map(|&s| s as f64)),
            Some(_) => Err(Self::type_error(ifd, tag, "a number")),
        }
    }

    /// Text of an ASCII (or BYTE/UNDEFINED, as some vendors write) tag.
    pub fn ascii(&self, src: &dyn ByteSource, ifd: &Ifd, tag: u16) -> FaultResult<Option<String>> {
        match self.value(src, ifd, tag)? {
            None => Ok(None),
            Some(Value::Ascii(s)) => Ok(Some(s)),
            Some(Value::Bytes(b)) => {
                let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
                Ok(Some(String::from_utf8_lossy(&b[..end]).into_owned()))
            }
            Some(Value::Uints(v)) if ifd.entry(tag).is_some_and(|e| e.field_type == 1) => {
                let b: Vec<u8> = v.iter().map(|&x| x as u8).collect();
                let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
                Ok(Some(String::from_utf8_lossy(&b[..end]).into_owned()))
            }
            Some(_) => Err(Self::type_error(ifd, tag, "text")),
        }
    }

    /// Raw bytes of a BYTE/UNDEFINED tag (JPEGTables, ICC profile).
    pub fn bytes(&self, src: &dyn ByteSource, ifd: &Ifd, tag: u16) -> FaultResult<Option<Vec<u8>>> {
        match self.value(src, ifd, tag)? {
            None => Ok(None),
            Some(Value::Bytes(b)) => Ok(Some(b)),
            Some(Value::Uints(v)) if ifd.entry(tag).is_some_and(|e| e.field_type == 1) => {
                Ok(Some(v.iter().map(|&x| x as u8).collect()))
            }
            Some(Value::Ascii(s)) => Ok(Some(s.into_bytes())),
            Some(_) => Err(Self::type_error(ifd, tag, "bytes")),
        }
    }

    /// Number of values a tag holds, without reading them.
    pub fn count(&self, ifd: &Ifd, tag: u16) -> u64 {
        ifd.entry(tag).map_or(0, |e| e.count)
    }

    /// All directories, main chain first, then every SubIFD in order.
    pub fn all_ifds(&self) -> impl Iterator<Item = &Ifd> {
        self.ifds
            .iter()
            .flat_map(|ifd| std::iter::once(ifd).chain(ifd.sub_ifds.iter()))
    }
}

pub fn tag_name(tag: u16) -> String {
    let name = match tag {
        tag::IMAGE_WIDTH => "ImageWidth",
        tag::IMAGE_LENGTH => "ImageLength",
        tag::BITS_PER_SAMPLE => "BitsPerSample",
        tag::COMPRESSION => "Compression",
        tag::PHOTOMETRIC => "PhotometricInterpretation",
        tag::IMAGE_DESCRIPTION => "ImageDescription",
        tag::STRIP_OFFSETS => "StripOffsets",
        tag::SAMPLES_PER_PIXEL => "SamplesPerPixel",
        tag::ROWS_PER_STRIP => "RowsPerStrip",
        tag::STRIP_BYTE_COUNTS => "StripByteCounts",
        tag::X_RESOLUTION => "XResolution",
        tag::Y_RESOLUTION => "YResolution",
        tag::PLANAR_CONFIG => "PlanarConfiguration",
        tag::RESOLUTION_UNIT => "ResolutionUnit",
        tag::PREDICTOR => "Predictor",
        tag::TILE_WIDTH => "TileWidth",
        tag::TILE_LENGTH => "TileLength",
        tag::TILE_OFFSETS => "TileOffsets",
        tag::TILE_BYTE_COUNTS => "TileByteCounts",
        tag::SUB_IFDS => "SubIFDs",
        tag::JPEG_TABLES => "JPEGTables",
        tag::NDPI_MCU_STARTS => "NDPI McuStarts",
        tag::NDPI_SOURCE_LENS => "NDPI SourceLens",
        _ => return format!("{tag}"),
    };
    format!("{name} ({tag})")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A little-endian classic TIFF with the given directories, each a list
    /// of (tag, type, count, inline value).
    pub(crate) fn classic(dirs: &[&[(u16, u16, u32, u32)]]) -> Vec<u8> {
        let mut out = b"II*\0".to_vec();
        out.extend_from_slice(&8u32.to_le_bytes());
        for (i, dir) in dirs.iter().enumerate() {
            out.extend_from_slice(&(dir.len() as u16).to_le_bytes());
            for &(tag, ty, count, value) in dir.iter() {
                out.extend_from_slice(&tag.to_le_bytes());
                out.extend_from_slice(&ty.to_le_bytes());
                out.extend_from_slice(&count.to_le_bytes());
                out.extend_from_slice(&value.to_le_bytes());
            }
            let next = if i + 1 < dirs.len() {
                out.len() as u32 + 4
            } else {
                0
            };
            out.extend_from_slice(&next.to_le_bytes());
        }
        out
    }

    #[test]
    fn parses_chain_and_values() {
        let bytes = classic(&[
            &[(256, 3, 1, 640), (257, 4, 1, 480)],
            &[(256, 3, 1, 320), (257, 3, 1, 240)],
        ]);
        let t = Tiff::parse(&bytes).unwrap();
        assert_eq!(t.ifds.len(), 2);
        assert_eq!(t.uint(&bytes, &t.ifds[1], 256).unwrap(), Some(320));
        assert_eq!(t.uint(&bytes, &t.ifds[0], 257).unwrap(), Some(480));
        assert!(!t.ndpi && !t.bigtiff);
    }

    #[test]
    fn loop_is_an_error() {
        let mut bytes = classic(&[&[(256, 3, 1, 1)]]);
        // point the next-IFD field back at the first directory
        let n = bytes.len();
        bytes[n - 4..].copy_from_slice(&8u32.to_le_bytes());
        let err = Tiff::parse(&bytes).unwrap_err();
        assert!(err.reason.contains("loop"), "{err}");
    }

    #[test]
    fn huge_count_is_bounded() {
        // count of 2^32-1 LONGs stored out of line at an offset past the end
        let bytes = classic(&[&[(324, 4, u32::MAX, 1000)]]);
        let t = Tiff::parse(&bytes).unwrap();
        let err = t.uints(&bytes, &t.ifds[0], 324).unwrap_err();
        assert_eq!(err.kind, crate::ErrorKind::Limit, "{err}");
    }

    #[test]
    fn wrong_type_is_named() {
        let bytes = classic(&[&[(256, 2, 4, u32::from_le_bytes(*b"abc\0"))]]);
        let t = Tiff::parse(&bytes).unwrap();
        let err = t.uint(&bytes, &t.ifds[0], 256).unwrap_err();
        assert!(err.part.contains("ImageWidth"), "{err}");
        assert!(err.reason.contains("ASCII"), "{err}");
    }

    #[test]
    fn ndpi_offsets_gain_high_bits() {
        let dir = 5u64 << 32 | 0x100;
        assert_eq!(fix_ndpi_offset(dir, 0x80), 5u64 << 32 | 0x80);
        assert_eq!(fix_ndpi_offset(dir, 0x200), 4u64 << 32 | 0x200);
        assert_eq!(fix_ndpi_offset(0x1000, 0x2000), 0x2000);
    }
}
