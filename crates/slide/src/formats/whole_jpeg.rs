//! An associated image stored as one complete JPEG: NDPI's macro image (a
//! byte range of the file) and Philips' label/macro (base64 in the XML).

use crate::codec::jpeg;
use crate::error::{Fault, FaultResult};
use crate::source::{ByteSourceExt, SharedSource};
use crate::{AssociatedSource, RgbaImage};

enum Bytes {
    InFile {
        src: SharedSource,
        start: u64,
        length: u64,
    },
    InMemory(Vec<u8>),
}

pub(crate) struct WholeJpeg {
    bytes: Bytes,
    part: String,
    size: (u32, u32),
}

impl WholeJpeg {
    /// A JPEG at `start..start + length` of a file; its size is read from
    /// the header now, the pixels only when asked for.
    pub fn in_file(src: SharedSource, start: u64, length: u64, part: String) -> FaultResult<Self> {
        src.check_range(start, length, &part)?;
        let head = src.read_vec(start, length.min(jpeg::MAX_HEADER_BYTES), &part)?;
        let size = header_size(&head, &part)?;
        Ok(WholeJpeg {
            bytes: Bytes::InFile { src, start, length },
            part,
            size,
        })
    }

    pub fn in_memory(bytes: Vec<u8>, part: String) -> FaultResult<Self> {
        let size = header_size(&bytes, &part)?;
        Ok(WholeJpeg {
            bytes: Bytes::InMemory(bytes),
            part,
            size,
        })
    }
}

/// Reading a header stops at SOS, so the stream's first bytes suffice.
fn header_size(head: &[u8], part: &str) -> FaultResult<(u32, u32)> {
    let h = jpeg::read_header(head, part)?;
    Ok((h.width, h.height))
}

impl AssociatedSource for WholeJpeg {
    fn size(&self) -> (u32, u32) {
        self.size
    }
    fn read(&self) -> FaultResult<RgbaImage> {
        let read;
        let bytes = match &self.bytes {
            Bytes::InFile { src, start, length } => {
                read = src.read_vec(*start, *length, &self.part)?;
                &read
            }
            Bytes::InMemory(b) => b,
        };
        if bytes.is_empty() {
            return Err(Fault::corrupt(&self.part, "empty JPEG"));
        }
        let pixels = jpeg::decode_rgba(bytes, 1, self.size, None, &self.part)?;
        Ok(RgbaImage {
            width: self.size.0,
            height: self.size.1,
            pixels,
        })
    }
}
