use crate::Opened;
use crate::error::{Fault, FaultResult};
use crate::source::SharedSource;
use std::path::Path;

pub(crate) fn open_folder(_p: &Path) -> FaultResult<Opened> {
    Err(Fault::unsupported("file", "dicom: not yet"))
}
pub(crate) fn open_file_and_series(_p: &Path) -> FaultResult<Opened> {
    Err(Fault::unsupported("file", "dicom: not yet"))
}
pub(crate) fn open_single_source(_s: SharedSource) -> FaultResult<Opened> {
    Err(Fault::unsupported("file", "dicom: not yet"))
}
