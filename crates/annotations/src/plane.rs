//! Plane geometry on level-0 points that readers, the index, the overlay
//! and the analyses all need: one copy of each.

use crate::model::{Point, Polygon};

pub fn distance(a: Point, b: Point) -> f64 {
    (a.x - b.x).hypot(a.y - b.y)
}

/// Distance from `p` to the segment a–b.
pub fn segment_distance(a: Point, b: Point, p: Point) -> f64 {
    let (dx, dy) = (b.x - a.x, b.y - a.y);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 {
        (((p.x - a.x) * dx + (p.y - a.y) * dy) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    distance(Point::new(a.x + t * dx, a.y + t * dy), p)
}

/// Whether `p` is inside a ring (even-odd crossing; the ring is open,
/// its closing edge implied).
pub fn ring_contains(ring: &[Point], p: Point) -> bool {
    let mut inside = false;
    let n = ring.len();
    for k in 0..n {
        let (a, b) = (ring[k], ring[(k + n - 1) % n]);
        if (a.y > p.y) != (b.y > p.y) && p.x < (b.x - a.x) * (p.y - a.y) / (b.y - a.y) + a.x {
            inside = !inside;
        }
    }
    inside
}

/// The area a ring encloses (shoelace, unsigned).
pub fn ring_area(ring: &[Point]) -> f64 {
    let n = ring.len();
    ((0..n)
        .map(|k| ring[k].x * ring[(k + 1) % n].y - ring[(k + 1) % n].x * ring[k].y)
        .sum::<f64>()
        / 2.0)
        .abs()
}

impl Polygon {
    /// The area inside the outer ring and outside the holes.
    pub fn area(&self) -> f64 {
        ring_area(&self.exterior) - self.holes.iter().map(|h| ring_area(h)).sum::<f64>()
    }

    pub fn contains(&self, p: Point) -> bool {
        ring_contains(&self.exterior, p) && !self.holes.iter().any(|h| ring_contains(h, p))
    }
}

/// Points around an ellipse given by its axes' end points (DICOM's
/// ELLIPSE): how formats without ellipses, the overlay and hit tests see
/// one.
pub fn ellipse_ring(axes: &[Point; 4], n: usize) -> Vec<Point> {
    let c = Point::new((axes[0].x + axes[1].x) / 2.0, (axes[0].y + axes[1].y) / 2.0);
    let a = Point::new(axes[1].x - c.x, axes[1].y - c.y);
    let b = Point::new((axes[3].x - axes[2].x) / 2.0, (axes[3].y - axes[2].y) / 2.0);
    (0..n)
        .map(|i| {
            let t = std::f64::consts::TAU * i as f64 / n as f64;
            let (s, k) = t.sin_cos();
            Point::new(c.x + a.x * k + b.x * s, c.y + a.y * k + b.y * s)
        })
        .collect()
}
