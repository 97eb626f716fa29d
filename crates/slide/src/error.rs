//! Errors. Parsers and decoders report a [`Fault`] (what part, why) without
//! knowing the file; [`crate::Slide`] adds the path once, at its boundary, so
//! every error a user sees names the file, the part and the reason.

use std::fmt;
use std::path::PathBuf;

/// What kind of failure, so callers can react (retry, report, show a blank).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// The operating system refused or failed a read.
    Io,
    /// The bytes are not a slide this library reads (or not a slide at all).
    Unsupported,
    /// The file claims to be a known format but its structure is broken.
    Corrupt,
    /// A size the file asks for is beyond what we are willing to allocate.
    Limit,
    /// The caller asked for something that does not exist (level, tile, name).
    Argument,
}

/// A failure inside the library, before it is tied to a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub kind: ErrorKind,
    /// The part of the file: "IFD 3", "level 2 tile (4, 7)", "JPEG tables"...
    pub part: String,
    pub reason: String,
}

impl Fault {
    pub fn new(kind: ErrorKind, part: impl Into<String>, reason: impl Into<String>) -> Self {
        Fault {
            kind,
            part: part.into(),
            reason: reason.into(),
        }
    }
    pub fn corrupt(part: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::new(ErrorKind::Corrupt, part, reason)
    }
    pub fn unsupported(part: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unsupported, part, reason)
    }
    pub fn limit(part: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::new(ErrorKind::Limit, part, reason)
    }
    pub fn argument(part: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::new(ErrorKind::Argument, part, reason)
    }
    pub fn io(part: impl Into<String>, err: &std::io::Error) -> Self {
        let kind = if err.kind() == std::io::ErrorKind::UnexpectedEof {
            // A read past the end is a truncated or lying file, not an OS failure.
            ErrorKind::Corrupt
        } else {
            ErrorKind::Io
        };
        Self::new(kind, part, err.to_string())
    }

    /// Prefix the part with an enclosing part ("level 2" + "tile (1, 3)").
    pub fn within(mut self, outer: impl fmt::Display) -> Self {
        self.part = if self.part.is_empty() {
            outer.to_string()
        } else {
            format!("{outer}: {}", self.part)
        };
        self
    }

    pub fn at(self, path: impl Into<PathBuf>) -> SlideError {
        SlideError {
            path: path.into(),
            kind: self.kind,
            part: self.part,
            reason: self.reason,
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.part, self.reason)
    }
}

pub type FaultResult<T> = std::result::Result<T, Fault>;

/// The error every public operation returns: the file, the part, the reason.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("{}: {part}: {reason}", path.display())]
pub struct SlideError {
    pub path: PathBuf,
    pub kind: ErrorKind,
    pub part: String,
    pub reason: String,
}

pub type Result<T> = std::result::Result<T, SlideError>;
