//! Where a DICOM file keeps its pixels: a minimal walk over element headers
//! (never values) to find the top-level Pixel Data element and, for
//! encapsulated transfer syntaxes, the byte range of every fragment.
//!
//! `dicom-object` parses the attributes; it cannot report file positions
//! and would read gigabytes of pixel data to reach the end. Every length
//! read here is checked against the file before it moves the cursor, and
//! nesting and counts are bounded, so a hostile file ends in an error.

use crate::error::{Fault, FaultResult};
use crate::source::{ByteSource, ByteSourceExt};

const PIXEL_DATA: (u16, u16) = (0x7FE0, 0x0010);
const ITEM: (u16, u16) = (0xFFFE, 0xE000);
const ITEM_END: (u16, u16) = (0xFFFE, 0xE00D);
const SEQUENCE_END: (u16, u16) = (0xFFFE, 0xE0DD);
const UNDEFINED: u32 = 0xFFFF_FFFF;
const MAX_DEPTH: u32 = 16;
/// Attributes before the pixels larger than this are not a slide's.
pub const MAX_PREFIX: u64 = 64 << 20;
const MAX_FRAGMENTS: usize = 1 << 24;

pub(crate) const IMPLICIT_VR_LE: &str = "1.2.840.10008.1.2";
pub(crate) const EXPLICIT_VR_LE: &str = "1.2.840.10008.1.2.1";
pub(crate) const JPEG_BASELINE: &str = "1.2.840.10008.1.2.4.50";
pub(crate) const JPEG2000_LOSSLESS: &str = "1.2.840.10008.1.2.4.90";
pub(crate) const JPEG2000: &str = "1.2.840.10008.1.2.4.91";

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PixelData {
    /// Frames stored back to back, uncompressed.
    Native { offset: u64, length: u64 },
    /// Items follow: the basic offset table, then fragments.
    Encapsulated { items: u64 },
}

#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub transfer_syntax: String,
    /// File offset of the Pixel Data element: everything before it is the
    /// attributes, which `dicom-object` parses.
    pub pixel_data_element: u64,
    pub pixel_data: PixelData,
}

struct Header {
    tag: (u16, u16),
    /// The VR as written (explicit VR), if any.
    vr: Option<[u8; 2]>,
    length: u32,
    /// Header size in bytes (the value starts after it).
    size: u64,
}

struct Walker<'a> {
    src: &'a dyn ByteSource,
}

impl Walker<'_> {
    fn header(&self, pos: u64, explicit: bool) -> FaultResult<Header> {
        let part = "DICOM element header";
        let b = self.src.read_array::<8>(pos, part)?;
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
            let l = self.src.read_array::<4>(pos + 8, part)?;
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
            let b = self.src.read_array::<6>(pos, "DICOM element header")?;
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
    fn skip_element(&self, pos: u64, limit: u64, depth: u32, explicit: bool) -> FaultResult<u64> {
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

/// Find the transfer syntax and the Pixel Data element of a DICOM file.
pub(crate) fn locate(src: &dyn ByteSource) -> FaultResult<Layout> {
    let magic = src.read_array::<4>(128, "DICOM preamble")?;
    if &magic != b"DICM" {
        return Err(Fault::unsupported(
            "DICOM preamble",
            "no DICM marker at byte 128",
        ));
    }
    // File meta information: always explicit VR little endian, group 0002.
    let meta = Walker { src };
    let mut pos = 132u64;
    let mut transfer_syntax = None;
    loop {
        let h = meta.header(pos, true)?;
        if h.tag.0 != 0x0002 {
            break;
        }
        if h.tag == (0x0002, 0x0010) {
            let v = src.read_vec(
                pos + h.size,
                u64::from(h.length.min(64)),
                "DICOM transfer syntax",
            )?;
            let text = String::from_utf8_lossy(&v)
                .trim_end_matches(['\0', ' '])
                .to_string();
            transfer_syntax = Some(text);
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
    let walker = Walker { src };
    loop {
        if pos > MAX_PREFIX {
            return Err(Fault::limit(
                "DICOM attributes",
                format!("more than {MAX_PREFIX} bytes of attributes before the pixel data"),
            ));
        }
        let h = walker.header(pos, explicit)?;
        if h.tag == PIXEL_DATA {
            let value = pos + h.size;
            let pixel_data = if h.length == UNDEFINED {
                PixelData::Encapsulated { items: value }
            } else {
                src.check_range(value, u64::from(h.length), "DICOM Pixel Data")?;
                PixelData::Native {
                    offset: value,
                    length: u64::from(h.length),
                }
            };
            return Ok(Layout {
                transfer_syntax,
                pixel_data_element: pos,
                pixel_data,
            });
        }
        if h.tag > PIXEL_DATA && h.tag.0 != 0xFFFE {
            return Err(Fault::corrupt("DICOM data set", "no Pixel Data element"));
        }
        // (skip_element rejects a stray item or delimiter here.)
        pos = walker.skip_element(pos, src.len(), 0, explicit)?;
    }
}

/// Byte ranges of each frame's encapsulated data (a frame may span several
/// fragments). `offset_table`: frame starts relative to the first fragment
/// item (Basic or Extended Offset Table), if the file has one.
pub(crate) fn frame_fragments(
    src: &dyn ByteSource,
    items: u64,
    frames: usize,
    extended_offsets: Option<&[u64]>,
) -> FaultResult<Vec<Vec<(u64, u64)>>> {
    let walker = Walker { src };
    let part = "DICOM encapsulated pixel data";
    let bot = walker.header(items, false)?;
    if bot.tag != ITEM || bot.length == UNDEFINED {
        return Err(Fault::corrupt(part, "missing basic offset table item"));
    }
    src.check_range(items + 8, u64::from(bot.length), part)?;
    let first_fragment = items + 8 + u64::from(bot.length);
    let basic: Vec<u64> = if bot.length > 0 && bot.length as usize == frames * 4 {
        src.read_vec(items + 8, u64::from(bot.length), part)?
            .chunks_exact(4)
            .map(|c| u64::from(u32::from_le_bytes([c[0], c[1], c[2], c[3]])))
            .collect()
    } else {
        Vec::new()
    };
    // (offset of item header relative to the first fragment, value start, length)
    let mut fragments: Vec<(u64, u64, u64)> = Vec::new();
    let mut pos = first_fragment;
    loop {
        let h = walker.header(pos, false)?;
        match h.tag {
            SEQUENCE_END => break,
            ITEM if h.length != UNDEFINED => {
                src.check_range(pos + 8, u64::from(h.length), part)?;
                fragments.push((pos - first_fragment, pos + 8, u64::from(h.length)));
                if fragments.len() > MAX_FRAGMENTS {
                    return Err(Fault::limit(part, "too many fragments"));
                }
                pos += 8 + u64::from(h.length);
            }
            t => {
                return Err(Fault::corrupt(
                    part,
                    format!(
                        "expected a fragment item at byte {pos}, found ({:04X},{:04X})",
                        t.0, t.1
                    ),
                ));
            }
        }
    }
    if fragments.len() == frames {
        return Ok(fragments.iter().map(|&(_, o, l)| vec![(o, l)]).collect());
    }
    if frames == 1 {
        return Ok(vec![fragments.iter().map(|&(_, o, l)| (o, l)).collect()]);
    }
    let starts: &[u64] = match extended_offsets {
        Some(e) if e.len() == frames => e,
        _ if basic.len() == frames => &basic,
        _ => {
            return Err(Fault::corrupt(
                part,
                format!(
                    "{} fragments for {frames} frames and no offset table to group them",
                    fragments.len()
                ),
            ));
        }
    };
    let mut out = Vec::with_capacity(frames);
    for (i, &start) in starts.iter().enumerate() {
        let end = starts.get(i + 1).copied().unwrap_or(u64::MAX);
        if end < start {
            return Err(Fault::corrupt(part, "offset table is not increasing"));
        }
        let ranges: Vec<(u64, u64)> = fragments
            .iter()
            .filter(|(rel, _, _)| *rel >= start && *rel < end)
            .map(|&(_, o, l)| (o, l))
            .collect();
        if ranges.is_empty() {
            return Err(Fault::corrupt(
                part,
                format!("offset table points frame {i} at no fragment"),
            ));
        }
        out.push(ranges);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn element(tag: (u16, u16), vr: &[u8; 2], value: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&tag.0.to_le_bytes());
        v.extend_from_slice(&tag.1.to_le_bytes());
        v.extend_from_slice(vr);
        if matches!(vr, b"OB" | b"SQ" | b"UN") {
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
        f.extend_from_slice(&element(
            (0x0002, 0x0010),
            b"UI",
            b"1.2.840.10008.1.2.4.50\0",
        ));
        f.extend_from_slice(body);
        f
    }

    fn item(value: &[u8]) -> Vec<u8> {
        let mut v = vec![0xFE, 0xFF, 0x00, 0xE0];
        v.extend_from_slice(&(value.len() as u32).to_le_bytes());
        v.extend_from_slice(value);
        v
    }

    fn encapsulated(frames: &[&[u8]]) -> Vec<u8> {
        let mut v = vec![
            0xE0, 0x7F, 0x10, 0x00, b'O', b'B', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
        ];
        v.extend(item(&[]));
        for f in frames {
            v.extend(item(f));
        }
        v.extend_from_slice(&[0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
        v
    }

    #[test]
    fn finds_fragments_after_nested_sequences() {
        // A sequence of undefined length holding an item of undefined length.
        let mut body = element((0x0028, 0x0010), b"US", &256u16.to_le_bytes());
        body.extend_from_slice(&[
            0x08, 0x00, 0x15, 0x11, b'S', b'Q', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
        ]);
        body.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]);
        body.extend(element((0x0008, 0x1150), b"UI", b"1.2\0"));
        body.extend_from_slice(&[0xFE, 0xFF, 0x0D, 0xE0, 0, 0, 0, 0]);
        body.extend_from_slice(&[0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
        body.extend(encapsulated(&[b"abcd", b"efghij"]));
        let f = file(&body);
        let layout = locate(&f).unwrap();
        assert_eq!(layout.transfer_syntax, JPEG_BASELINE);
        let PixelData::Encapsulated { items } = layout.pixel_data else {
            panic!("encapsulated")
        };
        let frames = frame_fragments(&f, items, 2, None).unwrap();
        let read = |r: &(u64, u64)| f[r.0 as usize..(r.0 + r.1) as usize].to_vec();
        assert_eq!(read(&frames[0][0]), b"abcd");
        assert_eq!(read(&frames[1][0]), b"efghij");
        assert!(frame_fragments(&f, items, 3, None).is_err());
    }

    #[test]
    fn lying_lengths_are_errors() {
        let mut body = element((0x0028, 0x0010), b"US", &256u16.to_le_bytes());
        body.extend_from_slice(&[
            0x08, 0x00, 0x16, 0x00, b'O', b'B', 0, 0, 0xF0, 0xFF, 0xFF, 0x7F,
        ]);
        assert!(locate(&file(&body)).is_err());
        // runaway nesting
        let mut deep = Vec::new();
        for _ in 0..40 {
            deep.extend_from_slice(&[
                0x08, 0x00, 0x15, 0x11, b'S', b'Q', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
            ]);
            deep.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]);
        }
        assert!(locate(&file(&deep)).is_err());
        assert!(locate(&vec![0u8; 200]).is_err());
    }
}
