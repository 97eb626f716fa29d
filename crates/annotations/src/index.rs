//! Which objects lie at a point or in a box, without looking at all of
//! them: a uniform grid over the set's bounds, each cell listing the
//! objects whose box overlaps it (one flat array of ids with per-cell
//! offsets, so a million objects cost a few megabytes). Objects covering
//! many cells (regions drawn around tissue) are kept in one short list
//! instead of in every cell.

use crate::model::{Annotations, Bounds, Geometry, Object, Point, Polygon};
use crate::plane::{distance, ellipse_ring, ring_contains, segment_distance};

/// Cells an object may span before it goes to the list of large objects.
const MAX_CELLS_PER_OBJECT: u64 = 64;

#[derive(Debug, Clone, PartialEq)]
pub struct SpatialIndex {
    origin: Point,
    cell: f64,
    across: u32,
    down: u32,
    /// Per cell, where its ids start in `ids` (cells + 1 entries).
    offsets: Vec<u32>,
    ids: Vec<u32>,
    large: Vec<u32>,
    boxes: Vec<Bounds>,
}

impl SpatialIndex {
    pub fn build(a: &Annotations) -> SpatialIndex {
        let boxes: Vec<Bounds> = a
            .objects
            .iter()
            .map(|o| {
                o.geometry
                    .bounds()
                    .unwrap_or(Bounds::of_point(Point::new(0.0, 0.0)))
            })
            .collect();
        let Some(all) = boxes.iter().copied().reduce(Bounds::union) else {
            return SpatialIndex {
                origin: Point::new(0.0, 0.0),
                cell: 1.0,
                across: 1,
                down: 1,
                offsets: vec![0, 0],
                ids: Vec::new(),
                large: Vec::new(),
                boxes,
            };
        };
        // About four objects per cell on average, cells at least 32 px.
        let (w, h) = (
            (all.max_x - all.min_x).max(1.0),
            (all.max_y - all.min_y).max(1.0),
        );
        let cells_wanted = (boxes.len() as f64 / 4.0).clamp(1.0, 4_000_000.0);
        let cell = ((w * h / cells_wanted).sqrt()).max(32.0);
        let across = ((w / cell).floor() as u32 + 1).max(1);
        let down = ((h / cell).floor() as u32 + 1).max(1);
        let mut index = SpatialIndex {
            origin: Point::new(all.min_x, all.min_y),
            cell,
            across,
            down,
            offsets: Vec::new(),
            ids: Vec::new(),
            large: Vec::new(),
            boxes,
        };
        // Two passes: count per cell, then fill (a counting sort).
        let cells = (across as usize) * (down as usize);
        let mut counts = vec![0u32; cells + 1];
        for (i, b) in index.boxes.iter().enumerate() {
            let (c0, r0, c1, r1) = index.cell_span(b);
            if u64::from(c1 - c0 + 1) * u64::from(r1 - r0 + 1) > MAX_CELLS_PER_OBJECT {
                index.large.push(i as u32);
                continue;
            }
            for r in r0..=r1 {
                for c in c0..=c1 {
                    counts[(r * across + c) as usize + 1] += 1;
                }
            }
        }
        for k in 1..counts.len() {
            counts[k] += counts[k - 1];
        }
        let mut next = counts.clone();
        index.ids = vec![0; counts[cells] as usize];
        let large: std::collections::HashSet<u32> = index.large.iter().copied().collect();
        for (i, b) in index.boxes.iter().enumerate() {
            if large.contains(&(i as u32)) {
                continue;
            }
            let (c0, r0, c1, r1) = index.cell_span(b);
            for r in r0..=r1 {
                for c in c0..=c1 {
                    let k = (r * across + c) as usize;
                    index.ids[next[k] as usize] = i as u32;
                    next[k] += 1;
                }
            }
        }
        index.offsets = counts;
        index
    }

    fn cell_span(&self, b: &Bounds) -> (u32, u32, u32, u32) {
        let col = |x: f64| {
            (((x - self.origin.x) / self.cell).floor().max(0.0) as u32).min(self.across - 1)
        };
        let row =
            |y: f64| (((y - self.origin.y) / self.cell).floor().max(0.0) as u32).min(self.down - 1);
        (col(b.min_x), row(b.min_y), col(b.max_x), row(b.max_y))
    }

    /// Objects whose box overlaps `b`, each once, in index order.
    pub fn in_box(&self, b: Bounds) -> Vec<u32> {
        let mut out: Vec<u32> = self
            .large
            .iter()
            .copied()
            .filter(|&i| overlaps(&self.boxes[i as usize], &b))
            .collect();
        let (c0, r0, c1, r1) = self.cell_span(&b);
        for r in r0..=r1 {
            for c in c0..=c1 {
                let k = (r * self.across + c) as usize;
                let cell = &self.ids[self.offsets[k] as usize..self.offsets[k + 1] as usize];
                out.extend(
                    cell.iter()
                        .copied()
                        .filter(|&i| overlaps(&self.boxes[i as usize], &b)),
                );
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The objects under a point, `tolerance` level-0 pixels counting as a
    /// hit for lines and points: the smallest first (the one a user
    /// pointing inside a region at a cell means is the cell).
    pub fn at(&self, a: &Annotations, p: Point, tolerance: f64) -> Vec<u32> {
        let probe = Bounds {
            min_x: p.x - tolerance,
            min_y: p.y - tolerance,
            max_x: p.x + tolerance,
            max_y: p.y + tolerance,
        };
        let mut hits: Vec<(f64, u32)> = self
            .in_box(probe)
            .into_iter()
            .filter(|&i| hit(&a.objects[i as usize], p, tolerance))
            .map(|i| {
                let b = &self.boxes[i as usize];
                ((b.max_x - b.min_x) * (b.max_y - b.min_y), i)
            })
            .collect();
        hits.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
        hits.into_iter().map(|h| h.1).collect()
    }

    /// Bytes the index holds.
    pub fn bytes(&self) -> usize {
        (self.offsets.len() + self.ids.len() + self.large.len()) * 4
            + self.boxes.len() * std::mem::size_of::<Bounds>()
    }
}

fn overlaps(a: &Bounds, b: &Bounds) -> bool {
    a.min_x <= b.max_x && a.max_x >= b.min_x && a.min_y <= b.max_y && a.max_y >= b.min_y
}

/// Whether `p` is on the object: inside an area, or within `tolerance` of
/// a line or a point.
pub fn hit(o: &Object, p: Point, tolerance: f64) -> bool {
    geometry_hit(&o.geometry, p, tolerance)
}

fn geometry_hit(g: &Geometry, p: Point, tolerance: f64) -> bool {
    match g {
        Geometry::Point(q) => distance(*q, p) <= tolerance,
        Geometry::MultiPoint(qs) => qs.iter().any(|q| distance(*q, p) <= tolerance),
        Geometry::Polyline(line) => near_line(line, p, tolerance, false),
        Geometry::MultiPolyline(lines) => lines.iter().any(|l| near_line(l, p, tolerance, false)),
        Geometry::Polygon(poly) => poly.contains(p) || near_rings(poly, p, tolerance),
        Geometry::MultiPolygon(ps) => ps
            .iter()
            .any(|q| q.contains(p) || near_rings(q, p, tolerance)),
        Geometry::Rectangle(c) => ring_contains(&c[..], p) || near_line(&c[..], p, tolerance, true),
        Geometry::Ellipse(axes) => {
            let ring = ellipse_ring(axes, 64);
            ring_contains(&ring, p) || near_line(&ring, p, tolerance, true)
        }
    }
}

fn near_rings(poly: &Polygon, p: Point, tolerance: f64) -> bool {
    near_line(&poly.exterior, p, tolerance, true)
        || poly.holes.iter().any(|h| near_line(h, p, tolerance, true))
}

fn near_line(points: &[Point], p: Point, tolerance: f64, closed: bool) -> bool {
    let n = points.len();
    let segments = if closed { n } else { n.saturating_sub(1) };
    (0..segments).any(|k| segment_distance(points[k], points[(k + 1) % n], p) <= tolerance)
        || (n == 1 && distance(points[0], p) <= tolerance)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Kind;

    fn square(x: f64, y: f64, side: f64) -> Geometry {
        Geometry::Polygon(Polygon {
            exterior: vec![
                Point::new(x, y),
                Point::new(x + side, y),
                Point::new(x + side, y + side),
                Point::new(x, y + side),
            ],
            holes: Vec::new(),
        })
    }

    #[test]
    fn points_find_the_smallest_object_under_them_and_boxes_find_all() {
        let mut a = Annotations::default();
        // A region around everything, then a grid of cells.
        a.objects.push(Object::new(
            Kind::Annotation,
            square(-10.0, -10.0, 10_020.0),
        ));
        for i in 0..10_000 {
            let (x, y) = ((i % 100) as f64 * 100.0, (i / 100) as f64 * 100.0);
            a.objects
                .push(Object::new(Kind::Detection, square(x, y, 20.0)));
        }
        a.objects.push(Object::new(
            Kind::Annotation,
            Geometry::Polyline(vec![Point::new(50.0, 50.0), Point::new(90.0, 50.0)]),
        ));
        let index = SpatialIndex::build(&a);
        // Inside cell (row 3, col 7) and inside the region: the cell first.
        assert_eq!(
            index.at(&a, Point::new(710.0, 310.0), 0.5),
            vec![1 + 307, 0]
        );
        // Between cells: only the region.
        assert_eq!(index.at(&a, Point::new(750.0, 350.0), 0.5), vec![0]);
        // Near the line, within tolerance.
        assert_eq!(index.at(&a, Point::new(70.0, 51.0), 2.0)[0], 10_001);
        assert!(!index.at(&a, Point::new(70.0, 55.0), 2.0).contains(&10_001));
        // Outside everything.
        assert!(index.at(&a, Point::new(20_000.0, 5.0), 1.0).is_empty());
        // A box over four cells and the region.
        let found = index.in_box(Bounds {
            min_x: 0.0,
            min_y: 0.0,
            max_x: 150.0,
            max_y: 150.0,
        });
        assert_eq!(found, vec![0, 1, 2, 101, 102, 10_001]);
        assert!(index.bytes() < 2_000_000, "{}", index.bytes());
    }

    #[test]
    fn holes_are_not_inside() {
        let mut a = Annotations::default();
        a.objects.push(Object::new(
            Kind::Annotation,
            Geometry::Polygon(Polygon {
                exterior: vec![
                    Point::new(0.0, 0.0),
                    Point::new(100.0, 0.0),
                    Point::new(100.0, 100.0),
                    Point::new(0.0, 100.0),
                ],
                holes: vec![vec![
                    Point::new(40.0, 40.0),
                    Point::new(60.0, 40.0),
                    Point::new(60.0, 60.0),
                    Point::new(40.0, 60.0),
                ]],
            }),
        ));
        let index = SpatialIndex::build(&a);
        assert_eq!(index.at(&a, Point::new(20.0, 20.0), 0.0), vec![0]);
        assert!(index.at(&a, Point::new(50.0, 50.0), 0.0).is_empty());
    }
}
