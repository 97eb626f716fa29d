//! The specialist's own annotations: a layer they draw and edit, with undo
//! and redo. Sans-IO and without a clock: the caller passes who is
//! drawing and when, and saves [`Sketch::annotations`] when
//! [`Sketch::revision`] changes.
//!
//! Every change is kept as what it replaced, so undo restores exactly
//! (class tables only grow; an undone class stays in the table, unused).
//! An AI object the specialist edits is copied into this layer as theirs
//! ([`Sketch::adopt`]): the AI layer is never written to.

use crate::model::{Annotations, Bounds, Geometry, Kind, Object, Point, Polygon, Provenance};

/// The most changes undo reaches back (each holds one object).
pub const UNDO_DEPTH: usize = 1000;

/// One change, as what undoing it puts back.
#[derive(Debug, Clone, PartialEq)]
enum Change {
    /// An object was added at this index: undo removes it.
    Added(usize),
    /// This object was removed from this index: undo puts it back.
    Removed(usize, Object),
    /// The object at this index was this before: undo swaps it back.
    Replaced(usize, Object),
}

/// The layer and its history.
#[derive(Debug, Clone)]
pub struct Sketch {
    pub annotations: Annotations,
    undo: Vec<Change>,
    redo: Vec<Change>,
    revision: u64,
    author: String,
}

impl Sketch {
    /// A layer drawn by `author` (a person's name, shown as provenance),
    /// starting from what was saved before.
    pub fn new(annotations: Annotations, author: &str) -> Self {
        Sketch {
            annotations,
            undo: Vec::new(),
            redo: Vec::new(),
            revision: 0,
            author: author.to_owned(),
        }
    }

    /// Changes so far (and undone): a new number means something to save.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    pub fn can_undo(&self) -> bool {
        !self.undo.is_empty()
    }

    pub fn can_redo(&self) -> bool {
        !self.redo.is_empty()
    }

    fn record(&mut self, change: Change) {
        self.undo.push(change);
        if self.undo.len() > UNDO_DEPTH {
            self.undo.remove(0);
        }
        self.redo.clear();
        self.revision += 1;
    }

    /// The specialist's provenance now; `edited_from` keeps the algorithm
    /// an object they took over came from.
    fn mine(&mut self, when: &str, edited_from: Option<String>) -> u32 {
        self.annotations.provenance_id(Provenance::Person {
            name: self.author.clone(),
            when: Some(when.to_owned()),
            edited_from,
        })
    }

    /// Where an object of this layer came from, if it was taken over.
    fn origin(&self, o: &Object) -> Option<String> {
        match self.annotations.provenance_checked(o.provenance)? {
            Provenance::Person { edited_from, .. } => edited_from.clone(),
            _ => None,
        }
    }

    /// Add a mark of the specialist's, classified as `class` (a name, added
    /// to the layer's classes when new). Returns its index.
    pub fn add(&mut self, geometry: Geometry, class: Option<&str>, when: &str) -> usize {
        let mut o = Object::new(Kind::Annotation, geometry);
        o.class = class.map(|c| self.annotations.class_id(c, None));
        o.provenance = self.mine(when, None);
        self.annotations.objects.push(o);
        let index = self.annotations.objects.len() - 1;
        self.record(Change::Added(index));
        index
    }

    /// Copy an object of another layer (an AI finding) into this one as
    /// the specialist's, to edit it: same shape, kind, class and
    /// measurements; their name and time as provenance. Returns its index.
    pub fn adopt(&mut self, from: &Annotations, object: &Object, when: &str) -> usize {
        let mut o = object.clone();
        o.class = object
            .class
            .map(|c| from.class(c))
            .map(|c| self.annotations.class_id(&c.name, c.colour));
        o.measurements = object
            .measurements
            .iter()
            .map(|&(name, v)| {
                (
                    self.annotations.measurement_id(from.measurement_name(name)),
                    v,
                )
            })
            .collect();
        // What it was: the algorithm's name and version, or who made it.
        let origin = match from.provenance(object.provenance) {
            Provenance::Algorithm { name, version, .. } => {
                format!("{name} {version}").trim().to_owned()
            }
            Provenance::Person { name, .. } => name.clone(),
            Provenance::Unknown => "an unnamed analysis".to_owned(),
        };
        o.provenance = self.mine(when, Some(origin));
        o.locked = false;
        self.annotations.objects.push(o);
        let index = self.annotations.objects.len() - 1;
        self.record(Change::Added(index));
        index
    }

    /// Remove an object; false if there is none at `index` or it is locked.
    pub fn remove(&mut self, index: usize) -> bool {
        if self.annotations.objects.get(index).is_none_or(|o| o.locked) {
            return false;
        }
        let o = self.annotations.objects.remove(index);
        self.record(Change::Removed(index, o));
        true
    }

    /// Change an object through `edit` (its shape, its class); the object
    /// becomes the specialist's at `when`. False if there is none at
    /// `index`, it is locked, or `edit` changed nothing.
    fn replace(&mut self, index: usize, when: &str, edit: impl FnOnce(&mut Object)) -> bool {
        let Some(before) = self.annotations.objects.get(index).cloned() else {
            return false;
        };
        if before.locked {
            return false;
        }
        let origin = self.origin(&before);
        let mine = self.mine(when, origin);
        let o = &mut self.annotations.objects[index];
        edit(o);
        if *o == before {
            return false;
        }
        o.provenance = mine;
        self.record(Change::Replaced(index, before));
        true
    }

    /// Move a whole object by (dx, dy) level-0 pixels.
    pub fn translate(&mut self, index: usize, dx: f64, dy: f64, when: &str) -> bool {
        self.replace(index, when, |o| {
            map_points(&mut o.geometry, |p| Point::new(p.x + dx, p.y + dy));
            if let Some(n) = &mut o.nucleus {
                map_points(n, |p| Point::new(p.x + dx, p.y + dy));
            }
        })
    }

    /// Move vertex `vertex` (in [`Geometry::vertices`] order) to `to`.
    pub fn move_vertex(&mut self, index: usize, vertex: usize, to: Point, when: &str) -> bool {
        self.replace(index, when, |o| {
            let mut i = 0;
            map_points(&mut o.geometry, |p| {
                let moved = if i == vertex { to } else { p };
                i += 1;
                moved
            });
        })
    }

    /// Classify an object (`None`: unclassified).
    pub fn set_class(&mut self, index: usize, class: Option<&str>, when: &str) -> bool {
        let id = class.map(|c| self.annotations.class_id(c, None));
        self.replace(index, when, |o| o.class = id)
    }

    /// Undo the last change; false when there is none.
    pub fn undo(&mut self) -> bool {
        let Some(change) = self.undo.pop() else {
            return false;
        };
        let inverse = self.apply(change);
        self.redo.push(inverse);
        self.revision += 1;
        true
    }

    /// Redo the last undone change; false when there is none.
    pub fn redo(&mut self) -> bool {
        let Some(change) = self.redo.pop() else {
            return false;
        };
        let inverse = self.apply(change);
        self.undo.push(inverse);
        self.revision += 1;
        true
    }

    /// Put back what `change` says; returns the change that undoes that.
    fn apply(&mut self, change: Change) -> Change {
        let objects = &mut self.annotations.objects;
        match change {
            Change::Added(i) => Change::Removed(i, objects.remove(i)),
            Change::Removed(i, o) => {
                objects.insert(i, o);
                Change::Added(i)
            }
            Change::Replaced(i, o) => Change::Replaced(i, std::mem::replace(&mut objects[i], o)),
        }
    }
}

/// Apply `f` to every vertex of a geometry, in [`Geometry::vertices`]
/// order.
fn map_points(g: &mut Geometry, mut f: impl FnMut(Point) -> Point) {
    let mut ring = |v: &mut Vec<Point>| v.iter_mut().for_each(|p| *p = f(*p));
    match g {
        Geometry::Point(p) => *p = f(*p),
        Geometry::MultiPoint(v) | Geometry::Polyline(v) => v.iter_mut().for_each(|p| *p = f(*p)),
        Geometry::MultiPolyline(lines) => lines.iter_mut().flatten().for_each(|p| *p = f(*p)),
        Geometry::Polygon(p) => {
            ring(&mut p.exterior);
            p.holes.iter_mut().for_each(&mut ring);
        }
        Geometry::MultiPolygon(ps) => {
            for p in ps {
                ring(&mut p.exterior);
                p.holes.iter_mut().for_each(&mut ring);
            }
        }
        Geometry::Rectangle(c) | Geometry::Ellipse(c) => c.iter_mut().for_each(|p| *p = f(*p)),
    }
}

/// The shapes the drawing tools make, from what the pointer did.
pub mod shapes {
    use super::*;

    /// An axis-aligned rectangle between two corners (None when flat).
    pub fn rectangle(a: Point, b: Point) -> Option<Geometry> {
        let box_ = Bounds::of_point(a).with(b);
        if box_.max_x - box_.min_x <= 0.0 || box_.max_y - box_.min_y <= 0.0 {
            return None;
        }
        Some(Geometry::Rectangle(Box::new([
            Point::new(box_.min_x, box_.min_y),
            Point::new(box_.max_x, box_.min_y),
            Point::new(box_.max_x, box_.max_y),
            Point::new(box_.min_x, box_.max_y),
        ])))
    }

    /// The ellipse filling the box between two corners: its major axis
    /// along the longer side (DICOM's ELLIPSE: major ends, then minor).
    pub fn ellipse(a: Point, b: Point) -> Option<Geometry> {
        let box_ = Bounds::of_point(a).with(b);
        let (w, h) = (box_.max_x - box_.min_x, box_.max_y - box_.min_y);
        if w <= 0.0 || h <= 0.0 {
            return None;
        }
        let c = Point::new(
            (box_.min_x + box_.max_x) / 2.0,
            (box_.min_y + box_.max_y) / 2.0,
        );
        let across = [Point::new(box_.min_x, c.y), Point::new(box_.max_x, c.y)];
        let down = [Point::new(c.x, box_.min_y), Point::new(c.x, box_.max_y)];
        let [m0, m1, n0, n1] = if w >= h {
            [across[0], across[1], down[0], down[1]]
        } else {
            [down[0], down[1], across[0], across[1]]
        };
        Some(Geometry::Ellipse(Box::new([m0, m1, n0, n1])))
    }

    /// A polygon through clicked vertices (None under three distinct).
    pub fn polygon(points: &[Point]) -> Option<Geometry> {
        let mut ring: Vec<Point> = Vec::with_capacity(points.len());
        for &p in points {
            if ring.last() != Some(&p) {
                ring.push(p);
            }
        }
        if ring.len() > 1 && ring.first() == ring.last() {
            ring.pop();
        }
        (ring.len() >= 3 && crate::plane::ring_area(&ring).abs() > 0.0).then(|| {
            Geometry::Polygon(Polygon {
                exterior: ring,
                holes: Vec::new(),
            })
        })
    }

    /// A freehand outline: the pointer's path with points closer than
    /// `min_step` (level-0 pixels, about a screen pixel) dropped, closed
    /// into a polygon.
    pub fn freehand(path: &[Point], min_step: f64) -> Option<Geometry> {
        let mut kept: Vec<Point> = Vec::with_capacity(path.len());
        for &p in path {
            if kept
                .last()
                .is_none_or(|q| (p.x - q.x).hypot(p.y - q.y) >= min_step)
            {
                kept.push(p);
            }
        }
        polygon(&kept)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WHEN: &str = "2026-12-07T10:00:00Z";

    fn square(x: f64) -> Geometry {
        shapes::rectangle(Point::new(x, 0.0), Point::new(x + 10.0, 10.0)).unwrap()
    }

    #[test]
    fn every_change_undoes_and_redoes_exactly() {
        let mut s = Sketch::new(Annotations::default(), "Dr. Sato");
        let a = s.add(square(0.0), Some("Tumor"), WHEN);
        let b = s.add(Geometry::Point(Point::new(5.0, 5.0)), None, WHEN);
        assert_eq!((a, b), (0, 1));
        let after_adds = s.annotations.clone();
        assert!(s.translate(0, 2.0, 3.0, WHEN));
        assert!(s.move_vertex(0, 2, Point::new(20.0, 20.0), WHEN));
        assert!(s.set_class(1, Some("Lymphocyte"), WHEN));
        assert!(s.remove(0));
        let last = s.annotations.clone();
        for _ in 0..4 {
            assert!(s.undo());
        }
        assert_eq!(s.annotations.objects, after_adds.objects);
        while s.redo() {}
        assert_eq!(s.annotations.objects, last.objects);
        // The translated rectangle, its corner moved, then removed: what
        // stands is the point, classified.
        assert_eq!(s.annotations.objects.len(), 1);
        let p = &s.annotations.objects[0];
        assert_eq!(s.annotations.class(p.class.unwrap()).name, "Lymphocyte");
        assert_eq!(
            *s.annotations.provenance(p.provenance),
            Provenance::Person {
                name: "Dr. Sato".into(),
                when: Some(WHEN.into()),
                edited_from: None,
            }
        );
        // A new change after undo forgets what could be redone.
        s.undo();
        assert!(s.can_redo());
        s.add(square(50.0), None, WHEN);
        assert!(!s.can_redo());
    }

    #[test]
    fn nothing_changed_is_no_change() {
        let mut s = Sketch::new(Annotations::default(), "Dr. Sato");
        s.add(square(0.0), None, WHEN);
        let revision = s.revision();
        assert!(!s.translate(0, 0.0, 0.0, WHEN));
        assert!(!s.set_class(0, None, WHEN));
        assert!(!s.remove(7));
        assert_eq!(s.revision(), revision);
        s.annotations.objects[0].locked = true;
        assert!(!s.translate(0, 1.0, 0.0, WHEN));
        assert!(!s.remove(0));
    }

    #[test]
    fn an_adopted_finding_becomes_theirs_and_the_ai_layer_is_untouched() {
        let mut ai = Annotations::default();
        let tumour = ai.class_id("Tumor", Some(crate::Colour::rgb(200, 0, 0)));
        let prob = ai.measurement_id("Probability");
        let run = ai.provenance_id(Provenance::Algorithm {
            name: "nuclei".into(),
            version: "0.1".into(),
            when: None,
        });
        let mut o = Object::new(Kind::Detection, square(0.0));
        o.class = Some(tumour);
        o.measurements.push((prob, 0.9));
        o.provenance = run;
        ai.objects.push(o);
        let before = ai.clone();
        let mut s = Sketch::new(Annotations::default(), "Dr. Sato");
        let i = s.adopt(&ai, &ai.objects[0], WHEN);
        s.translate(i, 1.0, 1.0, WHEN);
        assert_eq!(ai, before);
        let mine = &s.annotations.objects[i];
        assert_eq!(mine.kind, Kind::Detection);
        assert_eq!(s.annotations.measurement(mine, "Probability"), Some(0.9));
        let class = s.annotations.class(mine.class.unwrap());
        assert_eq!(
            (class.name.as_str(), class.colour),
            ("Tumor", Some(crate::Colour::rgb(200, 0, 0)))
        );
        // Theirs, and it says which finding it began as — after further
        // edits too.
        assert!(matches!(
            s.annotations.provenance(mine.provenance),
            Provenance::Person { name, edited_from: Some(f), .. }
                if name == "Dr. Sato" && f == "nuclei 0.1"
        ));
    }

    #[test]
    fn tools_make_valid_shapes_or_none() {
        assert!(shapes::rectangle(Point::new(1.0, 1.0), Point::new(1.0, 9.0)).is_none());
        let Some(Geometry::Ellipse(axes)) =
            shapes::ellipse(Point::new(0.0, 0.0), Point::new(4.0, 10.0))
        else {
            panic!()
        };
        // Taller than wide: the major axis runs down.
        assert_eq!(
            (axes[0], axes[1]),
            (Point::new(2.0, 0.0), Point::new(2.0, 10.0))
        );
        assert!(
            shapes::polygon(&[
                Point::new(0.0, 0.0),
                Point::new(1.0, 1.0),
                Point::new(2.0, 2.0)
            ])
            .is_none()
        );
        let clicked = [
            Point::new(0.0, 0.0),
            Point::new(10.0, 0.0),
            Point::new(10.0, 0.0),
            Point::new(0.0, 10.0),
            Point::new(0.0, 0.0),
        ];
        let Some(Geometry::Polygon(p)) = shapes::polygon(&clicked) else {
            panic!()
        };
        assert_eq!(p.exterior.len(), 3);
        let path: Vec<Point> = (0..1000)
            .map(|i| {
                let t = f64::from(i) / 1000.0 * std::f64::consts::TAU;
                Point::new(50.0 + 20.0 * t.cos(), 50.0 + 20.0 * t.sin())
            })
            .collect();
        let Some(Geometry::Polygon(p)) = shapes::freehand(&path, 1.0) else {
            panic!()
        };
        assert!(
            p.exterior.len() < 200 && p.exterior.len() > 100,
            "{}",
            p.exterior.len()
        );
    }
}
