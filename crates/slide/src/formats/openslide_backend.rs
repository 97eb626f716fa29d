use crate::Opened;
use crate::error::{Fault, FaultResult};
use std::path::Path;

/// Whether formats only OpenSlide reads may be opened through the system
/// OpenSlide library.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendPolicy {
    IfInstalled,
    Never,
}

pub(crate) fn open(_p: &Path, format: &str, _policy: BackendPolicy) -> FaultResult<Opened> {
    Err(Fault::unsupported("file", format!("looks like {format}")))
}
