//! What a reader accepts: every count and size a file controls is checked
//! against these before it is held, so a hostile or broken file costs at
//! most one object's worth of memory past the limit, never the file's word.

use crate::error::Fault;
use crate::model::Point;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Objects in one file. QuPath's largest exports seen in practice are a
    /// few million cells; ten times that still fits in memory.
    pub max_objects: usize,
    /// Vertices in one object, nucleus included. A whole-tissue outline at
    /// full resolution runs to a few hundred thousand.
    pub max_vertices_per_object: usize,
    /// Measurements on one object (QuPath's cell detection writes ~40).
    pub max_measurements_per_object: usize,
    /// Bytes in one name, class name or measurement name.
    pub max_text_bytes: usize,
    /// The largest coordinate magnitude, in level-0 pixels: slides are
    /// under 10⁶ pixels a side; 10⁹ leaves room for any offset a tool
    /// writes and keeps every coordinate exact in f64 and close in f32.
    pub max_coordinate: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_objects: 50_000_000,
            max_vertices_per_object: 4_000_000,
            max_measurements_per_object: 4096,
            max_text_bytes: 64 * 1024,
            max_coordinate: 1e9,
        }
    }
}

impl Limits {
    /// A position, if both numbers are finite and within range.
    pub fn point(&self, x: f64, y: f64) -> Result<Point, Fault> {
        for v in [x, y] {
            if !v.is_finite() {
                return Err(Fault::corrupt(format!(
                    "coordinate {v} is not a finite number"
                )));
            }
            if v.abs() > self.max_coordinate {
                return Err(Fault::limit(format!(
                    "coordinate {v} is beyond ±{:e} pixels",
                    self.max_coordinate
                )));
            }
        }
        Ok(Point::new(x, y))
    }

    pub fn text(&self, what: &str, s: &str) -> Result<(), Fault> {
        if s.len() > self.max_text_bytes {
            return Err(Fault::limit(format!(
                "{what} is {} bytes long, more than {}",
                s.len(),
                self.max_text_bytes
            )));
        }
        Ok(())
    }
}
