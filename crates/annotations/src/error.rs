//! Errors. Readers report a [`Fault`] (which object, why) without knowing
//! the file; [`crate::read`] and [`crate::write`] add the path once, so
//! every error a user sees names the file, the object and the reason.

use std::fmt;
use std::path::PathBuf;

/// What kind of failure, so callers can react.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// The operating system refused or failed a read or a write.
    Io,
    /// Not a format this crate reads or writes (or not annotations at all).
    Unsupported,
    /// The file is of a known format but broken.
    Corrupt,
    /// A count or size beyond what we are willing to hold.
    Limit,
}

/// A failure before it is tied to a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub kind: ErrorKind,
    /// The index of the object (its place in the file, from 0), when the
    /// fault is inside one.
    pub object: Option<usize>,
    pub reason: String,
}

impl Fault {
    pub fn new(kind: ErrorKind, reason: impl Into<String>) -> Self {
        Fault {
            kind,
            object: None,
            reason: reason.into(),
        }
    }
    pub fn corrupt(reason: impl Into<String>) -> Self {
        Self::new(ErrorKind::Corrupt, reason)
    }
    pub fn unsupported(reason: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unsupported, reason)
    }
    pub fn limit(reason: impl Into<String>) -> Self {
        Self::new(ErrorKind::Limit, reason)
    }
    pub fn io(err: &std::io::Error) -> Self {
        Self::new(ErrorKind::Io, err.to_string())
    }

    /// The fault is inside object `index` (the first it is given wins: the
    /// innermost reader knows best).
    pub fn in_object(mut self, index: usize) -> Self {
        self.object.get_or_insert(index);
        self
    }

    pub fn at(self, path: impl Into<PathBuf>) -> Error {
        Error {
            path: path.into(),
            kind: self.kind,
            object: self.object,
            reason: self.reason,
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.object {
            Some(i) => write!(f, "object {i}: {}", self.reason),
            None => f.write_str(&self.reason),
        }
    }
}

/// A failure tied to its file: "annotations.geojson: object 12: …".
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct Error {
    pub path: PathBuf,
    pub kind: ErrorKind,
    pub object: Option<usize>,
    pub reason: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.path.display())?;
        match self.object {
            Some(i) => write!(f, "object {i}: {}", self.reason),
            None => f.write_str(&self.reason),
        }
    }
}
