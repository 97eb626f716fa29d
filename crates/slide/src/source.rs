//! Positioned, bounds-checked reads. Every read length a file can influence is
//! checked against the file's size before a buffer is allocated, so a lying
//! length field costs an error, never gigabytes of memory.

use crate::error::{Fault, FaultResult};
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

/// Random-access bytes: a file (positioned reads, safe from many threads at
/// once without a seek lock) or memory (tests and fuzzing).
pub trait ByteSource: Send + Sync {
    fn len(&self) -> u64;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()>;
}

/// The largest single read a file may ask for (a tile, a tag array, a JPEG
/// strip). Real tiles are below a few MB; an NDPI level strip can be hundreds
/// of MB but is read piecewise.
pub const MAX_READ: u64 = 256 << 20;

pub struct FileSource {
    file: File,
    len: u64,
}

impl FileSource {
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        Ok(FileSource { file, len })
    }
}

impl ByteSource for FileSource {
    fn len(&self) -> u64 {
        self.len
    }
    #[cfg(unix)]
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        std::os::unix::fs::FileExt::read_exact_at(&self.file, buf, offset)
    }
    #[cfg(windows)]
    fn read_exact_at(&self, mut offset: u64, mut buf: &mut [u8]) -> std::io::Result<()> {
        use std::os::windows::fs::FileExt;
        while !buf.is_empty() {
            match self.file.seek_read(buf, offset) {
                Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => {
                    buf = &mut buf[n..];
                    offset += n as u64;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl ByteSource for Vec<u8> {
    fn len(&self) -> u64 {
        self.as_slice().len() as u64
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        let start = usize::try_from(offset).map_err(|_| std::io::ErrorKind::UnexpectedEof)?;
        let end = start
            .checked_add(buf.len())
            .filter(|&end| end <= self.as_slice().len())
            .ok_or(std::io::ErrorKind::UnexpectedEof)?;
        buf.copy_from_slice(&self[start..end]);
        Ok(())
    }
}

pub type SharedSource = Arc<dyn ByteSource>;

/// Checked helpers every parser uses.
pub trait ByteSourceExt {
    /// Read `len` bytes at `offset`, failing with a clear fault if the range
    /// leaves the file or is larger than [`MAX_READ`].
    fn read_vec(&self, offset: u64, len: u64, part: &str) -> FaultResult<Vec<u8>>;
    fn read_array<const N: usize>(&self, offset: u64, part: &str) -> FaultResult<[u8; N]>;
    fn check_range(&self, offset: u64, len: u64, part: &str) -> FaultResult<()>;
}

impl<S: ByteSource + ?Sized> ByteSourceExt for S {
    fn check_range(&self, offset: u64, len: u64, part: &str) -> FaultResult<()> {
        let end = offset.checked_add(len);
        match end {
            Some(end) if end <= self.len() => Ok(()),
            _ => Err(Fault::corrupt(
                part,
                format!(
                    "{len} bytes at offset {offset} lie past the end of the file ({} bytes)",
                    self.len()
                ),
            )),
        }
    }

    fn read_vec(&self, offset: u64, len: u64, part: &str) -> FaultResult<Vec<u8>> {
        if len > MAX_READ {
            return Err(Fault::limit(
                part,
                format!("{len} bytes requested, more than the {MAX_READ}-byte limit"),
            ));
        }
        self.check_range(offset, len, part)?;
        let mut buf = vec![0u8; len as usize];
        self.read_exact_at(offset, &mut buf)
            .map_err(|e| Fault::io(part, &e))?;
        Ok(buf)
    }

    fn read_array<const N: usize>(&self, offset: u64, part: &str) -> FaultResult<[u8; N]> {
        self.check_range(offset, N as u64, part)?;
        let mut buf = [0u8; N];
        self.read_exact_at(offset, &mut buf)
            .map_err(|e| Fault::io(part, &e))?;
        Ok(buf)
    }
}
