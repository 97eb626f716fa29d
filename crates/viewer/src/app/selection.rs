//! Selecting an object by clicking it: a ring around it, its card pinned
//! in the window's corner until a click elsewhere or Escape, and the
//! console told (`ObjectSelected`).

use super::*;

impl App {
    /// A click (a press and release in place): selects the object drawn
    /// under the cursor, or clears the selection when there is none.
    pub(super) fn select_at_cursor(&mut self) {
        let (Some(doc), Some(p)) = (&self.doc, self.slide_from_cursor()) else {
            return;
        };
        if self.layers.layers.is_empty() {
            return;
        }
        let tolerance = super::annotations::HOVER_PX * doc.camera.view.zoom;
        let hit = self
            .layers
            .at(kh_annotations::Point::new(p.x, p.y), tolerance)
            .map(|(layer, object)| (self.layers.layers[layer].path.clone(), object));
        if hit != self.selected {
            self.selected = hit;
            self.report_selection();
        }
        self.request_redraw();
    }

    /// Clears the selection; false when there was none.
    pub(super) fn clear_selection(&mut self) -> bool {
        if self.selected.take().is_none() {
            return false;
        }
        self.report_selection();
        self.request_redraw();
        true
    }

    pub(super) fn report_selection(&mut self) {
        let (file, object) = match &self.selected {
            Some((path, object)) => (Some(display_name(path)), Some(u64::from(*object))),
            None => (None, None),
        };
        if let Some(ipc) = &mut self.ipc {
            ipc.send(&FromViewer::ObjectSelected { file, object });
        }
    }

    /// The selected object as (layer, object), while its layer is shown.
    fn selection(&self) -> Option<(usize, u32)> {
        let (path, object) = self.selected.as_ref()?;
        let layer = self.layers.layers.iter().position(|l| &l.path == path)?;
        let l = &self.layers.layers[layer];
        ((*object as usize) < l.annotations.objects.len() && l.overlay.visible)
            .then_some((layer, *object))
    }

    /// The ring around the selected object and its card.
    pub(super) fn selection_ring_and_card(&self, ctx: &egui::Context) {
        let Some((layer, object)) = self.selection() else {
            return;
        };
        let o = &self.layers.layers[layer].annotations.objects[object as usize];
        if let Some(b) = o.geometry.bounds() {
            self.ring_around(ctx, [b.min_x, b.min_y, b.max_x, b.max_y], "selection");
        }
        let lines = self.layers.describe(layer, object);
        egui::Area::new(egui::Id::unique("selected object card"))
            .anchor(egui::Align2::RIGHT_BOTTOM, egui::vec2(-12.0, -40.0))
            .order(egui::Order::Foreground)
            .interactable(false)
            .show(ctx, |ui| {
                egui::Frame::popup(ui.style()).show(ui, |ui| {
                    ui.weak(tr!("viewer-selected"));
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

    /// A white-and-black ring around slide bounds `[x0, y0, x1, y1]`.
    pub(super) fn ring_around(&self, ctx: &egui::Context, bounds: [f64; 4], id: &str) {
        let Some(doc) = &self.doc else { return };
        let screen_from_slide = doc.camera.view.screen_from_slide(self.viewport());
        let ppp = f64::from(ctx.pixels_per_point());
        let corners = [
            DVec2::new(bounds[0], bounds[1]),
            DVec2::new(bounds[2], bounds[3]),
        ]
        .map(|p| screen_from_slide.transform_point2(p) / ppp);
        let rect = egui::Rect::from_two_pos(
            egui::pos2(corners[0].x as f32, corners[0].y as f32),
            egui::pos2(corners[1].x as f32, corners[1].y as f32),
        )
        .expand(6.0);
        let painter = ctx.layer_painter(egui::LayerId::new(
            egui::Order::Background,
            egui::Id::unique(id),
        ));
        painter.rect_stroke(
            rect,
            4.0,
            egui::Stroke::new(3.0, egui::Color32::WHITE),
            egui::StrokeKind::Outside,
        );
        painter.rect_stroke(
            rect.expand(3.0),
            5.0,
            egui::Stroke::new(1.5, egui::Color32::BLACK),
            egui::StrokeKind::Outside,
        );
    }
}
