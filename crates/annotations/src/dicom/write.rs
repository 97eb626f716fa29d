//! Writing the model as DICOM ANN. Objects are grouped by what a group
//! shares in DICOM (kind, class, who made them, graphic type); what DICOM
//! cannot hold (holes, nuclei, one object of several parts, per-object
//! names and colours) is reported, never silently dropped.
//!
//! With a DICOM slide the annotations are written in its 3D slide
//! coordinates, in its study, referring to its level-0 instance and frame
//! of reference; otherwise in 2D image coordinates of a new study.

use super::Shape;
use super::colour::dicom_lab_from_colour;
use super::{ANN_SOP_CLASS, NUCLEI_PREFIX, SlideReference, UNCLASSIFIED_CODE, WSI_SOP_CLASS};
use crate::model::{Annotations, Geometry, Kind, Object, Point, Provenance, iso8601_from_unix};
use dicom_core::value::{DataSetSequence, PrimitiveValue};
use dicom_core::{DataElement, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::{FileMetaTableBuilder, InMemDicomObject};
use std::collections::BTreeMap;
use std::io::{self, Write};

/// Private coding scheme of class and measurement codes ("99" marks a
/// private scheme in DICOM).
const SCHEME: &str = "99KAKEHASHI";
/// Kakehashi's implementation class UID (under the UUID-derived root).
const IMPLEMENTATION_CLASS: &str = "2.25.279412598473284117630227546915370148097";
/// LO values hold at most 64 characters.
const LO: usize = 64;

/// What a group shares: kind, class, provenance, graphic type, and
/// whether its objects have nuclei (written as the group after it).
type GroupKey = (Kind, Option<u32>, u32, Shape, bool);

/// A group's member: its object, the part written, and its nucleus's
/// outline when it has one.
type Member<'a> = (&'a Object, &'a [Point], Option<&'a [Point]>);

/// Counts of what DICOM ANN could not hold, for the user.
#[derive(Debug, Default)]
struct Lossy {
    holes: usize,
    split: usize,
    nuclei: usize,
    own: usize,
    degenerate: usize,
    names_cut: usize,
    creators: usize,
}

impl Lossy {
    fn notes(&self) -> Vec<crate::WriteNote> {
        use crate::Loss;
        crate::loss::notes_of(&[
            (self.holes, Loss::DicomHoles),
            (self.split, Loss::DicomSplit),
            (self.nuclei, Loss::DicomNuclei),
            (self.own, Loss::DicomOwnStyle),
            (self.degenerate, Loss::DicomDegenerate),
            (self.names_cut, Loss::DicomNamesCut),
            (self.creators, Loss::DicomCreators),
        ])
    }
}

/// The parts of a geometry as DICOM graphics.
fn parts(g: &Geometry) -> Vec<(Shape, &[Point])> {
    match g {
        Geometry::Point(p) => vec![(Shape::Point, std::slice::from_ref(p))],
        Geometry::MultiPoint(v) => v
            .iter()
            .map(|p| (Shape::Point, std::slice::from_ref(p)))
            .collect(),
        Geometry::Polyline(v) => vec![(Shape::Polyline, v.as_slice())],
        Geometry::MultiPolyline(v) => v.iter().map(|l| (Shape::Polyline, l.as_slice())).collect(),
        Geometry::Polygon(p) => vec![(Shape::Polygon, p.exterior.as_slice())],
        Geometry::MultiPolygon(v) => v
            .iter()
            .map(|p| (Shape::Polygon, p.exterior.as_slice()))
            .collect(),
        Geometry::Rectangle(c) => vec![(Shape::Rectangle, &c[..])],
        Geometry::Ellipse(c) => vec![(Shape::Ellipse, &c[..])],
    }
}

/// A ring without the closing vertex (DICOM's POLYGON must not repeat it).
fn open_ring(points: &[Point]) -> &[Point] {
    match points {
        [first, rest @ .., last] if first == last && !rest.is_empty() => {
            &points[..points.len() - 1]
        }
        _ => points,
    }
}

/// Write `a` as a DICOM ANN file; returns what could not be kept, one
/// note per kind.
pub fn dicom_from_annotations(
    a: &Annotations,
    slide: Option<&SlideReference>,
    w: impl Write,
) -> io::Result<Vec<crate::WriteNote>> {
    let mut lossy = Lossy::default();
    let mut groups: BTreeMap<GroupKey, Vec<Member>> = BTreeMap::new();
    for o in &a.objects {
        let ps = parts(&o.geometry);
        if ps.len() > 1 {
            lossy.split += 1;
        }
        if let Geometry::Polygon(p) = &o.geometry {
            lossy.holes += p.holes.len();
        }
        if let Geometry::MultiPolygon(v) = &o.geometry {
            lossy.holes += v.iter().map(|p| p.holes.len()).sum::<usize>();
        }
        let nucleus = o
            .nucleus
            .as_deref()
            .and_then(|n| match parts(n).as_slice() {
                [(Shape::Polygon, ring)] if open_ring(ring).len() >= 3 => Some(open_ring(ring)),
                _ => None,
            });
        let single_polygon = matches!(o.geometry, Geometry::Polygon(_));
        lossy.nuclei += usize::from(o.nucleus.is_some() && (nucleus.is_none() || !single_polygon));
        lossy.own +=
            usize::from(o.name.is_some() || (o.colour.is_some() && o.class.is_none()) || o.locked);
        for (shape, points) in ps {
            let points = if shape == Shape::Polygon {
                open_ring(points)
            } else {
                points
            };
            let least = match shape {
                Shape::Polygon => 3,
                Shape::Polyline => 2,
                _ => 1,
            };
            if points.len() < least {
                lossy.degenerate += 1;
                continue;
            }
            let nucleus = nucleus.filter(|_| single_polygon);
            groups
                .entry((o.kind, o.class, o.provenance, shape, nucleus.is_some()))
                .or_default()
                .push((o, points, nucleus));
        }
    }
    // Annotation Group Number is 16 bits (US).
    let numbered = groups.len() + groups.keys().filter(|k| k.4).count();
    if numbered > usize::from(u16::MAX) {
        return Err(io::Error::other(format!(
            "{numbered} annotation groups (one per kind, class, maker and shape): DICOM ANN \
             numbers at most {} — merge classes before writing DICOM",
            u16::MAX
        )));
    }
    // Point indices are 32-bit (OL; highdicom reads them as int32).
    for ((_, class, _, shape, _), members) in &groups {
        let values: usize = members.iter().map(|m| m.1.len() * 2).sum();
        if values > i32::MAX as usize {
            let class = class.map_or("unclassified", |c| a.class(c).name.as_str());
            return Err(io::Error::other(format!(
                "the {class} {} group has {values} coordinate values: DICOM ANN indexes at most {}",
                shape.name(),
                i32::MAX
            )));
        }
    }
    let mut data = InMemDicomObject::new_empty();
    top_level(&mut data, a, slide, &mut lossy);
    let mut items = Vec::with_capacity(numbered);
    for (key, members) in &groups {
        let number = items.len() + 1;
        items.push(group(number, *key, members, a, slide, &mut lossy));
        if key.4 {
            items.push(nuclei_group(number, *key, members, a, slide));
        }
    }
    put_seq(&mut data, tags::ANNOTATION_GROUP_SEQUENCE, items);
    let file = data
        .with_meta(
            FileMetaTableBuilder::new()
                .transfer_syntax(dicom_dictionary_std::uids::EXPLICIT_VR_LITTLE_ENDIAN)
                .implementation_class_uid(IMPLEMENTATION_CLASS)
                .implementation_version_name(format!("KAKEHASHI_{}", env!("CARGO_PKG_VERSION"))),
        )
        .map_err(io::Error::other)?;
    file.write_all(w).map_err(io::Error::other)?;
    Ok(lossy.notes())
}

fn top_level(
    data: &mut InMemDicomObject,
    a: &Annotations,
    slide: Option<&SlideReference>,
    lossy: &mut Lossy,
) {
    // UTF-8, so class names in Japanese are kept as written.
    put_str(data, tags::SPECIFIC_CHARACTER_SET, VR::CS, "ISO_IR 192");
    put_str(data, tags::SOP_CLASS_UID, VR::UI, ANN_SOP_CLASS);
    put_str(data, tags::SOP_INSTANCE_UID, VR::UI, &new_uid());
    let study = slide.map_or_else(new_uid, |s| s.study_uid.clone());
    put_str(data, tags::STUDY_INSTANCE_UID, VR::UI, &study);
    put_str(data, tags::SERIES_INSTANCE_UID, VR::UI, &new_uid());
    put_str(data, tags::MODALITY, VR::CS, "ANN");
    put_str(data, tags::SERIES_NUMBER, VR::IS, "1");
    put_str(data, tags::INSTANCE_NUMBER, VR::IS, "1");
    put_str(data, tags::MANUFACTURER, VR::LO, "Kakehashi");
    put_str(data, tags::MANUFACTURER_MODEL_NAME, VR::LO, "kh");
    put_str(
        data,
        tags::SOFTWARE_VERSIONS,
        VR::LO,
        env!("CARGO_PKG_VERSION"),
    );
    put_str(data, tags::DEVICE_SERIAL_NUMBER, VR::LO, "1");
    // Patient and study identification: the slide's, or empty (type 2).
    for (tag, vr, keyword) in [
        (tags::PATIENT_NAME, VR::PN, "PatientName"),
        (tags::PATIENT_ID, VR::LO, "PatientID"),
        (tags::PATIENT_BIRTH_DATE, VR::DA, "PatientBirthDate"),
        (tags::PATIENT_SEX, VR::CS, "PatientSex"),
        (tags::STUDY_DATE, VR::DA, "StudyDate"),
        (tags::STUDY_TIME, VR::TM, "StudyTime"),
        (tags::STUDY_ID, VR::SH, "StudyID"),
        (tags::ACCESSION_NUMBER, VR::SH, "AccessionNumber"),
        (
            tags::REFERRING_PHYSICIAN_NAME,
            VR::PN,
            "ReferringPhysicianName",
        ),
    ] {
        let value = slide
            .and_then(|s| s.copied.get(keyword))
            .map_or("", String::as_str);
        put_str(data, tag, vr, value);
    }
    let people: Vec<&str> = (0..)
        .map_while(|i| a.provenance_checked(i))
        .filter_map(|p| match p {
            Provenance::Person { name, .. } => Some(name.as_str()),
            _ => None,
        })
        .collect();
    lossy.creators += people.len().saturating_sub(1);
    put_str(data, tags::CONTENT_LABEL, VR::CS, "ANNOTATIONS");
    put_str(
        data,
        tags::CONTENT_DESCRIPTION,
        VR::LO,
        "Annotations written by Kakehashi",
    );
    put_str(
        data,
        tags::CONTENT_CREATOR_NAME,
        VR::PN,
        people.first().copied().unwrap_or(""),
    );
    let (date, time, offset) = content_date_time(a);
    put_str(data, tags::CONTENT_DATE, VR::DA, &date);
    put_str(data, tags::CONTENT_TIME, VR::TM, &time);
    if let Some(offset) = offset {
        put_str(data, tags::TIMEZONE_OFFSET_FROM_UTC, VR::SH, &offset);
    }
    match slide {
        Some(s) => {
            put_str(data, tags::ANNOTATION_COORDINATE_TYPE, VR::CS, "3D");
            put_str(
                data,
                tags::FRAME_OF_REFERENCE_UID,
                VR::UI,
                &s.frame_of_reference_uid,
            );
            put_str(data, tags::POSITION_REFERENCE_INDICATOR, VR::LO, "");
            let reference = |data: &mut InMemDicomObject| {
                put_str(data, tags::REFERENCED_SOP_CLASS_UID, VR::UI, WSI_SOP_CLASS);
                put_str(
                    data,
                    tags::REFERENCED_SOP_INSTANCE_UID,
                    VR::UI,
                    &s.sop_instance_uid,
                );
            };
            let mut image = InMemDicomObject::new_empty();
            reference(&mut image);
            put_seq(data, tags::REFERENCED_IMAGE_SEQUENCE, vec![image]);
            let mut instance = InMemDicomObject::new_empty();
            reference(&mut instance);
            let mut series = InMemDicomObject::new_empty();
            put_str(
                &mut series,
                tags::SERIES_INSTANCE_UID,
                VR::UI,
                &s.series_uid,
            );
            put_seq(
                &mut series,
                tags::REFERENCED_INSTANCE_SEQUENCE,
                vec![instance],
            );
            put_seq(data, tags::REFERENCED_SERIES_SEQUENCE, vec![series]);
            // The specimen module: the slide's container and specimen.
            if let Some(container) = s.copied.get("ContainerIdentifier") {
                put_str(data, tags::CONTAINER_IDENTIFIER, VR::LO, container);
                put_seq(
                    data,
                    tags::ISSUER_OF_THE_CONTAINER_IDENTIFIER_SEQUENCE,
                    Vec::new(),
                );
                put_seq(data, tags::CONTAINER_TYPE_CODE_SEQUENCE, Vec::new());
            }
            if let Some((id, uid)) = &s.specimen {
                let mut specimen = InMemDicomObject::new_empty();
                put_str(&mut specimen, tags::SPECIMEN_IDENTIFIER, VR::LO, id);
                put_str(&mut specimen, tags::SPECIMEN_UID, VR::UI, uid);
                put_seq(
                    &mut specimen,
                    tags::ISSUER_OF_THE_SPECIMEN_IDENTIFIER_SEQUENCE,
                    Vec::new(),
                );
                put_seq(
                    &mut specimen,
                    tags::SPECIMEN_PREPARATION_SEQUENCE,
                    Vec::new(),
                );
                put_seq(data, tags::SPECIMEN_DESCRIPTION_SEQUENCE, vec![specimen]);
            }
        }
        None => {
            put_str(data, tags::ANNOTATION_COORDINATE_TYPE, VR::CS, "2D");
            put_str(data, tags::PIXEL_ORIGIN_INTERPRETATION, VR::CS, "VOLUME");
        }
    }
}

fn group(
    number: usize,
    (kind, class, provenance, shape, _): GroupKey,
    members: &[Member],
    a: &Annotations,
    slide: Option<&SlideReference>,
    lossy: &mut Lossy,
) -> InMemDicomObject {
    let class_id = class;
    let class = class.map(|c| a.class(c));
    let label = lo(class.map_or("Unclassified", |c| c.name.as_str()), lossy);
    let mut description = format!("objectType: {}", kind.name());
    match a.provenance(provenance) {
        Provenance::Algorithm { when: Some(t), .. } => description += &format!("; when: {t}"),
        Provenance::Person {
            when, edited_from, ..
        } => {
            if let Some(t) = when {
                description += &format!("; when: {t}");
            }
            if let Some(f) = edited_from {
                description += &format!("; editedFrom: {}", f.replace(';', ","));
            }
        }
        _ => {}
    }
    let mut g = group_header(number, &label, &description, kind, members.len());
    generation(&mut g, a.provenance(provenance), lossy);
    let property = match class_id {
        Some(id) => code(&format!("C{id}"), SCHEME, &label),
        None => code(UNCLASSIFIED_CODE, SCHEME, "Unclassified"),
    };
    put_seq(
        &mut g,
        tags::ANNOTATION_PROPERTY_TYPE_CODE_SEQUENCE,
        vec![property],
    );
    if let Some(c) = class.and_then(|c| c.colour) {
        let lab = dicom_lab_from_colour(c).to_vec();
        put(
            &mut g,
            tags::RECOMMENDED_DISPLAY_CIE_LAB_VALUE,
            VR::US,
            PrimitiveValue::U16(lab.into()),
        );
    }
    let rings: Vec<&[Point]> = members.iter().map(|m| m.1).collect();
    put_graphics(&mut g, shape, &rings, slide);
    let measurements = measurements(members, a, lossy);
    if !measurements.is_empty() {
        put_seq(&mut g, tags::MEASUREMENTS_SEQUENCE, measurements);
    }
    g
}

/// The nuclei of cell group `cells`, annotation for annotation, as the
/// group after it: other viewers show them as a group of their own,
/// Kakehashi reads them back onto their cells.
fn nuclei_group(
    cells: usize,
    (kind, class, provenance, _, _): GroupKey,
    members: &[Member],
    a: &Annotations,
    slide: Option<&SlideReference>,
) -> InMemDicomObject {
    let label = class.map_or("Unclassified", |c| a.class(c).name.as_str());
    let label: String = format!("{label} nuclei").chars().take(LO).collect();
    let description = format!("{NUCLEI_PREFIX}{cells}");
    let mut g = group_header(cells + 1, &label, &description, kind, members.len());
    generation(&mut g, a.provenance(provenance), &mut Lossy::default());
    let nucleus = code("84640000", "SCT", "Nucleus");
    put_seq(
        &mut g,
        tags::ANNOTATION_PROPERTY_TYPE_CODE_SEQUENCE,
        vec![nucleus],
    );
    let rings: Vec<&[Point]> = members.iter().filter_map(|m| m.2).collect();
    put_graphics(&mut g, Shape::Polygon, &rings, slide);
    g
}

/// What every group states first: number, UID, label, description, the
/// category of its objects and how many there are.
fn group_header(
    number: usize,
    label: &str,
    description: &str,
    kind: Kind,
    count: usize,
) -> InMemDicomObject {
    let mut g = InMemDicomObject::new_empty();
    put(
        &mut g,
        tags::ANNOTATION_GROUP_NUMBER,
        VR::US,
        PrimitiveValue::from(number as u16),
    );
    put_str(&mut g, tags::ANNOTATION_GROUP_UID, VR::UI, &new_uid());
    put_str(&mut g, tags::ANNOTATION_GROUP_LABEL, VR::LO, label);
    put_str(
        &mut g,
        tags::ANNOTATION_GROUP_DESCRIPTION,
        VR::UT,
        description,
    );
    let category = match kind {
        Kind::Annotation => code("91723000", "SCT", "Anatomical Structure"),
        Kind::Detection | Kind::Cell => code("4421005", "SCT", "Cell"),
        Kind::Tile => code("85756007", "SCT", "Tissue"),
    };
    put_seq(
        &mut g,
        tags::ANNOTATION_PROPERTY_CATEGORY_CODE_SEQUENCE,
        vec![category],
    );
    put(
        &mut g,
        tags::NUMBER_OF_ANNOTATIONS,
        VR::UL,
        PrimitiveValue::from(count as u32),
    );
    put_str(
        &mut g,
        tags::ANNOTATION_APPLIES_TO_ALL_OPTICAL_PATHS,
        VR::CS,
        "YES",
    );
    g
}

/// Who made a group's annotations: MANUAL, or AUTOMATIC with the
/// algorithm's name and version.
fn generation(g: &mut InMemDicomObject, provenance: &Provenance, lossy: &mut Lossy) {
    let Provenance::Algorithm { name, version, .. } = provenance else {
        put_str(g, tags::ANNOTATION_GROUP_GENERATION_TYPE, VR::CS, "MANUAL");
        return;
    };
    put_str(
        g,
        tags::ANNOTATION_GROUP_GENERATION_TYPE,
        VR::CS,
        "AUTOMATIC",
    );
    let mut algorithm = InMemDicomObject::new_empty();
    let family = code("123110", "DCM", "Artificial Intelligence");
    put_seq(
        &mut algorithm,
        tags::ALGORITHM_FAMILY_CODE_SEQUENCE,
        vec![family],
    );
    put_str(
        &mut algorithm,
        tags::ALGORITHM_NAME,
        VR::LO,
        &lo(name, lossy),
    );
    let version = if version.is_empty() {
        "unknown"
    } else {
        version
    };
    put_str(
        &mut algorithm,
        tags::ALGORITHM_VERSION,
        VR::LO,
        &lo(version, lossy),
    );
    let tag = tags::ANNOTATION_GROUP_ALGORITHM_IDENTIFICATION_SEQUENCE;
    put_seq(g, tag, vec![algorithm]);
}

/// Graphic type, coordinates and point indices of a group: level-0 pixels
/// as they are (2D), or millimetres on the slide with the plane's z given
/// once (3D). Doubles keep them exact.
fn put_graphics(
    g: &mut InMemDicomObject,
    shape: Shape,
    rings: &[&[Point]],
    slide: Option<&SlideReference>,
) {
    put_str(g, tags::GRAPHIC_TYPE, VR::CS, shape.name());
    let total: usize = rings.iter().map(|r| r.len()).sum();
    let mut coordinates = Vec::with_capacity(total * 2);
    let mut starts = Vec::with_capacity(rings.len());
    for points in rings {
        starts.push(coordinates.len() as u32 + 1);
        for p in *points {
            match slide {
                Some(s) => {
                    let [x, y, _] = s.geometry.slide_from_pixel(*p);
                    coordinates.extend([x, y]);
                }
                None => coordinates.extend([p.x, p.y]),
            }
        }
    }
    if slide.is_some() {
        put_str(g, tags::ANNOTATION_APPLIES_TO_ALL_Z_PLANES, VR::CS, "NO");
        put(
            g,
            tags::COMMON_Z_COORDINATE_VALUE,
            VR::FD,
            PrimitiveValue::from(0.0f64),
        );
    }
    let coordinates = PrimitiveValue::F64(coordinates.into());
    put(g, tags::DOUBLE_POINT_COORDINATES_DATA, VR::OD, coordinates);
    if matches!(shape, Shape::Polyline | Shape::Polygon) {
        let starts = PrimitiveValue::U32(starts.into());
        put(g, tags::LONG_PRIMITIVE_POINT_INDEX_LIST, VR::OL, starts);
    }
}

/// One Measurements item per name the group's objects carry: values as
/// float32 (DICOM's), with an index list when not every object has one.
fn measurements(members: &[Member], a: &Annotations, lossy: &mut Lossy) -> Vec<InMemDicomObject> {
    let mut columns: BTreeMap<u32, (Vec<f32>, Vec<u32>)> = BTreeMap::new();
    for (i, (o, _, _)) in members.iter().enumerate() {
        for &(name, value) in &o.measurements {
            // NaN is "listed without a number": DICOM leaves it out.
            if value.is_nan() {
                continue;
            }
            let column = columns.entry(name).or_default();
            // One value per annotation: a name listed twice keeps its first.
            if column.1.last() == Some(&(i as u32 + 1)) {
                continue;
            }
            column.0.push(value as f32);
            column.1.push(i as u32 + 1);
        }
    }
    columns
        .into_iter()
        .map(|(id, (values, indices))| {
            let mut m = InMemDicomObject::new_empty();
            let name = lo(a.measurement_name(id), lossy);
            let concept = code(&format!("M{id}"), SCHEME, &name);
            put_seq(&mut m, tags::CONCEPT_NAME_CODE_SEQUENCE, vec![concept]);
            put_seq(
                &mut m,
                tags::MEASUREMENT_UNITS_CODE_SEQUENCE,
                vec![code("1", "UCUM", "no units")],
            );
            let mut stored = InMemDicomObject::new_empty();
            let dense = values.len() == members.len();
            put(
                &mut stored,
                tags::FLOATING_POINT_VALUES,
                VR::OF,
                PrimitiveValue::F32(values.into()),
            );
            if !dense {
                put(
                    &mut stored,
                    tags::ANNOTATION_INDEX_LIST,
                    VR::OL,
                    PrimitiveValue::U32(indices.into()),
                );
            }
            put_seq(&mut m, tags::MEASUREMENT_VALUES_SEQUENCE, vec![stored]);
            m
        })
        .collect()
}

/// The latest time any provenance gives, else now (UTC), as DA and TM.
/// With the offset from UTC (`+0000` for `…Z`), when the time gives one.
fn content_date_time(a: &Annotations) -> (String, String, Option<String>) {
    let latest = (0..)
        .map_while(|i| a.provenance_checked(i))
        .filter_map(|p| match p {
            Provenance::Person { when, .. } | Provenance::Algorithm { when, .. } => when.clone(),
            Provenance::Unknown => None,
        })
        .max()
        .unwrap_or_else(|| {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            iso8601_from_unix(now)
        });
    let digits: String = latest.chars().filter(char::is_ascii_digit).collect();
    let date = digits.get(..8).unwrap_or("19700101").to_owned();
    let time = digits.get(8..14).unwrap_or("000000").to_owned();
    let offset = if latest.ends_with('Z') {
        Some("+0000".to_owned())
    } else {
        let tail = latest.get(latest.len().saturating_sub(6)..).unwrap_or("");
        let b = tail.as_bytes();
        (b.len() == 6 && matches!(b[0], b'+' | b'-') && b[3] == b':')
            .then(|| format!("{}{}{}", &tail[..1], &tail[1..3], &tail[4..6]))
    };
    (date, time, offset)
}

/// A new UID under 2.25 (a random UUID as one decimal number).
fn new_uid() -> String {
    format!("2.25.{}", rand::random::<u128>() >> 1)
}

fn lo(s: &str, lossy: &mut Lossy) -> String {
    if s.chars().count() > LO {
        lossy.names_cut += 1;
        s.chars().take(LO).collect()
    } else {
        s.to_owned()
    }
}

fn code(value: &str, scheme: &str, meaning: &str) -> InMemDicomObject {
    let mut c = InMemDicomObject::new_empty();
    put_str(&mut c, tags::CODE_VALUE, VR::SH, value);
    put_str(&mut c, tags::CODING_SCHEME_DESIGNATOR, VR::SH, scheme);
    put_str(&mut c, tags::CODE_MEANING, VR::LO, meaning);
    c
}

fn put(obj: &mut InMemDicomObject, tag: Tag, vr: VR, value: PrimitiveValue) {
    obj.put(DataElement::new(tag, vr, value));
}

fn put_str(obj: &mut InMemDicomObject, tag: Tag, vr: VR, value: &str) {
    put(obj, tag, vr, PrimitiveValue::from(value));
}

fn put_seq(obj: &mut InMemDicomObject, tag: Tag, items: Vec<InMemDicomObject>) {
    obj.put(DataElement::new(tag, VR::SQ, DataSetSequence::from(items)));
}
