//! Findings review (見落とし防止): the objects an analysis scored at or
//! above a threshold, highest score first, stepped through one by one and
//! each marked confirmed or rejected, so that none is passed over.
//!
//! Pure state: the window moves the view and draws the list; the console
//! records each verdict in the case's audit trail.

use crate::layers::Layers;
use std::collections::HashMap;

/// Names an analysis gives its score, in the order they are looked for.
const SCORE_NAMES: [&str; 6] = [
    "Probability",
    "probability",
    "Score",
    "score",
    "Confidence",
    "confidence",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Confirmed,
    Rejected,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Confirmed => "confirmed",
            Verdict::Rejected => "rejected",
        }
    }
}

/// One finding: where it is and how it scored.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub layer: usize,
    pub object: u32,
    pub score: f64,
    /// The object's box, level-0 pixels: min x, min y, max x, max y.
    pub bounds: [f64; 4],
}

#[derive(Debug, Default)]
pub struct Findings {
    pub panel_open: bool,
    /// The measurement that scores a finding.
    pub measurement: Option<String>,
    pub threshold: f64,
    pub items: Vec<Finding>,
    pub current: Option<usize>,
    /// Verdicts by (layer, object): kept when the threshold moves.
    verdicts: HashMap<(usize, u32), Verdict>,
}

impl Findings {
    /// The score measurement to start with: a conventional name if any
    /// layer has one, else the first measurement there is.
    pub fn default_measurement(layers: &Layers) -> Option<String> {
        let names = layers.measurement_names();
        SCORE_NAMES
            .iter()
            .find(|n| names.iter().any(|m| m == *n))
            .map(|n| (*n).to_owned())
            .or_else(|| names.first().cloned())
    }

    /// List the findings again (layers, measurement or threshold changed),
    /// keeping verdicts and, where it is still listed, the current one.
    pub fn rebuild(&mut self, layers: &Layers) {
        if self.measurement.is_none() {
            self.measurement = Self::default_measurement(layers);
            if let Some(name) = &self.measurement {
                // Scores in [0, 1] start at one half; others at their least.
                self.threshold = match layers.measurement_range(name) {
                    Some((lo, hi)) if lo >= 0.0 && hi <= 1.0 => 0.5,
                    Some((lo, _)) => lo,
                    None => 0.0,
                };
            }
        }
        let current = self
            .current
            .and_then(|i| self.items.get(i))
            .map(|f| (f.layer, f.object));
        self.items.clear();
        let Some(name) = &self.measurement else {
            self.current = None;
            return;
        };
        for (li, layer) in layers.layers.iter().enumerate() {
            let a = &layer.annotations;
            for (i, o) in a.objects.iter().enumerate() {
                if !is_found_by_software(a, o) {
                    continue;
                }
                let Some(score) = a.measurement(o, name).filter(|s| s.is_finite()) else {
                    continue;
                };
                if score < self.threshold {
                    continue;
                }
                let Some(b) = o.geometry.bounds() else {
                    continue;
                };
                self.items.push(Finding {
                    layer: li,
                    object: i as u32,
                    score,
                    bounds: [b.min_x, b.min_y, b.max_x, b.max_y],
                });
            }
        }
        self.items.sort_by(|x, y| {
            y.score
                .total_cmp(&x.score)
                .then(x.layer.cmp(&y.layer))
                .then(x.object.cmp(&y.object))
        });
        self.current =
            current.and_then(|key| self.items.iter().position(|f| (f.layer, f.object) == key));
    }

    /// The next finding (the first when none is current).
    pub fn next(&mut self) -> Option<&Finding> {
        if self.items.is_empty() {
            return None;
        }
        let i = match self.current {
            Some(i) => (i + 1).min(self.items.len() - 1),
            None => 0,
        };
        self.current = Some(i);
        self.items.get(i)
    }

    pub fn previous(&mut self) -> Option<&Finding> {
        if self.items.is_empty() {
            return None;
        }
        let i = self.current.map_or(0, |i| i.saturating_sub(1));
        self.current = Some(i);
        self.items.get(i)
    }

    pub fn go_to(&mut self, i: usize) -> Option<&Finding> {
        (i < self.items.len()).then(|| self.current = Some(i))?;
        self.items.get(i)
    }

    /// Mark the current finding; the finding marked, if any.
    pub fn mark(&mut self, verdict: Verdict) -> Option<Finding> {
        let f = self.items.get(self.current?)?.clone();
        self.verdicts.insert((f.layer, f.object), verdict);
        Some(f)
    }

    pub fn verdict(&self, f: &Finding) -> Option<Verdict> {
        self.verdicts.get(&(f.layer, f.object)).copied()
    }

    /// Findings listed now that have a verdict.
    pub fn reviewed(&self) -> usize {
        self.items
            .iter()
            .filter(|f| self.verdict(f).is_some())
            .count()
    }

    /// Layers were replaced (a new slide): nothing carries over.
    pub fn clear(&mut self) {
        let open = self.panel_open;
        *self = Findings::default();
        self.panel_open = open;
    }
}

/// Whether an object is a finding to review: anything but a person's own
/// (a specialist's copy of a finding keeps its score, but it is theirs).
/// Files that do not say who made them are analyses' exports.
fn is_found_by_software(a: &kh_annotations::Annotations, o: &kh_annotations::Object) -> bool {
    !matches!(
        a.provenance(o.provenance),
        kh_annotations::Provenance::Person { .. }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_specialists_own_objects_are_not_findings() {
        use kh_annotations::{Annotations, Geometry, Kind, Object, Point, Provenance};
        let mut a = Annotations::default();
        let mut found = Object::new(Kind::Detection, Geometry::Point(Point::new(1.0, 1.0)));
        found.provenance = a.provenance_id(Provenance::Algorithm {
            name: "net".into(),
            version: "1".into(),
            when: None,
        });
        let mut theirs = found.clone();
        theirs.provenance = a.provenance_id(Provenance::Person {
            name: "Dr. Sato".into(),
            when: None,
            edited_from: Some("net 1".into()),
        });
        let unknown = Object::new(Kind::Detection, Geometry::Point(Point::new(1.0, 1.0)));
        assert!(is_found_by_software(&a, &found));
        assert!(is_found_by_software(&a, &unknown));
        assert!(!is_found_by_software(&a, &theirs));
    }

    fn finding(layer: usize, object: u32, score: f64) -> Finding {
        Finding {
            layer,
            object,
            score,
            bounds: [0.0, 0.0, 1.0, 1.0],
        }
    }

    #[test]
    fn stepping_and_marking_count_what_was_reviewed() {
        let mut f = Findings {
            items: vec![finding(0, 4, 0.9), finding(0, 1, 0.7), finding(1, 0, 0.6)],
            ..Findings::default()
        };
        assert_eq!(f.previous().map(|x| x.object), Some(4));
        assert_eq!(f.next().map(|x| x.object), Some(1));
        assert_eq!(f.mark(Verdict::Rejected).map(|x| x.object), Some(1));
        assert_eq!(f.next().map(|x| x.layer), Some(1));
        // The last stays the last.
        assert_eq!(f.next().map(|x| x.layer), Some(1));
        f.mark(Verdict::Confirmed);
        assert_eq!(f.reviewed(), 2);
        assert_eq!(f.verdict(&f.items[0].clone()), None);
        assert_eq!(f.go_to(0).map(|x| x.object), Some(4));
        assert!(f.go_to(3).is_none());
    }
}
