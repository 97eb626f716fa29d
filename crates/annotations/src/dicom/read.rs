//! Reading DICOM ANN into the model: group by group, each annotation's
//! coordinates taken straight from the group's coordinate array (never
//! copied whole), its measurements from the group's columns.

use super::Shape;
use super::colour::colour_from_dicom_lab;
use super::{ANN_SOP_CLASS, SlideReference};
use crate::error::{ErrorKind, Fault};
use crate::limits::Limits;
use crate::model::{Annotations, Geometry, Kind, NameId, Object, Polygon, Provenance};
use dicom_core::Tag;
use dicom_core::value::{PrimitiveValue, Value};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use std::collections::HashMap;

/// Read a DICOM ANN file held in memory. `slide` places 3D slide
/// coordinates on the slide (and checks the frame of reference); files in
/// 2D image coordinates need none.
pub fn annotations_from_dicom(
    bytes: &[u8],
    limits: &Limits,
    slide: Option<&SlideReference>,
) -> Result<Annotations, Fault> {
    annotations_from_data(&data_from_dicom(bytes)?, limits, slide)
}

/// [`annotations_from_dicom`], letting go of the file's bytes once they
/// are parsed: the file, its attributes and the objects are never all in
/// memory at once.
pub fn annotations_from_dicom_file(
    bytes: Vec<u8>,
    limits: &Limits,
    slide: Option<&SlideReference>,
) -> Result<Annotations, Fault> {
    let data = data_from_dicom(&bytes)?;
    drop(bytes);
    annotations_from_data(&data, limits, slide)
}

/// The file checked by kh-dicom, parsed by dicom-object, and its SOP
/// class checked: the data set.
fn data_from_dicom(bytes: &[u8]) -> Result<InMemDicomObject, Fault> {
    kh_dicom::check_file(&bytes).map_err(|f| {
        let kind = match f.kind {
            kh_dicom::FaultKind::Io => ErrorKind::Io,
            kh_dicom::FaultKind::Unsupported => ErrorKind::Unsupported,
            kh_dicom::FaultKind::Corrupt => ErrorKind::Corrupt,
            kh_dicom::FaultKind::Limit => ErrorKind::Limit,
        };
        Fault::new(kind, f.to_string())
    })?;
    // dicom-object parses untrusted bytes; a panic inside it must become
    // an error about this file, not a crash.
    let parsed = std::panic::catch_unwind(|| {
        dicom_object::OpenFileOptions::new()
            .read_preamble(dicom_object::file::ReadPreamble::Always)
            .from_reader(std::io::Cursor::new(bytes))
    });
    let obj = match parsed {
        Ok(Ok(obj)) => obj,
        Ok(Err(e)) => return Err(Fault::corrupt(format!("DICOM attributes: {e}"))),
        Err(_) => return Err(Fault::corrupt("DICOM attributes: unparseable")),
    };
    let sop_class = obj
        .meta()
        .media_storage_sop_class_uid()
        .trim_end_matches(['\0', ' '])
        .to_owned();
    if sop_class != ANN_SOP_CLASS {
        return Err(Fault::unsupported(format!(
            "DICOM SOP class {sop_class}, not Microscopy Bulk Simple Annotations"
        )));
    }
    Ok(obj.into_inner())
}

/// The annotation groups of a parsed data set as the model's objects.
fn annotations_from_data(
    data: &InMemDicomObject,
    limits: &Limits,
    slide: Option<&SlideReference>,
) -> Result<Annotations, Fault> {
    let place = placement(data, slide)?;
    let mut out = Annotations::default();
    let when = content_when(data);
    let creator = text(data, tags::CONTENT_CREATOR_NAME).filter(|s| !s.is_empty());
    let groups = data
        .get(tags::ANNOTATION_GROUP_SEQUENCE)
        .and_then(|e| e.items())
        .unwrap_or_default();
    // Group number → where its objects are, for nuclei groups that refer
    // to their cells (Kakehashi writes a cell group's nuclei as the group
    // after it, annotation for annotation).
    let mut placed: HashMap<u64, (usize, usize)> = HashMap::new();
    let three_d = matches!(place, Placement::Slide(_));
    for (g, item) in groups.iter().enumerate() {
        let number = item
            .get(tags::ANNOTATION_GROUP_NUMBER)
            .and_then(|e| e.to_int::<u64>().ok())
            .unwrap_or(g as u64 + 1);
        let declared = item
            .get(tags::NUMBER_OF_ANNOTATIONS)
            .and_then(|e| e.to_int::<u64>().ok());
        let nuclei_of = text(item, tags::ANNOTATION_GROUP_DESCRIPTION)
            .and_then(|d| {
                d.strip_prefix(super::NUCLEI_PREFIX)?
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .and_then(|n| placed.get(&n).copied())
            .filter(|&(_, count)| declared == Some(count as u64));
        let context = Context {
            when: when.as_deref(),
            creator: creator.as_deref(),
            three_d,
            nuclei: nuclei_of.is_some(),
        };
        let group = Group::of(item, g, &mut out, &context)?;
        let start = out.objects.len();
        group.read_into(&mut out, limits, &place)?;
        match nuclei_of {
            Some((cells, count)) => {
                let nuclei: Vec<Object> = out.objects.drain(start..).collect();
                for (cell, nucleus) in out.objects[cells..cells + count].iter_mut().zip(nuclei) {
                    cell.nucleus = Some(Box::new(nucleus.geometry));
                }
            }
            None => {
                placed.insert(number, (start, out.objects.len() - start));
            }
        }
    }
    Ok(out)
}

/// How the file's coordinates become level-0 pixels.
enum Placement<'a> {
    /// 2D image coordinates of the total pixel matrix: as they are.
    Image,
    /// 3D slide coordinates: through the slide's geometry.
    Slide(&'a SlideReference),
}

fn placement<'a>(
    data: &InMemDicomObject,
    slide: Option<&'a SlideReference>,
) -> Result<Placement<'a>, Fault> {
    let coordinate_type = text(data, tags::ANNOTATION_COORDINATE_TYPE).unwrap_or_default();
    match coordinate_type.as_str() {
        "2D" => match text(data, tags::PIXEL_ORIGIN_INTERPRETATION).as_deref() {
            None | Some("VOLUME" | "") => Ok(Placement::Image),
            Some(other) => Err(Fault::unsupported(format!(
                "Pixel Origin Interpretation {other}: only coordinates on the whole \
                 slide (VOLUME) are read, not on single frames"
            ))),
        },
        "3D" => {
            let Some(slide) = slide else {
                return Err(Fault::unsupported(
                    "3D slide coordinates (millimetres): they need the slide they \
                     refer to (--slide) to be placed on it",
                ));
            };
            let theirs = text(data, tags::FRAME_OF_REFERENCE_UID).unwrap_or_default();
            if !theirs.is_empty() && theirs != slide.frame_of_reference_uid {
                return Err(Fault::unsupported(format!(
                    "the annotations are in frame of reference {theirs}, the slide in {}",
                    slide.frame_of_reference_uid
                )));
            }
            Ok(Placement::Slide(slide))
        }
        other => Err(Fault::corrupt(format!(
            "Annotation Coordinate Type {other:?} (2D or 3D expected)"
        ))),
    }
}

/// What every group of a file shares.
struct Context<'a> {
    when: Option<&'a str>,
    creator: Option<&'a str>,
    three_d: bool,
    /// The group holds the nuclei of an earlier group's cells: its own
    /// class and measurements are not the model's.
    nuclei: bool,
}

/// One annotation group, checked: every count it declares agrees with the
/// values it holds.
struct Group<'a> {
    shape: Shape,
    count: usize,
    coordinates: Numbers<'a>,
    /// Numbers per stored point: 2, or 3 (x, y, z) in 3D without a common z.
    stride: usize,
    /// First value of each annotation (0-based), polylines and polygons.
    starts: Option<Numbers<'a>>,
    kind: Kind,
    class: Option<u32>,
    provenance: u32,
    columns: Vec<Column<'a>>,
}

impl<'a> Group<'a> {
    /// Check a group's declarations against its arrays, and register its
    /// class, provenance and measurement names.
    fn of(
        item: &'a InMemDicomObject,
        g: usize,
        out: &mut Annotations,
        context: &Context,
    ) -> Result<Self, Fault> {
        let Context {
            when,
            creator,
            three_d,
            nuclei,
        } = *context;
        let fault =
            |reason: String| Fault::corrupt(format!("annotation group {}: {reason}", g + 1));
        let graphic = text(item, tags::GRAPHIC_TYPE);
        let Some(shape) = graphic.as_deref().and_then(Shape::of_name) else {
            return Err(fault(format!("graphic type {graphic:?}")));
        };
        let count = item
            .get(tags::NUMBER_OF_ANNOTATIONS)
            .and_then(|e| e.to_int::<u64>().ok())
            .ok_or_else(|| fault("no Number of Annotations".into()))?;
        let count = usize::try_from(count).unwrap_or(usize::MAX);
        let coordinates = numbers(item, tags::DOUBLE_POINT_COORDINATES_DATA)
            .or_else(|| numbers(item, tags::POINT_COORDINATES_DATA))
            .ok_or_else(|| fault("no Point Coordinates Data".into()))?;
        let stride = if three_d && item.get(tags::COMMON_Z_COORDINATE_VALUE).is_none() {
            3
        } else {
            2
        };
        let values = coordinates.len();
        if values % stride != 0 {
            return Err(fault(format!(
                "{values} coordinate values are not whole points of {stride}"
            )));
        }
        // Every count is checked against the values the file holds, so
        // what it declares never sizes an allocation.
        let starts = match shape {
            Shape::Point | Shape::Ellipse | Shape::Rectangle => {
                let per = if shape == Shape::Point { 1 } else { 4 };
                if count.checked_mul(per * stride) != Some(values) {
                    return Err(fault(format!(
                        "{count} annotations of {per} point(s) need {} coordinate values, \
                         the group holds {values}",
                        count.saturating_mul(per * stride)
                    )));
                }
                None
            }
            Shape::Polyline | Shape::Polygon => {
                let starts = numbers(item, tags::LONG_PRIMITIVE_POINT_INDEX_LIST)
                    .ok_or_else(|| fault("no Long Primitive Point Index List".into()))?;
                if starts.len() != count {
                    return Err(fault(format!(
                        "{count} annotations but {} point indices",
                        starts.len()
                    )));
                }
                let least = if shape == Shape::Polygon { 3 } else { 2 };
                let mut previous: Option<usize> = None;
                for i in 0..count {
                    let first = starts.get(i);
                    let ok = first >= 1.0
                        && first <= values as f64
                        && (first as usize - 1).is_multiple_of(stride)
                        && previous.is_none_or(|p| first as usize >= p + least * stride);
                    if !ok {
                        return Err(fault(format!(
                            "point index {first} of annotation {}: not the first value of a \
                             point among the {values} coordinate values, {least} points or \
                             more after the previous annotation's",
                            i + 1
                        )));
                    }
                    previous = Some(first as usize - 1);
                }
                if previous.is_some_and(|p| p + least * stride > values) {
                    return Err(fault("the last annotation has too few points".into()));
                }
                Some(starts)
            }
        };
        let label = text(item, tags::ANNOTATION_GROUP_LABEL).filter(|s| !s.is_empty());
        let property = first_item(item, tags::ANNOTATION_PROPERTY_TYPE_CODE_SEQUENCE);
        let unclassified = property.and_then(|p| text(p, tags::CODE_VALUE)).as_deref()
            == Some(super::UNCLASSIFIED_CODE);
        let colour = item
            .get(tags::RECOMMENDED_DISPLAY_CIE_LAB_VALUE)
            .and_then(|e| e.to_multi_int::<u16>().ok())
            .filter(|v| v.len() == 3)
            .map(|v| colour_from_dicom_lab([v[0], v[1], v[2]]));
        let class = if unclassified || nuclei {
            None
        } else {
            label
                .or_else(|| property.and_then(|p| text(p, tags::CODE_MEANING)))
                .map(|name| out.class_id(&name, colour))
        };
        let generation = text(item, tags::ANNOTATION_GROUP_GENERATION_TYPE).unwrap_or_default();
        // Kakehashi writes the objects' kind, and the group's own time and
        // origin, in the description ("objectType: detection; when: …");
        // other tools' groups are regions when drawn, detections when found.
        let description = text(item, tags::ANNOTATION_GROUP_DESCRIPTION).unwrap_or_default();
        let field = |key: &str| super::description_field(&description, key);
        let when = field("when").or(when);
        let provenance = if generation == "MANUAL" {
            match creator {
                Some(name) => Provenance::Person {
                    name: name.to_owned(),
                    when: when.map(str::to_owned),
                    edited_from: field("editedFrom").map(str::to_owned),
                },
                None => Provenance::Unknown,
            }
        } else {
            let algorithm = first_item(
                item,
                tags::ANNOTATION_GROUP_ALGORITHM_IDENTIFICATION_SEQUENCE,
            );
            Provenance::Algorithm {
                name: algorithm
                    .and_then(|a| text(a, tags::ALGORITHM_NAME))
                    .unwrap_or_default(),
                version: algorithm
                    .and_then(|a| text(a, tags::ALGORITHM_VERSION))
                    .unwrap_or_default(),
                when: when.map(str::to_owned),
            }
        };
        let kind = field("objectType")
            .and_then(|k| Kind::ALL.into_iter().find(|c| c.name() == k))
            .unwrap_or(if generation == "MANUAL" {
                Kind::Annotation
            } else {
                Kind::Detection
            });
        let mut columns = Vec::new();
        let measurements = item
            .get(tags::MEASUREMENTS_SEQUENCE)
            .and_then(|e| e.items())
            .filter(|_| !nuclei)
            .unwrap_or_default();
        for (m, measurement) in measurements.iter().enumerate() {
            let fault = |reason: &str| fault(format!("measurement {}: {reason}", m + 1));
            let name = first_item(measurement, tags::CONCEPT_NAME_CODE_SEQUENCE)
                .and_then(|c| text(c, tags::CODE_MEANING))
                .ok_or_else(|| fault("no concept name"))?;
            let unit = first_item(measurement, tags::MEASUREMENT_UNITS_CODE_SEQUENCE)
                .and_then(|c| text(c, tags::CODE_VALUE))
                .filter(|u| !u.is_empty() && u != "1");
            let name = match unit {
                Some(u) if !name.ends_with(&format!("({u})")) => format!("{name} ({u})"),
                _ => name,
            };
            let stored = first_item(measurement, tags::MEASUREMENT_VALUES_SEQUENCE)
                .ok_or_else(|| fault("no Measurement Values Sequence"))?;
            let values = numbers(stored, tags::FLOATING_POINT_VALUES)
                .ok_or_else(|| fault("no Floating Point Values"))?;
            let indices = match numbers(stored, tags::ANNOTATION_INDEX_LIST) {
                None if values.len() == count => None,
                None => {
                    return Err(fault(&format!(
                        "{} values for {count} annotations and no index list",
                        values.len()
                    )));
                }
                Some(list) if list.len() != values.len() => {
                    return Err(fault(&format!(
                        "{} values but {} annotation indices",
                        values.len(),
                        list.len()
                    )));
                }
                Some(list) => {
                    let mut pairs = Vec::with_capacity(list.len());
                    for k in 0..list.len() {
                        let a = list.get(k);
                        if !(a >= 1.0 && a <= count as f64) {
                            return Err(fault(&format!(
                                "annotation index {a} outside 1..={count}"
                            )));
                        }
                        pairs.push((a as usize - 1, k));
                    }
                    pairs.sort_unstable();
                    Some(pairs)
                }
            };
            columns.push(Column {
                name: out.measurement_id(&name),
                values,
                indices,
            });
        }
        Ok(Group {
            shape,
            count,
            coordinates,
            stride,
            starts,
            kind,
            class,
            provenance: out.provenance_id(provenance),
            columns,
        })
    }

    /// The group's annotations as objects.
    fn read_into(
        &self,
        out: &mut Annotations,
        limits: &Limits,
        place: &Placement,
    ) -> Result<(), Fault> {
        if out.objects.len().saturating_add(self.count) > limits.max_objects {
            return Err(Fault::limit(format!(
                "more than {} objects in one file",
                limits.max_objects
            )));
        }
        out.objects.reserve(self.count);
        let mut cursors = vec![0usize; self.columns.len()];
        let per_point = self.stride;
        for i in 0..self.count {
            let index = out.objects.len();
            let (first, points) = match (&self.starts, self.shape) {
                (Some(starts), _) => {
                    let first = starts.get(i) as usize - 1;
                    let end = if i + 1 < self.count {
                        starts.get(i + 1) as usize - 1
                    } else {
                        self.coordinates.len()
                    };
                    (first, (end - first) / per_point)
                }
                (None, Shape::Point) => (i * per_point, 1),
                (None, _) => (i * 4 * per_point, 4),
            };
            if points > limits.max_vertices_per_object {
                return Err(Fault::limit(format!(
                    "more than {} vertices in one object",
                    limits.max_vertices_per_object
                ))
                .in_object(index));
            }
            let mut ring = Vec::with_capacity(points);
            for k in 0..points {
                let at = first + k * per_point;
                let (x, y) = (self.coordinates.get(at), self.coordinates.get(at + 1));
                let p = match place {
                    Placement::Image => limits.point(x, y),
                    Placement::Slide(s) => match s.geometry.pixel_from_slide(x, y) {
                        Some(p) => limits.point(p.x, p.y),
                        None => limits.point(f64::NAN, f64::NAN),
                    },
                }
                .map_err(|f| f.in_object(index))?;
                ring.push(p);
            }
            if self.shape == Shape::Polygon {
                // Rings are kept open; some writers repeat the first point.
                if ring.len() > 1 && ring.first() == ring.last() {
                    ring.pop();
                }
                if ring.len() < 3 {
                    return Err(Fault::corrupt(format!(
                        "a polygon of {} distinct points",
                        ring.len()
                    ))
                    .in_object(index));
                }
            }
            let geometry = match self.shape {
                Shape::Point => Geometry::Point(ring[0]),
                Shape::Polyline => Geometry::Polyline(ring),
                Shape::Polygon => Geometry::Polygon(Polygon {
                    exterior: ring,
                    holes: Vec::new(),
                }),
                Shape::Rectangle => {
                    Geometry::Rectangle(Box::new([ring[0], ring[1], ring[2], ring[3]]))
                }
                Shape::Ellipse => Geometry::Ellipse(Box::new([ring[0], ring[1], ring[2], ring[3]])),
            };
            let mut o = Object::new(self.kind, geometry);
            o.class = self.class;
            o.provenance = self.provenance;
            for (c, column) in self.columns.iter().enumerate() {
                let value = match &column.indices {
                    None => Some(column.values.get(i)),
                    Some(pairs) => {
                        let cursor = &mut cursors[c];
                        while pairs.get(*cursor).is_some_and(|p| p.0 < i) {
                            *cursor += 1;
                        }
                        pairs
                            .get(*cursor)
                            .filter(|p| p.0 == i)
                            .map(|p| column.values.get(p.1))
                    }
                };
                if let Some(v) = value {
                    o.measurements.push((column.name, v));
                }
            }
            out.objects.push(o);
        }
        Ok(())
    }
}

/// A measurement column: a value for every annotation, or for those the
/// index list names.
struct Column<'a> {
    name: NameId,
    values: Numbers<'a>,
    indices: Option<Vec<(usize, usize)>>,
}

/// A binary array as the file holds it, read value by value.
#[derive(Clone, Copy)]
enum Numbers<'a> {
    F32(&'a [f32]),
    F64(&'a [f64]),
    U32(&'a [u32]),
    I32(&'a [i32]),
}

impl Numbers<'_> {
    fn len(&self) -> usize {
        match self {
            Numbers::F32(v) => v.len(),
            Numbers::F64(v) => v.len(),
            Numbers::U32(v) => v.len(),
            Numbers::I32(v) => v.len(),
        }
    }
    fn get(&self, i: usize) -> f64 {
        match self {
            Numbers::F32(v) => f64::from(v[i]),
            Numbers::F64(v) => v[i],
            Numbers::U32(v) => f64::from(v[i]),
            Numbers::I32(v) => f64::from(v[i]),
        }
    }
}

fn numbers(obj: &InMemDicomObject, tag: Tag) -> Option<Numbers<'_>> {
    let Value::Primitive(p) = obj.get(tag)?.value() else {
        return None;
    };
    Some(match p {
        PrimitiveValue::F32(v) => Numbers::F32(v),
        PrimitiveValue::F64(v) => Numbers::F64(v),
        PrimitiveValue::U32(v) => Numbers::U32(v),
        PrimitiveValue::I32(v) => Numbers::I32(v),
        PrimitiveValue::Empty => Numbers::F64(&[]),
        _ => return None,
    })
}

fn text(obj: &InMemDicomObject, tag: Tag) -> Option<String> {
    obj.get(tag)
        .and_then(|e| e.to_str().ok())
        .map(|s| s.trim_end_matches(['\0', ' ']).trim().to_owned())
}

fn first_item(obj: &InMemDicomObject, tag: Tag) -> Option<&InMemDicomObject> {
    obj.get(tag).and_then(|e| e.items()).and_then(|i| i.first())
}

/// When the content was made, as ISO 8601 (local time, as DICOM keeps it).
fn content_when(data: &InMemDicomObject) -> Option<String> {
    let date = text(data, tags::CONTENT_DATE)?;
    let time = text(data, tags::CONTENT_TIME).unwrap_or_default();
    let d: String = date.chars().filter(char::is_ascii_digit).collect();
    if d.len() != 8 {
        return None;
    }
    let t: String = time
        .chars()
        .take_while(|c| *c != '.')
        .filter(char::is_ascii_digit)
        .collect();
    let mut out = format!("{}-{}-{}", &d[..4], &d[4..6], &d[6..8]);
    if t.len() >= 4 {
        let s = t.get(4..6).unwrap_or("00");
        out.push_str(&format!("T{}:{}:{s}", &t[..2], &t[2..4]));
        match text(data, tags::TIMEZONE_OFFSET_FROM_UTC).as_deref() {
            Some("+0000" | "-0000") => out.push('Z'),
            Some(o) if o.len() == 5 && o.is_char_boundary(3) => {
                out.push_str(&format!("{}:{}", &o[..3], &o[3..]));
            }
            _ => {}
        }
    }
    Some(out)
}
