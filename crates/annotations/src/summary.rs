//! What a set of annotations holds, as `kh annotations info` prints it.

use crate::Format;
use crate::model::{Annotations, Bounds, Kind};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Summary {
    pub format: &'static str,
    pub objects: usize,
    /// Objects of each kind (all four always present).
    pub by_type: BTreeMap<&'static str, usize>,
    /// Objects of each class; unclassified objects are not counted.
    pub by_class: BTreeMap<String, usize>,
    /// The box around every object, in level-0 pixels (null when empty).
    pub bounds: Option<Bounds>,
}

impl Summary {
    pub fn of(format: Format, a: &Annotations) -> Self {
        let mut by_type: BTreeMap<&'static str, usize> =
            Kind::ALL.iter().map(|k| (k.name(), 0)).collect();
        let mut per_class = vec![0usize; a.classes().len()];
        for o in &a.objects {
            *by_type.entry(o.kind.name()).or_default() += 1;
            if let Some(c) = o.class {
                per_class[c as usize] += 1;
            }
        }
        let by_class = a
            .classes()
            .iter()
            .zip(per_class)
            .filter(|(_, n)| *n > 0)
            .map(|(c, n)| (c.name.clone(), n))
            .collect();
        Summary {
            format: format.name(),
            objects: a.objects.len(),
            by_type,
            by_class,
            bounds: a.bounds(),
        }
    }
}
