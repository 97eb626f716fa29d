//! Annotation layers in the window: loading files (dropped, named on the
//! command line), the Annotations panel (N) and the card describing the
//! object under the cursor.

use super::*;
use crate::findings::Finding;
use crate::layers::{self, Loaded};
use kh_render::overlay::ColourBy;

/// How close (screen pixels) the cursor must come to a line or a point to
/// be on it.
pub(super) const HOVER_PX: f64 = 4.0;
/// Where the Annotations panel first appears: this far from the window's
/// right edge, this far down.
pub(super) const PANEL_FROM_RIGHT: f32 = 290.0;
pub(super) const PANEL_TOP: f32 = 220.0;

impl App {
    /// Read, index and tessellate an annotation file off the UI thread.
    pub(super) fn open_annotations(&mut self, path: PathBuf) {
        if self.doc.is_none() {
            // Annotations are in a slide's pixels: they wait for one.
            self.pending_annotations.push(path);
            return;
        }
        kh_log::remember_path(&path);
        self.loading_annotations += 1;
        let proxy = self.proxy.clone();
        let slide = self
            .doc
            .as_ref()
            .map(|d| layers::SlideContext::of(&d.slide))
            .unwrap_or_default();
        std::thread::spawn(move || {
            let loaded = layers::load(&path, &slide).map(Box::new);
            let _ = proxy.send_event(UserEvent::AnnotationsLoaded(path, loaded));
        });
        self.request_redraw();
    }

    pub(super) fn on_annotations_loaded(
        &mut self,
        path: PathBuf,
        loaded: Result<Box<Loaded>, String>,
    ) {
        self.loading_annotations = self.loading_annotations.saturating_sub(1);
        let Some(gfx) = &self.gfx else { return };
        let added = loaded.and_then(|l| {
            let objects = l.annotations.objects.len();
            self.layers.add(&gfx.gpu.device, path.clone(), *l)?;
            Ok(objects)
        });
        match added {
            Ok(objects) => {
                tracing::info!("annotations shown: {objects} objects");
                self.findings.rebuild(&self.layers);
                if let Some(ipc) = &mut self.ipc {
                    ipc.send(&FromViewer::AnnotationsShown {
                        path: path.display().to_string(),
                        objects,
                    });
                }
            }
            Err(e) => self.report(tr!(
                "viewer-could-not-show",
                name = display_name(&path),
                problem = e.to_string()
            )),
        }
        self.request_redraw();
    }

    /// A new slide: the old one's layers go; files waiting for a slide load.
    pub(super) fn reset_annotations(&mut self) {
        self.layers.layers.clear();
        self.clear_selection();
        self.findings.clear();
        for path in std::mem::take(&mut self.pending_annotations) {
            self.open_annotations(path);
        }
        self.load_own_annotations();
    }

    pub(super) fn annotations_panel(&mut self, ctx: &egui::Context) {
        if !self.layers.panel_open {
            return;
        }
        let mut open = true;
        // At first on the right, under the minimap: the middle of the
        // slide stays in view while classes are switched.
        let right = (ctx.content_rect().width() - PANEL_FROM_RIGHT).max(12.0);
        egui::Window::new(tr!("viewer-annotations"))
            .id(egui::Id::unique("annotations"))
            .open(&mut open)
            .default_pos(egui::pos2(right, PANEL_TOP))
            .default_width(280.0)
            .show(ctx, |ui| {
                if self.layers.layers.is_empty() {
                    ui.label(if self.loading_annotations > 0 {
                        tr!("viewer-annotations-reading")
                    } else {
                        tr!("viewer-annotations-none")
                    });
                    return;
                }
                let mut changed = false;
                for layer in &mut self.layers.layers {
                    let name = if layer.path == Path::new(super::drawing::UNSAVED) {
                        tr!("viewer-my-annotations-unsaved")
                    } else {
                        display_name(&layer.path)
                    };
                    let n = layer.annotations.objects.len();
                    ui.checkbox(
                        &mut layer.overlay.visible,
                        tr!("viewer-layer-line", name = name, count = n),
                    );
                }
                ui.separator();
                let style = &mut self.layers.style;
                changed |= ui
                    .add(
                        egui::Slider::new(&mut style.fill_opacity, 0.0..=1.0)
                            .text(tr!("viewer-fill")),
                    )
                    .changed();
                changed |= ui
                    .add(
                        egui::Slider::new(&mut style.outline_px, 0.0..=6.0)
                            .text(tr!("viewer-outline")),
                    )
                    .changed();
                ui.separator();
                let classes = self.layers.classes();
                if !classes.is_empty() {
                    ui.label(tr!("viewer-classes"));
                }
                for row in classes {
                    ui.horizontal(|ui| {
                        let style = &mut self.layers.style;
                        let mut shown = !style.hidden_classes.contains(&row.name);
                        if ui
                            .checkbox(&mut shown, format!("{} ({})", row.name, row.count))
                            .changed()
                        {
                            if shown {
                                style.hidden_classes.remove(&row.name);
                            } else {
                                style.hidden_classes.insert(row.name.clone());
                            }
                            changed = true;
                        }
                        let mut rgb = row.colour;
                        if ui.color_edit_button_srgb(&mut rgb).changed() {
                            style.class_colours.insert(
                                row.name.clone(),
                                kh_annotations::Colour::rgb(rgb[0], rgb[1], rgb[2]),
                            );
                            changed = true;
                        }
                    });
                }
                let names = self.layers.measurement_names();
                if !names.is_empty() {
                    ui.separator();
                    changed |= self.threshold_row(ui, &names);
                    changed |= self.heatmap_row(ui, &names);
                }
                if changed {
                    self.layers.dirty = true;
                }
            });
        if !open {
            self.layers.panel_open = false;
        }
    }

    /// "Only objects with <measurement> ≥ <value>".
    fn threshold_row(&mut self, ui: &mut egui::Ui, names: &[String]) -> bool {
        let mut changed = false;
        let current = self.layers.style.threshold.as_ref().map(|t| t.0.clone());
        let mut chosen = current.clone();
        egui::ComboBox::new("threshold", tr!("viewer-at-least"))
            .selected_text(chosen.clone().unwrap_or_else(|| tr!("viewer-every-object")))
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut chosen, None, tr!("viewer-every-object"));
                for n in names {
                    ui.selectable_value(&mut chosen, Some(n.clone()), n);
                }
            });
        if chosen != current {
            changed = true;
            self.layers.style.threshold = chosen.and_then(|name| {
                let (lo, _) = self.layers.measurement_range(&name)?;
                Some((name, lo))
            });
        }
        let range = self
            .layers
            .style
            .threshold
            .as_ref()
            .and_then(|(name, _)| self.layers.measurement_range(name));
        if let (Some((name, value)), Some((lo, hi))) = (&mut self.layers.style.threshold, range) {
            changed |= ui
                .add(egui::Slider::new(value, lo..=hi.max(lo)).text(name.as_str()))
                .changed();
        }
        changed
    }

    /// "Colour by <class | measurement>": a heatmap between two ends that
    /// start at the measurement's range.
    fn heatmap_row(&mut self, ui: &mut egui::Ui, names: &[String]) -> bool {
        let mut changed = false;
        let style = &self.layers.style;
        let current = style.colour_by.as_ref().map(|c| c.measurement.clone());
        let mut chosen = current.clone();
        egui::ComboBox::new("colour by", tr!("viewer-colour-by"))
            .selected_text(
                chosen
                    .clone()
                    .unwrap_or_else(|| tr!("viewer-colour-by-class")),
            )
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut chosen, None, tr!("viewer-colour-by-class"));
                for n in names {
                    ui.selectable_value(&mut chosen, Some(n.clone()), n);
                }
            });
        if chosen != current {
            changed = true;
            self.layers.style.colour_by = chosen.and_then(|measurement| {
                let (low, high) = self.layers.measurement_range(&measurement)?;
                Some(ColourBy {
                    measurement,
                    low,
                    high,
                })
            });
        }
        let range = self
            .layers
            .style
            .colour_by
            .as_ref()
            .and_then(|c| self.layers.measurement_range(&c.measurement));
        if let (Some(by), Some((lo, hi))) = (&mut self.layers.style.colour_by, range) {
            let hi = hi.max(lo);
            changed |= ui
                .add(egui::Slider::new(&mut by.low, lo..=hi).text(tr!("viewer-low-end")))
                .changed();
            changed |= ui
                .add(egui::Slider::new(&mut by.high, lo..=hi).text(tr!("viewer-high-end")))
                .changed();
        }
        changed
    }

    /// The card of the object under the cursor.
    pub(super) fn hover_card(&mut self, ctx: &egui::Context) {
        if self.layers.layers.is_empty()
            || self.dragging.is_some()
            || ctx.egui_wants_pointer_input()
        {
            return;
        }
        let (Some(doc), Some(cursor), Some(p)) = (&self.doc, self.cursor, self.slide_from_cursor())
        else {
            return;
        };
        let tolerance = HOVER_PX * doc.camera.view.zoom;
        let Some((layer, object)) = self
            .layers
            .at(kh_annotations::Point::new(p.x, p.y), tolerance)
        else {
            return;
        };
        let lines = self.layers.describe(layer, object);
        let ppp = f64::from(ctx.pixels_per_point());
        let at = egui::pos2(
            (cursor.x / ppp) as f32 + 16.0,
            (cursor.y / ppp) as f32 + 16.0,
        );
        egui::Area::new(egui::Id::unique("annotation card"))
            .fixed_pos(at)
            .order(egui::Order::Tooltip)
            .interactable(false)
            .show(ctx, |ui| {
                egui::Frame::popup(ui.style()).show(ui, |ui| {
                    for (i, line) in lines.iter().enumerate() {
                        if i == 0 {
                            ui.strong(line);
                        } else {
                            ui.label(line);
                        }
                    }
                });
            });
    }
}

impl App {
    /// Move the view to the next (or previous) finding.
    pub(super) fn step_finding(&mut self, forward: bool) {
        let found = if forward {
            self.findings.next().cloned()
        } else {
            self.findings.previous().cloned()
        };
        if let Some(f) = found {
            self.show_finding(&f);
        }
    }

    pub(super) fn show_finding(&mut self, f: &Finding) {
        let viewport = self.viewport();
        let Some(doc) = &mut self.doc else { return };
        let [x0, y0, x1, y1] = f.bounds;
        // The object a third of the view across, but never closer than
        // four screen pixels per slide pixel.
        let (w, h) = (f64::from(viewport.width), f64::from(viewport.height));
        let zoom = ((x1 - x0) / (w / 3.0))
            .max((y1 - y0) / (h / 3.0))
            .clamp(0.25, kh_render::view::MAX_ZOOM);
        let mut view = doc.camera.view;
        view.center_slide = [(x0 + x1) / 2.0, (y0 + y1) / 2.0];
        view.zoom = zoom;
        doc.camera.set(view);
        self.request_redraw();
    }

    /// Mark the current finding, tell the console, and go on to the next.
    pub(super) fn mark_finding(&mut self, verdict: Verdict) {
        let Some(f) = self.findings.mark(verdict) else {
            return;
        };
        let (reviewed, total) = (self.findings.reviewed(), self.findings.items.len());
        let file = self
            .layers
            .layers
            .get(f.layer)
            .map(|l| display_name(&l.path))
            .unwrap_or_default();
        tracing::info!("finding {} of {total} {}", f.object, verdict.name());
        if let Some(ipc) = &mut self.ipc {
            ipc.send(&FromViewer::FindingReviewed {
                file,
                object: u64::from(f.object),
                score: f.score,
                verdict: verdict.name().to_owned(),
                reviewed,
                total,
            });
        }
        if self.findings.current.is_some_and(|i| i + 1 < total) {
            self.step_finding(true);
        }
        self.request_redraw();
    }

    pub(super) fn findings_panel(&mut self, ctx: &egui::Context) {
        if !self.findings.panel_open {
            return;
        }
        let mut open = true;
        let mut go_to = None;
        let mut step = None;
        let mut mark = None;
        let mut rebuild = false;
        egui::Window::new(tr!("viewer-findings"))
            .id(egui::Id::unique("findings"))
            .open(&mut open)
            .default_pos(egui::pos2(300.0, 120.0))
            .default_width(300.0)
            .show(ctx, |ui| {
                let names = self.layers.measurement_names();
                if names.is_empty() {
                    ui.label(tr!("viewer-findings-none"));
                    return;
                }
                let f = &mut self.findings;
                let before = f.measurement.clone();
                egui::ComboBox::new("score", tr!("viewer-score"))
                    .selected_text(f.measurement.as_deref().unwrap_or("—"))
                    .show_ui(ui, |ui| {
                        for n in &names {
                            ui.selectable_value(&mut f.measurement, Some(n.clone()), n);
                        }
                    });
                rebuild |= f.measurement != before;
                if let Some(name) = f.measurement.clone()
                    && let Some((lo, hi)) = self.layers.measurement_range(&name)
                {
                    rebuild |= ui
                        .add(
                            egui::Slider::new(&mut self.findings.threshold, lo..=hi.max(lo))
                                .text(tr!("viewer-at-least")),
                        )
                        .changed();
                }
                let f = &self.findings;
                ui.strong(tr!(
                    "viewer-reviewed",
                    reviewed = f.reviewed(),
                    total = f.items.len()
                ));
                ui.horizontal(|ui| {
                    if ui
                        .button(tr!("viewer-previous"))
                        .on_hover_text("K")
                        .clicked()
                    {
                        step = Some(false);
                    }
                    if ui.button(tr!("viewer-next")).on_hover_text("J").clicked() {
                        step = Some(true);
                    }
                    if ui
                        .button(tr!("viewer-confirm"))
                        .on_hover_text("C")
                        .clicked()
                    {
                        mark = Some(Verdict::Confirmed);
                    }
                    if ui.button(tr!("viewer-reject")).on_hover_text("X").clicked() {
                        mark = Some(Verdict::Rejected);
                    }
                });
                egui::ScrollArea::vertical()
                    .max_height(260.0)
                    .show(ui, |ui| {
                        for (i, item) in f.items.iter().enumerate().take(500) {
                            let mark = match f.verdict(item) {
                                Some(Verdict::Confirmed) => "✔",
                                Some(Verdict::Rejected) => "✖",
                                None => "·",
                            };
                            let a = &self.layers.layers[item.layer].annotations;
                            let o = &a.objects[item.object as usize];
                            let class = o.class.map(|c| a.class(c).name.as_str()).unwrap_or("");
                            let text = format!("{mark} {:>3}. {:.3} {class}", i + 1, item.score);
                            if ui.selectable_label(f.current == Some(i), text).clicked() {
                                go_to = Some(i);
                            }
                        }
                        if f.items.len() > 500 {
                            ui.label(tr!("viewer-findings-more", count = f.items.len() - 500));
                        }
                    });
            });
        if !open {
            self.findings.panel_open = false;
        }
        if rebuild {
            self.findings.rebuild(&self.layers);
        }
        if let Some(i) = go_to
            && let Some(f) = self.findings.go_to(i).cloned()
        {
            self.show_finding(&f);
        }
        if let Some(forward) = step {
            self.step_finding(forward);
        }
        if let Some(v) = mark {
            self.mark_finding(v);
        }
    }

    /// A ring around the finding under review.
    pub(super) fn finding_ring(&self, ctx: &egui::Context) {
        let Some(f) = self
            .findings
            .current
            .and_then(|i| self.findings.items.get(i))
        else {
            return;
        };
        self.ring_around(ctx, f.bounds, "finding");
    }
}
