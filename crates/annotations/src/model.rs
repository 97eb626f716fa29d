//! The annotation model: objects on a slide in level-0 pixels, with what
//! they are (kind, class), what was measured on them and who made them.
//!
//! Class names, measurement names and provenances are held once per
//! [`Annotations`] and referred to by index: a million cells share a
//! handful of classes and the same thirty measurement names, and the
//! overlay and the binary cache want small fixed-size records.

use std::collections::HashMap;

/// A position in level-0 slide pixels (x right, y down; the centre of the
/// top-left pixel is (0.5, 0.5), as QuPath, ASAP and DICOM's 2D image
/// coordinates count).
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct Point {
    pub x: f64,
    pub y: f64,
}

impl Point {
    pub const fn new(x: f64, y: f64) -> Self {
        Point { x, y }
    }
}

/// A polygon: its outer ring and any holes. Rings are stored open (the
/// closing vertex that GeoJSON repeats is dropped on reading and added on
/// writing).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Polygon {
    pub exterior: Vec<Point>,
    pub holes: Vec<Vec<Point>>,
}

/// The shape of an object.
#[derive(Debug, Clone, PartialEq)]
pub enum Geometry {
    Point(Point),
    MultiPoint(Vec<Point>),
    Polyline(Vec<Point>),
    /// Several polylines as one object (GeoJSON MultiLineString).
    MultiPolyline(Vec<Vec<Point>>),
    Polygon(Polygon),
    MultiPolygon(Vec<Polygon>),
    /// Four corners in order (a rectangle in slide coordinates may be
    /// rotated in the image, as DICOM's 3D coordinates allow). Boxed, like
    /// the ellipse: a geometry is then three words, and a million objects
    /// are that much smaller.
    Rectangle(Box<[Point; 4]>),
    /// The end points of the major axis, then of the minor axis (DICOM's
    /// ELLIPSE).
    Ellipse(Box<[Point; 4]>),
}

impl Geometry {
    /// Every vertex of the shape (corners and axis ends for rectangles and
    /// ellipses), in order.
    pub fn vertices(&self) -> Box<dyn Iterator<Item = Point> + '_> {
        match self {
            Geometry::Point(p) => Box::new(std::iter::once(*p)),
            Geometry::MultiPoint(v) | Geometry::Polyline(v) => Box::new(v.iter().copied()),
            Geometry::MultiPolyline(lines) => Box::new(lines.iter().flatten().copied()),
            Geometry::Polygon(p) => Box::new(polygon_vertices(p)),
            Geometry::MultiPolygon(ps) => Box::new(ps.iter().flat_map(polygon_vertices)),
            Geometry::Rectangle(c) | Geometry::Ellipse(c) => Box::new(c.iter().copied()),
        }
    }

    /// The smallest axis-aligned box holding the shape. An ellipse's box is
    /// exact, not its axis ends'.
    pub fn bounds(&self) -> Option<Bounds> {
        if let Geometry::Ellipse(axes) = self {
            return Some(ellipse_bounds(axes));
        }
        let mut b: Option<Bounds> = None;
        for p in self.vertices() {
            b = Some(match b {
                None => Bounds::of_point(p),
                Some(b) => b.with(p),
            });
        }
        b
    }

    /// The GeoJSON name of the shape this geometry is written as.
    pub fn name(&self) -> &'static str {
        match self {
            Geometry::Point(_) => "point",
            Geometry::MultiPoint(_) => "multipoint",
            Geometry::Polyline(_) => "polyline",
            Geometry::MultiPolyline(_) => "multipolyline",
            Geometry::Polygon(_) => "polygon",
            Geometry::MultiPolygon(_) => "multipolygon",
            Geometry::Rectangle(_) => "rectangle",
            Geometry::Ellipse(_) => "ellipse",
        }
    }
}

fn polygon_vertices(p: &Polygon) -> impl Iterator<Item = Point> + '_ {
    p.exterior.iter().chain(p.holes.iter().flatten()).copied()
}

fn ellipse_bounds(axes: &[Point; 4]) -> Bounds {
    let centre = Point::new((axes[0].x + axes[1].x) / 2.0, (axes[0].y + axes[1].y) / 2.0);
    // Semi-axis vectors a and b: the box's half extents are
    // sqrt(a.x² + b.x²) and sqrt(a.y² + b.y²).
    let a = Point::new(axes[1].x - centre.x, axes[1].y - centre.y);
    let b = Point::new((axes[3].x - axes[2].x) / 2.0, (axes[3].y - axes[2].y) / 2.0);
    let hx = a.x.hypot(b.x);
    let hy = a.y.hypot(b.y);
    Bounds {
        min_x: centre.x - hx,
        min_y: centre.y - hy,
        max_x: centre.x + hx,
        max_y: centre.y + hy,
    }
}

/// An axis-aligned box in level-0 pixels.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Bounds {
    pub min_x: f64,
    pub min_y: f64,
    pub max_x: f64,
    pub max_y: f64,
}

impl Bounds {
    pub fn of_point(p: Point) -> Self {
        Bounds {
            min_x: p.x,
            min_y: p.y,
            max_x: p.x,
            max_y: p.y,
        }
    }
    pub fn with(self, p: Point) -> Self {
        Bounds {
            min_x: self.min_x.min(p.x),
            min_y: self.min_y.min(p.y),
            max_x: self.max_x.max(p.x),
            max_y: self.max_y.max(p.y),
        }
    }
    pub fn union(self, o: Bounds) -> Self {
        Bounds {
            min_x: self.min_x.min(o.min_x),
            min_y: self.min_y.min(o.min_y),
            max_x: self.max_x.max(o.max_x),
            max_y: self.max_y.max(o.max_y),
        }
    }
}

/// What an object is, as QuPath's object hierarchy names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A region someone (or something) drew: usually large, few.
    Annotation,
    /// A detected object: usually small, many.
    Detection,
    /// A detection with a cell boundary and, often, a nucleus.
    Cell,
    /// A square of a grid: scores per patch, heatmaps.
    Tile,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Annotation, Kind::Detection, Kind::Cell, Kind::Tile];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Annotation => "annotation",
            Kind::Detection => "detection",
            Kind::Cell => "cell",
            Kind::Tile => "tile",
        }
    }
}

/// An RGB colour with alpha (255 when a file gives none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Colour {
    pub r: u8,
    pub g: u8,
    pub b: u8,
    pub a: u8,
}

impl Colour {
    pub const fn rgb(r: u8, g: u8, b: u8) -> Self {
        Colour { r, g, b, a: 255 }
    }

    /// From Java's packed ARGB integer (QuPath's `colorRGB` and `color`).
    /// An alpha of 0 means "not given" there, so it reads as opaque.
    pub fn from_packed_argb(v: i64) -> Self {
        let v = v as u32;
        let a = (v >> 24) as u8;
        Colour {
            r: (v >> 16) as u8,
            g: (v >> 8) as u8,
            b: v as u8,
            a: if a == 0 { 255 } else { a },
        }
    }

    /// `#RRGGBB` (ASAP) — or `#RRGGBBAA`.
    pub fn from_hex(s: &str) -> Option<Self> {
        let h = s.strip_prefix('#').unwrap_or(s);
        let byte = |i: usize| u8::from_str_radix(h.get(i..i + 2)?, 16).ok();
        match h.len() {
            6 => Some(Colour::rgb(byte(0)?, byte(2)?, byte(4)?)),
            8 => Some(Colour {
                a: byte(6)?,
                ..Colour::rgb(byte(0)?, byte(2)?, byte(4)?)
            }),
            _ => None,
        }
    }

    pub fn hex(self) -> String {
        format!("#{:02X}{:02X}{:02X}", self.r, self.g, self.b)
    }
}

/// A classification: "Tumor", or a derived class such as "Tumor: Positive"
/// (QuPath's convention: parts joined by ": ").
#[derive(Debug, Clone, PartialEq)]
pub struct Class {
    pub name: String,
    pub colour: Option<Colour>,
}

impl Class {
    /// The parts of a derived class ("Tumor", "Positive").
    pub fn parts(&self) -> impl Iterator<Item = &str> {
        self.name.split(':').map(str::trim)
    }
}

/// Who or what made an object.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum Provenance {
    /// The file does not say.
    #[default]
    Unknown,
    /// A person drew or edited it; `edited_from` names the algorithm whose
    /// finding they took over and changed ("nuclei 0.1"), if that is how
    /// it began.
    Person {
        name: String,
        when: Option<String>,
        edited_from: Option<String>,
    },
    /// An algorithm found it.
    Algorithm {
        name: String,
        version: String,
        when: Option<String>,
    },
}

impl Provenance {
    pub fn is_algorithm(&self) -> bool {
        matches!(self, Provenance::Algorithm { .. })
    }
}

/// `YYYY-MM-DDThh:mm:ssZ` for a Unix time (days to a civil date by
/// Howard Hinnant's algorithm, exact for the proleptic Gregorian calendar).
pub fn iso8601_from_unix(seconds: u64) -> String {
    let days = (seconds / 86_400) as i64;
    let rest = seconds % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let m = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * m + 2) / 5 + 1;
    let month = if m < 10 { m + 3 } else { m - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// Indices into an [`Annotations`]' shared tables.
pub type ClassId = u32;
pub type NameId = u32;
pub type ProvenanceId = u32;

/// One object on the slide.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    pub kind: Kind,
    pub geometry: Geometry,
    /// A cell's nucleus (boxed: most objects have none).
    pub nucleus: Option<Box<Geometry>>,
    /// The file's identifier (QuPath writes UUIDs).
    pub id: Option<Box<str>>,
    pub name: Option<Box<str>>,
    pub class: Option<ClassId>,
    /// The object's own colour, shown when it has no class.
    pub colour: Option<Colour>,
    pub locked: bool,
    /// Measurement name (in [`Annotations::measurement_names`]) → value.
    /// NaN stands for a measurement the file lists without a number.
    pub measurements: Vec<(NameId, f64)>,
    pub provenance: ProvenanceId,
}

impl Object {
    pub fn new(kind: Kind, geometry: Geometry) -> Self {
        Object {
            kind,
            geometry,
            nucleus: None,
            id: None,
            name: None,
            class: None,
            colour: None,
            locked: false,
            measurements: Vec::new(),
            provenance: 0,
        }
    }
}

/// A set of objects with the tables they share: what one file or one
/// analysis run holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Annotations {
    pub objects: Vec<Object>,
    classes: Vec<Class>,
    class_index: HashMap<String, ClassId>,
    measurement_names: Vec<String>,
    measurement_index: HashMap<String, NameId>,
    provenances: Vec<Provenance>,
}

impl Default for Annotations {
    fn default() -> Self {
        Annotations {
            objects: Vec::new(),
            classes: Vec::new(),
            class_index: HashMap::new(),
            measurement_names: Vec::new(),
            measurement_index: HashMap::new(),
            // Index 0 is always "unknown", so a new object needs no lookup.
            provenances: vec![Provenance::Unknown],
        }
    }
}

impl Annotations {
    pub fn classes(&self) -> &[Class] {
        &self.classes
    }
    pub fn class(&self, id: ClassId) -> &Class {
        &self.classes[id as usize]
    }
    pub fn measurement_names(&self) -> &[String] {
        &self.measurement_names
    }
    pub fn measurement_name(&self, id: NameId) -> &str {
        &self.measurement_names[id as usize]
    }
    pub fn provenance(&self, id: ProvenanceId) -> &Provenance {
        &self.provenances[id as usize]
    }
    /// A provenance by index, `None` past the table's end.
    pub fn provenance_checked(&self, id: ProvenanceId) -> Option<&Provenance> {
        self.provenances.get(id as usize)
    }

    /// The class with this name, added if new. A colour given here fills
    /// in a class that had none (files often colour a class only once).
    pub fn class_id(&mut self, name: &str, colour: Option<Colour>) -> ClassId {
        if let Some(&id) = self.class_index.get(name) {
            let class = &mut self.classes[id as usize];
            if class.colour.is_none() {
                class.colour = colour;
            }
            return id;
        }
        let id = self.classes.len() as ClassId;
        self.classes.push(Class {
            name: name.to_owned(),
            colour,
        });
        self.class_index.insert(name.to_owned(), id);
        id
    }

    /// Set a class's colour (a file's group colours, read after its objects).
    pub fn set_class_colour(&mut self, id: ClassId, colour: Colour) {
        self.classes[id as usize].colour = Some(colour);
    }

    pub fn measurement_id(&mut self, name: &str) -> NameId {
        if let Some(&id) = self.measurement_index.get(name) {
            return id;
        }
        let id = self.measurement_names.len() as NameId;
        self.measurement_names.push(name.to_owned());
        self.measurement_index.insert(name.to_owned(), id);
        id
    }

    pub fn provenance_id(&mut self, p: Provenance) -> ProvenanceId {
        if let Some(i) = self.provenances.iter().position(|q| *q == p) {
            return i as ProvenanceId;
        }
        self.provenances.push(p);
        (self.provenances.len() - 1) as ProvenanceId
    }

    /// The colour an object is drawn in: its class's, else its own, else
    /// the default (QuPath's yellow-ish for annotations, red for the rest).
    pub fn colour_of(&self, o: &Object) -> Colour {
        o.class
            .and_then(|c| self.classes[c as usize].colour)
            .or(o.colour)
            .unwrap_or(match o.kind {
                Kind::Annotation => Colour::rgb(255, 0, 0),
                _ => Colour::rgb(255, 204, 0),
            })
    }

    /// A measurement of an object by name.
    pub fn measurement(&self, o: &Object, name: &str) -> Option<f64> {
        let id = *self.measurement_index.get(name)?;
        o.measurements.iter().find(|m| m.0 == id).map(|m| m.1)
    }

    /// The least and greatest finite value of a measurement over the
    /// objects (the viewer's and `kh render`'s default heatmap range).
    pub fn measurement_range(&self, name: &str) -> Option<(f64, f64)> {
        let id = *self.measurement_index.get(name)?;
        self.measurement_ranges()[id as usize]
    }

    /// Every measurement's least and greatest finite value, by name id, in
    /// one pass over the objects.
    pub fn measurement_ranges(&self) -> Vec<Option<(f64, f64)>> {
        let mut ranges = vec![None; self.measurement_names.len()];
        for o in &self.objects {
            for &(name, v) in &o.measurements {
                if v.is_finite() {
                    let r: &mut Option<(f64, f64)> = &mut ranges[name as usize];
                    *r = Some(r.map_or((v, v), |(lo, hi)| (lo.min(v), hi.max(v))));
                }
            }
        }
        ranges
    }

    /// The box around every object.
    pub fn bounds(&self) -> Option<Bounds> {
        self.objects
            .iter()
            .filter_map(|o| o.geometry.bounds())
            .reduce(Bounds::union)
    }

    /// Take another set's objects, re-pointing their classes, names and
    /// provenances into this set's tables.
    pub fn append(&mut self, other: Annotations) {
        let classes: Vec<ClassId> = other
            .classes
            .iter()
            .map(|c| self.class_id(&c.name, c.colour))
            .collect();
        let names: Vec<NameId> = other
            .measurement_names
            .iter()
            .map(|n| self.measurement_id(n))
            .collect();
        let provenances: Vec<ProvenanceId> = other
            .provenances
            .iter()
            .map(|p| self.provenance_id(p.clone()))
            .collect();
        self.objects.extend(other.objects.into_iter().map(|mut o| {
            o.class = o.class.map(|c| classes[c as usize]);
            for m in &mut o.measurements {
                m.0 = names[m.0 as usize];
            }
            o.provenance = provenances[o.provenance as usize];
            o
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_times_become_dates() {
        assert_eq!(iso8601_from_unix(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601_from_unix(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(iso8601_from_unix(1_796_643_778), "2026-12-07T11:42:58Z");
        assert_eq!(iso8601_from_unix(4_107_628_799), "2100-03-01T23:59:59Z");
    }

    #[test]
    fn packed_colours_read_as_java_writes_them() {
        // QuPath's -8397766 is (127, 220, 58) with alpha 255.
        assert_eq!(
            Colour::from_packed_argb(-8397766),
            Colour::rgb(127, 220, 58)
        );
        // Packed without alpha (0xRRGGBB) is opaque too.
        assert_eq!(Colour::from_packed_argb(0xff0000), Colour::rgb(255, 0, 0));
        assert_eq!(Colour::from_hex("#F4FA58"), Some(Colour::rgb(244, 250, 88)));
        assert_eq!(Colour::from_hex("#F4FA"), None);
    }

    #[test]
    fn an_ellipse_box_is_exact_under_rotation() {
        // Axes of length 2a = 10 (along x) and 2b = 4 (along y), centre (5, 5),
        // then the same ellipse turned 90°.
        let flat = Geometry::Ellipse(Box::new([
            Point::new(0.0, 5.0),
            Point::new(10.0, 5.0),
            Point::new(5.0, 3.0),
            Point::new(5.0, 7.0),
        ]));
        let b = flat.bounds().unwrap();
        assert_eq!((b.min_x, b.min_y, b.max_x, b.max_y), (0.0, 3.0, 10.0, 7.0));
        let turned = Geometry::Ellipse(Box::new([
            Point::new(5.0, 0.0),
            Point::new(5.0, 10.0),
            Point::new(3.0, 5.0),
            Point::new(7.0, 5.0),
        ]));
        let b = turned.bounds().unwrap();
        assert_eq!((b.min_x, b.min_y, b.max_x, b.max_y), (3.0, 0.0, 7.0, 10.0));
    }

    #[test]
    fn appending_re_points_shared_tables() {
        let mut a = Annotations::default();
        let tumour = a.class_id("Tumor", None);
        let mut b = Annotations::default();
        let stroma = b.class_id("Stroma", Some(Colour::rgb(0, 255, 0)));
        let t2 = b.class_id("Tumor", Some(Colour::rgb(200, 0, 0)));
        let area = b.measurement_id("Area");
        let mut o = Object::new(Kind::Detection, Geometry::Point(Point::new(1.0, 2.0)));
        o.class = Some(t2);
        o.measurements.push((area, 3.5));
        b.objects.push(o);
        let mut o = Object::new(Kind::Detection, Geometry::Point(Point::new(1.0, 2.0)));
        o.class = Some(stroma);
        b.objects.push(o);
        a.append(b);
        assert_eq!(a.objects[0].class, Some(tumour));
        // The class that had no colour takes the one the other set gives.
        assert_eq!(a.class(tumour).colour, Some(Colour::rgb(200, 0, 0)));
        assert_eq!(a.class(a.objects[1].class.unwrap()).name, "Stroma");
        assert_eq!(a.measurement(&a.objects[0], "Area"), Some(3.5));
        // Ranges over finite values only; a name nobody measured has none.
        let area = a.measurement_id("Area");
        a.objects[1].measurements.push((area, f64::NAN));
        let depth = a.measurement_id("Depth");
        assert_eq!(a.measurement_range("Area"), Some((3.5, 3.5)));
        assert_eq!(a.measurement_ranges()[depth as usize], None);
    }
}
