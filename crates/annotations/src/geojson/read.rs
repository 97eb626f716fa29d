//! QuPath GeoJSON in every form QuPath reads, and plain GeoJSON.
//!
//! The file is parsed as a stream: each Feature is deserialised straight
//! into an [`Object`] (no JSON tree), so memory is the result plus one
//! object. Keys may come in any order, as JSON allows.
//!
//! QuPath writes NaN measurements as a bare `NaN` (Gson's special floating
//! point values), which is not JSON. Such a file fails the fast parse; it
//! is then read again through [`NanAsNull`], which turns `NaN`, `Infinity`
//! and `-Infinity` outside strings into `null`.

use super::coords::{Budget, Coords, CoordsSeed};
use crate::error::Fault;
use crate::limits::Limits;
use crate::model::{
    Annotations, Colour, Geometry, Kind, NameId, Object, Point, Polygon, Provenance,
};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::fmt;
use std::io::Read;

/// Parse GeoJSON from a stream. A QuPath file with bare `NaN`s fails
/// here as not JSON; [`annotations_from_lenient_geojson`] reads it.
pub fn annotations_from_geojson(r: impl Read, limits: &Limits) -> Result<Annotations, Fault> {
    parse(&mut serde_json::Deserializer::from_reader(r), limits)
}

/// Parse GeoJSON with `NaN`, `Infinity` and `-Infinity` outside strings
/// read as `null` (a measurement without a value; a coordinate error).
pub fn annotations_from_lenient_geojson(
    r: impl Read,
    limits: &Limits,
) -> Result<Annotations, Fault> {
    annotations_from_geojson(NanAsNull::new(r), limits)
}

fn parse<'de, R: serde_json::de::Read<'de>>(
    de: &mut serde_json::Deserializer<R>,
    limits: &Limits,
) -> Result<Annotations, Fault> {
    let mut state = State {
        out: Annotations::default(),
        limits,
        fault: None,
        features: 0,
        current: None,
    };
    let result = TopSeed(&mut state)
        .deserialize(&mut *de)
        .and_then(|()| de.end());
    match result {
        Ok(()) => Ok(state.out),
        Err(e) => Err(match state.fault.take() {
            Some(fault) => fault,
            None => {
                let fault = Fault::corrupt(format!("not valid JSON: {e}"));
                match state.current {
                    Some(i) => fault.in_object(i),
                    None => fault,
                }
            }
        }),
    }
}

/// Parse one Feature's bytes into `out` as object number `index` of its
/// file (the parallel reader hands each worker a run of Features).
pub(super) fn feature_into(
    bytes: &[u8],
    out: Annotations,
    limits: &Limits,
    index: usize,
) -> Result<Annotations, Box<(Annotations, Fault)>> {
    let mut state = State {
        out,
        limits,
        fault: None,
        features: index + 1,
        current: Some(index),
    };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let result = FeatureSeed(&mut state)
        .deserialize(&mut de)
        .and_then(|()| de.end());
    match result {
        Ok(()) => Ok(state.out),
        Err(e) => {
            let fault = state
                .fault
                .take()
                .unwrap_or_else(|| Fault::corrupt(format!("not valid JSON: {e}")).in_object(index));
            Err(Box::new((state.out, fault)))
        }
    }
}

/// What the visitors share: the result so far, the limits, and the fault
/// that stopped them (serde's own errors carry only text).
struct State<'l> {
    out: Annotations,
    limits: &'l Limits,
    fault: Option<Fault>,
    features: usize,
    /// The object being read, for errors JSON's own parser reports.
    current: Option<usize>,
}

impl State<'_> {
    fn fail<E: de::Error>(&mut self, fault: Fault) -> E {
        let fault = match self.current {
            Some(i) => fault.in_object(i),
            None => fault,
        };
        let e = E::custom(&fault);
        self.fault = Some(fault);
        e
    }

    fn next_object(&mut self) -> Result<usize, Fault> {
        if self.features >= self.limits.max_objects {
            return Err(Fault::limit(format!(
                "more than {} objects in one file",
                self.limits.max_objects
            ))
            .in_object(self.features));
        }
        self.current = Some(self.features);
        self.features += 1;
        Ok(self.features - 1)
    }
}

/// The top level: a FeatureCollection, a bare array of Features, a single
/// Feature, or a bare Geometry.
struct TopSeed<'s, 'l>(&'s mut State<'l>);

impl<'de> DeserializeSeed<'de> for TopSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TopSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a GeoJSON FeatureCollection, Feature or array of Features")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        FeaturesSeed(self.0).visit_seq(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        // Until a key says otherwise this may be a single Feature (or a
        // bare Geometry); its parts are gathered as a Feature's would be.
        let state = self.0;
        let mut declared: Option<String> = None;
        let mut saw_features = false;
        let mut feature = FeatureParts::default();
        let mut geometry = GeometryParts::default();
        while let Some(key) = map.next_key::<Key>()? {
            match key.as_str() {
                "features" => {
                    saw_features = true;
                    map.next_value_seed(FeaturesSeed(&mut *state))?;
                }
                "type" => declared = Some(map.next_value::<Key>()?.into_string()),
                "coordinates" | "geometries" => {
                    if state.current.is_none() {
                        state.next_object().map_err(|f| state.fail(f))?;
                    }
                    geometry.key(key.as_str(), &mut map, state)?;
                }
                _ => {
                    if matches!(key.as_str(), "geometry" | "properties" | "nucleusGeometry")
                        && state.current.is_none()
                    {
                        state.next_object().map_err(|f| state.fail(f))?;
                    }
                    feature.key(key.as_str(), &mut map, state)?;
                }
            }
        }
        match declared.as_deref() {
            _ if saw_features => Ok(()),
            Some("FeatureCollection") => Ok(()),
            Some("Feature") => finish_feature(feature, state),
            None if feature.geometry.is_some() || feature.seen_any() => {
                finish_feature(feature, state)
            }
            Some(t) if geometry.coords.is_some() || geometry.collection => {
                geometry.declared = Some(t.to_owned());
                let geometry = geometry.finish().map_err(|f| state.fail(f))?;
                let object = Object::new(Kind::Annotation, geometry);
                state.out.objects.push(object);
                Ok(())
            }
            Some(t) => Err(state.fail(Fault::unsupported(format!(
                "a GeoJSON {t} holds no features"
            )))),
            None => Err(state.fail(Fault::unsupported(
                "no \"features\", \"geometry\" or \"type\": not GeoJSON",
            ))),
        }
    }
}

/// An array of Features, each read into the result as it arrives.
struct FeaturesSeed<'s, 'l>(&'s mut State<'l>);

impl<'de> DeserializeSeed<'de> for FeaturesSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for FeaturesSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of GeoJSON Features")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let state = self.0;
        if let Some(n) = seq.size_hint() {
            state.out.objects.reserve(n.min(state.limits.max_objects));
        }
        loop {
            state.next_object().map_err(|f| state.fail(f))?;
            if seq.next_element_seed(FeatureSeed(&mut *state))?.is_none() {
                // The count was taken for an element that was not there.
                state.features -= 1;
                state.current = None;
                return Ok(());
            }
        }
    }
}

struct FeatureSeed<'s, 'l>(&'s mut State<'l>);

impl<'de> DeserializeSeed<'de> for FeatureSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for FeatureSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a GeoJSON Feature")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let state = self.0;
        let mut feature = FeatureParts::default();
        while let Some(key) = map.next_key::<Key>()? {
            if key.as_str() == "type" {
                let t = map.next_value::<Key>()?;
                if t.as_str() != "Feature" {
                    let t = t.as_str();
                    return Err(
                        state.fail(Fault::corrupt(format!("a {t} where a Feature belongs")))
                    );
                }
            } else {
                feature.key(key.as_str(), &mut map, state)?;
            }
        }
        finish_feature(feature, state)
    }
}

/// A Feature's parts as they arrive, in whatever order.
#[derive(Default)]
struct FeatureParts {
    id: Option<String>,
    geometry: Option<Geometry>,
    nucleus: Option<Geometry>,
    properties: Properties,
    has_properties: bool,
    /// The vertices read so far in this object (geometry and nucleus).
    vertices: usize,
}

impl FeatureParts {
    fn seen_any(&self) -> bool {
        self.id.is_some() || self.has_properties || self.nucleus.is_some()
    }

    fn key<'de, A: MapAccess<'de>>(
        &mut self,
        key: &str,
        map: &mut A,
        state: &mut State,
    ) -> Result<(), A::Error> {
        match key {
            "geometry" | "nucleusGeometry" => {
                let g = map.next_value_seed(GeometrySeed {
                    state: &mut *state,
                    vertices: &mut self.vertices,
                })?;
                if key == "geometry" {
                    self.geometry = g;
                } else {
                    self.nucleus = g;
                }
            }
            "properties" => {
                self.has_properties = true;
                self.properties = map.next_value_seed(PropertiesSeed(&mut *state))?;
            }
            "id" => self.id = map.next_value::<Option<IdText>>()?.map(|t| t.0),
            _ => {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

fn finish_feature<E: de::Error>(f: FeatureParts, state: &mut State) -> Result<(), E> {
    let Some(geometry) = f.geometry else {
        return Err(state.fail(Fault::corrupt("a Feature without a geometry")));
    };
    let p = f.properties;
    // QuPath's order: objectType, then object_type, then type; before v0.4
    // the type was written as the Feature's id.
    let legacy = f.id.as_deref().and_then(kind_from_legacy_id);
    let kind = match p.object_type.or(p.object_type_snake).or(p.type_alias) {
        Some(t) => kind_from_name(&t),
        None => legacy.unwrap_or(Kind::Annotation),
    };
    let mut object = Object::new(kind, geometry);
    object.nucleus = f.nucleus.map(Box::new);
    object.id =
        f.id.filter(|_| legacy.is_none())
            .map(String::into_boxed_str);
    object.name = p.name.map(String::into_boxed_str);
    object.colour = p.colour;
    object.locked = p.locked;
    if let Some((name, colour)) = p.class {
        object.class = Some(state.out.class_id(&name, colour));
    }
    object.measurements = p.measurements;
    if let Some(prov) = p.provenance {
        object.provenance = state.out.provenance_id(prov);
    }
    state.out.objects.push(object);
    state.current = None;
    Ok(())
}

fn kind_from_legacy_id(id: &str) -> Option<Kind> {
    Some(match id {
        "PathTileObject" => Kind::Tile,
        "PathCellObject" => Kind::Cell,
        "PathDetectionObject" => Kind::Detection,
        "PathAnnotationObject" | "TMACoreObject" | "PathRootObject" => Kind::Annotation,
        _ => return None,
    })
}

/// QuPath's type names; anything it does not know becomes an annotation,
/// as in QuPath.
fn kind_from_name(t: &str) -> Kind {
    match t {
        "tile" | "PathTileObject" => Kind::Tile,
        "cell" | "PathCellObject" => Kind::Cell,
        "detection" | "PathDetectionObject" => Kind::Detection,
        _ => Kind::Annotation,
    }
}

/// A key or short string, borrowed from the input where it can be (keys
/// without escapes, from a byte slice): parsing a million Features then
/// allocates no key.
struct Key<'de>(std::borrow::Cow<'de, str>);

impl Key<'_> {
    fn as_str(&self) -> &str {
        &self.0
    }
    fn into_string(self) -> String {
        self.0.into_owned()
    }
}

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Owned(s.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

/// A Feature id: GeoJSON allows a string or a number.
struct IdText(String);

impl<'de> de::Deserialize<'de> for IdText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = IdText;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or number id")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<IdText, E> {
                if s.len() > 1024 {
                    return Err(E::custom("an id longer than 1024 bytes"));
                }
                Ok(IdText(s.to_owned()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<IdText, E> {
                Ok(IdText(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<IdText, E> {
                Ok(IdText(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<IdText, E> {
                Ok(IdText(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// A geometry object: `type` and `coordinates` in either order.
struct GeometrySeed<'s, 'l> {
    state: &'s mut State<'l>,
    vertices: &'s mut usize,
}

impl<'de> DeserializeSeed<'de> for GeometrySeed<'_, '_> {
    type Value = Option<Geometry>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<Geometry>, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for GeometrySeed<'_, '_> {
    type Value = Option<Geometry>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a GeoJSON geometry or null")
    }
    fn visit_none<E: de::Error>(self) -> Result<Option<Geometry>, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Option<Geometry>, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<Geometry>, D::Error> {
        d.deserialize_map(self)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<Geometry>, A::Error> {
        let state = self.state;
        let mut parts = GeometryParts {
            vertices: *self.vertices,
            ..GeometryParts::default()
        };
        while let Some(key) = map.next_key::<Key>()? {
            if key.as_str() == "type" {
                parts.declared = Some(map.next_value::<Key>()?.into_string());
            } else {
                parts.key(key.as_str(), &mut map, state)?;
            }
        }
        *self.vertices = parts.vertices;
        parts.finish().map(Some).map_err(|f| state.fail(f))
    }
}

#[derive(Default)]
struct GeometryParts {
    declared: Option<String>,
    coords: Option<Coords>,
    collection: bool,
    vertices: usize,
}

impl GeometryParts {
    fn key<'de, A: MapAccess<'de>>(
        &mut self,
        key: &str,
        map: &mut A,
        state: &mut State,
    ) -> Result<(), A::Error> {
        match key {
            "coordinates" => {
                let max = state.limits.max_vertices_per_object;
                let mut budget = Budget {
                    limits: state.limits,
                    vertices_left: max.saturating_sub(self.vertices),
                    fault: None,
                };
                let coords = map.next_value_seed(CoordsSeed {
                    budget: &mut budget,
                    depth: 0,
                });
                self.vertices = max - budget.vertices_left;
                match (coords, budget.fault) {
                    (Ok(c), _) => self.coords = Some(c),
                    (Err(_), Some(fault)) => return Err(state.fail(fault)),
                    (Err(e), None) => return Err(e),
                }
            }
            "geometries" => {
                self.collection = true;
                map.next_value::<IgnoredAny>()?;
            }
            _ => {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<Geometry, Fault> {
        let declared = self
            .declared
            .ok_or_else(|| Fault::corrupt("a geometry without a \"type\""))?;
        if self.collection || declared == "GeometryCollection" {
            return Err(Fault::unsupported(
                "GeometryCollection is not read: give each shape its own Feature",
            ));
        }
        let coords = self
            .coords
            .ok_or_else(|| Fault::corrupt(format!("a {declared} without \"coordinates\"")))?;
        geometry_from_coords(&declared, coords)
    }
}

fn geometry_from_coords(declared: &str, c: Coords) -> Result<Geometry, Fault> {
    let shape = c_shape_name(&c);
    let wrong = |want: &str| {
        Fault::corrupt(format!(
            "a {declared}'s coordinates must be {want}, not {shape}"
        ))
    };
    Ok(match declared {
        "Point" => match c {
            Coords::Position(p) => Geometry::Point(p),
            _ => return Err(wrong("one position")),
        },
        "MultiPoint" => Geometry::MultiPoint(positions(c).ok_or_else(|| wrong("positions"))?),
        "LineString" => {
            let line = positions(c).ok_or_else(|| wrong("positions"))?;
            if line.len() < 2 {
                return Err(Fault::corrupt("a LineString needs two positions or more"));
            }
            Geometry::Polyline(line)
        }
        "MultiLineString" => {
            let lines = lists(c, positions).ok_or_else(|| wrong("lists of positions"))?;
            if lines.iter().any(|l| l.len() < 2) {
                return Err(Fault::corrupt(
                    "a line of a MultiLineString has under two positions",
                ));
            }
            Geometry::MultiPolyline(lines)
        }
        "Polygon" => Geometry::Polygon(polygon(c).ok_or_else(|| wrong("rings of positions"))??),
        "MultiPolygon" => {
            let Coords::Lists(parts) = c else {
                return Err(wrong("polygons"));
            };
            let mut polygons = Vec::with_capacity(parts.len());
            for part in parts {
                polygons.push(polygon(part).ok_or_else(|| {
                    Fault::corrupt("a MultiPolygon's parts must be rings of positions")
                })??);
            }
            if polygons.is_empty() {
                return Err(Fault::corrupt("an empty MultiPolygon"));
            }
            Geometry::MultiPolygon(polygons)
        }
        other => {
            return Err(Fault::unsupported(format!(
                "\"{other}\" is not a GeoJSON geometry type"
            )));
        }
    })
}

fn c_shape_name(c: &Coords) -> &'static str {
    match c {
        Coords::Position(_) => "one position",
        Coords::Positions(_) => "a list of positions",
        Coords::Lists(l) if l.is_empty() => "empty",
        Coords::Lists(_) => "nested lists",
    }
}

fn positions(c: Coords) -> Option<Vec<Point>> {
    match c {
        Coords::Positions(v) => Some(v),
        Coords::Lists(l) if l.is_empty() => Some(Vec::new()),
        _ => None,
    }
}

fn lists<T>(c: Coords, each: fn(Coords) -> Option<T>) -> Option<Vec<T>> {
    match c {
        Coords::Lists(l) => l.into_iter().map(each).collect(),
        _ => None,
    }
}

/// A polygon's rings, each closed in the file and kept open here.
fn polygon(c: Coords) -> Option<Result<Polygon, Fault>> {
    let mut rings = lists(c, positions)?.into_iter();
    let Some(exterior) = rings.next() else {
        return Some(Err(Fault::corrupt("a Polygon with no rings")));
    };
    let ring = |mut r: Vec<Point>| {
        if r.len() > 1 && r.first() == r.last() {
            r.pop();
        }
        if r.len() < 3 {
            return Err(Fault::corrupt(
                "a Polygon ring needs three distinct positions or more",
            ));
        }
        Ok(r)
    };
    Some((|| {
        Ok(Polygon {
            exterior: ring(exterior)?,
            holes: rings.map(ring).collect::<Result<_, _>>()?,
        })
    })())
}

/// The properties QuPath reads; the rest are skipped unread.
#[derive(Default)]
struct Properties {
    object_type: Option<String>,
    object_type_snake: Option<String>,
    type_alias: Option<String>,
    name: Option<String>,
    colour: Option<Colour>,
    class: Option<(String, Option<Colour>)>,
    locked: bool,
    measurements: Vec<(NameId, f64)>,
    provenance: Option<Provenance>,
}

struct PropertiesSeed<'s, 'l>(&'s mut State<'l>);

impl<'de> DeserializeSeed<'de> for PropertiesSeed<'_, '_> {
    type Value = Properties;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Properties, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for PropertiesSeed<'_, '_> {
    type Value = Properties;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a properties object")
    }
    fn visit_none<E: de::Error>(self) -> Result<Properties, E> {
        Ok(Properties::default())
    }
    fn visit_unit<E: de::Error>(self) -> Result<Properties, E> {
        Ok(Properties::default())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Properties, D::Error> {
        d.deserialize_map(self)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Properties, A::Error> {
        let state = self.0;
        let limits = state.limits;
        let mut p = Properties::default();
        let text = |state: &mut State, what: &str, s: String| -> Result<String, A::Error> {
            limits.text(what, &s).map_err(|f| state.fail(f))?;
            Ok(s)
        };
        while let Some(key) = map.next_key::<Key>()? {
            match key.as_str() {
                "objectType" => {
                    p.object_type = map.next_value::<Option<Key>>()?.map(Key::into_string)
                }
                "object_type" => {
                    p.object_type_snake = map.next_value::<Option<Key>>()?.map(Key::into_string)
                }
                "type" => p.type_alias = map.next_value::<Option<Text>>()?.and_then(|k| k.0),
                "name" => {
                    if let Some(Text(Some(s))) = map.next_value::<Option<Text>>()? {
                        p.name = Some(text(state, "a name", s)?);
                    }
                }
                "color" => p.colour = map.next_value::<Option<ColourValue>>()?.map(|c| c.0),
                "classification" => {
                    if let Some(c) = map.next_value::<Option<ClassValue>>()? {
                        let name = text(state, "a class name", c.name)?;
                        if !name.is_empty() {
                            p.class = Some((name, c.colour));
                        }
                    }
                }
                "isLocked" => p.locked = map.next_value::<Option<bool>>()?.unwrap_or(false),
                "measurements" => {
                    p.measurements = map.next_value_seed(MeasurementsSeed(&mut *state))?;
                }
                "provenance" => {
                    p.provenance = map
                        .next_value::<Option<ProvenanceValue>>()?
                        .and_then(|v| v.0);
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(p)
    }
}

/// A string property that other tools may give as another type: kept
/// when a string, skipped otherwise.
struct Text(Option<String>);

impl<'de> de::Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Text, E> {
                Ok(Text(Some(s.to_owned())))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Text, E> {
                Ok(Text(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Text, E> {
                Ok(Text(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Text, E> {
                Ok(Text(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Text, E> {
                Ok(Text(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Text, A::Error> {
                while s.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Text(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Text, A::Error> {
                while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Text(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// QuPath's colours: `[r, g, b]`, `[r, g, b, a]`, `[packed]` or a packed
/// ARGB integer.
struct ColourValue(Colour);

impl<'de> de::Deserialize<'de> for ColourValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ColourValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a colour: [r, g, b], [r, g, b, a] or a packed integer")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ColourValue, E> {
                Ok(ColourValue(Colour::from_packed_argb(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ColourValue, E> {
                Ok(ColourValue(Colour::from_packed_argb(v as i64)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<ColourValue, A::Error> {
                let mut v = [0i64; 4];
                let mut n = 0;
                while let Some(x) = s.next_element::<i64>()? {
                    if n == 4 {
                        return Err(de::Error::custom("a colour of more than four numbers"));
                    }
                    v[n] = x;
                    n += 1;
                }
                let c = |x: i64| x.clamp(0, 255) as u8;
                Ok(ColourValue(match n {
                    1 => Colour::from_packed_argb(v[0]),
                    3 => Colour::rgb(c(v[0]), c(v[1]), c(v[2])),
                    // Alpha last in QuPath's arrays.
                    4 => Colour {
                        a: c(v[3]),
                        ..Colour::rgb(c(v[0]), c(v[1]), c(v[2]))
                    },
                    n => return Err(de::Error::custom(format!("a colour of {n} numbers"))),
                }))
            }
        }
        d.deserialize_any(V)
    }
}

/// A classification: a string ("Tumor: Positive"), QuPath v0.4's
/// `{name | names, color}`, or the older `{name, colorRGB, parentClass}`.
struct ClassValue {
    name: String,
    colour: Option<Colour>,
}

impl<'de> de::Deserialize<'de> for ClassValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ClassValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a classification: a name or {name, color}")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<ClassValue, E> {
                Ok(ClassValue {
                    name: s.to_owned(),
                    colour: None,
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<ClassValue, A::Error> {
                let mut name: Option<String> = None;
                let mut names: Option<Vec<String>> = None;
                let mut colour = None;
                let mut parent: Option<ClassValue> = None;
                while let Some(k) = m.next_key::<Key>()? {
                    match k.as_str() {
                        "name" => name = m.next_value::<Option<Text>>()?.and_then(|t| t.0),
                        "names" => names = m.next_value()?,
                        "color" | "colorRGB" => {
                            colour = m.next_value::<Option<ColourValue>>()?.map(|c| c.0)
                        }
                        "parentClass" => parent = m.next_value()?,
                        _ => {
                            m.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                let own = match (name, names) {
                    (Some(n), _) => n,
                    (None, Some(parts)) => parts.join(": "),
                    (None, None) => String::new(),
                };
                let name = match parent {
                    Some(p) if !p.name.is_empty() && !own.is_empty() => {
                        format!("{}: {own}", p.name)
                    }
                    Some(p) if own.is_empty() => p.name,
                    _ => own,
                };
                Ok(ClassValue { name, colour })
            }
        }
        d.deserialize_any(V)
    }
}

/// Measurements: a map of name → number (v0.4+) or a list of
/// `{name, value}` (before). `null` and NaN are kept as NaN.
struct MeasurementsSeed<'s, 'l>(&'s mut State<'l>);

impl<'de> DeserializeSeed<'de> for MeasurementsSeed<'_, '_> {
    type Value = Vec<(NameId, f64)>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for MeasurementsSeed<'_, '_> {
    type Value = Vec<(NameId, f64)>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("measurements: a map of name to number, or a list of {name, value}")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
        let state = self.0;
        let mut out = Vec::new();
        while let Some(k) = m.next_key::<Key>()? {
            let v = m.next_value::<Option<f64>>()?.unwrap_or(f64::NAN);
            push_measurement(state, &mut out, k.as_str(), v)?;
        }
        Ok(out)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Self::Value, A::Error> {
        #[derive(serde::Deserialize)]
        struct Entry {
            name: String,
            value: Option<f64>,
        }
        let state = self.0;
        let mut out = Vec::new();
        while let Some(e) = s.next_element::<Entry>()? {
            push_measurement(state, &mut out, &e.name, e.value.unwrap_or(f64::NAN))?;
        }
        Ok(out)
    }
}

fn push_measurement<E: de::Error>(
    state: &mut State,
    out: &mut Vec<(NameId, f64)>,
    name: &str,
    value: f64,
) -> Result<(), E> {
    if out.len() >= state.limits.max_measurements_per_object {
        let n = state.limits.max_measurements_per_object;
        return Err(state.fail(Fault::limit(format!(
            "more than {n} measurements on one object"
        ))));
    }
    let limits = state.limits;
    limits
        .text("a measurement name", name)
        .map_err(|f| state.fail(f))?;
    out.push((state.out.measurement_id(name), value));
    Ok(())
}

/// Kakehashi's own property: who made the object.
struct ProvenanceValue(Option<Provenance>);

impl<'de> de::Deserialize<'de> for ProvenanceValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        struct Raw {
            kind: Option<String>,
            name: Option<String>,
            version: Option<String>,
            when: Option<String>,
            #[serde(rename = "editedFrom")]
            edited_from: Option<String>,
        }
        let Some(raw) = Option::<Raw>::deserialize(d)? else {
            return Ok(ProvenanceValue(None));
        };
        let name = raw.name.unwrap_or_default();
        Ok(ProvenanceValue(match raw.kind.as_deref() {
            Some("algorithm") => Some(Provenance::Algorithm {
                name,
                version: raw.version.unwrap_or_default(),
                when: raw.when,
            }),
            Some("person") => Some(Provenance::Person {
                name,
                when: raw.when,
                edited_from: raw.edited_from,
            }),
            _ => None,
        }))
    }
}

/// Reads JSON with `NaN`, `Infinity` and `-Infinity` outside strings
/// turned into `null`.
pub struct NanAsNull<R> {
    inner: R,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    eof: bool,
    in_string: bool,
    escaped: bool,
    pending: &'static [u8],
}

/// The longest token replaced, `-Infinity`.
const LOOKAHEAD: usize = 9;

impl<R: Read> NanAsNull<R> {
    pub fn new(inner: R) -> Self {
        NanAsNull {
            inner,
            buf: vec![0; 1 << 16].into_boxed_slice(),
            start: 0,
            end: 0,
            eof: false,
            in_string: false,
            escaped: false,
            pending: b"",
        }
    }

    /// At least LOOKAHEAD bytes buffered, unless the input ends first.
    fn fill(&mut self) -> std::io::Result<()> {
        if self.end - self.start >= LOOKAHEAD || self.eof {
            return Ok(());
        }
        self.buf.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        while self.end < LOOKAHEAD && !self.eof {
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.end += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl<R: Read> Read for NanAsNull<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let mut n = 0;
        while n < out.len() {
            if let Some((&b, rest)) = self.pending.split_first() {
                out[n] = b;
                n += 1;
                self.pending = rest;
                continue;
            }
            self.fill()?;
            let Some(&b) = self.buf[self.start..self.end].first() else {
                break;
            };
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_string = false;
                }
            } else if b == b'"' {
                self.in_string = true;
            } else if matches!(b, b'N' | b'I' | b'-') {
                let rest = &self.buf[self.start..self.end];
                let token = [&b"NaN"[..], b"-Infinity", b"Infinity"]
                    .into_iter()
                    .find(|t| rest.starts_with(t));
                if let Some(t) = token {
                    self.start += t.len();
                    self.pending = b"null";
                    continue;
                }
            }
            out[n] = b;
            n += 1;
            self.start += 1;
        }
        Ok(n)
    }
}
