//! Annotations as GPU-ready geometry, built once per annotation set on the
//! CPU (no GPU here, so it is tested and timed alone).
//!
//! Each object becomes fill triangles (earcut, holes included), outline
//! segments (its rings and lines; a cell's nucleus as an outline) and one
//! marker at its centre. Objects are ordered by **size bucket** (log2 of
//! their larger side) and then by **chunk** (a grid cell of the slide, in
//! row order), and every (bucket, chunk) group records its ranges and the
//! box around its objects. Drawing a frame then walks the groups — a few
//! thousand at most, whatever the object count: groups outside the view
//! are skipped, groups whose objects would be under [`DETAIL_MIN_PX`] on
//! screen draw their markers instead of their shapes, and neighbouring
//! groups in a row merge into one draw range. So a frame's CPU time does
//! not grow with the number of objects, and a million sub-pixel cells cost
//! a million markers, not tens of millions of triangles.

use kh_annotations::{Annotations, Geometry, Object, Point, Polygon};
use std::ops::Range;

/// Side of a chunk in level-0 pixels: at 40× a chunk is a few screens, so
/// a view touches tens of chunks and culling stays coarse but useful.
pub const CHUNK_PX: f64 = 4096.0;

/// Objects whose larger side would be under this many screen pixels are
/// drawn as a marker: their outline could not be told from one anyway.
pub const DETAIL_MIN_PX: f64 = 4.0;

/// Vertices of an ellipse's outline.
pub const ELLIPSE_VERTICES: usize = 64;

/// Size buckets: log2 of the larger side, 0 (under 2 px) to 31.
const BUCKETS: usize = 32;

/// A marker: where, and which object (its colour).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Marker {
    pub position: [f32; 2],
    pub object: u32,
}

/// One (size bucket, chunk) group of objects and where its geometry lies
/// in the mesh's arrays.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub bucket: u8,
    /// Chunk index, row-major.
    pub chunk: u32,
    /// The box around the group's objects: min x, min y, max x, max y.
    pub bounds: [f64; 4],
    /// The larger side of its largest object, level-0 pixels.
    pub max_size: f64,
    pub fill_indices: Range<u32>,
    pub segments: Range<u32>,
    /// One per object (drawn when the objects are too small for detail).
    pub markers: Range<u32>,
    /// The points of point and multipoint objects (drawn in detail).
    pub point_markers: Range<u32>,
}

/// What a frame draws: ranges into the mesh's arrays.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct DrawList {
    pub fill_indices: Vec<Range<u32>>,
    pub segments: Vec<Range<u32>>,
    /// Markers standing for whole objects, and the points of point objects.
    pub markers: Vec<Range<u32>>,
    pub point_markers: Vec<Range<u32>>,
}

/// The geometry of one annotation set, ready for upload.
#[derive(Debug, Default, Clone)]
pub struct OverlayMesh {
    pub positions: Vec<[f32; 2]>,
    /// The object (index into the annotation set) of each vertex.
    pub vertex_objects: Vec<u32>,
    pub fill_indices: Vec<u32>,
    pub segments: Vec<[u32; 2]>,
    pub markers: Vec<Marker>,
    pub point_markers: Vec<Marker>,
    pub groups: Vec<Group>,
    /// Chunks per row of the grid.
    pub chunks_across: u32,
}

impl OverlayMesh {
    pub fn from_annotations(a: &Annotations) -> OverlayMesh {
        // Each object's box once (a polygon's is a pass over its vertices);
        // the whole set's is their union.
        let boxes: Vec<Option<kh_annotations::Bounds>> =
            a.objects.iter().map(|o| o.geometry.bounds()).collect();
        let Some(bounds) = boxes
            .iter()
            .flatten()
            .copied()
            .reduce(kh_annotations::Bounds::union)
        else {
            return OverlayMesh::default();
        };
        let chunks_across = (((bounds.max_x - bounds.min_x) / CHUNK_PX).floor() as u32 + 1).max(1);
        let chunk_of = |x: f64, y: f64| -> u32 {
            let cx = ((x - bounds.min_x) / CHUNK_PX).floor().max(0.0) as u32;
            let cy = ((y - bounds.min_y) / CHUNK_PX).floor().max(0.0) as u32;
            cy.saturating_mul(chunks_across)
                .saturating_add(cx.min(chunks_across - 1))
        };
        // (bucket, chunk, object) for every object with a shape.
        let mut order: Vec<(u8, u32, u32, [f64; 4])> = boxes
            .iter()
            .enumerate()
            .filter_map(|(i, b)| {
                let b = (*b)?;
                let side = (b.max_x - b.min_x).max(b.max_y - b.min_y);
                let bucket = bucket_of(side);
                let chunk = chunk_of((b.min_x + b.max_x) / 2.0, (b.min_y + b.max_y) / 2.0);
                Some((
                    bucket,
                    chunk,
                    i as u32,
                    [b.min_x, b.min_y, b.max_x, b.max_y],
                ))
            })
            .collect();
        order.sort_unstable_by_key(|&(bucket, chunk, i, _)| (bucket, chunk, i));

        // Group boundaries, then runs of whole groups of about equal object
        // counts, one per core, tessellated at once and joined in order.
        let mut bounds_of_groups = Vec::new();
        let mut start = 0;
        while start < order.len() {
            let (bucket, chunk) = (order[start].0, order[start].1);
            let end = start
                + order[start..]
                    .iter()
                    .take_while(|o| o.0 == bucket && o.1 == chunk)
                    .count();
            bounds_of_groups.push(start..end);
            start = end;
        }
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .clamp(1, 16);
        let per_thread = order.len().div_ceil(threads).max(1);
        let mut runs: Vec<std::ops::Range<usize>> = Vec::new();
        let mut run_start = 0;
        let mut objects = 0;
        for (k, g) in bounds_of_groups.iter().enumerate() {
            objects += g.len();
            if objects >= per_thread || k + 1 == bounds_of_groups.len() {
                runs.push(run_start..k + 1);
                run_start = k + 1;
                objects = 0;
            }
        }
        let parts: Vec<OverlayMesh> = std::thread::scope(|scope| {
            let handles: Vec<_> = runs
                .iter()
                .map(|run| {
                    let groups = &bounds_of_groups[run.clone()];
                    let order = &order;
                    scope.spawn(move || part_mesh(a, order, groups))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_default())
                .collect()
        });
        let mut mesh = OverlayMesh {
            chunks_across,
            ..OverlayMesh::default()
        };
        for part in parts {
            mesh.join(part);
        }
        mesh
    }

    /// Append a part built alone: its indices and ranges shift by what is
    /// already here.
    fn join(&mut self, part: OverlayMesh) {
        let vertices = self.positions.len() as u32;
        let (fills, segments, markers, points) = self.counts();
        self.positions.extend(part.positions);
        self.vertex_objects.extend(part.vertex_objects);
        self.fill_indices
            .extend(part.fill_indices.into_iter().map(|i| i + vertices));
        self.segments.extend(
            part.segments
                .into_iter()
                .map(|[a, b]| [a + vertices, b + vertices]),
        );
        self.markers.extend(part.markers);
        self.point_markers.extend(part.point_markers);
        let shift = |r: Range<u32>, by: u32| r.start + by..r.end + by;
        self.groups.extend(part.groups.into_iter().map(|g| Group {
            fill_indices: shift(g.fill_indices, fills),
            segments: shift(g.segments, segments),
            markers: shift(g.markers, markers),
            point_markers: shift(g.point_markers, points),
            ..g
        }));
    }

    fn counts(&self) -> (u32, u32, u32, u32) {
        (
            self.fill_indices.len() as u32,
            self.segments.len() as u32,
            self.markers.len() as u32,
            self.point_markers.len() as u32,
        )
    }

    /// What to draw for a view: `visible` is the slide box the screen shows
    /// (min x, min y, max x, max y), `zoom` level-0 pixels per screen pixel,
    /// `margin_px` how far outlines and markers reach beyond an object.
    pub fn draw_list(&self, visible: [f64; 4], zoom: f64, margin_px: f64) -> DrawList {
        let mut list = DrawList::default();
        let margin = margin_px * zoom;
        for g in &self.groups {
            let b = g.bounds;
            if b[0] > visible[2] + margin
                || b[2] < visible[0] - margin
                || b[1] > visible[3] + margin
                || b[3] < visible[1] - margin
            {
                continue;
            }
            if g.max_size / zoom < DETAIL_MIN_PX {
                push_range(&mut list.markers, g.markers.clone());
            } else {
                push_range(&mut list.fill_indices, g.fill_indices.clone());
                push_range(&mut list.segments, g.segments.clone());
                push_range(&mut list.point_markers, g.point_markers.clone());
            }
        }
        list
    }

    /// Bytes the mesh takes on the GPU (its arrays as uploaded).
    pub fn gpu_bytes(&self) -> u64 {
        (self.positions.len() * 8
            + self.vertex_objects.len() * 4
            + self.fill_indices.len() * 4
            + self.segments.len() * 8
            + (self.markers.len() + self.point_markers.len()) * 12) as u64
    }
}

/// The mesh of a run of groups (`order` indices), as if alone.
fn part_mesh(
    a: &Annotations,
    order: &[(u8, u32, u32, [f64; 4])],
    groups: &[Range<usize>],
) -> OverlayMesh {
    let mut mesh = OverlayMesh::default();
    let mut tess = Tessellator::default();
    for g in groups {
        let (bucket, chunk) = (order[g.start].0, order[g.start].1);
        let before = mesh.counts();
        let mut gb = [
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        ];
        let mut max_size: f64 = 0.0;
        for &(_, _, i, b) in &order[g.clone()] {
            tess.object(&mut mesh, &a.objects[i as usize], i);
            gb = [
                gb[0].min(b[0]),
                gb[1].min(b[1]),
                gb[2].max(b[2]),
                gb[3].max(b[3]),
            ];
            max_size = max_size.max((b[2] - b[0]).max(b[3] - b[1]));
            mesh.markers.push(Marker {
                position: [((b[0] + b[2]) / 2.0) as f32, ((b[1] + b[3]) / 2.0) as f32],
                object: i,
            });
        }
        let after = mesh.counts();
        mesh.groups.push(Group {
            bucket,
            chunk,
            bounds: gb,
            max_size,
            fill_indices: before.0..after.0,
            segments: before.1..after.1,
            markers: before.2..after.2,
            point_markers: before.3..after.3,
        });
    }
    mesh
}

/// Append a range, merging it with the last when they touch.
fn push_range(ranges: &mut Vec<Range<u32>>, r: Range<u32>) {
    if r.is_empty() {
        return;
    }
    match ranges.last_mut() {
        Some(last) if last.end == r.start => last.end = r.end,
        _ => ranges.push(r),
    }
}

fn bucket_of(side: f64) -> u8 {
    if side < 2.0 {
        0
    } else {
        (side.log2().floor() as usize).min(BUCKETS - 1) as u8
    }
}

/// Reused buffers for triangulating one object after another.
#[derive(Default)]
struct Tessellator {
    earcut: earcut::Earcut<f64>,
    ring_points: Vec<[f64; 2]>,
    holes: Vec<u32>,
    triangles: Vec<u32>,
}

impl Tessellator {
    fn object(&mut self, mesh: &mut OverlayMesh, o: &Object, id: u32) {
        self.geometry(mesh, &o.geometry, id, true);
        if let Some(nucleus) = &o.nucleus {
            // A nucleus is outlined, not filled: the cell's fill shows.
            self.geometry(mesh, nucleus, id, false);
        }
    }

    fn geometry(&mut self, mesh: &mut OverlayMesh, g: &Geometry, id: u32, fill: bool) {
        match g {
            Geometry::Point(p) => point(mesh, *p, id),
            Geometry::MultiPoint(ps) => ps.iter().for_each(|p| point(mesh, *p, id)),
            Geometry::Polyline(line) => {
                self.line(mesh, line, id, false);
            }
            Geometry::MultiPolyline(lines) => {
                for l in lines {
                    self.line(mesh, l, id, false);
                }
            }
            Geometry::Polygon(p) => self.polygon(mesh, p, id, fill),
            Geometry::MultiPolygon(ps) => ps.iter().for_each(|p| self.polygon(mesh, p, id, fill)),
            Geometry::Rectangle(c) => self.polygon(
                mesh,
                &Polygon {
                    exterior: c.to_vec(),
                    holes: Vec::new(),
                },
                id,
                fill,
            ),
            Geometry::Ellipse(axes) => self.polygon(
                mesh,
                &Polygon {
                    exterior: kh_annotations::plane::ellipse_ring(axes, ELLIPSE_VERTICES),
                    holes: Vec::new(),
                },
                id,
                fill,
            ),
        }
    }

    /// Vertices of a line or ring appended; its segments too.
    fn line(&mut self, mesh: &mut OverlayMesh, points: &[Point], id: u32, closed: bool) -> u32 {
        let first = mesh.positions.len() as u32;
        for p in points {
            mesh.positions.push([p.x as f32, p.y as f32]);
            mesh.vertex_objects.push(id);
        }
        let n = points.len() as u32;
        for k in 1..n {
            mesh.segments.push([first + k - 1, first + k]);
        }
        if closed && n > 2 {
            mesh.segments.push([first + n - 1, first]);
        }
        first
    }

    fn polygon(&mut self, mesh: &mut OverlayMesh, p: &Polygon, id: u32, fill: bool) {
        let first = self.line(mesh, &p.exterior, id, true);
        for h in &p.holes {
            self.line(mesh, h, id, true);
        }
        if !fill {
            return;
        }
        self.ring_points.clear();
        self.holes.clear();
        self.ring_points
            .extend(p.exterior.iter().map(|q| [q.x, q.y]));
        for h in &p.holes {
            self.holes.push(self.ring_points.len() as u32);
            self.ring_points.extend(h.iter().map(|q| [q.x, q.y]));
        }
        self.earcut.earcut(
            self.ring_points.iter().copied(),
            &self.holes,
            &mut self.triangles,
        );
        mesh.fill_indices
            .extend(self.triangles.iter().map(|&t| first + t));
    }
}

fn point(mesh: &mut OverlayMesh, p: Point, id: u32) {
    mesh.point_markers.push(Marker {
        position: [p.x as f32, p.y as f32],
        object: id,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use kh_annotations::{Kind, Object};

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
    fn a_polygon_with_a_hole_fills_around_it() {
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
                    Point::new(20.0, 20.0),
                    Point::new(80.0, 20.0),
                    Point::new(80.0, 80.0),
                    Point::new(20.0, 80.0),
                ]],
            }),
        ));
        let m = OverlayMesh::from_annotations(&a);
        // Earcut's eight triangles cover the 10,000 − 3,600 px² ring.
        let area: f64 = m
            .fill_indices
            .chunks(3)
            .map(|t| {
                let [p, q, r] = [t[0], t[1], t[2]].map(|i| m.positions[i as usize]);
                ((q[0] - p[0]) * (r[1] - p[1]) - (r[0] - p[0]) * (q[1] - p[1])).abs() as f64 / 2.0
            })
            .sum();
        assert!((area - 6400.0).abs() < 1e-6, "{area}");
        // Both rings are outlined, closed.
        assert_eq!(m.segments.len(), 8);
    }

    #[test]
    fn small_objects_draw_as_markers_and_neighbours_merge() {
        let mut a = Annotations::default();
        // A 100 × 100 grid of 10-pixel cells spread over several chunks.
        for i in 0..10_000 {
            let (x, y) = ((i % 100) as f64 * 100.0, (i / 100) as f64 * 100.0);
            a.objects
                .push(Object::new(Kind::Detection, square(x, y, 10.0)));
        }
        let m = OverlayMesh::from_annotations(&a);
        assert_eq!(m.markers.len(), 10_000);
        let all = [-1e9, -1e9, 1e9, 1e9];
        // Zoomed out (10 px cells at 8 slide px per screen px: 1.25 px).
        let far = m.draw_list(all, 8.0, 2.0);
        assert!(far.fill_indices.is_empty());
        assert_eq!(far.markers, vec![0..10_000], "one merged range");
        // Zoomed in: shapes, not markers; only what is near the view.
        let near = m.draw_list([0.0, 0.0, 500.0, 500.0], 0.5, 2.0);
        assert!(near.markers.is_empty());
        let drawn: u32 = near.fill_indices.iter().map(|r| r.len() as u32).sum();
        assert!(drawn > 0 && drawn < m.fill_indices.len() as u32, "{drawn}");
    }

    #[test]
    fn the_draw_list_stays_small_for_a_million_objects() {
        let mut a = Annotations::default();
        for i in 0..1_000_000u32 {
            let (x, y) = ((i % 1000) as f64 * 97.0, (i / 1000) as f64 * 97.0);
            a.objects
                .push(Object::new(Kind::Detection, square(x, y, 8.0)));
        }
        let m = OverlayMesh::from_annotations(&a);
        // At any zoom the list is a few ranges per chunk row, not per object.
        for zoom in [0.25, 1.0, 4.0, 64.0] {
            let half = 1920.0 * zoom;
            let list = m.draw_list(
                [
                    48_000.0 - half,
                    48_000.0 - half,
                    48_000.0 + half,
                    48_000.0 + half,
                ],
                zoom,
                2.0,
            );
            let ranges = list.fill_indices.len() + list.markers.len() + list.segments.len();
            assert!(ranges < 200, "zoom {zoom}: {ranges} ranges");
        }
    }
}
