//! ASAP XML (the Computational Pathology Group's viewer; CAMELYON's
//! format): `Annotation`s of type Dot, PointSet, Polygon, Rectangle,
//! Spline and Measurement with ordered `Coordinate`s, in `Group`s that give
//! their class and its colour.
//!
//! Read as a stream of events over the mapped file: memory is the result
//! plus one annotation. A Spline is kept as the polygon of its control
//! points, as ASAP's own mask conversion treats it.

use crate::error::Fault;
use crate::geojson::write::ELLIPSE_VERTICES;
use crate::limits::Limits;
use crate::model::{Annotations, Colour, Geometry, Kind, Object, Point, Polygon};
use crate::plane::ellipse_ring;
use quick_xml::events::{BytesStart, Event};
use std::collections::HashMap;
use std::io::{self, BufRead, Write};

/// The most bytes one XML event (a tag with its attributes) may take: an
/// annotation's start tag with a long name fits many times over.
const EVENT_BYTES: usize = 1 << 20;

pub fn annotations_from_asap(r: impl BufRead, limits: &Limits) -> Result<Annotations, Fault> {
    let mut reader = quick_xml::Reader::from_reader(Bounded::new(r, EVENT_BYTES));
    let mut buf = Vec::new();
    let mut out = Annotations::default();
    let mut current: Option<Pending> = None;
    let mut group_colours: Vec<(String, Colour)> = Vec::new();
    let mut saw_root = false;
    loop {
        let at = reader.buffer_position();
        buf.clear();
        reader.get_mut().reset();
        let event = reader.read_event_into(&mut buf).map_err(|e| {
            let f = Fault::corrupt(format!("not well-formed XML at byte {at}: {e}"));
            match &current {
                Some(_) => f.in_object(out.objects.len()),
                None => f,
            }
        })?;
        let (e, empty) = match event {
            Event::Start(e) => (e, false),
            Event::Empty(e) => (e, true),
            Event::End(e) if e.local_name().as_ref() == "Annotation" => {
                finish(&mut current, &mut out)?;
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        {
            {
                let index = out.objects.len();
                match e.local_name().as_ref() {
                    "ASAP_Annotations" => saw_root = true,
                    "Annotation" => {
                        if index >= limits.max_objects {
                            return Err(Fault::limit(format!(
                                "more than {} objects in one file",
                                limits.max_objects
                            ))
                            .in_object(index));
                        }
                        let p = Pending::new(&e, limits).map_err(|f| f.in_object(index))?;
                        current = Some(p);
                        if empty {
                            // `<Annotation … />`: no coordinates at all.
                            finish(&mut current, &mut out)?;
                        }
                    }
                    "Coordinate" => {
                        let Some(p) = current.as_mut() else {
                            return Err(Fault::corrupt("a Coordinate outside any Annotation"));
                        };
                        p.coordinate(&e, limits).map_err(|f| f.in_object(index))?;
                    }
                    "Group" => {
                        let name = attribute(&e, "Name", limits)?.unwrap_or_default();
                        if let Some(c) =
                            attribute(&e, "Color", limits)?.and_then(|c| Colour::from_hex(&c))
                        {
                            group_colours.push((name, c));
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    if !saw_root {
        return Err(Fault::unsupported(
            "no ASAP_Annotations element: not ASAP XML",
        ));
    }
    if current.is_some() {
        return Err(
            Fault::corrupt("the file ends inside an Annotation").in_object(out.objects.len())
        );
    }
    for (name, colour) in group_colours {
        let id = out.class_id(&name, None);
        out.set_class_colour(id, colour);
    }
    Ok(out)
}

fn attribute(e: &BytesStart, name: &str, limits: &Limits) -> Result<Option<String>, Fault> {
    for a in e.attributes() {
        let a = a.map_err(|err| Fault::corrupt(format!("a broken attribute: {err}")))?;
        if a.key.local_name().as_ref() == name {
            let v = a
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|err| Fault::corrupt(format!("a broken attribute value: {err}")))?;
            limits.text("an attribute", &v)?;
            return Ok(Some(v.into_owned()));
        }
    }
    Ok(None)
}

/// An annotation whose coordinates are still arriving.
struct Pending {
    name: Option<String>,
    shape: String,
    group: Option<String>,
    colour: Option<Colour>,
    points: Vec<(f64, Point)>,
}

impl Pending {
    fn new(e: &BytesStart, limits: &Limits) -> Result<Self, Fault> {
        let shape = attribute(e, "Type", limits)?
            .ok_or_else(|| Fault::corrupt("an Annotation without a Type"))?;
        Ok(Pending {
            name: attribute(e, "Name", limits)?,
            shape,
            group: attribute(e, "PartOfGroup", limits)?.filter(|g| g != "None" && !g.is_empty()),
            colour: attribute(e, "Color", limits)?.and_then(|c| Colour::from_hex(&c)),
            points: Vec::new(),
        })
    }

    fn coordinate(&mut self, e: &BytesStart, limits: &Limits) -> Result<(), Fault> {
        if self.points.len() >= limits.max_vertices_per_object {
            return Err(Fault::limit(format!(
                "more than {} vertices in one object",
                limits.max_vertices_per_object
            )));
        }
        let number = |what: &str| -> Result<f64, Fault> {
            let text = attribute(e, what, limits)?
                .ok_or_else(|| Fault::corrupt(format!("a Coordinate without {what}")))?;
            text.trim().parse::<f64>().map_err(|_| {
                Fault::corrupt(format!("a Coordinate's {what} is {text:?}, not a number"))
            })
        };
        let p = limits.point(number("X")?, number("Y")?)?;
        let order = match attribute(e, "Order", limits)? {
            Some(o) => o.trim().parse::<f64>().unwrap_or(self.points.len() as f64),
            None => self.points.len() as f64,
        };
        self.points.push((order, p));
        Ok(())
    }
}

fn finish(current: &mut Option<Pending>, out: &mut Annotations) -> Result<(), Fault> {
    let Some(mut p) = current.take() else {
        return Ok(());
    };
    let index = out.objects.len();
    p.points.sort_by(|a, b| a.0.total_cmp(&b.0));
    let points: Vec<Point> = p.points.into_iter().map(|(_, q)| q).collect();
    let need = |n: usize| {
        if points.len() < n {
            Err(Fault::corrupt(format!(
                "a {} with {} coordinates (it needs {n})",
                p.shape,
                points.len()
            ))
            .in_object(index))
        } else {
            Ok(())
        }
    };
    let geometry = match p.shape.as_str() {
        "Dot" => {
            need(1)?;
            Geometry::Point(points[0])
        }
        "PointSet" => {
            need(1)?;
            Geometry::MultiPoint(points)
        }
        "Measurement" => {
            need(2)?;
            Geometry::Polyline(points)
        }
        "Rectangle" if points.len() == 4 => {
            Geometry::Rectangle(Box::new([points[0], points[1], points[2], points[3]]))
        }
        "Polygon" | "Spline" | "Rectangle" => {
            let mut ring = points;
            if ring.len() > 1 && ring.first() == ring.last() {
                ring.pop();
            }
            if ring.len() < 3 {
                return Err(Fault::corrupt(format!(
                    "a {} with {} distinct coordinates (it needs 3)",
                    p.shape,
                    ring.len()
                ))
                .in_object(index));
            }
            Geometry::Polygon(Polygon {
                exterior: ring,
                holes: Vec::new(),
            })
        }
        other => {
            return Err(
                Fault::unsupported(format!("an ASAP annotation of type {other:?}"))
                    .in_object(index),
            );
        }
    };
    let mut object = Object::new(Kind::Annotation, geometry);
    object.name = p.name.map(String::into_boxed_str);
    object.colour = p.colour;
    object.class = p.group.map(|g| out.class_id(&g, None));
    out.objects.push(object);
    Ok(())
}

/// What ASAP XML cannot hold and was written another way or left out.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Approximations {
    pub holes_dropped: usize,
    pub polylines_as_point_sets: usize,
    pub ellipses_as_polygons: usize,
    pub nuclei_dropped: usize,
    pub objects_with_measurements: usize,
}

impl Approximations {
    /// One note per kind of loss, for the user.
    pub fn notes(&self) -> Vec<crate::WriteNote> {
        use crate::Loss;
        crate::loss::notes_of(&[
            (self.holes_dropped, Loss::AsapHoles),
            (self.polylines_as_point_sets, Loss::AsapPolylines),
            (self.ellipses_as_polygons, Loss::AsapEllipses),
            (self.nuclei_dropped, Loss::AsapNuclei),
            (self.objects_with_measurements, Loss::AsapMeasurements),
        ])
    }
}

pub fn asap_from_annotations(a: &Annotations, w: &mut impl Write) -> io::Result<Approximations> {
    let mut lost = Approximations::default();
    w.write_all(b"<?xml version=\"1.0\"?>\n<ASAP_Annotations>\n\t<Annotations>\n")?;
    let mut n = 0usize;
    for o in &a.objects {
        let group = o.class.map(|c| a.class(c).name.as_str()).unwrap_or("None");
        let colour = a.colour_of(o).hex();
        let base = o.name.as_deref().map(str::to_owned);
        let mut put = |shape: &str, points: &[Point]| -> io::Result<()> {
            let name = base.clone().unwrap_or_else(|| format!("Annotation {n}"));
            write!(
                w,
                "\t\t<Annotation Name=\"{}\" Type=\"{shape}\" PartOfGroup=\"{}\" Color=\"{colour}\">\n\t\t\t<Coordinates>\n",
                escape(&name),
                escape(group)
            )?;
            for (i, p) in points.iter().enumerate() {
                writeln!(
                    w,
                    "\t\t\t\t<Coordinate Order=\"{i}\" X=\"{}\" Y=\"{}\" />",
                    p.x, p.y
                )?;
            }
            w.write_all(b"\t\t\t</Coordinates>\n\t\t</Annotation>\n")?;
            n += 1;
            Ok(())
        };
        match &o.geometry {
            Geometry::Point(p) => put("Dot", &[*p])?,
            Geometry::MultiPoint(ps) => put("PointSet", ps)?,
            Geometry::Polyline(ps) if ps.len() == 2 => put("Measurement", ps)?,
            Geometry::Polyline(ps) => {
                lost.polylines_as_point_sets += 1;
                put("PointSet", ps)?
            }
            Geometry::MultiPolyline(lines) => {
                for l in lines {
                    lost.polylines_as_point_sets += 1;
                    put("PointSet", l)?
                }
            }
            Geometry::Polygon(p) => {
                lost.holes_dropped += p.holes.len();
                put("Polygon", &p.exterior)?
            }
            Geometry::MultiPolygon(ps) => {
                for p in ps {
                    lost.holes_dropped += p.holes.len();
                    put("Polygon", &p.exterior)?
                }
            }
            Geometry::Rectangle(c) => put("Rectangle", &c[..])?,
            Geometry::Ellipse(axes) => {
                lost.ellipses_as_polygons += 1;
                put("Polygon", &ellipse_ring(axes, ELLIPSE_VERTICES))?
            }
        }
        lost.nuclei_dropped += usize::from(o.nucleus.is_some());
        lost.objects_with_measurements += usize::from(!o.measurements.is_empty());
    }
    w.write_all(b"\t</Annotations>\n\t<AnnotationGroups>\n")?;
    let mut seen = HashMap::new();
    for class in a.classes() {
        if seen.insert(class.name.as_str(), ()).is_some() {
            continue;
        }
        let colour = class.colour.unwrap_or(Colour::rgb(255, 0, 0)).hex();
        write!(
            w,
            "\t\t<Group Name=\"{}\" PartOfGroup=\"None\" Color=\"{colour}\">\n\t\t\t<Attributes />\n\t\t</Group>\n",
            escape(&class.name)
        )?;
    }
    w.write_all(b"\t</AnnotationGroups>\n</ASAP_Annotations>\n")?;
    Ok(lost)
}

fn escape(s: &str) -> std::borrow::Cow<'_, str> {
    quick_xml::escape::escape(s)
}

/// A reader that refuses to give more than `limit` bytes between resets:
/// quick-xml buffers a whole tag, so one endless tag would otherwise be
/// held in memory whole.
struct Bounded<R> {
    inner: R,
    limit: usize,
    left: usize,
}

impl<R> Bounded<R> {
    fn new(inner: R, limit: usize) -> Self {
        Bounded {
            inner,
            limit,
            left: limit,
        }
    }
    fn reset(&mut self) {
        self.left = self.limit;
    }
    fn refuse(&self) -> io::Error {
        io::Error::other(format!("one XML tag is longer than {} bytes", self.limit))
    }
}

impl<R: BufRead> io::Read for Bounded<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = {
            let available = self.fill_buf()?;
            let n = available.len().min(out.len());
            out[..n].copy_from_slice(&available[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Bounded<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.left == 0 {
            return Err(self.refuse());
        }
        let left = self.left;
        let available = self.inner.fill_buf()?;
        Ok(&available[..available.len().min(left)])
    }
    fn consume(&mut self, n: usize) {
        self.left = self.left.saturating_sub(n);
        self.inner.consume(n);
    }
}
