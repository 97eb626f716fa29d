//! DICOM files walked by their element headers, never their values: every
//! length is checked against its container (and the file) before anything
//! moves past it, nesting and counts are bounded, and binary values must
//! fill their length exactly. A file that passes can be handed to a full
//! parser (`dicom-object`) without it ever meeting a length that claims
//! more than the file holds, so no hostile length becomes an allocation.
//!
//! The slide library uses this to find where frames lie without reading
//! gigabytes of pixels; the annotations library checks a whole DICOM ANN
//! file with it before parsing.

use std::fmt;

pub const PIXEL_DATA: (u16, u16) = (0x7FE0, 0x0010);
pub const ITEM: (u16, u16) = (0xFFFE, 0xE000);
pub const ITEM_END: (u16, u16) = (0xFFFE, 0xE00D);
pub const SEQUENCE_END: (u16, u16) = (0xFFFE, 0xE0DD);
pub const UNDEFINED: u32 = 0xFFFF_FFFF;
const MAX_DEPTH: u32 = 16;

pub const IMPLICIT_VR_LE: &str = "1.2.840.10008.1.2";
pub const EXPLICIT_VR_LE: &str = "1.2.840.10008.1.2.1";
pub const JPEG_BASELINE: &str = "1.2.840.10008.1.2.4.50";
pub const JPEG2000_LOSSLESS: &str = "1.2.840.10008.1.2.4.90";
pub const JPEG2000: &str = "1.2.840.10008.1.2.4.91";

/// Bytes read at offsets: a file, a mapping or a buffer.
pub trait Bytes {
    fn len(&self) -> u64;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()>;
}

impl Bytes for &[u8] {
    fn len(&self) -> u64 {
        <[u8]>::len(self) as u64
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        let start = usize::try_from(offset).ok();
        match start.and_then(|s| self.get(s..s.checked_add(buf.len())?)) {
            Some(src) => {
                buf.copy_from_slice(src);
                Ok(())
            }
            None => Err(std::io::ErrorKind::UnexpectedEof.into()),
        }
    }
}

/// What kind of failure (the same distinctions the readers above make).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    Io,
    Unsupported,
    Corrupt,
    Limit,
}

/// A failure: where in the file ("DICOM element (0008,1115) at byte 812"),
/// and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub kind: FaultKind,
    pub part: String,
    pub reason: String,
}

impl Fault {
    fn new(kind: FaultKind, part: impl Into<String>, reason: impl Into<String>) -> Self {
        Fault {
            kind,
            part: part.into(),
            reason: reason.into(),
        }
    }
    pub fn corrupt(part: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::new(FaultKind::Corrupt, part, reason)
    }
    pub fn unsupported(part: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::new(FaultKind::Unsupported, part, reason)
    }
    pub fn limit(part: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::new(FaultKind::Limit, part, reason)
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.part, self.reason)
    }
}

pub type FaultResult<T> = Result<T, Fault>;

/// `len` bytes at `offset` lie inside the file.
pub fn check_range(src: &dyn Bytes, offset: u64, len: u64, part: &str) -> FaultResult<()> {
    match offset.checked_add(len) {
        Some(end) if end <= src.len() => Ok(()),
        _ => Err(Fault::corrupt(
            part,
            format!(
                "{len} bytes at offset {offset} lie past the end of the file ({} bytes)",
                src.len()
            ),
        )),
    }
}

fn read_array<const N: usize>(src: &dyn Bytes, offset: u64, part: &str) -> FaultResult<[u8; N]> {
    check_range(src, offset, N as u64, part)?;
    let mut buf = [0u8; N];
    src.read_exact_at(offset, &mut buf)
        .map_err(|e| Fault::new(FaultKind::Io, part, e.to_string()))?;
    Ok(buf)
}

pub struct Header {
    pub tag: (u16, u16),
    /// The VR as written (explicit VR), if any.
    pub vr: Option<[u8; 2]>,
    pub length: u32,
    /// Header size in bytes (the value starts after it).
    pub size: u64,
}

pub struct Walker<'a> {
    src: &'a dyn Bytes,
}

impl<'a> Walker<'a> {
    pub fn new(src: &'a dyn Bytes) -> Self {
        Walker { src }
    }

    /// The element header at `pos` (items and delimiters are always 8 bytes).
    pub fn header(&self, pos: u64, explicit: bool) -> FaultResult<Header> {
        let part = "DICOM element header";
        let b = read_array::<8>(self.src, pos, part)?;
        let tag = (
            u16::from_le_bytes([b[0], b[1]]),
            u16::from_le_bytes([b[2], b[3]]),
        );
        if tag.0 == 0xFFFE || !explicit {
            return Ok(Header {
                tag,
                vr: None,
                length: u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
                size: 8,
            });
        }
        let vr = [b[4], b[5]];
        // Only DICOM's value representations: on anything else parsers
        // disagree about the header's length, and so about every length
        // after it.
        const VRS: [&[u8; 2]; 34] = [
            b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FL", b"FD", b"IS", b"LO", b"LT",
            b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"PN", b"SH", b"SL", b"SQ", b"SS", b"ST",
            b"SV", b"TM", b"UC", b"UI", b"UL", b"UN", b"UR", b"US", b"UT", b"UV",
        ];
        if !VRS.contains(&&vr) {
            return Err(Fault::corrupt(
                format!("DICOM element ({:04X},{:04X}) at byte {pos}", tag.0, tag.1),
                format!("invalid value representation {vr:02x?}"),
            ));
        }
        let long = matches!(
            &vr,
            b"OB"
                | b"OD"
                | b"OF"
                | b"OL"
                | b"OV"
                | b"OW"
                | b"SQ"
                | b"SV"
                | b"UC"
                | b"UN"
                | b"UR"
                | b"UT"
                | b"UV"
        );
        if long {
            let l = read_array::<4>(self.src, pos + 8, part)?;
            Ok(Header {
                tag,
                vr: Some(vr),
                length: u32::from_le_bytes(l),
                size: 12,
            })
        } else {
            Ok(Header {
                tag,
                vr: Some(vr),
                length: u32::from(u16::from_le_bytes([b[6], b[7]])),
                size: 8,
            })
        }
    }

    /// What an element's value holds, if items: nested elements (VR SQ; for
    /// implicit VR, an SQ by the dictionary or any undefined-length element
    /// but Pixel Data; an undefined-length UN is an implicit-VR sequence),
    /// or raw fragments (undefined-length encapsulated pixel data).
    fn item_contents(
        &self,
        pos: u64,
        tag: (u16, u16),
        explicit: bool,
        undefined: bool,
    ) -> FaultResult<Option<Contents>> {
        if explicit {
            let b = read_array::<6>(self.src, pos, "DICOM element header")?;
            return Ok(match (&b[4..6], undefined) {
                (b"SQ", _) => Some(Contents::Elements { explicit: true }),
                (b"UN", true) => Some(Contents::Elements { explicit: false }),
                (_, true) => Some(Contents::Fragments),
                (_, false) => None,
            });
        }
        use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry, VirtualVr};
        let sq = dicom_dictionary_std::StandardDataDictionary
            .by_tag(dicom_core::Tag(tag.0, tag.1))
            .is_some_and(|e| matches!(e.vr(), VirtualVr::Exact(dicom_core::VR::SQ)));
        Ok(match (sq, undefined) {
            (true, _) => Some(Contents::Elements { explicit: false }),
            (false, true) if tag == PIXEL_DATA => Some(Contents::Fragments),
            (false, true) => Some(Contents::Elements { explicit: false }),
            (false, false) => None,
        })
    }

    /// Check the element at `pos` (and everything nested in it) against
    /// `limit`, the end of its container; returns the position after it.
    /// Every length is checked against its container, not only the file,
    /// so a parser later handed these bytes never meets a value that claims
    /// more than its container holds.
    pub fn skip_element(
        &self,
        pos: u64,
        limit: u64,
        depth: u32,
        explicit: bool,
    ) -> FaultResult<u64> {
        let h = self.header(pos, explicit)?;
        if h.tag.0 == 0xFFFE {
            // Items and delimiters belong only where a sequence or item
            // ends; elsewhere parsers resynchronise differently.
            return Err(Fault::corrupt(
                format!("DICOM data set at byte {pos}"),
                format!(
                    "misplaced item or delimiter ({:04X},{:04X})",
                    h.tag.0, h.tag.1
                ),
            ));
        }
        let value = pos + h.size;
        let undefined = h.length == UNDEFINED;
        let end = if undefined {
            None
        } else {
            Some(value + u64::from(h.length))
        };
        if let Some(end) = end
            && end > limit
        {
            return Err(Fault::corrupt(
                format!(
                    "DICOM element ({:04X},{:04X}) at byte {pos}",
                    h.tag.0, h.tag.1
                ),
                format!("its {}-byte value runs past its container", h.length),
            ));
        }
        // Binary numbers must fill their value exactly: parsers that read
        // whole numbers leave the rest behind and lose their place.
        if !undefined
            && let Some(unit) = value_unit(h.vr, h.tag)
            && h.length % unit != 0
        {
            return Err(Fault::corrupt(
                format!(
                    "DICOM element ({:04X},{:04X}) at byte {pos}",
                    h.tag.0, h.tag.1
                ),
                format!(
                    "{}-byte value is not a whole number of {unit}-byte values",
                    h.length
                ),
            ));
        }
        match self.item_contents(pos, h.tag, explicit, undefined)? {
            Some(contents) if h.length > 0 => {
                if depth >= MAX_DEPTH {
                    return Err(Fault::limit("DICOM sequence", "sequences nested too deep"));
                }
                self.items(value, end, limit, depth + 1, contents)
            }
            _ => Ok(end.unwrap_or(value)),
        }
    }

    /// Walk the items of a sequence that ends at `end` (defined length) or
    /// at its delimiter; returns the position after the sequence.
    fn items(
        &self,
        mut pos: u64,
        end: Option<u64>,
        limit: u64,
        depth: u32,
        contents: Contents,
    ) -> FaultResult<u64> {
        let limit = end.unwrap_or(limit);
        loop {
            if Some(pos) == end {
                return Ok(pos);
            }
            if pos + 8 > limit {
                return Err(Fault::corrupt(
                    format!("DICOM sequence at byte {pos}"),
                    "runs past its container",
                ));
            }
            let h = self.header(pos, false)?;
            match (h.tag, contents) {
                (SEQUENCE_END, _) if end.is_none() => return Ok(pos + 8),
                (ITEM, _) if h.length != UNDEFINED => {
                    let item_end = pos + 8 + u64::from(h.length);
                    if item_end > limit {
                        return Err(Fault::corrupt(
                            format!("DICOM item at byte {pos}"),
                            format!("its {} bytes run past its sequence", h.length),
                        ));
                    }
                    if let Contents::Elements { explicit } = contents {
                        let mut p = pos + 8;
                        while p < item_end {
                            p = self.skip_element(p, item_end, depth, explicit)?;
                        }
                    }
                    pos = item_end;
                }
                (ITEM, Contents::Elements { explicit }) => {
                    pos += 8;
                    loop {
                        if pos + 8 > limit {
                            return Err(Fault::corrupt("DICOM item", "no item delimiter"));
                        }
                        if self.header(pos, false)?.tag == ITEM_END {
                            pos += 8;
                            break;
                        }
                        pos = self.skip_element(pos, limit, depth, explicit)?;
                    }
                }
                (t, _) => {
                    return Err(Fault::corrupt(
                        format!("DICOM sequence at byte {pos}"),
                        format!("expected an item, found ({:04X},{:04X})", t.0, t.1),
                    ));
                }
            }
        }
    }
}

/// Size of one value of a binary VR (written, or the dictionary's for
/// implicit VR), if the VR is binary.
fn value_unit(vr: Option<[u8; 2]>, tag: (u16, u16)) -> Option<u32> {
    let vr = match vr {
        Some(v) => v,
        None => {
            use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry, VirtualVr};
            let e = dicom_dictionary_std::StandardDataDictionary
                .by_tag(dicom_core::Tag(tag.0, tag.1))?;
            let VirtualVr::Exact(v) = e.vr() else {
                return None;
            };
            let bytes = v.to_string();
            let b = bytes.as_bytes();
            [*b.first()?, *b.get(1)?]
        }
    };
    Some(match &vr {
        b"US" | b"SS" | b"OW" => 2,
        b"UL" | b"SL" | b"FL" | b"AT" | b"OL" | b"OF" => 4,
        b"FD" | b"SV" | b"UV" | b"OD" | b"OV" => 8,
        _ => return None,
    })
}

#[derive(Debug, Clone, Copy)]
enum Contents {
    Elements { explicit: bool },
    Fragments,
}

/// A file's meta information: its transfer syntax and where the data set
/// begins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMeta {
    pub transfer_syntax: String,
    /// Media Storage SOP Class UID: what the file holds (an image, an
    /// annotation set, ...).
    pub sop_class: Option<String>,
    /// Byte offset of the data set's first element.
    pub data_set: u64,
    /// Explicit VR (every transfer syntax but implicit VR little endian).
    pub explicit: bool,
}

/// Read and check the preamble and the file meta information (group 0002,
/// always explicit VR little endian).
pub fn file_meta(src: &dyn Bytes) -> FaultResult<FileMeta> {
    let magic = read_array::<4>(src, 128, "DICOM preamble")?;
    if &magic != b"DICM" {
        return Err(Fault::unsupported(
            "DICOM preamble",
            "no DICM marker at byte 128",
        ));
    }
    let meta = Walker { src };
    let mut pos = 132u64;
    let mut transfer_syntax = None;
    let mut sop_class = None;
    while pos < src.len() {
        let h = meta.header(pos, true)?;
        if h.tag.0 != 0x0002 {
            break;
        }
        let uid = |what: &str| -> FaultResult<String> {
            check_range(src, pos + h.size, u64::from(h.length), what)?;
            let mut v = vec![0u8; h.length.min(64) as usize];
            src.read_exact_at(pos + h.size, &mut v)
                .map_err(|e| Fault::new(FaultKind::Io, what, e.to_string()))?;
            Ok(String::from_utf8_lossy(&v)
                .trim_end_matches(['\0', ' '])
                .to_string())
        };
        match h.tag {
            (0x0002, 0x0002) => sop_class = Some(uid("DICOM SOP class")?),
            (0x0002, 0x0010) => transfer_syntax = Some(uid("DICOM transfer syntax")?),
            _ => {}
        }
        pos = meta.skip_element(pos, src.len(), 0, true)?;
    }
    let transfer_syntax = transfer_syntax
        .ok_or_else(|| Fault::corrupt("DICOM file meta", "no transfer syntax (0002,0010)"))?;
    let explicit = match transfer_syntax.as_str() {
        IMPLICIT_VR_LE => false,
        "1.2.840.10008.1.2.2" => {
            return Err(Fault::unsupported(
                "DICOM",
                "big-endian transfer syntax (retired)",
            ));
        }
        "1.2.840.10008.1.2.1.99" => {
            return Err(Fault::unsupported("DICOM", "deflated transfer syntax"));
        }
        _ => true,
    };
    Ok(FileMeta {
        transfer_syntax,
        sop_class,
        data_set: pos,
        explicit,
    })
}

/// Check a whole file, every element of its data set to the last byte.
pub fn check_file(src: &dyn Bytes) -> FaultResult<FileMeta> {
    let meta = file_meta(src)?;
    let walker = Walker { src };
    let mut pos = meta.data_set;
    while pos < src.len() {
        pos = walker.skip_element(pos, src.len(), 0, meta.explicit)?;
    }
    Ok(meta)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn element(tag: (u16, u16), vr: &[u8; 2], value: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&tag.0.to_le_bytes());
        v.extend_from_slice(&tag.1.to_le_bytes());
        v.extend_from_slice(vr);
        if matches!(vr, b"OB" | b"OF" | b"SQ" | b"UN") {
            v.extend_from_slice(&[0, 0]);
            v.extend_from_slice(&(value.len() as u32).to_le_bytes());
        } else {
            v.extend_from_slice(&(value.len() as u16).to_le_bytes());
        }
        v.extend_from_slice(value);
        v
    }

    fn file(body: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 128];
        f.extend_from_slice(b"DICM");
        f.extend(element(
            (0x0002, 0x0002),
            b"UI",
            b"1.2.840.10008.5.1.4.1.1.91.1\0",
        ));
        f.extend(element((0x0002, 0x0010), b"UI", b"1.2.840.10008.1.2.1\0"));
        f.extend_from_slice(body);
        f
    }

    fn item(value: &[u8]) -> Vec<u8> {
        let mut v = vec![0xFE, 0xFF, 0x00, 0xE0];
        v.extend_from_slice(&(value.len() as u32).to_le_bytes());
        v.extend_from_slice(value);
        v
    }

    #[test]
    fn a_whole_file_checks_and_names_what_it_holds() {
        let floats: Vec<u8> = [1.5f32, 2.5].iter().flat_map(|f| f.to_le_bytes()).collect();
        let inner = element((0x0066, 0x0016), b"OF", &floats);
        let body = element((0x006A, 0x0002), b"SQ", &item(&inner));
        let f = file(&body);
        let meta = check_file(&f.as_slice()).unwrap();
        assert_eq!(meta.transfer_syntax, EXPLICIT_VR_LE);
        assert_eq!(
            meta.sop_class.as_deref(),
            Some("1.2.840.10008.5.1.4.1.1.91.1")
        );
        assert!(meta.explicit);
    }

    #[test]
    fn lengths_that_outrun_their_container_are_refused() {
        // An OF inside an item that claims 4 GB.
        let mut inner = element((0x0066, 0x0016), b"OF", &[0; 8]);
        inner[8..12].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
        let body = element((0x006A, 0x0002), b"SQ", &item(&inner));
        let f = file(&body);
        let fault = check_file(&f.as_slice()).unwrap_err();
        assert_eq!(fault.kind, FaultKind::Corrupt);
        assert!(fault.reason.contains("runs past"), "{fault}");
        // Floats that do not fill their value exactly.
        let body = element((0x0066, 0x0016), b"OF", &[0; 6]);
        let fault = check_file(&file(&body).as_slice()).unwrap_err();
        assert!(fault.reason.contains("whole number"), "{fault}");
        // No DICM marker: not DICOM at all.
        let fault = check_file(&[0u8; 300].as_slice()).unwrap_err();
        assert_eq!(fault.kind, FaultKind::Unsupported);
    }
}
