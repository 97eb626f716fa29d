//! Outlines of a binary mask as polygons with holes: marching squares
//! (corners at pixel centres, diagonal pairs kept apart, so foreground is
//! 4-connected), segments joined into rings, rings nested by containment
//! (a ring inside an odd number of others is a hole), then simplified
//! (Douglas–Peucker).

use kh_annotations::plane::{ring_contains, segment_distance};
use kh_annotations::{Point, Polygon};
use std::collections::HashMap;

/// A mask, row-major, `true` = foreground.
pub struct Mask {
    pub width: usize,
    pub height: usize,
    pub data: Vec<bool>,
}

impl Mask {
    pub fn get(&self, x: isize, y: isize) -> bool {
        x >= 0
            && y >= 0
            && (x as usize) < self.width
            && (y as usize) < self.height
            && self.data[y as usize * self.width + x as usize]
    }
}

/// Polygons around the foreground, in pixel coordinates where pixel (i, j)
/// covers [i, i+1) × [j, j+1); rings simplified to within `tolerance`.
pub fn polygons_from_mask(mask: &Mask, tolerance: f64) -> Vec<Polygon> {
    let rings = rings(mask);
    // Nesting depth of each ring: how many others contain it.
    let depth: Vec<usize> = rings
        .iter()
        .enumerate()
        .map(|(i, r)| {
            rings
                .iter()
                .enumerate()
                .filter(|(j, other)| *j != i && ring_contains(other, r[0]))
                .count()
        })
        .collect();
    let mut polygons: Vec<(usize, Polygon)> = Vec::new();
    for (i, r) in rings.iter().enumerate() {
        if depth[i].is_multiple_of(2) {
            polygons.push((
                i,
                Polygon {
                    exterior: simplify(r, tolerance),
                    holes: Vec::new(),
                },
            ));
        }
    }
    for (i, r) in rings.iter().enumerate() {
        if !depth[i].is_multiple_of(2) {
            // The innermost exterior holding it.
            let owner = polygons
                .iter_mut()
                .filter(|(e, _)| depth[*e] + 1 == depth[i] && ring_contains(&rings[*e], r[0]))
                .map(|(_, p)| p)
                .next();
            if let Some(p) = owner {
                p.holes.push(simplify(r, tolerance));
            }
        }
    }
    polygons
        .into_iter()
        .map(|(_, p)| p)
        .filter(|p| p.exterior.len() >= 3)
        .map(|mut p| {
            p.holes.retain(|h| h.len() >= 3);
            p
        })
        .collect()
}

/// Closed rings through edge midpoints, in pixel coordinates.
fn rings(mask: &Mask) -> Vec<Vec<Point>> {
    // Edge midpoints in doubled cell coordinates; cells span the padded
    // grid so every ring closes.
    type Key = (i32, i32);
    let mut segments: Vec<[Key; 2]> = Vec::new();
    for j in -1..mask.height as isize {
        for i in -1..mask.width as isize {
            let tl = mask.get(i, j);
            let tr = mask.get(i + 1, j);
            let br = mask.get(i + 1, j + 1);
            let bl = mask.get(i, j + 1);
            let (x, y) = (2 * i as i32, 2 * j as i32);
            let top = (x + 1, y);
            let bottom = (x + 1, y + 2);
            let left = (x, y + 1);
            let right = (x + 2, y + 1);
            let case = (tl as u8) << 3 | (tr as u8) << 2 | (br as u8) << 1 | bl as u8;
            let mut seg = |a: Key, b: Key| segments.push([a, b]);
            match case {
                1 | 14 => seg(left, bottom),
                2 | 13 => seg(bottom, right),
                3 | 12 => seg(left, right),
                4 | 11 => seg(top, right),
                6 | 9 => seg(top, bottom),
                7 | 8 => seg(top, left),
                // Diagonal pairs: each corner cut on its own.
                5 => {
                    seg(top, right);
                    seg(left, bottom);
                }
                10 => {
                    seg(top, left);
                    seg(bottom, right);
                }
                _ => {}
            }
        }
    }
    let mut at: HashMap<Key, [usize; 2]> = HashMap::with_capacity(segments.len() * 2);
    for (k, s) in segments.iter().enumerate() {
        for end in s {
            at.entry(*end)
                .and_modify(|e| e[1] = k)
                .or_insert([k, usize::MAX]);
        }
    }
    let mut used = vec![false; segments.len()];
    let mut rings = Vec::new();
    for start in 0..segments.len() {
        if used[start] {
            continue;
        }
        let mut ring = Vec::new();
        let first = segments[start][0];
        let mut point = segments[start][1];
        used[start] = true;
        ring.push(first);
        while point != first {
            ring.push(point);
            let Some(&[a, b]) = at.get(&point) else { break };
            let next = if !used[a] { a } else { b };
            if next == usize::MAX || used[next] {
                break;
            }
            used[next] = true;
            let s = segments[next];
            point = if s[0] == point { s[1] } else { s[0] };
        }
        // Doubled cell coordinates to pixels: a cell corner (i, j) is the
        // centre of pixel (i, j), at (i + 0.5, j + 0.5).
        rings.push(
            ring.into_iter()
                .map(|(x, y)| Point::new(f64::from(x) / 2.0 + 0.5, f64::from(y) / 2.0 + 0.5))
                .collect(),
        );
    }
    rings
}

/// Douglas–Peucker on a closed ring (split at the two farthest-apart
/// points so the ring's ends are kept).
pub fn simplify(ring: &[Point], tolerance: f64) -> Vec<Point> {
    if ring.len() <= 4 || tolerance <= 0.0 {
        return ring.to_vec();
    }
    let far = (1..ring.len())
        .max_by(|&a, &b| dist2(ring[0], ring[a]).total_cmp(&dist2(ring[0], ring[b])))
        .unwrap_or(ring.len() / 2);
    let mut keep = vec![false; ring.len()];
    keep[0] = true;
    keep[far] = true;
    let closed: Vec<Point> = ring
        .iter()
        .copied()
        .chain(std::iter::once(ring[0]))
        .collect();
    mark(&closed, 0, far, tolerance, &mut keep);
    let mut keep_closed = keep.clone();
    keep_closed.push(true);
    mark(&closed, far, ring.len(), tolerance, &mut keep_closed);
    ring.iter()
        .zip(keep_closed)
        .filter(|(_, k)| *k)
        .map(|(p, _)| *p)
        .collect()
}

fn mark(points: &[Point], first: usize, last: usize, tolerance: f64, keep: &mut [bool]) {
    let mut stack = vec![(first, last)];
    while let Some((a, b)) = stack.pop() {
        if b <= a + 1 {
            continue;
        }
        let (mut worst, mut at) = (0.0, a);
        for k in a + 1..b {
            let d = segment_distance(points[a], points[b], points[k]);
            if d > worst {
                worst = d;
                at = k;
            }
        }
        if worst > tolerance {
            keep[at] = true;
            stack.push((a, at));
            stack.push((at, b));
        }
    }
}

fn dist2(a: Point, b: Point) -> f64 {
    (a.x - b.x).powi(2) + (a.y - b.y).powi(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_square_with_a_hole_and_a_separate_blob() {
        let (w, h) = (40, 30);
        let mut data = vec![false; w * h];
        for y in 5..25 {
            for x in 5..25 {
                // A 20×20 square with a 6×6 hole.
                data[y * w + x] = !(12..18).contains(&x) || !(12..18).contains(&y);
            }
        }
        for y in 10..14 {
            for x in 30..34 {
                data[y * w + x] = true;
            }
        }
        let polygons = polygons_from_mask(
            &Mask {
                width: w,
                height: h,
                data,
            },
            0.1,
        );
        assert_eq!(polygons.len(), 2);
        let square = polygons.iter().find(|p| !p.holes.is_empty()).unwrap();
        // Marching squares cuts the corners: areas within a pixel's margin.
        let a = square.area();
        assert!((a - (400.0 - 36.0)).abs() < 25.0, "{a}");
        let blob = polygons.iter().find(|p| p.holes.is_empty()).unwrap();
        assert!((kh_annotations::plane::ring_area(&blob.exterior) - 16.0).abs() < 5.0);
        // The outline follows pixel edges: x from about 5 to 25.
        let xs: Vec<f64> = square.exterior.iter().map(|p| p.x).collect();
        let (lo, hi) = xs
            .iter()
            .fold((f64::MAX, f64::MIN), |m, &x| (m.0.min(x), m.1.max(x)));
        assert!(
            (lo - 5.0).abs() <= 0.5 && (hi - 25.0).abs() <= 0.5,
            "{lo} {hi}"
        );
    }
}
