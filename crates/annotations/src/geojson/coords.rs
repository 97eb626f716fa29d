//! GeoJSON `coordinates` of any depth, read without knowing the geometry
//! type first (JSON does not order keys): the nesting itself says what
//! each level is. Lists of positions — where nearly all the bytes are — are
//! read straight into `Vec<Point>`, each position checked and counted
//! against the object's vertex budget before it is kept.

use crate::error::Fault;
use crate::limits::Limits;
use crate::model::Point;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, SeqAccess, Visitor};
use std::fmt;

/// Coordinates as nested in the file.
#[derive(Debug)]
pub enum Coords {
    /// `[x, y]` (a Point's).
    Position(Point),
    /// `[[x, y], …]` (a LineString's, a MultiPoint's, a ring).
    Positions(Vec<Point>),
    /// Deeper lists (a Polygon's rings, a MultiPolygon's polygons), or an
    /// empty list.
    Lists(Vec<Coords>),
}

/// GeoJSON nests at most four levels (a MultiPolygon's position).
const MAX_DEPTH: u8 = 4;

/// What the coordinate readers share: the limits, the vertices this
/// object may still hold, and the fault that stopped reading.
pub struct Budget<'l> {
    pub limits: &'l Limits,
    pub vertices_left: usize,
    pub fault: Option<Fault>,
}

impl Budget<'_> {
    fn fail<E: de::Error>(&mut self, fault: Fault) -> E {
        let e = E::custom(&fault);
        self.fault = Some(fault);
        e
    }

    fn take_vertex<E: de::Error>(&mut self) -> Result<(), E> {
        if self.vertices_left == 0 {
            let n = self.limits.max_vertices_per_object;
            return Err(self.fail(Fault::limit(format!(
                "more than {n} vertices in one object"
            ))));
        }
        self.vertices_left -= 1;
        Ok(())
    }
}

pub struct CoordsSeed<'b, 'l> {
    pub budget: &'b mut Budget<'l>,
    pub depth: u8,
}

impl<'de> DeserializeSeed<'de> for CoordsSeed<'_, '_> {
    type Value = Coords;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Coords, D::Error> {
        let seed = NodeSeed {
            budget: self.budget,
            depth: self.depth,
        };
        match seed.deserialize(d)? {
            Node::Coords(c) => Ok(c),
            Node::Number(_) => Err(de::Error::custom("coordinates must be a list")),
        }
    }
}

enum Node {
    Number(f64),
    Coords(Coords),
}

struct NodeSeed<'b, 'l> {
    budget: &'b mut Budget<'l>,
    depth: u8,
}

impl<'de> DeserializeSeed<'de> for NodeSeed<'_, '_> {
    type Value = Node;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for NodeSeed<'_, '_> {
    type Value = Node;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number or a list of coordinates")
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Number(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Number(v as f64))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Number(v as f64))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Err(self.budget.fail(Fault::corrupt(
            "a coordinate is null (NaN or infinite in the file?)",
        )))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let budget = self.budget;
        if self.depth >= MAX_DEPTH {
            return Err(budget.fail(Fault::corrupt(
                "coordinates nested deeper than any GeoJSON geometry",
            )));
        }
        let first = seq.next_element_seed(NodeSeed {
            budget: &mut *budget,
            depth: self.depth + 1,
        })?;
        match first {
            None => Ok(Node::Coords(Coords::Lists(Vec::new()))),
            Some(Node::Number(x)) => {
                let p = position_after_x(&mut seq, Some(x), budget)?;
                Ok(Node::Coords(Coords::Position(p)))
            }
            Some(Node::Coords(Coords::Position(p))) => {
                budget.take_vertex()?;
                let mut points = Vec::with_capacity(seq.size_hint().unwrap_or(8).min(1 << 16));
                points.push(p);
                while let Some(p) = seq.next_element_seed(PositionSeed(&mut *budget))? {
                    budget.take_vertex()?;
                    points.push(p);
                }
                Ok(Node::Coords(Coords::Positions(points)))
            }
            Some(Node::Coords(c)) => {
                let mut lists = vec![c];
                while let Some(c) = seq.next_element_seed(CoordsSeed {
                    budget: &mut *budget,
                    depth: self.depth + 1,
                })? {
                    if matches!(c, Coords::Position(_)) {
                        return Err(budget.fail(Fault::corrupt(
                            "positions mixed with lists in one coordinate list",
                        )));
                    }
                    lists.push(c);
                }
                Ok(Node::Coords(Coords::Lists(lists)))
            }
        }
    }
}

/// One `[x, y]` in a list of positions (the hot path).
struct PositionSeed<'b, 'l>(&'b mut Budget<'l>);

impl<'de> DeserializeSeed<'de> for PositionSeed<'_, '_> {
    type Value = Point;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Point, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for PositionSeed<'_, '_> {
    type Value = Point;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a position [x, y]")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Point, A::Error> {
        let Some(x) = seq.next_element::<Option<f64>>()? else {
            return Err(self.0.fail(Fault::corrupt("a position with no numbers")));
        };
        position_after_x(&mut seq, x, self.0)
    }
}

/// The rest of a position whose first number (`None`: a null) was read:
/// y, then any further numbers (z, m) skipped, at most two.
fn position_after_x<'de, A: SeqAccess<'de>>(
    seq: &mut A,
    x: Option<f64>,
    budget: &mut Budget,
) -> Result<Point, A::Error> {
    let Some(y) = seq.next_element::<Option<f64>>()? else {
        return Err(budget.fail(Fault::corrupt("a position with one number")));
    };
    let (Some(x), Some(y)) = (x, y) else {
        return Err(budget.fail(Fault::corrupt(
            "a coordinate is null (NaN or infinite in the file?)",
        )));
    };
    let mut extra = 0;
    while seq.next_element::<IgnoredAny>()?.is_some() {
        extra += 1;
        if extra > 2 {
            return Err(budget.fail(Fault::corrupt("a position with more than four numbers")));
        }
    }
    let limits = budget.limits;
    limits.point(x, y).map_err(|f| budget.fail(f))
}
