//! What writing a format that cannot hold everything had to approximate
//! or leave out, counted per kind: typed, so the console and `kh` tell
//! the user in their language (by [`Loss::name`]); `Display` is English.

use std::fmt;

/// One kind of approximation or loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Loss {
    /// ASAP polygons have no holes.
    AsapHoles,
    /// ASAP has no polylines: written as point sets.
    AsapPolylines,
    /// ASAP has no ellipses: written as polygons.
    AsapEllipses,
    /// ASAP has no cells: nuclei left out.
    AsapNuclei,
    /// ASAP has no measurements.
    AsapMeasurements,
    /// DICOM ANN polygons have no holes.
    DicomHoles,
    /// Objects of several parts: one annotation per part.
    DicomSplit,
    /// Nuclei kept only as one polygon on a one-polygon cell.
    DicomNuclei,
    /// Objects' own names, colours or locks (DICOM ANN keeps them per group).
    DicomOwnStyle,
    /// Shapes with too few points, skipped.
    DicomDegenerate,
    /// Class or measurement names cut to 64 characters.
    DicomNamesCut,
    /// DICOM ANN names one content creator.
    DicomCreators,
}

impl Loss {
    pub const ALL: [Loss; 12] = [
        Loss::AsapHoles,
        Loss::AsapPolylines,
        Loss::AsapEllipses,
        Loss::AsapNuclei,
        Loss::AsapMeasurements,
        Loss::DicomHoles,
        Loss::DicomSplit,
        Loss::DicomNuclei,
        Loss::DicomOwnStyle,
        Loss::DicomDegenerate,
        Loss::DicomNamesCut,
        Loss::DicomCreators,
    ];

    /// The name a message catalogue knows it by.
    pub fn name(self) -> &'static str {
        match self {
            Loss::AsapHoles => "asap-holes",
            Loss::AsapPolylines => "asap-polylines",
            Loss::AsapEllipses => "asap-ellipses",
            Loss::AsapNuclei => "asap-nuclei",
            Loss::AsapMeasurements => "asap-measurements",
            Loss::DicomHoles => "dicom-holes",
            Loss::DicomSplit => "dicom-split",
            Loss::DicomNuclei => "dicom-nuclei",
            Loss::DicomOwnStyle => "dicom-own-style",
            Loss::DicomDegenerate => "dicom-degenerate",
            Loss::DicomNamesCut => "dicom-names-cut",
            Loss::DicomCreators => "dicom-creators",
        }
    }

    fn english(self) -> &'static str {
        match self {
            Loss::AsapHoles => "polygon holes left out (ASAP polygons have none)",
            Loss::AsapPolylines => "polylines written as point sets (ASAP has no polylines)",
            Loss::AsapEllipses => "ellipses written as polygons (ASAP has no ellipses)",
            Loss::AsapNuclei => "cell nuclei left out (ASAP has no cells)",
            Loss::AsapMeasurements => "objects' measurements left out (ASAP has none)",
            Loss::DicomHoles => "polygon holes dropped (DICOM ANN polygons have none)",
            Loss::DicomSplit => "objects of several parts written as one annotation per part",
            Loss::DicomNuclei => "nuclei dropped (kept only as one polygon on a one-polygon cell)",
            Loss::DicomOwnStyle => {
                "objects' own names, colours or locks dropped (DICOM ANN keeps them per group)"
            }
            Loss::DicomDegenerate => "shapes with too few points skipped",
            Loss::DicomNamesCut => "class or measurement names cut to 64 characters",
            Loss::DicomCreators => {
                "people besides the first not named (DICOM ANN names one content creator)"
            }
        }
    }
}

/// How many objects one kind of loss touched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteNote {
    pub count: usize,
    pub loss: Loss,
}

impl fmt::Display for WriteNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.count, self.loss.english())
    }
}

/// The notes for the kinds counted above zero, in the order given.
pub(crate) fn notes_of(counts: &[(usize, Loss)]) -> Vec<WriteNote> {
    counts
        .iter()
        .filter(|(count, _)| *count > 0)
        .map(|&(count, loss)| WriteNote { count, loss })
        .collect()
}
