//! QuPath GeoJSON: read in every form QuPath reads, written as v0.4+.

mod coords;
mod parallel;
mod read;
pub mod write;

pub use parallel::annotations_from_big_geojson;
pub use read::{NanAsNull, annotations_from_geojson, annotations_from_lenient_geojson};
pub use write::geojson_from_annotations;
