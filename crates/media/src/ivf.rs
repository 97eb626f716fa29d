//! IVF files: compressed VP8, VP9 or AV1 frames, each behind a 12-byte
//! header (size, timestamp), after a 32-byte file header. libvpx's and
//! FFmpeg's tools read and write them (`ffmpeg -i in.webm -c:v copy
//! out.ivf`), so a recorded stream can be replayed into a call without
//! re-encoding: what an 8K stream's transport is measured with on machines
//! that cannot encode 8K in real time.

use crate::VideoCodec;
use std::io::{self, Read, Write};

/// The largest frame accepted from a file: well over an 8K keyframe at
/// 100 Mbit/s. A header claiming more is refused before anything is
/// allocated.
pub const MAX_FRAME_BYTES: u32 = 32 << 20;
const FILE_HEADER: usize = 32;
const FRAME_HEADER: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum IvfError {
    #[error("reading: {0}")]
    Io(#[from] io::Error),
    #[error("not an IVF file: {0}")]
    Format(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IvfHeader {
    pub codec: VideoCodec,
    pub width: u16,
    pub height: u16,
    /// Timestamps count in units of `timebase_num / timebase_den` seconds.
    pub timebase_num: u32,
    pub timebase_den: u32,
    /// As written; writers that stream leave it 0.
    pub frames: u32,
}

/// Whether `prefix` (a file's first bytes) starts an IVF file.
pub fn is_ivf(prefix: &[u8]) -> bool {
    prefix.starts_with(b"DKIF")
}

fn fourcc(codec: VideoCodec) -> Option<&'static [u8; 4]> {
    match codec {
        VideoCodec::Vp8 => Some(b"VP80"),
        VideoCodec::Vp9 => Some(b"VP90"),
        VideoCodec::Av1 => Some(b"AV01"),
        VideoCodec::H264 | VideoCodec::H265 => None,
    }
}

/// One compressed frame and its timestamp (in the file's timebase).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IvfFrame {
    pub timestamp: u64,
    pub data: Vec<u8>,
}

pub struct IvfReader<R: Read> {
    input: R,
    header: IvfHeader,
}

impl<R: Read> IvfReader<R> {
    pub fn new(mut input: R) -> Result<IvfReader<R>, IvfError> {
        let mut bytes = [0u8; FILE_HEADER];
        input.read_exact(&mut bytes)?;
        if !is_ivf(&bytes) {
            return Err(IvfError::Format("no DKIF signature".into()));
        }
        let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]);
        let u32_at =
            |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
        let header_len = usize::from(u16_at(6));
        if !(FILE_HEADER..=1024).contains(&header_len) {
            return Err(IvfError::Format(format!("header length {header_len}")));
        }
        let codec = VideoCodec::ALL
            .into_iter()
            .find(|c| fourcc(*c) == Some(&[bytes[8], bytes[9], bytes[10], bytes[11]]))
            .ok_or_else(|| {
                IvfError::Format(format!(
                    "codec {:?}: VP80, VP90 or AV01",
                    String::from_utf8_lossy(&bytes[8..12])
                ))
            })?;
        let header = IvfHeader {
            codec,
            width: u16_at(12),
            height: u16_at(14),
            timebase_den: u32_at(16),
            timebase_num: u32_at(20),
            frames: u32_at(24),
        };
        if header.width == 0 || header.height == 0 {
            return Err(IvfError::Format("a zero picture size".into()));
        }
        if header.timebase_den == 0 || header.timebase_num == 0 {
            return Err(IvfError::Format("a zero timebase".into()));
        }
        // A longer header than ours: skip the rest.
        io::copy(
            &mut (&mut input).take((header_len - FILE_HEADER) as u64),
            &mut io::sink(),
        )?;
        Ok(IvfReader { input, header })
    }

    pub fn header(&self) -> IvfHeader {
        self.header
    }

    /// The next frame, or `None` at the end of the file.
    pub fn next_frame(&mut self) -> Result<Option<IvfFrame>, IvfError> {
        let mut bytes = [0u8; FRAME_HEADER];
        match read_or_end(&mut self.input, &mut bytes)? {
            0 => return Ok(None),
            FRAME_HEADER => {}
            _ => return Err(IvfError::Format("a frame header cut short".into())),
        }
        let size = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        if size > MAX_FRAME_BYTES {
            return Err(IvfError::Format(format!(
                "a frame of {size} bytes (at most {MAX_FRAME_BYTES})"
            )));
        }
        let timestamp = u64::from_le_bytes(bytes[4..12].try_into().unwrap_or_default());
        let mut data = vec![0u8; size as usize];
        self.input
            .read_exact(&mut data)
            .map_err(|e| match e.kind() {
                io::ErrorKind::UnexpectedEof => IvfError::Format("a frame cut short".into()),
                _ => IvfError::Io(e),
            })?;
        Ok(Some(IvfFrame { timestamp, data }))
    }
}

/// Fill `buf`, or read nothing at a clean end; the bytes read.
fn read_or_end(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

pub struct IvfWriter<W: Write> {
    out: W,
}

impl<W: Write> IvfWriter<W> {
    /// A file of `header.codec` (VP8, VP9 or AV1) frames.
    pub fn new(mut out: W, header: IvfHeader) -> io::Result<IvfWriter<W>> {
        let tag = fourcc(header.codec).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("IVF carries VP8, VP9 or AV1, not {}", header.codec.mime()),
            )
        })?;
        let mut bytes = Vec::with_capacity(FILE_HEADER);
        bytes.extend_from_slice(b"DKIF");
        bytes.extend_from_slice(&0u16.to_le_bytes());
        bytes.extend_from_slice(&(FILE_HEADER as u16).to_le_bytes());
        bytes.extend_from_slice(tag);
        bytes.extend_from_slice(&header.width.to_le_bytes());
        bytes.extend_from_slice(&header.height.to_le_bytes());
        bytes.extend_from_slice(&header.timebase_den.to_le_bytes());
        bytes.extend_from_slice(&header.timebase_num.to_le_bytes());
        bytes.extend_from_slice(&header.frames.to_le_bytes());
        bytes.extend_from_slice(&0u32.to_le_bytes());
        out.write_all(&bytes)?;
        Ok(IvfWriter { out })
    }

    pub fn write(&mut self, timestamp: u64, data: &[u8]) -> io::Result<()> {
        let size = u32::try_from(data.len())
            .ok()
            .filter(|s| *s <= MAX_FRAME_BYTES)
            .ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidInput, "a frame too large for IVF")
            })?;
        self.out.write_all(&size.to_le_bytes())?;
        self.out.write_all(&timestamp.to_le_bytes())?;
        self.out.write_all(data)
    }

    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> IvfHeader {
        IvfHeader {
            codec: VideoCodec::Vp9,
            width: 7680,
            height: 4320,
            timebase_num: 1,
            timebase_den: 30,
            frames: 2,
        }
    }

    #[test]
    fn frames_written_are_read_back() {
        let mut writer = IvfWriter::new(Vec::new(), header()).expect("header");
        writer.write(0, &[1, 2, 3]).expect("frame");
        writer.write(1, &[4; 1000]).expect("frame");
        let bytes = writer.finish().expect("finish");
        assert!(is_ivf(&bytes));
        let mut reader = IvfReader::new(&bytes[..]).expect("header");
        assert_eq!(reader.header(), header());
        assert_eq!(
            reader.next_frame().expect("frame"),
            Some(IvfFrame {
                timestamp: 0,
                data: vec![1, 2, 3]
            })
        );
        assert_eq!(
            reader.next_frame().expect("frame").expect("one").timestamp,
            1
        );
        assert_eq!(reader.next_frame().expect("end"), None);
    }

    #[test]
    fn damaged_files_are_refused_with_a_reason() {
        let mut writer = IvfWriter::new(Vec::new(), header()).expect("header");
        writer.write(0, &[7; 100]).expect("frame");
        let bytes = writer.finish().expect("finish");
        // Cut inside the frame.
        let mut reader = IvfReader::new(&bytes[..bytes.len() - 10]).expect("header");
        let error = reader.next_frame().expect_err("cut short").to_string();
        assert!(error.contains("cut short"), "{error}");
        // A frame claiming 4 GB is refused before allocating.
        let mut huge = bytes.clone();
        huge[32..36].copy_from_slice(&u32::MAX.to_le_bytes());
        let error = IvfReader::new(&huge[..])
            .expect("header")
            .next_frame()
            .expect_err("too large")
            .to_string();
        assert!(error.contains("at most"), "{error}");
        // Not IVF; an unknown codec.
        assert!(IvfReader::new(&b"RIFF0000"[..]).is_err());
        let mut h264 = bytes;
        h264[8..12].copy_from_slice(b"H264");
        let error = IvfReader::new(&h264[..])
            .err()
            .expect("refused")
            .to_string();
        assert!(error.contains("VP80, VP90 or AV01"), "{error}");
    }
}
