//! The egui panels around the slide: toolbar, status line, minimap,
//! overlays and the windows (help, properties, pictures, open).

use super::*;

impl App {
    pub(super) fn draw_ui(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        let ppp = f64::from(ctx.pixels_per_point());
        let viewport = self.viewport();
        self.toolbar(&ctx);
        self.status(&ctx, ppp);
        self.minimap(&ctx);
        self.overlays(&ctx, ppp, viewport);
        self.windows(&ctx);
        self.annotations_panel(&ctx);
        self.findings_panel(&ctx);
        self.finding_ring(&ctx);
        self.selection_ring_and_card(&ctx);
        self.hover_card(&ctx);
        self.drawing_tools(&ctx);
        self.drawing_preview(&ctx);
        let now = Instant::now();
        self.messages
            .retain(|(t, _)| now.duration_since(*t) < MESSAGE_TIME);
        if !self.messages.is_empty() {
            egui::Area::new(egui::Id::unique("messages"))
                .anchor(egui::Align2::CENTER_TOP, egui::vec2(0.0, 8.0))
                .show(&ctx, |ui| {
                    egui::Frame::popup(ui.style()).show(ui, |ui| {
                        for (_, m) in self.messages.iter().rev().take(5) {
                            ui.colored_label(egui::Color32::from_rgb(200, 40, 40), m);
                        }
                    });
                });
            ctx.request_repaint_after(Duration::from_secs(1));
        }
    }

    pub(super) fn toolbar(&mut self, ctx: &egui::Context) {
        egui::Area::new(egui::Id::unique("toolbar"))
            .anchor(egui::Align2::LEFT_TOP, egui::vec2(8.0, 8.0))
            .show(ctx, |ui| {
                egui::Frame::popup(ui.style()).show(ui, |ui| {
                    ui.horizontal(|ui| {
                        if ui
                            .button(tr!("viewer-open"))
                            .on_hover_text(tr!("viewer-open.title"))
                            .clicked()
                        {
                            let dir = self
                                .doc
                                .as_ref()
                                .and_then(|d| d.path.parent().map(Path::to_path_buf))
                                .or_else(|| std::env::current_dir().ok())
                                .unwrap_or_else(|| PathBuf::from("/"));
                            self.open_dialog = Some(OpenDialog::new(dir));
                        }
                        if self.doc.is_none() {
                            return;
                        }
                        ui.separator();
                        if ui
                            .button(tr!("viewer-fit"))
                            .on_hover_text(tr!("viewer-fit.title"))
                            .clicked()
                        {
                            self.fit();
                        }
                        if ui
                            .button(tr!("viewer-one-to-one"))
                            .on_hover_text(tr!("viewer-one-to-one.title"))
                            .clicked()
                        {
                            self.zoom_to(1.0);
                        }
                        for (i, preset) in PRESETS.iter().enumerate() {
                            if ui
                                .button(tr!(
                                    "viewer-magnification",
                                    magnification = preset.to_string()
                                ))
                                .on_hover_text(format!("{}", i + 1))
                                .clicked()
                                && let Some(doc) = &self.doc
                            {
                                let zoom = doc.zoom_for_magnification(*preset);
                                self.zoom_to(zoom);
                            }
                        }
                        ui.separator();
                        if ui
                            .button(tr!("viewer-rotate"))
                            .on_hover_text(tr!("viewer-rotate.title"))
                            .clicked()
                        {
                            self.rotate(true);
                        }
                        ui.toggle_value(&mut self.ruler.active, tr!("viewer-ruler"))
                            .on_hover_text(tr!("viewer-ruler.title"));
                        if ui
                            .button(tr!("viewer-screenshot"))
                            .on_hover_text(tr!("viewer-screenshot.title"))
                            .clicked()
                        {
                            self.pending_screenshot = Some(self.screenshot_path());
                        }
                        ui.toggle_value(&mut self.show_pictures, tr!("viewer-slide-images"))
                            .on_hover_text(tr!("viewer-slide-images.title"));
                        ui.toggle_value(&mut self.show_adjust, tr!("viewer-adjust"))
                            .on_hover_text(tr!("viewer-adjust.title"));
                        ui.toggle_value(&mut self.show_help, tr!("viewer-help-button"))
                            .on_hover_text(tr!("viewer-help-button.title"));
                    });
                });
            });
    }

    pub(super) fn status(&mut self, ctx: &egui::Context, ppp: f64) {
        let cursor_slide = self.slide_from_cursor();
        let Some(doc) = &mut self.doc else {
            let text = match &self.opening {
                Some(p) => tr!("viewer-opening", name = display_name(p)),
                None => tr!("viewer-drop-here"),
            };
            egui::Area::new(egui::Id::unique("status"))
                .anchor(egui::Align2::CENTER_CENTER, egui::vec2(0.0, 0.0))
                .show(ctx, |ui| ui.label(egui::RichText::new(text).size(18.0)));
            return;
        };
        let view = doc.camera.view;
        let stats = doc.renderer.stats();
        let before = doc.shown_progress;
        doc.shown_progress = doc.progress();
        if (before.tile_failures == 0) != (doc.shown_progress.tile_failures == 0) {
            // A line more or less: anchored frames are placed by their last
            // size, so lay out again before painting.
            ctx.request_discard("the status line changed height");
        }
        let level = doc.slide.levels()[stats.level];
        let magnification = format!("{:.2}", doc.magnification(view.zoom));
        let mut parts = vec![if doc.mpp.is_none() {
            tr!(
                "viewer-magnification-relative",
                magnification = magnification
            )
        } else {
            tr!("viewer-magnification", magnification = magnification)
        }];
        if let Some(p) = cursor_slide {
            match doc.mpp {
                Some(mpp) => parts.push(tr!(
                    "viewer-cursor-um",
                    x = format!("{:.1}", p.x * mpp),
                    y = format!("{:.1}", p.y * mpp)
                )),
                None => parts.push(tr!(
                    "viewer-cursor-px",
                    x = format!("{:.0}", p.x),
                    y = format!("{:.0}", p.y)
                )),
            }
        }
        parts.push(tr!(
            "viewer-level",
            level = stats.level,
            downsample = format!("{:.3}", level.downsample)
        ));
        parts.push(tr!(
            "viewer-tiles",
            resident = stats.visible_resident,
            visible = stats.visible_tiles
        ));
        if view.rotation != Rotation::Deg0 {
            parts.push(format!("{}°", view.rotation.degrees()));
        }
        let objects = self.layers.objects();
        if objects > 0 {
            parts.push(tr!("viewer-annotation-count", count = objects));
        } else if self.loading_annotations > 0 {
            parts.push(tr!("viewer-reading-annotations"));
        }
        parts.push(tr!("viewer-fps", fps = format!("{:.0}", self.fps)));
        egui::Area::new(egui::Id::unique("status"))
            .anchor(egui::Align2::LEFT_BOTTOM, egui::vec2(8.0, -8.0))
            .show(ctx, |ui| {
                egui::Frame::popup(ui.style()).show(ui, |ui| {
                    ui.add(
                        egui::Label::new(format!(
                            "{} · {}",
                            display_name(&doc.path),
                            parts.join(" · ")
                        ))
                        .wrap_mode(egui::TextWrapMode::Extend),
                    );
                    if let (n, Some(last)) = &doc.tile_failures {
                        ui.add(
                            egui::Label::new(
                                egui::RichText::new(tr!("viewer-tile-failures", count = *n))
                                    .color(egui::Color32::from_rgb(200, 40, 40)),
                            )
                            .wrap_mode(egui::TextWrapMode::Extend),
                        )
                        .on_hover_text(tr!("viewer-tile-failures-latest", problem = last.as_str()));
                    }
                });
            });
        if let Some(mpp) = doc.mpp {
            let um_per_point = mpp * view.zoom * ppp;
            let (um, points) = scalebar::nice_bar(um_per_point, 160.0);
            egui::Area::new(egui::Id::unique("scalebar"))
                .anchor(egui::Align2::RIGHT_BOTTOM, egui::vec2(-8.0, -8.0))
                .show(ctx, |ui| {
                    egui::Frame::popup(ui.style()).show(ui, |ui| {
                        ui.label(scalebar::label(um));
                        let (rect, _) = ui.allocate_exact_size(
                            egui::vec2(points as f32, 6.0),
                            egui::Sense::hover(),
                        );
                        ui.painter()
                            .rect_filled(rect, 0.0, ui.visuals().text_color());
                    });
                });
        }
    }

    pub(super) fn minimap(&mut self, ctx: &egui::Context) {
        let viewport = self.viewport();
        let Some(doc) = &mut self.doc else { return };
        let Some((texture, size)) = &doc.minimap else {
            return;
        };
        let (sw, sh) = doc.slide.dimensions();
        let mut jump = None;
        egui::Area::new(egui::Id::unique("minimap"))
            .anchor(egui::Align2::RIGHT_TOP, egui::vec2(-8.0, 8.0))
            .show(ctx, |ui| {
                egui::Frame::popup(ui.style()).show(ui, |ui| {
                    let image_size = egui::vec2(size[0] as f32, size[1] as f32);
                    let (rect, response) =
                        ui.allocate_exact_size(image_size, egui::Sense::click_and_drag());
                    ui.painter().image(
                        texture.id(),
                        rect,
                        egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0)),
                        egui::Color32::WHITE,
                    );
                    let ui_from_slide = |p: DVec2| {
                        rect.min
                            + egui::vec2(
                                (p.x / sw as f64) as f32 * rect.width(),
                                (p.y / sh as f64) as f32 * rect.height(),
                            )
                    };
                    let (min, max) = doc.camera.view.visible_slide_rect(viewport);
                    let view_rect =
                        egui::Rect::from_min_max(ui_from_slide(min), ui_from_slide(max))
                            .intersect(rect);
                    ui.painter().rect_stroke(
                        view_rect,
                        0.0,
                        egui::Stroke::new(2.0, egui::Color32::from_rgb(0, 150, 255)),
                        egui::StrokeKind::Middle,
                    );
                    if (response.clicked() || response.dragged())
                        && let Some(pos) = response.interact_pointer_pos()
                    {
                        let fx = f64::from((pos.x - rect.min.x) / rect.width());
                        let fy = f64::from((pos.y - rect.min.y) / rect.height());
                        jump = Some([fx * sw as f64, fy * sh as f64]);
                    }
                });
            });
        if let Some(center) = jump {
            let mut view = doc.camera.view;
            view.center_slide = center;
            doc.camera.set(view);
            self.minimap_drag = true;
        } else {
            self.minimap_drag = false;
        }
    }

    /// Ruler and remote pointer, drawn over the slide.
    pub(super) fn overlays(&mut self, ctx: &egui::Context, ppp: f64, viewport: Viewport) {
        let Some(doc) = &self.doc else { return };
        let screen_from_slide = doc.camera.view.screen_from_slide(viewport);
        let ui_from_slide = |p: DVec2| {
            let s = screen_from_slide.transform_point2(p) / ppp;
            egui::pos2(s.x as f32, s.y as f32)
        };
        let painter = ctx.layer_painter(egui::LayerId::new(
            egui::Order::Background,
            egui::Id::unique("overlay"),
        ));
        if let (Some(a), Some(b)) = (self.ruler.start_slide, self.ruler.end_slide) {
            let (pa, pb) = (ui_from_slide(a), ui_from_slide(b));
            painter.line_segment([pa, pb], egui::Stroke::new(2.0, egui::Color32::YELLOW));
            let length_px = (b - a).length();
            let text = match doc.mpp {
                Some(mpp) => {
                    let um = length_px * mpp;
                    if um >= 1000.0 {
                        format!("{:.3} mm", um / 1000.0)
                    } else {
                        format!("{um:.1} µm")
                    }
                }
                None => format!("{length_px:.0} px"),
            };
            painter.text(
                pb + egui::vec2(8.0, -8.0),
                egui::Align2::LEFT_BOTTOM,
                text,
                egui::FontId::proportional(16.0),
                egui::Color32::YELLOW,
            );
        }
        if let Some((p, label)) = &self.remote_pointer {
            let at = ui_from_slide(DVec2::from(*p));
            painter.circle_stroke(
                at,
                10.0,
                egui::Stroke::new(3.0, egui::Color32::from_rgb(255, 80, 0)),
            );
            painter.text(
                at + egui::vec2(12.0, 12.0),
                egui::Align2::LEFT_TOP,
                label,
                egui::FontId::proportional(14.0),
                egui::Color32::from_rgb(255, 80, 0),
            );
        }
    }

    pub(super) fn windows(&mut self, ctx: &egui::Context) {
        if let Some(video) = &self.remote_video {
            egui::Window::new(tr!("viewer-remote-camera"))
                .id(egui::Id::unique("remote camera"))
                .default_pos(egui::pos2(12.0, 56.0))
                .default_width(REMOTE_VIDEO_WIDTH)
                .resizable(true)
                .show(ctx, |ui| match (video.texture, video.size) {
                    (Some(texture), Some(size)) => {
                        // The whole picture at the window's width, its
                        // aspect kept.
                        let width = ui.available_width().max(64.0);
                        let height = width * size[1] as f32 / size[0].max(1) as f32;
                        ui.image((texture, egui::vec2(width, height)));
                        ui.small(tr!(
                            "viewer-remote-counters",
                            width = size[0],
                            height = size[1],
                            shown = video.shown,
                            received = video.received,
                            late = video.late,
                            dropped = video.dropped
                        ));
                    }
                    _ => {
                        ui.label(tr!("viewer-waiting-picture"));
                        if let Some(problem) = &video.problem {
                            ui.small(problem);
                        }
                    }
                });
        }
        if self.show_help {
            egui::Window::new(tr!("viewer-help"))
                .id(egui::Id::unique("help"))
                .collapsible(false)
                .anchor(egui::Align2::CENTER_CENTER, egui::vec2(0.0, 0.0))
                .show(ctx, |ui| {
                    egui::Grid::new("help").striped(true).show(ui, |ui| {
                        for (keys, what) in HELP {
                            ui.strong(keys.text());
                            ui.label(kh_i18n::current().text(what));
                            ui.end_row();
                        }
                    });
                });
        }
        if self.show_adjust {
            let mut open = true;
            egui::Window::new(tr!("viewer-display"))
                .id(egui::Id::unique("display"))
                .open(&mut open)
                .show(ctx, |ui| {
                    ui.add(
                        egui::Slider::new(&mut self.adjustments.brightness, -0.5..=0.5)
                            .text(tr!("viewer-brightness")),
                    );
                    ui.add(
                        egui::Slider::new(&mut self.adjustments.contrast, 0.25..=3.0)
                            .text(tr!("viewer-contrast")),
                    );
                    ui.add(
                        egui::Slider::new(&mut self.adjustments.gamma, 0.3..=3.0)
                            .text(tr!("viewer-gamma")),
                    );
                    if ui.button(tr!("viewer-reset")).clicked() {
                        self.adjustments = Adjustments::default();
                    }
                });
            self.show_adjust = open;
        }
        if self.show_pictures
            && let Some(doc) = &self.doc
        {
            let mut open = true;
            egui::Window::new(tr!("viewer-slide-images"))
                .id(egui::Id::unique("slide images"))
                .open(&mut open)
                .default_width(280.0)
                .show(ctx, |ui| {
                    ui.checkbox(&mut self.hide_label, tr!("viewer-hide-label"));
                    if doc.pictures.is_empty() {
                        ui.label(tr!("viewer-no-pictures"));
                    }
                    for (name, texture, size) in &doc.pictures {
                        ui.strong(tr!("viewer-picture-name", name = name.as_str()));
                        if name == "label" && self.hide_label {
                            ui.label(tr!("viewer-picture-hidden"));
                            continue;
                        }
                        let scale = (260.0 / size[0].max(1) as f32).min(1.0);
                        ui.image((
                            texture.id(),
                            egui::vec2(size[0] as f32 * scale, size[1] as f32 * scale),
                        ));
                    }
                });
            self.show_pictures = open;
        }
        let mut chosen = None;
        if let Some(dialog) = &mut self.open_dialog {
            let mut open = true;
            let mut enter = None;
            // Centred: at egui's default place (top left) it opened under
            // the drawing tools.
            egui::Window::new(tr!("viewer-open-slide"))
                .id(egui::Id::unique("open slide"))
                .open(&mut open)
                .default_width(480.0)
                .pivot(egui::Align2::CENTER_CENTER)
                .default_pos(ctx.content_rect().center())
                .show(ctx, |ui| {
                    ui.horizontal(|ui| {
                        let edit = ui.text_edit_singleline(&mut dialog.path_text);
                        if std::mem::take(&mut dialog.focus_path) {
                            edit.request_focus();
                        }
                        if (edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)))
                            || ui.button(tr!("viewer-open-button")).clicked()
                        {
                            let p = PathBuf::from(dialog.path_text.trim());
                            if p.is_dir()
                                && !p.join("DICOMDIR").exists()
                                && !looks_like_dicom_folder(&p)
                            {
                                enter = Some(p);
                            } else {
                                chosen = Some(p);
                            }
                        }
                    });
                    if ui.button(tr!("viewer-up")).clicked()
                        && let Some(parent) = dialog.dir.parent()
                    {
                        enter = Some(parent.to_path_buf());
                    }
                    egui::ScrollArea::vertical()
                        .max_height(360.0)
                        .show(ui, |ui| {
                            for (path, is_dir) in &dialog.entries {
                                let name = display_name(path);
                                // A folder ends in its separator (egui's
                                // fonts have no folder pictograph).
                                let text = if *is_dir {
                                    format!("{name}{}", std::path::MAIN_SEPARATOR)
                                } else {
                                    name
                                };
                                let r = ui.selectable_label(false, text);
                                if r.double_clicked() {
                                    if *is_dir && !looks_like_dicom_folder(path) {
                                        enter = Some(path.clone());
                                    } else {
                                        chosen = Some(path.clone());
                                    }
                                } else if r.clicked() {
                                    dialog.path_text = path.display().to_string();
                                }
                            }
                        });
                });
            if let Some(dir) = enter {
                dialog.enter(dir);
            }
            if !open || chosen.is_some() {
                self.open_dialog = None;
            }
        }
        if let Some(path) = chosen {
            self.open(path);
        }
    }

    pub(super) fn set_minimap(&mut self, path: PathBuf, image: Option<RgbaImage>) {
        let ctx = self.egui_ctx.clone();
        let Some(doc) = &mut self.doc else { return };
        if doc.path != path {
            return;
        }
        if let Some(image) = image {
            let texture =
                ctx.load_texture("minimap", color_image(&image), egui::TextureOptions::LINEAR);
            doc.minimap = Some((texture, [image.width, image.height]));
        }
        self.request_redraw();
    }

    pub(super) fn set_pictures(&mut self, path: PathBuf, pictures: Vec<(String, RgbaImage)>) {
        let ctx = self.egui_ctx.clone();
        let Some(doc) = &mut self.doc else { return };
        if doc.path != path {
            return;
        }
        doc.pictures = pictures
            .into_iter()
            .map(|(name, image)| {
                let small = document::shrink(&image, 1024);
                let texture = ctx.load_texture(
                    format!("picture-{name}"),
                    color_image(&small),
                    egui::TextureOptions::LINEAR,
                );
                (name, texture, [small.width, small.height])
            })
            .collect();
        self.request_redraw();
    }
}

pub(super) fn color_image(image: &RgbaImage) -> egui::ColorImage {
    egui::ColorImage::from_rgba_unmultiplied(
        [image.width as usize, image.height as usize],
        &image.pixels,
    )
}

/// The keys of a help row: the same in every language, or words.
enum Keys {
    Same(&'static str),
    Words(&'static str),
}

impl Keys {
    fn text(&self) -> String {
        match self {
            Keys::Same(keys) => (*keys).to_owned(),
            Keys::Words(id) => kh_i18n::current().text(id),
        }
    }
}

const HELP: &[(Keys, &str)] = &[
    (Keys::Words("viewer-help-pan-keys"), "viewer-help-pan"),
    (Keys::Words("viewer-help-zoom-keys"), "viewer-help-zoom"),
    (
        Keys::Words("viewer-help-double-click-keys"),
        "viewer-help-double-click",
    ),
    (Keys::Same("1 … 6"), "viewer-help-presets"),
    (Keys::Same("F / Z"), "viewer-help-fit"),
    (Keys::Same("R / Shift+R"), "viewer-help-rotate"),
    (Keys::Same("M"), "viewer-help-ruler"),
    (Keys::Same("S"), "viewer-help-screenshot"),
    (Keys::Same("I / L"), "viewer-help-pictures"),
    (Keys::Same("A"), "viewer-help-adjust"),
    (Keys::Same("N"), "viewer-help-annotations"),
    (Keys::Same("G; J / K; C / X"), "viewer-help-findings"),
    (Keys::Same("P / B / E / D / T"), "viewer-help-draw"),
    (Keys::Words("viewer-help-move-keys"), "viewer-help-move"),
    (Keys::Same("Ctrl+Z / Ctrl+Y"), "viewer-help-undo"),
    (Keys::Words("viewer-help-open-keys"), "viewer-help-open"),
    (Keys::Words("viewer-help-drop-keys"), "viewer-help-drop"),
    (Keys::Same("F11 / Esc"), "viewer-help-fullscreen"),
    (Keys::Same("H, ?, F1"), "viewer-help-help"),
];
