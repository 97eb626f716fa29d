use crate::Opened;
use crate::error::{Fault, FaultResult};
use crate::source::SharedSource;
use crate::tiff::Tiff;
use std::sync::Arc;

pub(crate) fn open(_src: SharedSource, _tiff: Arc<Tiff>) -> FaultResult<Opened> {
    Err(Fault::unsupported("file", "ome: reader not written yet"))
}
