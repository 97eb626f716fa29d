//! QuPath GeoJSON as QuPath v0.4 and later write it: a FeatureCollection;
//! `objectType`, `classification` as `{name | names, color}`,
//! `measurements` as a map, `nucleusGeometry` beside `geometry`. Rectangles
//! and ellipses become polygons, as QuPath writes its own. Who made each
//! object goes in a `provenance` property QuPath ignores and keeps nothing
//! of, but Kakehashi reads back.

use crate::model::{Annotations, Colour, Geometry, Object, Point, Polygon, Provenance};
use crate::plane::ellipse_ring;
use std::io::{self, Write};

/// Vertices of an ellipse written as a polygon (QuPath's own ellipse ROIs
/// become polygons in GeoJSON too).
pub const ELLIPSE_VERTICES: usize = 72;

pub fn geojson_from_annotations(a: &Annotations, w: &mut impl Write) -> io::Result<()> {
    w.write_all(b"{\"type\":\"FeatureCollection\",\"features\":[")?;
    for (i, o) in a.objects.iter().enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        w.write_all(b"\n")?;
        feature(a, o, w)?;
    }
    w.write_all(b"\n]}\n")
}

fn feature(a: &Annotations, o: &Object, w: &mut impl Write) -> io::Result<()> {
    w.write_all(b"{\"type\":\"Feature\"")?;
    if let Some(id) = &o.id {
        w.write_all(b",\"id\":")?;
        string(w, id)?;
    }
    w.write_all(b",\"geometry\":")?;
    geometry(&o.geometry, w)?;
    if let Some(n) = &o.nucleus {
        w.write_all(b",\"nucleusGeometry\":")?;
        geometry(n, w)?;
    }
    write!(w, ",\"properties\":{{\"objectType\":\"{}\"", o.kind.name())?;
    if let Some(name) = &o.name {
        w.write_all(b",\"name\":")?;
        string(w, name)?;
    }
    if let Some(c) = o.colour {
        write!(w, ",\"color\":[{},{},{}]", c.r, c.g, c.b)?;
    }
    if let Some(id) = o.class {
        let class = a.class(id);
        w.write_all(b",\"classification\":")?;
        match class.colour {
            // QuPath reads {name, color} only with a colour; a bare name
            // it reads as a string.
            None => string(w, &class.name)?,
            Some(c) => {
                let parts: Vec<&str> = class.parts().collect();
                if parts.len() == 1 {
                    w.write_all(b"{\"name\":")?;
                    string(w, parts[0])?;
                } else {
                    w.write_all(b"{\"names\":[")?;
                    for (i, p) in parts.iter().enumerate() {
                        if i > 0 {
                            w.write_all(b",")?;
                        }
                        string(w, p)?;
                    }
                    w.write_all(b"]")?;
                }
                colour(w, c)?;
                w.write_all(b"}")?;
            }
        }
    }
    if o.locked {
        w.write_all(b",\"isLocked\":true")?;
    }
    // NaN ("listed without a value") is left out: QuPath reads a missing
    // measurement as NaN, and JSON has no NaN.
    let mut measured = o.measurements.iter().filter(|m| m.1.is_finite()).peekable();
    if measured.peek().is_some() {
        w.write_all(b",\"measurements\":{")?;
        for (i, (name, value)) in measured.enumerate() {
            if i > 0 {
                w.write_all(b",")?;
            }
            string(w, a.measurement_name(*name))?;
            write!(w, ":{}", Number(*value))?;
        }
        w.write_all(b"}")?;
    }
    match a.provenance(o.provenance) {
        Provenance::Unknown => {}
        Provenance::Person {
            name,
            when,
            edited_from,
        } => {
            w.write_all(b",\"provenance\":{\"kind\":\"person\",\"name\":")?;
            string(w, name)?;
            when_field(w, when.as_deref())?;
            if let Some(from) = edited_from {
                w.write_all(b",\"editedFrom\":")?;
                string(w, from)?;
            }
            w.write_all(b"}")?;
        }
        Provenance::Algorithm {
            name,
            version,
            when,
        } => {
            w.write_all(b",\"provenance\":{\"kind\":\"algorithm\",\"name\":")?;
            string(w, name)?;
            w.write_all(b",\"version\":")?;
            string(w, version)?;
            when_field(w, when.as_deref())?;
            w.write_all(b"}")?;
        }
    }
    w.write_all(b"}}")
}

fn when_field(w: &mut impl Write, when: Option<&str>) -> io::Result<()> {
    if let Some(t) = when {
        w.write_all(b",\"when\":")?;
        string(w, t)?;
    }
    Ok(())
}

fn colour(w: &mut impl Write, c: Colour) -> io::Result<()> {
    if c.a == 255 {
        write!(w, ",\"color\":[{},{},{}]", c.r, c.g, c.b)
    } else {
        write!(w, ",\"color\":[{},{},{},{}]", c.r, c.g, c.b, c.a)
    }
}

fn string(w: &mut impl Write, s: &str) -> io::Result<()> {
    serde_json::to_writer(&mut *w, s).map_err(io::Error::other)
}

/// A finite number in JSON's form (Rust's shortest round-trip digits).
struct Number(f64);

impl std::fmt::Display for Number {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0 == self.0.trunc() && self.0.abs() < 1e15 {
            write!(f, "{}", self.0 as i64)
        } else {
            write!(f, "{}", self.0)
        }
    }
}

fn geometry(g: &Geometry, w: &mut impl Write) -> io::Result<()> {
    match g {
        Geometry::Point(p) => {
            w.write_all(b"{\"type\":\"Point\",\"coordinates\":")?;
            position(w, *p)?;
        }
        Geometry::MultiPoint(ps) => {
            w.write_all(b"{\"type\":\"MultiPoint\",\"coordinates\":")?;
            positions(w, ps, false)?;
        }
        Geometry::Polyline(ps) => {
            w.write_all(b"{\"type\":\"LineString\",\"coordinates\":")?;
            positions(w, ps, false)?;
        }
        Geometry::MultiPolyline(lines) => {
            w.write_all(b"{\"type\":\"MultiLineString\",\"coordinates\":[")?;
            for (i, l) in lines.iter().enumerate() {
                if i > 0 {
                    w.write_all(b",")?;
                }
                positions(w, l, false)?;
            }
            w.write_all(b"]")?;
        }
        Geometry::Polygon(p) => {
            w.write_all(b"{\"type\":\"Polygon\",\"coordinates\":")?;
            rings(w, p)?;
        }
        Geometry::MultiPolygon(ps) => {
            w.write_all(b"{\"type\":\"MultiPolygon\",\"coordinates\":[")?;
            for (i, p) in ps.iter().enumerate() {
                if i > 0 {
                    w.write_all(b",")?;
                }
                rings(w, p)?;
            }
            w.write_all(b"]")?;
        }
        Geometry::Rectangle(corners) => {
            w.write_all(b"{\"type\":\"Polygon\",\"coordinates\":[")?;
            positions(w, &corners[..], true)?;
            w.write_all(b"]")?;
        }
        Geometry::Ellipse(axes) => {
            w.write_all(b"{\"type\":\"Polygon\",\"coordinates\":[")?;
            positions(w, &ellipse_ring(axes, ELLIPSE_VERTICES), true)?;
            w.write_all(b"]")?;
        }
    }
    w.write_all(b"}")
}

fn rings(w: &mut impl Write, p: &Polygon) -> io::Result<()> {
    w.write_all(b"[")?;
    positions(w, &p.exterior, true)?;
    for h in &p.holes {
        w.write_all(b",")?;
        positions(w, h, true)?;
    }
    w.write_all(b"]")
}

fn position(w: &mut impl Write, p: Point) -> io::Result<()> {
    write!(w, "[{},{}]", Number(p.x), Number(p.y))
}

/// A list of positions; a ring is closed by repeating its first.
fn positions(w: &mut impl Write, ps: &[Point], ring: bool) -> io::Result<()> {
    w.write_all(b"[")?;
    for (i, p) in ps.iter().enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        position(w, *p)?;
    }
    if ring && let Some(first) = ps.first() {
        w.write_all(b",")?;
        position(w, *first)?;
    }
    w.write_all(b"]")
}
