//! The specialist's own annotations in the window: the drawing tools
//! (polygon, rectangle, ellipse, freehand, point), moving a selected object
//! or one of its vertices, delete, undo and redo, the class of new marks.
//! The layer is a [`Sketch`] shown as a layer of its own; after every change
//! it is written (atomically) to the file the viewer was started with.
//! Dragging an AI finding makes an editable copy that is the specialist's
//! (the AI layer is never changed).

use super::*;
use kh_annotations::dicom::SlideReference;
use kh_annotations::edit::{Sketch, shapes};
use kh_annotations::{Geometry, Point};

/// The layer's name when no file was given (nothing is saved then).
/// The layer key of the specialist's annotations when no file keeps them
/// (shown as "viewer-my-annotations-unsaved" in the reader's language).
pub(super) const UNSAVED: &str = "kakehashi:own-annotations-unsaved";
/// Vertices get handles only up to this many (a whole-tissue outline
/// would bury the slide in them).
const MAX_HANDLES: usize = 400;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tool {
    Polygon,
    Rectangle,
    Ellipse,
    Freehand,
    Point,
}

impl Tool {
    const ALL: [Tool; 5] = [
        Tool::Polygon,
        Tool::Rectangle,
        Tool::Ellipse,
        Tool::Freehand,
        Tool::Point,
    ];

    fn label(self) -> String {
        match self {
            Tool::Polygon => tr!("viewer-tool-polygon"),
            Tool::Rectangle => tr!("viewer-tool-rectangle"),
            Tool::Ellipse => tr!("viewer-tool-ellipse"),
            Tool::Freehand => tr!("viewer-tool-freehand"),
            Tool::Point => tr!("viewer-tool-point"),
        }
    }

    fn hint(self) -> String {
        match self {
            Tool::Polygon => tr!("viewer-tool-polygon-hint"),
            Tool::Rectangle => tr!("viewer-tool-rectangle-hint"),
            Tool::Ellipse => tr!("viewer-tool-ellipse-hint"),
            Tool::Freehand => tr!("viewer-tool-freehand-hint"),
            Tool::Point => tr!("viewer-tool-point-hint"),
        }
    }

    fn of_key(c: &str) -> Option<Tool> {
        match c {
            "p" | "P" => Some(Tool::Polygon),
            "b" | "B" => Some(Tool::Rectangle),
            "e" | "E" => Some(Tool::Ellipse),
            "d" | "D" => Some(Tool::Freehand),
            "t" | "T" => Some(Tool::Point),
            _ => None,
        }
    }
}

/// What the pointer is doing to the layer.
enum Gesture {
    /// Polygon vertices clicked, the freehand path, or a drag's two
    /// corners (rectangle, ellipse); slide coordinates.
    Shape(Vec<DVec2>),
    /// Moving object `index` of the layer, from one point to another.
    Move {
        index: usize,
        from: DVec2,
        to: DVec2,
    },
    /// Moving one vertex of object `index`.
    Vertex {
        index: usize,
        vertex: usize,
        to: DVec2,
    },
}

#[derive(Default)]
pub(super) struct Drawing {
    pub tool: Option<Tool>,
    gesture: Option<Gesture>,
    /// The left button is down on a gesture that follows the pointer.
    pressed: bool,
    last_press: Option<(Instant, DVec2)>,
    /// The class new marks get (`None`: unclassified), and the box where a
    /// new class name is typed.
    pub class: Option<String>,
    new_class: String,
    sketch: Option<Sketch>,
}

impl App {
    /// The layer's key among the layers: the file it is saved to.
    pub(super) fn own_path(&self) -> PathBuf {
        self.args
            .own_annotations
            .clone()
            .unwrap_or_else(|| PathBuf::from(UNSAVED))
    }

    fn author(&self) -> String {
        self.args
            .author
            .clone()
            .or_else(|| std::env::var("USER").ok())
            .or_else(|| std::env::var("USERNAME").ok())
            .unwrap_or_else(|| "specialist".to_owned())
    }

    fn sketch(&mut self) -> &mut Sketch {
        let author = self.author();
        self.drawing
            .sketch
            .get_or_insert_with(|| Sketch::new(kh_annotations::Annotations::default(), &author))
    }

    /// The console names the file of the slide's own annotations (and who
    /// draws): the layer of any earlier file goes, this one is read.
    pub(super) fn keep_own_annotations(&mut self, path: PathBuf, author: String) {
        let old = self.own_path();
        if let Some(i) = self.layers.layers.iter().position(|l| l.path == old) {
            self.layers.layers.remove(i);
            self.findings.rebuild(&self.layers);
        }
        if self.selected.as_ref().is_some_and(|(p, _)| *p == old) {
            self.clear_selection();
        }
        self.args.own_annotations = Some(path);
        self.args.author = Some(author);
        if self.doc.is_some() {
            self.load_own_annotations();
        }
        self.request_redraw();
    }

    /// A slide opened: its own annotations (from the file, if there is
    /// one) become a layer.
    pub(super) fn load_own_annotations(&mut self) {
        self.drawing.sketch = None;
        self.drawing.gesture = None;
        let Some(path) = self.args.own_annotations.clone() else {
            return;
        };
        if !path.exists() {
            return;
        }
        let slide = self
            .doc
            .as_ref()
            .map(|d| crate::layers::SlideContext::of(&d.slide))
            .unwrap_or_default();
        let limits = kh_annotations::Limits::default();
        match kh_annotations::read_for_slide(&path, &limits, slide.on()) {
            Ok((_, annotations)) => {
                let author = self.author();
                self.drawing.sketch = Some(Sketch::new(annotations, &author));
                let objects = self.show_own_layer();
                if let Some(ipc) = &mut self.ipc {
                    ipc.send(&FromViewer::AnnotationsShown {
                        path: path.display().to_string(),
                        objects,
                    });
                }
            }
            Err(e) => self.report(tr!("viewer-own-not-read", problem = e.to_string())),
        }
    }

    /// Rebuild the layer from the sketch; returns its object count.
    fn show_own_layer(&mut self) -> usize {
        let path = self.own_path();
        let Some(sketch) = &self.drawing.sketch else {
            return 0;
        };
        let objects = sketch.annotations.objects.len();
        let Some(gfx) = &self.gfx else { return objects };
        let shown = crate::layers::loaded_from(sketch.annotations.clone())
            .and_then(|l| self.layers.add(&gfx.gpu.device, path, l));
        if let Err(e) = shown {
            self.report(tr!("viewer-own-not-shown", problem = e.to_string()));
        }
        objects
    }

    /// After every change: show it, and save it where the viewer was told.
    fn changed(&mut self) {
        let objects = self.show_own_layer();
        self.request_redraw();
        let (Some(path), Some(sketch)) = (self.args.own_annotations.clone(), &self.drawing.sketch)
        else {
            return;
        };
        let format = kh_annotations::Format::from_extension(&path)
            .unwrap_or(kh_annotations::Format::GeoJson);
        let reference = self
            .doc
            .as_ref()
            .and_then(|d| SlideReference::from_properties(d.slide.properties()));
        match kh_annotations::write_for_slide(
            &path,
            &sketch.annotations,
            format,
            reference.as_ref(),
        ) {
            Ok(_) => {
                if let Some(ipc) = &mut self.ipc {
                    ipc.send(&FromViewer::OwnAnnotationsSaved {
                        path: path.display().to_string(),
                        objects,
                    });
                }
            }
            Err(e) => self.report(tr!("viewer-own-not-saved", problem = e.to_string())),
        }
    }

    fn now() -> String {
        let seconds = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        kh_annotations::iso8601_from_unix(seconds)
    }

    /// The selected object, when it is one of the layer's.
    fn own_selection(&self) -> Option<usize> {
        let (path, object) = self.selected.as_ref()?;
        (*path == self.own_path()).then_some(*object as usize)
    }

    fn select_own(&mut self, index: usize) {
        self.selected = Some((self.own_path(), index as u32));
        self.report_selection();
    }

    fn add_mark(&mut self, geometry: Option<Geometry>) {
        let Some(geometry) = geometry else {
            self.report(tr!("viewer-too-small"));
            return;
        };
        let class = self.drawing.class.clone();
        let now = Self::now();
        let index = self.sketch().add(geometry, class.as_deref(), &now);
        self.changed();
        self.select_own(index);
    }

    fn undo(&mut self, redo: bool) {
        let Some(sketch) = &mut self.drawing.sketch else {
            return;
        };
        let done = if redo { sketch.redo() } else { sketch.undo() };
        if done {
            self.drawing.gesture = None;
            self.changed();
        }
    }

    fn delete_selected(&mut self) {
        match self.own_selection() {
            Some(index) => {
                let removed = self.sketch().remove(index);
                if removed {
                    self.clear_selection();
                    self.changed();
                }
            }
            None if self.selected.is_some() => self.report(
                "AI findings are kept as they came: reject one in Findings (X), or drag it to \
                 make an editable copy of your own"
                    .to_owned(),
            ),
            None => {}
        }
    }

    /// Keys of the drawing tools; true when the key was theirs.
    pub(super) fn drawing_key(&mut self, key: &Key, shift: bool, ctrl: bool) -> bool {
        if self.doc.is_none() {
            return false;
        }
        match key {
            Key::Character(c) if ctrl && matches!(c.as_str(), "z" | "Z") => self.undo(shift),
            Key::Character(c) if ctrl && matches!(c.as_str(), "y" | "Y") => self.undo(true),
            Key::Character(c) if !ctrl && Tool::of_key(c).is_some() => {
                let tool = Tool::of_key(c);
                self.drawing.tool = if self.drawing.tool == tool {
                    None
                } else {
                    tool
                };
                self.drawing.gesture = None;
            }
            Key::Named(NamedKey::Escape) if self.drawing.gesture.is_some() => {
                self.drawing.gesture = None;
            }
            Key::Named(NamedKey::Escape) if self.drawing.tool.is_some() => {
                self.drawing.tool = None;
            }
            Key::Named(NamedKey::Enter) if self.drawing.tool == Some(Tool::Polygon) => {
                self.finish_polygon();
            }
            Key::Named(NamedKey::Backspace)
                if matches!(self.drawing.gesture, Some(Gesture::Shape(_))) =>
            {
                if let Some(Gesture::Shape(points)) = &mut self.drawing.gesture {
                    points.pop();
                    if points.is_empty() {
                        self.drawing.gesture = None;
                    }
                }
            }
            Key::Named(NamedKey::Delete | NamedKey::Backspace) if self.selected.is_some() => {
                self.delete_selected();
            }
            _ => return false,
        }
        self.request_redraw();
        true
    }

    fn finish_polygon(&mut self) {
        if let Some(Gesture::Shape(points)) = self.drawing.gesture.take() {
            let points: Vec<Point> = points.iter().map(|p| Point::new(p.x, p.y)).collect();
            self.add_mark(shapes::polygon(&points));
        }
    }

    /// Level-0 pixels per screen pixel now.
    fn zoom(&self) -> f64 {
        self.doc.as_ref().map_or(1.0, |d| d.camera.view.zoom)
    }

    /// A press or release for the tools or for moving the selection; true
    /// when it was theirs (the slide does not pan then).
    pub(super) fn drawing_mouse(&mut self, state: ElementState) -> bool {
        let Some(p) = self.slide_from_cursor() else {
            return false;
        };
        match state {
            ElementState::Pressed => self.drawing_press(p),
            ElementState::Released => self.drawing_release(),
        }
    }

    fn drawing_press(&mut self, p: DVec2) -> bool {
        // A second press soon and in place (a few screen pixels) is a
        // double click.
        let now = Instant::now();
        let near = CLICK_SLOP * 2.0 * self.zoom();
        let double = self
            .drawing
            .last_press
            .is_some_and(|(t, q)| now.duration_since(t) < DOUBLE_CLICK && q.distance(p) < near);
        self.drawing.last_press = Some((now, p));
        match self.drawing.tool {
            Some(Tool::Polygon) => {
                match &mut self.drawing.gesture {
                    Some(Gesture::Shape(points)) if double => {
                        points.push(p);
                        self.finish_polygon();
                    }
                    Some(Gesture::Shape(points)) => points.push(p),
                    _ => self.drawing.gesture = Some(Gesture::Shape(vec![p])),
                }
                self.request_redraw();
                true
            }
            Some(Tool::Point) => {
                self.add_mark(Some(Geometry::Point(Point::new(p.x, p.y))));
                true
            }
            Some(Tool::Rectangle | Tool::Ellipse) => {
                self.drawing.gesture = Some(Gesture::Shape(vec![p, p]));
                self.drawing.pressed = true;
                true
            }
            Some(Tool::Freehand) => {
                self.drawing.gesture = Some(Gesture::Shape(vec![p]));
                self.drawing.pressed = true;
                true
            }
            None => self.grab_selection(p),
        }
    }

    /// A press on the selected object starts moving it (or the vertex
    /// under the pointer); an AI finding is first copied as the
    /// specialist's own.
    fn grab_selection(&mut self, p: DVec2) -> bool {
        let Some((path, object)) = self.selected.clone() else {
            return false;
        };
        let tolerance = super::annotations::HOVER_PX * 2.0 * self.zoom();
        let hit = self.layers.at(Point::new(p.x, p.y), tolerance);
        let Some(layer) = self.layers.layers.iter().position(|l| l.path == path) else {
            return false;
        };
        if hit != Some((layer, object)) {
            return false;
        }
        let index = if path == self.own_path() {
            object as usize
        } else {
            let from = self.layers.layers[layer].annotations.clone();
            let now = Self::now();
            let index = self
                .sketch()
                .adopt(&from, &from.objects[object as usize], &now);
            self.changed();
            self.select_own(index);
            index
        };
        let o = &self.sketch().annotations.objects[index];
        let vertex = match o.geometry {
            Geometry::Polygon(_) | Geometry::Polyline(_) | Geometry::MultiPoint(_) => o
                .geometry
                .vertices()
                .position(|v| (v.x - p.x).hypot(v.y - p.y) <= tolerance),
            _ => None,
        };
        self.drawing.gesture = Some(match vertex {
            Some(vertex) => Gesture::Vertex {
                index,
                vertex,
                to: p,
            },
            None => Gesture::Move {
                index,
                from: p,
                to: p,
            },
        });
        self.drawing.pressed = true;
        true
    }

    fn drawing_release(&mut self) -> bool {
        if !std::mem::take(&mut self.drawing.pressed) {
            return self.drawing.tool == Some(Tool::Polygon);
        }
        let now = Self::now();
        match self.drawing.gesture.take() {
            Some(Gesture::Shape(points)) => {
                let ps: Vec<Point> = points.iter().map(|p| Point::new(p.x, p.y)).collect();
                let geometry = match self.drawing.tool {
                    Some(Tool::Rectangle) => shapes::rectangle(ps[0], ps[ps.len() - 1]),
                    Some(Tool::Ellipse) => shapes::ellipse(ps[0], ps[ps.len() - 1]),
                    _ => shapes::freehand(&ps, self.zoom()),
                };
                self.add_mark(geometry);
            }
            Some(Gesture::Move { index, from, to }) => {
                let d = to - from;
                let moved = self.sketch().translate(index, d.x, d.y, &now);
                if moved {
                    self.changed();
                }
            }
            Some(Gesture::Vertex { index, vertex, to }) => {
                let to = Point::new(to.x, to.y);
                let moved = self.sketch().move_vertex(index, vertex, to, &now);
                if moved {
                    self.changed();
                }
            }
            None => {}
        }
        self.request_redraw();
        true
    }

    /// The pointer moved: gestures follow it.
    pub(super) fn drawing_cursor(&mut self) {
        let Some(p) = self.slide_from_cursor() else {
            return;
        };
        let step = self.zoom();
        match &mut self.drawing.gesture {
            Some(Gesture::Shape(points)) if self.drawing.pressed => {
                if self.drawing.tool == Some(Tool::Freehand) {
                    if points.last().is_none_or(|q| q.distance(p) >= step) {
                        points.push(p);
                    }
                } else if let Some(last) = points.last_mut() {
                    *last = p;
                }
            }
            Some(Gesture::Move { to, .. } | Gesture::Vertex { to, .. }) => *to = p,
            Some(Gesture::Shape(_)) => {}
            None => return,
        }
        self.request_redraw();
    }

    /// The tool strip under the toolbar (above the part of the window the
    /// window tests compare): tools, undo and redo, the class of new marks.
    pub(super) fn drawing_tools(&mut self, ctx: &egui::Context) {
        if self.doc.is_none() {
            return;
        }
        egui::Area::new(egui::Id::unique("drawing tools"))
            .anchor(egui::Align2::LEFT_TOP, egui::vec2(8.0, 48.0))
            .show(ctx, |ui| {
                egui::Frame::popup(ui.style()).show(ui, |ui| {
                    ui.horizontal(|ui| {
                        for tool in Tool::ALL {
                            let on = self.drawing.tool == Some(tool);
                            let button = ui
                                .selectable_label(on, tool.label())
                                .on_hover_text(tool.hint());
                            if button.clicked() {
                                self.drawing.tool = (!on).then_some(tool);
                                self.drawing.gesture = None;
                            }
                        }
                    });
                    ui.horizontal(|ui| {
                        let (undo, redo) = self
                            .drawing
                            .sketch
                            .as_ref()
                            .map_or((false, false), |s| (s.can_undo(), s.can_redo()));
                        if ui
                            .add_enabled(undo, egui::Button::new(tr!("viewer-undo")))
                            .on_hover_text(tr!("viewer-undo.title"))
                            .clicked()
                        {
                            self.undo(false);
                        }
                        if ui
                            .add_enabled(redo, egui::Button::new(tr!("viewer-redo")))
                            .on_hover_text(tr!("viewer-redo.title"))
                            .clicked()
                        {
                            self.undo(true);
                        }
                        self.class_picker(ui);
                    });
                });
            });
    }

    fn class_picker(&mut self, ui: &mut egui::Ui) {
        let shown = self
            .drawing
            .class
            .clone()
            .unwrap_or_else(|| tr!("viewer-unclassified"));
        let mut choice = self.drawing.class.clone();
        egui::ComboBox::from_id_salt("class of new marks")
            .selected_text(shown)
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut choice, None, tr!("viewer-unclassified"));
                for row in self.layers.classes() {
                    ui.selectable_value(&mut choice, Some(row.name.clone()), row.name);
                }
            });
        let typed = ui.add(
            egui::TextEdit::singleline(&mut self.drawing.new_class)
                .hint_text(tr!("viewer-new-class"))
                .desired_width(80.0),
        );
        if typed.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
            let name = self.drawing.new_class.trim().to_owned();
            if !name.is_empty() {
                choice = Some(name);
            }
            self.drawing.new_class.clear();
        }
        self.drawing.class = choice;
        if let Some(index) = self.own_selection()
            && ui.button(tr!("viewer-set-on-selected")).clicked()
        {
            let class = self.drawing.class.clone();
            let now = Self::now();
            if self.sketch().set_class(index, class.as_deref(), &now) {
                self.changed();
            }
        }
    }

    /// What is being drawn or moved, over the slide; the tool's hint.
    pub(super) fn drawing_preview(&self, ctx: &egui::Context) {
        let Some(doc) = &self.doc else { return };
        let screen_from_slide = doc.camera.view.screen_from_slide(self.viewport());
        let ppp = f64::from(ctx.pixels_per_point());
        let to_screen = |p: DVec2| {
            let s = screen_from_slide.transform_point2(p) / ppp;
            egui::pos2(s.x as f32, s.y as f32)
        };
        let painter = ctx.layer_painter(egui::LayerId::new(
            egui::Order::Foreground,
            egui::Id::unique("drawing preview"),
        ));
        let stroke = egui::Stroke::new(2.0, egui::Color32::from_rgb(0, 220, 255));
        if let Some(tool) = self.drawing.tool {
            egui::Area::new(egui::Id::unique("drawing hint"))
                .anchor(egui::Align2::CENTER_BOTTOM, egui::vec2(0.0, -36.0))
                .interactable(false)
                .show(ctx, |ui| {
                    egui::Frame::popup(ui.style()).show(ui, |ui| ui.label(tool.hint()));
                });
        }
        match &self.drawing.gesture {
            Some(Gesture::Shape(points)) => {
                let ps: Vec<Point> = points.iter().map(|p| Point::new(p.x, p.y)).collect();
                let outline: Vec<DVec2> = match (self.drawing.tool, ps.as_slice()) {
                    (Some(Tool::Rectangle), [a, .., b]) => match shapes::rectangle(*a, *b) {
                        Some(g) => g.vertices().map(|v| DVec2::new(v.x, v.y)).collect(),
                        None => Vec::new(),
                    },
                    (Some(Tool::Ellipse), [a, .., b]) => match shapes::ellipse(*a, *b) {
                        Some(Geometry::Ellipse(axes)) => {
                            kh_annotations::plane::ellipse_ring(&axes, 64)
                                .into_iter()
                                .map(|v| DVec2::new(v.x, v.y))
                                .collect()
                        }
                        _ => Vec::new(),
                    },
                    _ => {
                        let mut v = points.clone();
                        if self.drawing.tool == Some(Tool::Polygon)
                            && let Some(c) = self.slide_from_cursor()
                        {
                            v.push(c);
                        }
                        v
                    }
                };
                let screen: Vec<egui::Pos2> = outline.into_iter().map(to_screen).collect();
                let closed = self.drawing.tool != Some(Tool::Polygon) || screen.len() > 2;
                if closed && screen.len() > 2 {
                    painter.add(egui::Shape::closed_line(screen, stroke));
                } else {
                    painter.add(egui::Shape::line(screen, stroke));
                }
                if self.drawing.tool == Some(Tool::Polygon) {
                    for p in points {
                        painter.circle_filled(to_screen(*p), 3.5, stroke.color);
                    }
                }
            }
            Some(Gesture::Move { index, from, to }) => {
                if let Some(o) = self.own_object(*index) {
                    let d = *to - *from;
                    let v: Vec<egui::Pos2> = o
                        .geometry
                        .vertices()
                        .take(MAX_HANDLES * 4)
                        .map(|p| to_screen(DVec2::new(p.x, p.y) + d))
                        .collect();
                    painter.add(egui::Shape::closed_line(v, stroke));
                }
            }
            Some(Gesture::Vertex { to, .. }) => {
                painter.circle_stroke(to_screen(*to), 5.0, stroke);
            }
            None => {}
        }
        // Handles on the selected own object's vertices.
        if let Some(o) = self.own_selection().and_then(|i| self.own_object(i))
            && matches!(
                o.geometry,
                Geometry::Polygon(_) | Geometry::Polyline(_) | Geometry::MultiPoint(_)
            )
        {
            for v in o.geometry.vertices().take(MAX_HANDLES) {
                let at = to_screen(DVec2::new(v.x, v.y));
                painter.rect_filled(
                    egui::Rect::from_center_size(at, egui::vec2(6.0, 6.0)),
                    1.0,
                    egui::Color32::WHITE,
                );
            }
        }
    }

    fn own_object(&self, index: usize) -> Option<&kh_annotations::Object> {
        self.drawing.sketch.as_ref()?.annotations.objects.get(index)
    }
}
