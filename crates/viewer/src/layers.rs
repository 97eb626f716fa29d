//! Annotation layers over the slide: one per file, each read, indexed and
//! tessellated on a worker thread, then uploaded; the style the user sets
//! (fill, outline, hidden classes, colours, a measurement threshold)
//! shared by all of them; what lies under the cursor.

use kh_annotations::dicom::SlideReference;
use kh_annotations::{Annotations, Kind, Object, Point, Provenance, SpatialIndex};
use kh_render::overlay::mesh::OverlayMesh;
use kh_render::overlay::{AnnotationOverlay, OverlayStyle};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A file read and prepared off the UI thread.
pub struct Loaded {
    pub annotations: Arc<Annotations>,
    pub index: SpatialIndex,
    pub mesh: OverlayMesh,
    pub totals: Totals,
}

/// What the panels show of a layer, counted once when it is read: the
/// panels are drawn every frame, and a pass over a million objects per
/// frame would be the frame.
#[derive(Debug, Default)]
pub struct Totals {
    /// Objects per class (by class index).
    pub class_counts: Vec<usize>,
    /// Least and greatest finite value per measurement (by name index).
    pub ranges: Vec<Option<(f64, f64)>>,
}

impl Totals {
    pub fn of(a: &Annotations) -> Totals {
        let mut class_counts = vec![0; a.classes().len()];
        for c in a.objects.iter().filter_map(|o| o.class) {
            class_counts[c as usize] += 1;
        }
        Totals {
            class_counts,
            ranges: a.measurement_ranges(),
        }
    }
}

/// The slide annotations are read over: its level-0 size (for rasters)
/// and, for a DICOM slide, its reference (for DICOM ANN in its
/// coordinates).
#[derive(Debug, Clone, Default)]
pub struct SlideContext {
    pub size: Option<(u64, u64)>,
    pub dicom: Option<SlideReference>,
}

impl SlideContext {
    pub fn of(slide: &kh_slide::Slide) -> Self {
        SlideContext {
            size: Some(slide.dimensions()),
            dicom: SlideReference::from_properties(slide.properties()),
        }
    }

    pub fn on(&self) -> kh_annotations::OnSlide<'_> {
        kh_annotations::OnSlide {
            size: self.size,
            dicom: self.dicom.as_ref(),
        }
    }
}

/// Read, index and tessellate a file (run on a worker thread) over `slide`.
pub fn load(path: &Path, slide: &SlideContext) -> Result<Loaded, String> {
    let limits = kh_annotations::Limits::default();
    // Through the binary cache when there is a cache folder: a second open
    // of a million objects decodes flat records instead of parsing JSON.
    let annotations = match kh_annotations::cache::default_dir() {
        Some(dir) => {
            let (_, a, used) = kh_annotations::read_cached(path, &dir, &limits, slide.on())
                .map_err(|e| e.to_string())?;
            if used == kh_annotations::CacheUse::NotWritten {
                tracing::warn!("could not write the annotation cache in {}", dir.display());
            }
            a
        }
        None => {
            kh_annotations::read_for_slide(path, &limits, slide.on())
                .map_err(|e| e.to_string())?
                .1
        }
    };
    loaded_from(annotations)
}

/// Index and tessellate annotations already in memory (the specialist's
/// own layer after each change).
pub fn loaded_from(annotations: Annotations) -> Result<Loaded, String> {
    // The index on a thread of its own beside the (parallel) mesh.
    let (index, mesh) = std::thread::scope(|scope| {
        let index = scope.spawn(|| SpatialIndex::build(&annotations));
        let mesh = OverlayMesh::from_annotations(&annotations);
        (index.join(), mesh)
    });
    let index = index.map_err(|_| "building the annotation index failed".to_owned())?;
    Ok(Loaded {
        totals: Totals::of(&annotations),
        annotations: Arc::new(annotations),
        index,
        mesh,
    })
}

/// Whether a dropped or named file is an annotation file (by extension;
/// a `.dcm` by what it holds).
pub fn is_annotation_file(path: &Path) -> bool {
    kh_annotations::is_annotation_file(path)
}

pub struct Layer {
    pub path: PathBuf,
    pub annotations: Arc<Annotations>,
    pub index: SpatialIndex,
    pub overlay: AnnotationOverlay,
    pub totals: Totals,
}

/// A class as the panel lists it: its name, colour and objects in all
/// layers.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassRow {
    pub name: String,
    pub colour: [u8; 3],
    pub count: usize,
}

pub struct Layers {
    pub layers: Vec<Layer>,
    /// GPU memory the layers' overlays may hold together.
    pub budget_bytes: u64,
    pub style: OverlayStyle,
    /// The style changed: colours to re-upload before the next frame.
    pub dirty: bool,
    pub panel_open: bool,
}

impl Default for Layers {
    fn default() -> Self {
        Layers {
            layers: Vec::new(),
            budget_bytes: kh_render::overlay::DEFAULT_BUDGET,
            style: OverlayStyle::default(),
            dirty: false,
            panel_open: false,
        }
    }
}

impl Layers {
    /// Adds a loaded file as a layer (replacing its earlier layer), if its
    /// overlay fits in the budget beside the others.
    pub fn add(
        &mut self,
        device: &wgpu::Device,
        path: PathBuf,
        loaded: Loaded,
    ) -> Result<(), String> {
        let used = self
            .layers
            .iter()
            .filter(|l| l.path != path)
            .map(|l| l.overlay.gpu_bytes())
            .sum();
        kh_render::overlay::fits_budget(used, loaded.mesh.gpu_bytes(), self.budget_bytes)?;
        let overlay = AnnotationOverlay::from_mesh(
            device,
            loaded.mesh,
            &loaded.annotations,
            self.style.clone(),
        )
        .map_err(|e| e.to_string())?;
        let layer = Layer {
            path,
            annotations: loaded.annotations,
            index: loaded.index,
            overlay,
            totals: loaded.totals,
        };
        // The same file again replaces its layer in place: findings and
        // the selection refer to layers by position.
        match self.layers.iter().position(|l| l.path == layer.path) {
            Some(i) => {
                let visible = self.layers[i].overlay.visible;
                self.layers[i] = layer;
                self.layers[i].overlay.visible = visible;
            }
            None => self.layers.push(layer),
        }
        Ok(())
    }

    /// Apply a changed style to every layer (one colour word per object).
    pub fn apply_style(&mut self, queue: &wgpu::Queue) {
        if !self.dirty {
            return;
        }
        self.dirty = false;
        for l in &mut self.layers {
            l.overlay
                .set_style(queue, &l.annotations, self.style.clone());
        }
    }

    /// Every class in any layer, in name order, with the colour drawn.
    pub fn classes(&self) -> Vec<ClassRow> {
        let mut rows: BTreeMap<String, ClassRow> = BTreeMap::new();
        for l in &self.layers {
            let a = &l.annotations;
            for (class, &n) in a.classes().iter().zip(&l.totals.class_counts) {
                let colour = self
                    .style
                    .class_colours
                    .get(&class.name)
                    .copied()
                    .or(class.colour)
                    .unwrap_or(kh_annotations::Colour::rgb(255, 0, 0));
                let row = rows.entry(class.name.clone()).or_insert(ClassRow {
                    name: class.name.clone(),
                    colour: [colour.r, colour.g, colour.b],
                    count: 0,
                });
                row.count += n;
            }
        }
        rows.into_values().collect()
    }

    /// Measurement names in any layer, for the threshold's choice.
    pub fn measurement_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .layers
            .iter()
            .flat_map(|l| l.annotations.measurement_names().iter().cloned())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// The smallest and largest value of a measurement over all layers.
    pub fn measurement_range(&self, name: &str) -> Option<(f64, f64)> {
        self.layers
            .iter()
            .filter_map(|l| {
                let i = l
                    .annotations
                    .measurement_names()
                    .iter()
                    .position(|n| n == name)?;
                l.totals.ranges[i]
            })
            .reduce(|(a, b), (c, d)| (a.min(c), b.max(d)))
    }

    /// The object drawn under a slide point (the smallest, in the topmost
    /// visible layer that has one), if it is shown.
    pub fn at(&self, p: Point, tolerance: f64) -> Option<(usize, u32)> {
        for (li, l) in self.layers.iter().enumerate().rev() {
            if !l.overlay.visible {
                continue;
            }
            let shown =
                |i: &u32| self.is_shown(&l.annotations, &l.annotations.objects[*i as usize]);
            if let Some(i) = l
                .index
                .at(&l.annotations, p, tolerance)
                .into_iter()
                .find(shown)
            {
                return Some((li, i));
            }
        }
        None
    }

    fn is_shown(&self, a: &Annotations, o: &Object) -> bool {
        kh_render::overlay::is_drawn(a, o, &self.style)
    }

    /// Lines describing an object, for the hover card.
    pub fn describe(&self, layer: usize, object: u32) -> Vec<String> {
        let l = &self.layers[layer];
        let a = &l.annotations;
        let o = &a.objects[object as usize];
        let mut lines = Vec::new();
        let kind = kh_i18n::tr!(
            "viewer-kind",
            kind = match o.kind {
                Kind::Annotation => "annotation",
                Kind::Detection => "detection",
                Kind::Cell => "cell",
                Kind::Tile => "tile",
            }
        );
        let class = o.class.map(|c| a.class(c).name.clone());
        lines.push(match (&class, &o.name) {
            (Some(c), Some(n)) => format!("{kind}: {c} — {n}"),
            (Some(c), None) => format!("{kind}: {c}"),
            (None, Some(n)) => format!("{kind} — {n}"),
            (None, None) => kind,
        });
        match a.provenance(o.provenance) {
            Provenance::Algorithm {
                name,
                version,
                when,
            } => lines.push(format!(
                "{}{}",
                kh_i18n::tr!("viewer-by-ai", name = name, version = version),
                when.as_deref()
                    .map(|w| format!(", {}", moment_words(w)))
                    .unwrap_or_default()
            )),
            Provenance::Person {
                name,
                when,
                edited_from,
            } => lines.push(format!(
                "{}{}{}",
                kh_i18n::tr!("viewer-by-person", name = name),
                when.as_deref()
                    .map(|w| format!(", {}", moment_words(w)))
                    .unwrap_or_default(),
                edited_from
                    .as_deref()
                    .map(|f| format!(" {}", kh_i18n::tr!("viewer-edited-from", algorithm = f)))
                    .unwrap_or_default()
            )),
            Provenance::Unknown => {}
        }
        const SHOWN: usize = 10;
        for (name, value) in o.measurements.iter().take(SHOWN) {
            lines.push(format!(
                "{}: {}",
                a.measurement_name(*name),
                format_value(*value)
            ));
        }
        if o.measurements.len() > SHOWN {
            lines.push(kh_i18n::tr!(
                "viewer-more-measurements",
                count = o.measurements.len() - SHOWN
            ));
        }
        lines.push(format!(
            "{} · {}",
            l.path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            kh_i18n::tr!("viewer-geometry", shape = o.geometry.name())
        ));
        lines
    }

    pub fn objects(&self) -> usize {
        self.layers
            .iter()
            .map(|l| l.annotations.objects.len())
            .sum()
    }
}

/// When an object was made, as the reader writes dates.
fn moment_words(rfc3339: &str) -> String {
    kh_i18n::conventions::moment_text(&kh_i18n::current(), rfc3339)
}

fn format_value(v: f64) -> String {
    if v.is_nan() {
        "—".to_owned()
    } else if v.abs() >= 1000.0 || v == v.trunc() {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    }
}
