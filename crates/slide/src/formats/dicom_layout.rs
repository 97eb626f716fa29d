//! Where a DICOM file keeps its pixels: a walk over element headers (never
//! values, by [`kh_dicom`], which checks every length) to find the
//! top-level Pixel Data element and, for encapsulated transfer syntaxes,
//! the byte range of every fragment.
//!
//! `dicom-object` parses the attributes; it cannot report file positions
//! and would read gigabytes of pixel data to reach the end.

use crate::error::{ErrorKind, Fault, FaultResult};
use crate::source::{ByteSource, ByteSourceExt};
use kh_dicom::{ITEM, PIXEL_DATA, SEQUENCE_END, UNDEFINED, Walker};

const ANN_SOP_CLASS: &str = "1.2.840.10008.5.1.4.1.1.91.1";
/// Attributes before the pixels larger than this are not a slide's.
pub const MAX_PREFIX: u64 = 64 << 20;
const MAX_FRAGMENTS: usize = 1 << 24;

pub(crate) use kh_dicom::{
    EXPLICIT_VR_LE, IMPLICIT_VR_LE, JPEG_BASELINE, JPEG2000, JPEG2000_LOSSLESS,
};

/// A slide's byte source as the walker reads it.
struct Src<'a>(&'a dyn ByteSource);

impl kh_dicom::Bytes for Src<'_> {
    fn len(&self) -> u64 {
        self.0.len()
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        self.0.read_exact_at(offset, buf)
    }
}

impl From<kh_dicom::Fault> for Fault {
    fn from(f: kh_dicom::Fault) -> Self {
        let kind = match f.kind {
            kh_dicom::FaultKind::Io => ErrorKind::Io,
            kh_dicom::FaultKind::Unsupported => ErrorKind::Unsupported,
            kh_dicom::FaultKind::Corrupt => ErrorKind::Corrupt,
            kh_dicom::FaultKind::Limit => ErrorKind::Limit,
        };
        Fault::new(kind, f.part, f.reason)
    }
}

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

/// Find the transfer syntax and the Pixel Data element of a DICOM file.
pub(crate) fn locate(src: &dyn ByteSource) -> FaultResult<Layout> {
    let bytes = Src(src);
    let meta = kh_dicom::file_meta(&bytes)?;
    if meta.sop_class.as_deref() == Some(ANN_SOP_CLASS) {
        return Err(Fault::unsupported(
            "DICOM",
            "Microscopy Bulk Simple Annotations, not an image: open it as annotations \
             (kh annotations, kh view --annotations) over its slide",
        ));
    }
    let (transfer_syntax, explicit, mut pos) = (meta.transfer_syntax, meta.explicit, meta.data_set);
    let walker = Walker::new(&bytes);
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
    let bytes = Src(src);
    let walker = Walker::new(&bytes);
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
