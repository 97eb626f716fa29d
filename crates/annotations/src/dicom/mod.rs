//! DICOM Microscopy Bulk Simple Annotations (Supplement 222, "DICOM ANN"):
//! groups of annotations that share a graphic type (POINT, POLYLINE,
//! POLYGON, ELLIPSE, RECTANGLE), a class (the group's label and property
//! type), who made them (manual, or an algorithm's name and version) and
//! measurements stored column by column.
//!
//! Coordinates are either 2D image coordinates of the slide's total pixel
//! matrix (level-0 pixels, the model's own) or 3D slide coordinates in
//! millimetres, placed on the slide through its [`SlideGeometry`] (origin,
//! orientation, pixel spacing), exactly as highdicom's
//! `ImageToReferenceTransformer` does: image coordinates count from the
//! top-left corner of the top-left pixel, the slide's origin is that pixel's
//! centre.
//!
//! The whole file is checked by [`kh_dicom`] (every length against its
//! container) before `dicom-object` parses it, and every count the file
//! declares is checked against the values it holds before anything is
//! allocated for it.

mod colour;
mod read;
mod write;

pub use read::{annotations_from_dicom, annotations_from_dicom_file};
pub use write::dicom_from_annotations;

use crate::model::Point;
use std::collections::BTreeMap;

/// A group's Graphic Type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Shape {
    Point,
    Polyline,
    Polygon,
    Ellipse,
    Rectangle,
}

impl Shape {
    const ALL: [Shape; 5] = [
        Shape::Point,
        Shape::Polyline,
        Shape::Polygon,
        Shape::Ellipse,
        Shape::Rectangle,
    ];

    fn name(self) -> &'static str {
        match self {
            Shape::Point => "POINT",
            Shape::Polyline => "POLYLINE",
            Shape::Polygon => "POLYGON",
            Shape::Ellipse => "ELLIPSE",
            Shape::Rectangle => "RECTANGLE",
        }
    }

    fn of_name(name: &str) -> Option<Shape> {
        Shape::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// Microscopy Bulk Simple Annotations Storage.
pub const ANN_SOP_CLASS: &str = "1.2.840.10008.5.1.4.1.1.91.1";
/// VL Whole Slide Microscopy Image Storage.
pub const WSI_SOP_CLASS: &str = "1.2.840.10008.5.1.4.1.1.77.1.6";

/// The property type code of groups without a class (in Kakehashi's
/// private scheme), so they read back unclassified.
pub(crate) const UNCLASSIFIED_CODE: &str = "UNCLASSIFIED";
/// The value of `key` in a group description Kakehashi wrote:
/// "objectType: detection; when: 2026-12-07T09:00:00Z; editedFrom: nuclei
/// 0.1" (QuPath's word for the kind; the group's own time, since DICOM
/// gives one content time a file; what a person's marks were taken over
/// from).
pub(crate) fn description_field<'a>(description: &'a str, key: &str) -> Option<&'a str> {
    description.split(';').find_map(|part| {
        let (k, v) = part.split_once(':')?;
        (k.trim() == key)
            .then(|| v.trim())
            .filter(|v| !v.is_empty())
    })
}
/// How a group of nuclei names the group of cells they belong to
/// ("nuclei of group 3": annotation i is the nucleus of that group's i-th).
pub(crate) const NUCLEI_PREFIX: &str = "nuclei of group ";

/// Where a slide's level-0 pixels lie in its frame of reference (the slide
/// coordinate system, millimetres).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SlideGeometry {
    /// The centre of the top-left pixel (Total Pixel Matrix Origin).
    pub origin: [f64; 2],
    /// Direction cosines of a row (increasing column), then of a column
    /// (Image Orientation (Slide)).
    pub row_cosines: [f64; 3],
    pub column_cosines: [f64; 3],
    /// Millimetres between rows, then between columns (Pixel Spacing).
    pub spacing: [f64; 2],
}

impl SlideGeometry {
    /// Slide coordinates (x, y, z in mm) of a point in image coordinates.
    pub fn slide_from_pixel(&self, p: Point) -> [f64; 3] {
        let (c, r) = (p.x - 0.5, p.y - 0.5);
        let [sr, sc] = self.spacing;
        let mut out = [self.origin[0], self.origin[1], 0.0];
        for (i, v) in out.iter_mut().enumerate() {
            *v += c * sc * self.row_cosines[i] + r * sr * self.column_cosines[i];
        }
        out
    }

    /// Image coordinates of a point in slide coordinates (its z, off the
    /// slide's plane, is dropped); `None` if the orientation is degenerate
    /// in the slide's plane.
    pub fn pixel_from_slide(&self, x: f64, y: f64) -> Option<Point> {
        let [sr, sc] = self.spacing;
        // Solve [dx dy] = c·sc·row[0..2] + r·sr·col[0..2] for (c, r).
        let (a, b) = (sc * self.row_cosines[0], sr * self.column_cosines[0]);
        let (d, e) = (sc * self.row_cosines[1], sr * self.column_cosines[1]);
        let det = a * e - b * d;
        if !det.is_finite() || det.abs() < 1e-18 {
            return None;
        }
        let (dx, dy) = (x - self.origin[0], y - self.origin[1]);
        let c = (dx * e - b * dy) / det;
        let r = (a * dy - dx * d) / det;
        Some(Point::new(c + 0.5, r + 0.5))
    }
}

/// What annotations written for a DICOM slide refer to, and what they copy
/// from it (patient, study, specimen), taken from the slide's `dicom.*`
/// properties (its level-0 instance).
#[derive(Debug, Clone, PartialEq)]
pub struct SlideReference {
    pub study_uid: String,
    pub series_uid: String,
    pub sop_instance_uid: String,
    pub frame_of_reference_uid: String,
    pub geometry: SlideGeometry,
    /// Attributes copied as they are, by keyword (patient and study
    /// identification, the specimen's container).
    pub copied: BTreeMap<&'static str, String>,
    /// The slide's specimen: identifier and UID, when it names them.
    pub specimen: Option<(String, String)>,
}

/// Top-level attributes an annotation instance shares with its slide.
const COPIED: [&str; 10] = [
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyDate",
    "StudyTime",
    "StudyID",
    "AccessionNumber",
    "ReferringPhysicianName",
    "ContainerIdentifier",
];

impl SlideReference {
    /// From a slide's properties (`dicom.StudyInstanceUID`, …); `None` for
    /// a slide that is not DICOM WSI or lacks its geometry.
    pub fn from_properties(props: &BTreeMap<String, String>) -> Option<Self> {
        let get = |k: &str| {
            props
                .get(&format!("dicom.{k}"))
                .map(|s| s.trim().to_owned())
        };
        let number = |k: &str| get(k)?.parse::<f64>().ok().filter(|v| v.is_finite());
        if get("SOPClassUID")? != WSI_SOP_CLASS {
            return None;
        }
        let orientation: Vec<f64> = (0..6)
            .map(|i| number(&format!("ImageOrientationSlide[{i}]")))
            .collect::<Option<_>>()?;
        let spacing = |i: usize| {
            number(&format!(
                "SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0].PixelSpacing[{i}]"
            ))
            .filter(|v| *v > 0.0)
        };
        let origin = |axis: &str| {
            number(&format!(
                "TotalPixelMatrixOriginSequence[0].{axis}OffsetInSlideCoordinateSystem"
            ))
        };
        let geometry = SlideGeometry {
            origin: [origin("X")?, origin("Y")?],
            row_cosines: [orientation[0], orientation[1], orientation[2]],
            column_cosines: [orientation[3], orientation[4], orientation[5]],
            spacing: [spacing(0)?, spacing(1)?],
        };
        geometry.pixel_from_slide(0.0, 0.0)?;
        let copied = COPIED.iter().filter_map(|k| Some((*k, get(k)?))).collect();
        let specimen = get("SpecimenDescriptionSequence[0].SpecimenIdentifier")
            .zip(get("SpecimenDescriptionSequence[0].SpecimenUID"));
        Some(SlideReference {
            study_uid: get("StudyInstanceUID")?,
            series_uid: get("SeriesInstanceUID")?,
            sop_instance_uid: get("SOPInstanceUID")?,
            frame_of_reference_uid: get("FrameOfReferenceUID")?,
            geometry,
            copied,
            specimen,
        })
    }
}

/// Whether bytes begin like a DICOM file (preamble, then `DICM`).
pub fn looks_like_dicom(head: &[u8]) -> bool {
    head.get(128..132) == Some(b"DICM")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slide_coordinates_invert() {
        // A slide turned as scanners write it: rows run along -y, columns
        // along -x, 0.25 µm pixels.
        let g = SlideGeometry {
            origin: [25.0, 50.0],
            row_cosines: [0.0, -1.0, 0.0],
            column_cosines: [-1.0, 0.0, 0.0],
            spacing: [0.00025, 0.00025],
        };
        let p = Point::new(1234.5, 678.25);
        let s = g.slide_from_pixel(p);
        // The top-left pixel's centre is the origin.
        assert_eq!(g.slide_from_pixel(Point::new(0.5, 0.5)), [25.0, 50.0, 0.0]);
        let back = g.pixel_from_slide(s[0], s[1]).unwrap();
        assert!((back.x - p.x).abs() < 1e-9 && (back.y - p.y).abs() < 1e-9);
    }
}
