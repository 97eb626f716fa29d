//! The window, its event handling, and each frame: slide pass, then the egui
//! overlay in the same render pass.

mod annotations;
mod console_link;
mod drawing;
mod panels;
mod selection;

use console_link::show_remote_picture;

use crate::ViewerArgs;
use crate::camera::ViewMotion;
use crate::document::{self, display_name};
use crate::findings::{Findings, Verdict};
use crate::ipc_link::IpcLink;
use crate::layers::{Layers, Loaded};
use crate::remote_video::{RemotePicture, RemoteVideo, RemoteVideoEvent};
use crate::scalebar;
use anyhow::Context as _;
use glam::DVec2;
use kh_i18n::tr;
use kh_ipc::{FromViewer, ToViewer, ViewState};
use kh_render::offscreen::Target;
use kh_render::{Adjustments, Gpu, RendererOptions, Rotation, SlideRenderer, View, Viewport};
use kh_slide::{RgbaImage, Slide};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use winit::application::ApplicationHandler;
use winit::event::{ElementState, MouseButton, MouseScrollDelta, WindowEvent};
use winit::event_loop::{ActiveEventLoop, EventLoop, EventLoopProxy};
use winit::keyboard::{Key, NamedKey};
use winit::window::{Fullscreen, Window, WindowId};

/// Magnification presets (objective-equivalent).
/// The viewer window's X11 class (WM_CLASS), whatever its title says.
pub const WINDOW_CLASS: &str = "kakehashi-viewer";

pub const PRESETS: [f64; 6] = [1.25, 2.5, 5.0, 10.0, 20.0, 40.0];
/// One wheel notch zooms by this factor.
const WHEEL_STEP: f64 = 0.8;
/// Arrow keys pan by this fraction of the viewport.
const KEY_PAN: f64 = 0.125;
const DOUBLE_CLICK: Duration = Duration::from_millis(350);
/// A press and release closer than this (physical pixels) is a click, not
/// a drag.
const CLICK_SLOP: f64 = 4.0;
/// Messages stay on screen this long.
const MESSAGE_TIME: Duration = Duration::from_secs(12);
/// The remote camera window's width at first (logical points).
const REMOTE_VIDEO_WIDTH: f32 = 480.0;

pub enum UserEvent {
    /// A tile arrived: draw again.
    Redraw,
    Opened(PathBuf, Result<Arc<Slide>, kh_slide::SlideError>),
    Minimap(PathBuf, Option<RgbaImage>),
    Pictures(PathBuf, Vec<(String, RgbaImage)>),
    Ipc(ToViewer),
    IpcClosed(String),
    RemoteVideo(RemoteVideoEvent),
    ScreenshotWritten(PathBuf, Result<(), String>),
    AnnotationsLoaded(PathBuf, Result<Box<Loaded>, String>),
}

struct Graphics {
    window: Arc<Window>,
    surface: wgpu::Surface<'static>,
    config: wgpu::SurfaceConfiguration,
    gpu: Gpu,
    egui_renderer: egui_wgpu::Renderer,
    egui_state: egui_winit::State,
    /// The remote video's textures and conversion pass (sized to its
    /// pictures), while a call sends video.
    video_plane: Option<kh_render::video::VideoPlane>,
}

struct Doc {
    path: PathBuf,
    slide: Arc<Slide>,
    renderer: SlideRenderer,
    camera: ViewMotion,
    /// Micrometres per level-0 pixel.
    mpp: Option<f64>,
    objective: Option<f64>,
    minimap: Option<(egui::TextureHandle, [u32; 2])>,
    pictures: Vec<(String, egui::TextureHandle, [u32; 2])>,
    /// Tiles that could not be read, and the latest reason: one standing
    /// line on screen (a damaged file fails many tiles; a toast per tile
    /// would bury the slide).
    tile_failures: (usize, Option<String>),
    /// What the status line last showed: the UI is laid out before the
    /// frame's uploads, so a change means one more frame to show the truth.
    shown_progress: Progress,
}

/// The status line's changing part.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Progress {
    level: usize,
    visible_resident: usize,
    visible_tiles: usize,
    tile_failures: usize,
}

impl Doc {
    fn progress(&self) -> Progress {
        let stats = self.renderer.stats();
        Progress {
            level: stats.level,
            visible_resident: stats.visible_resident,
            visible_tiles: stats.visible_tiles,
            tile_failures: self.tile_failures.0,
        }
    }

    /// Level-0 pixels per screen pixel for an objective-equivalent
    /// magnification: 10x is 1 µm per screen pixel. Without a resolution,
    /// the objective power (or 40x) stands for level 0.
    fn zoom_for_magnification(&self, magnification: f64) -> f64 {
        match self.mpp {
            Some(mpp) => 10.0 / magnification / mpp,
            None => self.objective.unwrap_or(40.0) / magnification,
        }
    }

    fn magnification(&self, zoom: f64) -> f64 {
        match self.mpp {
            Some(mpp) => 10.0 / (mpp * zoom),
            None => self.objective.unwrap_or(40.0) / zoom,
        }
    }
}

#[derive(Default)]
struct Ruler {
    active: bool,
    start_slide: Option<DVec2>,
    end_slide: Option<DVec2>,
}

struct OpenDialog {
    path_text: String,
    dir: PathBuf,
    entries: Vec<(PathBuf, bool)>,
    /// Put the keyboard in the path field on the next frame: the dialog
    /// opens (or enters a folder) ready for a name to be typed.
    focus_path: bool,
}

impl OpenDialog {
    fn new(dir: PathBuf) -> OpenDialog {
        let mut dialog = OpenDialog {
            path_text: String::new(),
            dir: dir.clone(),
            entries: Vec::new(),
            focus_path: true,
        };
        dialog.enter(dir);
        dialog
    }

    fn enter(&mut self, dir: PathBuf) {
        let mut entries: Vec<(PathBuf, bool)> = match std::fs::read_dir(&dir) {
            Ok(read) => read
                .filter_map(|e| e.ok())
                .map(|e| (e.path(), e.path().is_dir()))
                .filter(|(p, _)| !display_name(p).starts_with('.'))
                .collect(),
            Err(_) => Vec::new(),
        };
        entries.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        self.entries = entries;
        // The folder with its separator, so a typed name lands inside it.
        let mut path_text = dir.display().to_string();
        if !path_text.ends_with(std::path::MAIN_SEPARATOR) {
            path_text.push(std::path::MAIN_SEPARATOR);
        }
        self.path_text = path_text;
        self.dir = dir;
        self.focus_path = true;
    }
}

struct App {
    args: ViewerArgs,
    proxy: EventLoopProxy<UserEvent>,
    egui_ctx: egui::Context,
    gfx: Option<Graphics>,
    doc: Option<Doc>,
    opening: Option<PathBuf>,
    ipc: Option<IpcLink>,
    cursor: Option<DVec2>,
    dragging: Option<DVec2>,
    minimap_drag: bool,
    last_click: Option<(Instant, DVec2)>,
    ruler: Ruler,
    show_help: bool,
    show_pictures: bool,
    show_adjust: bool,
    hide_label: bool,
    messages: Vec<(Instant, String)>,
    remote_pointer: Option<([f64; 2], String)>,
    /// The call's remote video, while a call sends one.
    remote_video: Option<RemoteVideo>,
    last_sent_view: Option<(View, Viewport)>,
    complete_sent: bool,
    pending_screenshot: Option<PathBuf>,
    open_dialog: Option<OpenDialog>,
    adjustments: Adjustments,
    last_frame: Instant,
    fps: f64,
    /// Annotation layers over the slide.
    layers: Layers,
    /// Annotation files waiting for a slide to open.
    pending_annotations: Vec<PathBuf>,
    /// The object clicked: its file and index.
    selected: Option<(PathBuf, u32)>,
    /// AI findings being reviewed.
    findings: Findings,
    loading_annotations: usize,
    /// The specialist's own annotations and the drawing tools.
    drawing: drawing::Drawing,
    /// Modifier keys held now (from the window system: egui's copy is a
    /// frame behind, and Ctrl+Z typed fast arrives before that frame).
    modifiers: winit::keyboard::ModifiersState,
}

pub fn run(args: ViewerArgs) -> anyhow::Result<()> {
    let overlay_budget = args
        .overlay_budget_bytes
        .unwrap_or(kh_render::overlay::DEFAULT_BUDGET);
    let event_loop = EventLoop::<UserEvent>::with_user_event()
        .build()
        .context("starting the window system (is DISPLAY or WAYLAND_DISPLAY set?)")?;
    let proxy = event_loop.create_proxy();
    let egui_ctx = egui::Context::default();
    crate::fonts::add_cjk_fallback(&egui_ctx);
    let mut app = App {
        args,
        proxy,
        egui_ctx,
        gfx: None,
        doc: None,
        opening: None,
        ipc: None,
        cursor: None,
        dragging: None,
        minimap_drag: false,
        last_click: None,
        ruler: Ruler::default(),
        show_help: false,
        show_pictures: false,
        show_adjust: false,
        // The label carries patient identity: shown only when asked.
        hide_label: true,
        messages: Vec::new(),
        remote_pointer: None,
        remote_video: None,
        last_sent_view: None,
        complete_sent: false,
        pending_screenshot: None,
        open_dialog: None,
        adjustments: Adjustments::default(),
        last_frame: Instant::now(),
        fps: 0.0,
        layers: Layers {
            budget_bytes: overlay_budget,
            ..Layers::default()
        },
        pending_annotations: Vec::new(),
        selected: None,
        loading_annotations: 0,
        findings: Findings::default(),
        drawing: drawing::Drawing::default(),
        modifiers: winit::keyboard::ModifiersState::default(),
    };
    app.pending_annotations = app.args.annotations.clone();
    if let Some(path) = app.args.ipc.clone() {
        app.ipc = Some(IpcLink::connect(&path, app.proxy.clone())?);
    }
    event_loop.run_app(&mut app).context("running the viewer")?;
    Ok(())
}

impl App {
    fn viewport(&self) -> Viewport {
        match &self.gfx {
            Some(g) => Viewport {
                width: g.config.width.max(1),
                height: g.config.height.max(1),
            },
            None => Viewport {
                width: 1,
                height: 1,
            },
        }
    }

    fn request_redraw(&self) {
        if let Some(g) = &self.gfx {
            g.window.request_redraw();
        }
    }

    /// The window's title in the current language, naming the slide shown.
    fn retitle(&self) {
        let Some(gfx) = &self.gfx else { return };
        let title = match &self.doc {
            Some(doc) => tr!("viewer-window-title-slide", name = display_name(&doc.path)),
            None => tr!("viewer-window-title"),
        };
        gfx.window.set_title(&title);
    }

    /// An error for the user: the log, the console, and a message on screen.
    fn report(&mut self, message: String) {
        self.report_to_console(message.clone());
        self.messages.push((Instant::now(), message));
        self.request_redraw();
    }

    /// An error for the log and the console only (tile failures, which the
    /// status line summarises).
    fn report_to_console(&mut self, message: String) {
        tracing::warn!("{message}");
        if let Some(ipc) = &mut self.ipc {
            ipc.send(&FromViewer::Error { message });
        }
    }

    fn open(&mut self, path: PathBuf) {
        // Its name may be a patient's: no log line of this process says it.
        kh_log::remember_path(&path);
        self.opening = Some(path.clone());
        document::open_in_background(path, self.args.cache_bytes, self.proxy.clone());
        self.request_redraw();
    }

    fn create_graphics(&mut self, event_loop: &ActiveEventLoop) -> anyhow::Result<()> {
        let (w, h) = self.args.size.unwrap_or((1280, 800));
        let attributes = Window::default_attributes()
            .with_title(tr!("viewer-window-title"))
            .with_inner_size(winit::dpi::PhysicalSize::new(w, h));
        // The title is in the reader's language; the class stays one name
        // for window managers, desktop files and tests to find it by.
        #[cfg(target_os = "linux")]
        let attributes = {
            use winit::platform::x11::WindowAttributesExtX11 as _;
            attributes.with_name(WINDOW_CLASS, WINDOW_CLASS)
        };
        let window = Arc::new(event_loop.create_window(attributes)?);
        let instance =
            wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
        let surface = instance
            .create_surface(window.clone())
            .context("creating the window's GPU surface")?;
        let gpu = Gpu::with_instance(instance, Some(&surface))?;
        tracing::info!("viewer on {}", gpu.describe());
        let size = window.inner_size();
        let caps = surface.get_capabilities(&gpu.adapter);
        let format = caps
            .formats
            .iter()
            .copied()
            .find(|f| f.is_srgb())
            .or_else(|| caps.formats.first().copied())
            .context("the surface offers no formats")?;
        let config = wgpu::SurfaceConfiguration {
            usage: wgpu::TextureUsages::RENDER_ATTACHMENT,
            format,
            width: size.width.max(1),
            height: size.height.max(1),
            present_mode: if self.args.no_vsync {
                wgpu::PresentMode::AutoNoVsync
            } else {
                wgpu::PresentMode::AutoVsync
            },
            desired_maximum_frame_latency: 2,
            alpha_mode: caps
                .alpha_modes
                .first()
                .copied()
                .unwrap_or(wgpu::CompositeAlphaMode::Auto),
            view_formats: vec![],
            color_space: wgpu::SurfaceColorSpace::Auto,
        };
        surface.configure(&gpu.device, &config);
        let egui_renderer =
            egui_wgpu::Renderer::new(&gpu.device, format, egui_wgpu::RendererOptions::default());
        let egui_state = egui_winit::State::new(
            self.egui_ctx.clone(),
            egui::ViewportId::ROOT,
            &window,
            Some(window.scale_factor() as f32),
            None,
            Some(gpu.device.limits().max_texture_dimension_2d as usize),
        );
        self.gfx = Some(Graphics {
            window,
            surface,
            config,
            gpu,
            egui_renderer,
            egui_state,
            video_plane: None,
        });
        Ok(())
    }

    fn on_opened(&mut self, path: PathBuf, result: Result<Arc<Slide>, kh_slide::SlideError>) {
        if self.opening.as_deref() != Some(path.as_path()) {
            return;
        }
        self.opening = None;
        let slide = match result {
            Ok(s) => s,
            Err(e) => {
                self.report(tr!(
                    "viewer-could-not-open",
                    name = display_name(&path),
                    problem = slide_problem(&e)
                ));
                return;
            }
        };
        let Some(gfx) = &self.gfx else { return };
        let proxy = self.proxy.clone();
        let options = RendererOptions {
            budget_bytes: self.args.budget_bytes,
            ..Default::default()
        };
        let notify = Arc::new(move || {
            let _ = proxy.send_event(UserEvent::Redraw);
        });
        let renderer = match SlideRenderer::new(&gfx.gpu.device, slide.clone(), &options, notify) {
            Ok(r) => r,
            Err(e) => {
                self.report(tr!(
                    "viewer-could-not-draw",
                    name = display_name(&path),
                    problem = e.to_string()
                ));
                return;
            }
        };
        let viewport = self.viewport();
        let (mpp_x, mpp_y) = slide.mpp();
        let mpp = match (mpp_x, mpp_y) {
            (Some(x), Some(y)) => Some((x + y) / 2.0),
            (Some(v), None) | (None, Some(v)) => Some(v),
            (None, None) => None,
        };
        document::load_pictures(slide.clone(), self.proxy.clone());
        let (width, height) = slide.dimensions();
        if let Some(ipc) = &mut self.ipc {
            ipc.send(&FromViewer::Opened {
                path: path.display().to_string(),
                width,
                height,
                levels: slide.levels().len(),
            });
        }
        self.doc = Some(Doc {
            path,
            camera: ViewMotion::new(View::fit((width, height), viewport, Rotation::Deg0)),
            objective: slide.objective_power(),
            slide,
            renderer,
            mpp,
            minimap: None,
            pictures: Vec::new(),
            tile_failures: (0, None),
            shown_progress: Progress::default(),
        });
        self.retitle();
        self.last_sent_view = None;
        self.complete_sent = false;
        self.ruler = Ruler::default();
        self.reset_annotations();
        self.request_redraw();
    }

    fn slide_from_cursor(&self) -> Option<DVec2> {
        let doc = self.doc.as_ref()?;
        let cursor = self.cursor?;
        Some(
            doc.camera
                .view
                .slide_from_screen(self.viewport())
                .transform_point2(cursor),
        )
    }

    fn zoom_at(&mut self, factor: f64, anchor: Option<DVec2>) {
        let viewport = self.viewport();
        let anchor = anchor.unwrap_or(DVec2::new(
            f64::from(viewport.width) / 2.0,
            f64::from(viewport.height) / 2.0,
        ));
        if let Some(doc) = &mut self.doc {
            doc.camera
                .zoom_about(factor, anchor, viewport, Instant::now());
        }
        self.request_redraw();
    }

    /// Animate to an absolute zoom about the viewport centre.
    fn zoom_to(&mut self, zoom: f64) {
        if let Some(doc) = &self.doc {
            let factor = zoom / doc.camera.target(self.viewport()).zoom;
            self.zoom_at(factor, None);
        }
    }

    fn fit(&mut self) {
        let viewport = self.viewport();
        if let Some(doc) = &mut self.doc {
            let fit = View::fit(doc.slide.dimensions(), viewport, doc.camera.view.rotation);
            doc.camera.set(fit);
        }
        self.request_redraw();
    }

    fn rotate(&mut self, clockwise: bool) {
        if let Some(doc) = &mut self.doc {
            let mut view = doc.camera.view;
            view.rotation = if clockwise {
                view.rotation.clockwise()
            } else {
                view.rotation.counter_clockwise()
            };
            doc.camera.set(view);
        }
        self.request_redraw();
    }

    fn toggle_fullscreen(&self) {
        if let Some(g) = &self.gfx {
            let next = match g.window.fullscreen() {
                Some(_) => None,
                None => Some(Fullscreen::Borderless(None)),
            };
            g.window.set_fullscreen(next);
        }
    }

    fn on_key(&mut self, event_loop: &ActiveEventLoop, key: &Key, shift: bool, ctrl: bool) {
        if self.drawing_key(key, shift, ctrl) {
            return;
        }
        let viewport = self.viewport();
        let step = DVec2::new(f64::from(viewport.width), f64::from(viewport.height)) * KEY_PAN;
        let pan = |app: &mut App, delta: DVec2| {
            if let Some(doc) = &mut app.doc {
                let view = doc.camera.view.panned_by(delta);
                doc.camera.set(view);
            }
            app.request_redraw();
        };
        match key {
            Key::Named(NamedKey::ArrowLeft) => pan(self, DVec2::new(step.x, 0.0)),
            Key::Named(NamedKey::ArrowRight) => pan(self, DVec2::new(-step.x, 0.0)),
            Key::Named(NamedKey::ArrowUp) => pan(self, DVec2::new(0.0, step.y)),
            Key::Named(NamedKey::ArrowDown) => pan(self, DVec2::new(0.0, -step.y)),
            Key::Named(NamedKey::F11) => self.toggle_fullscreen(),
            Key::Named(NamedKey::F1) => self.show_help = !self.show_help,
            Key::Named(NamedKey::Escape) if self.selected.is_some() => {
                self.clear_selection();
            }
            Key::Named(NamedKey::Escape) => {
                if self.show_help || self.ruler.active || self.open_dialog.is_some() {
                    self.show_help = false;
                    self.ruler = Ruler::default();
                    self.open_dialog = None;
                } else if let Some(g) = &self.gfx
                    && g.window.fullscreen().is_some()
                {
                    g.window.set_fullscreen(None);
                }
            }
            Key::Character(c) => match c.as_str() {
                "+" | "=" => self.zoom_at(0.5, None),
                "-" | "_" => self.zoom_at(2.0, None),
                "f" | "F" => self.fit(),
                "z" | "Z" => self.zoom_to(1.0),
                "r" | "R" => self.rotate(!shift),
                "m" | "M" => {
                    self.ruler = Ruler {
                        active: !self.ruler.active,
                        ..Ruler::default()
                    }
                }
                "l" | "L" => self.hide_label = !self.hide_label,
                "i" | "I" => self.show_pictures = !self.show_pictures,
                "a" | "A" => self.show_adjust = !self.show_adjust,
                "n" | "N" => self.layers.panel_open = !self.layers.panel_open,
                "g" | "G" => self.findings.panel_open = !self.findings.panel_open,
                "j" | "J" => self.step_finding(true),
                "k" | "K" => self.step_finding(false),
                "c" | "C" if !ctrl => self.mark_finding(Verdict::Confirmed),
                "x" | "X" if !ctrl => self.mark_finding(Verdict::Rejected),
                "s" | "S" => self.pending_screenshot = Some(self.screenshot_path()),
                "h" | "H" | "?" => self.show_help = !self.show_help,
                "o" | "O" if ctrl => {
                    let dir = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
                    self.open_dialog = Some(OpenDialog::new(dir));
                }
                "q" | "Q" if ctrl => event_loop.exit(),
                digit => {
                    if let Some(preset) = digit
                        .parse::<usize>()
                        .ok()
                        .and_then(|d| d.checked_sub(1))
                        .and_then(|i| PRESETS.get(i))
                        && let Some(doc) = &self.doc
                    {
                        let zoom = doc.zoom_for_magnification(*preset);
                        self.zoom_to(zoom);
                    }
                }
            },
            _ => {}
        }
        self.request_redraw();
    }

    fn on_mouse_button(&mut self, state: ElementState) {
        if !self.ruler.active && self.drawing_mouse(state) {
            self.dragging = None;
            self.last_click = None;
            return;
        }
        let now = Instant::now();
        match state {
            ElementState::Pressed => {
                let Some(cursor) = self.cursor else { return };
                if self.ruler.active {
                    self.ruler.start_slide = self.slide_from_cursor();
                    self.ruler.end_slide = self.ruler.start_slide;
                    self.dragging = Some(cursor);
                    return;
                }
                if let Some((at, pos)) = self.last_click
                    && now.duration_since(at) < DOUBLE_CLICK
                    && (pos - cursor).length() < 6.0
                {
                    self.last_click = None;
                    self.zoom_at(0.5, Some(cursor));
                    return;
                }
                self.last_click = Some((now, cursor));
                self.dragging = Some(cursor);
            }
            ElementState::Released => {
                // Released where it was pressed: a click, which selects.
                let clicked = self
                    .last_click
                    .zip(self.cursor)
                    .is_some_and(|((_, at), cursor)| (at - cursor).length() < CLICK_SLOP);
                if self.dragging.take().is_some()
                    && !self.ruler.active
                    && let Some(doc) = &mut self.doc
                {
                    doc.camera.release(now);
                    if clicked {
                        self.select_at_cursor();
                    }
                }
                self.request_redraw();
            }
        }
    }

    fn on_cursor(&mut self, position: DVec2) {
        let previous = self.cursor.replace(position);
        self.drawing_cursor();
        if let Some(last) = self.dragging {
            if self.ruler.active {
                self.ruler.end_slide = self.slide_from_cursor();
            } else if let Some(doc) = &mut self.doc {
                doc.camera.drag(position - last, Instant::now());
            }
            self.dragging = Some(position);
            self.request_redraw();
        }
        if previous != Some(position) {
            let p = self.slide_from_cursor().map(|p| p.to_array());
            if let Some(ipc) = &mut self.ipc {
                ipc.send(&FromViewer::PointerMoved { p_slide: p });
            }
            // The status line shows the cursor position.
            self.request_redraw();
        }
    }

    fn render(&mut self) {
        let now = Instant::now();
        let dt = now.duration_since(self.last_frame).as_secs_f64();
        self.last_frame = now;
        if dt > 0.0 {
            self.fps = 0.9 * self.fps + 0.1 / dt;
        }
        let viewport = self.viewport();
        let moving = match &mut self.doc {
            Some(doc) => doc.camera.tick(viewport, now),
            None => false,
        };
        let Some(gfx) = &mut self.gfx else { return };
        let frame = match gfx.surface.get_current_texture() {
            wgpu::CurrentSurfaceTexture::Success(t)
            | wgpu::CurrentSurfaceTexture::Suboptimal(t) => t,
            wgpu::CurrentSurfaceTexture::Timeout | wgpu::CurrentSurfaceTexture::Occluded => return,
            wgpu::CurrentSurfaceTexture::Outdated | wgpu::CurrentSurfaceTexture::Lost => {
                gfx.surface.configure(&gfx.gpu.device, &gfx.config);
                gfx.window.request_redraw();
                return;
            }
            wgpu::CurrentSurfaceTexture::Validation => {
                tracing::error!("the surface reported a validation error");
                return;
            }
        };
        if let Some(video) = &mut self.remote_video
            && let Some(picture) = video.pending.take()
        {
            show_remote_picture(gfx, video, &picture);
        }
        let raw_input = gfx.egui_state.take_egui_input(&gfx.window);
        let ctx = self.egui_ctx.clone();
        let mut output = ctx.run_ui(raw_input, |ui| self.draw_ui(ui));
        let Some(gfx) = &mut self.gfx else { return };
        gfx.egui_state
            .handle_platform_output(&gfx.window, output.platform_output);
        let paint_jobs = ctx.tessellate(output.shapes, output.pixels_per_point);
        let device = &gfx.gpu.device;
        let queue = &gfx.gpu.queue;
        for (id, deltas) in output.textures_delta.set.drain() {
            for delta in &deltas {
                gfx.egui_renderer.update_texture(device, queue, id, delta);
            }
        }
        let screen = egui_wgpu::ScreenDescriptor {
            size_in_pixels: [gfx.config.width, gfx.config.height],
            pixels_per_point: output.pixels_per_point,
        };
        let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("frame"),
        });
        let format = gfx.config.format;
        if let Some(doc) = &mut self.doc {
            doc.renderer.prepare_target(device, format);
            doc.renderer.prepare(
                queue,
                &mut encoder,
                &doc.camera.view,
                viewport,
                &self.adjustments,
            );
            self.layers.apply_style(queue);
            for layer in &mut self.layers.layers {
                layer.overlay.prepare_target(device, format);
                layer.overlay.prepare(queue, &doc.camera.view, viewport);
            }
        }
        let extra =
            gfx.egui_renderer
                .update_buffers(device, queue, &mut encoder, &paint_jobs, &screen);
        let target = frame.texture.create_view(&Default::default());
        {
            let pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some("viewer"),
                color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                    view: &target,
                    depth_slice: None,
                    resolve_target: None,
                    ops: wgpu::Operations {
                        load: wgpu::LoadOp::Clear(wgpu::Color {
                            r: 0.12,
                            g: 0.12,
                            b: 0.13,
                            a: 1.0,
                        }),
                        store: wgpu::StoreOp::Store,
                    },
                })],
                depth_stencil_attachment: None,
                timestamp_writes: None,
                occlusion_query_set: None,
                multiview_mask: None,
            });
            let mut pass = pass.forget_lifetime();
            if let Some(doc) = &self.doc {
                doc.renderer.draw(&mut pass, format);
                for layer in &self.layers.layers {
                    layer.overlay.draw(&mut pass, format);
                }
            }
            gfx.egui_renderer.render(&mut pass, &paint_jobs, &screen);
        }
        queue.submit(extra.into_iter().chain([encoder.finish()]));
        queue.present(frame);
        for id in output.textures_delta.free.drain() {
            gfx.egui_renderer.free_texture(&id);
        }
        for error in gfx.gpu.take_errors() {
            self.messages
                .push((now, tr!("viewer-gpu-error", problem = error.to_string())));
        }
        self.after_frame(moving);
        if moving
            || output
                .viewport_output
                .values()
                .any(|v| v.repaint_delay.is_zero())
        {
            self.request_redraw();
        }
    }

    /// Report tile errors, tell the console what changed, take a pending
    /// screenshot once the view is complete (settled: no animation or glide
    /// under way, every visible tile drawn or failed and stood in for).
    fn after_frame(&mut self, moving: bool) {
        let viewport = self.viewport();
        let Some(doc) = &mut self.doc else { return };
        // Errors first: a view completed by stand-ins for failed tiles is
        // announced after the failures that shaped it. Each goes to the log
        // and the console; the screen keeps one summary line.
        let errors = doc.renderer.take_errors();
        if let Some(last) = errors.last() {
            doc.tile_failures.0 += errors.len();
            doc.tile_failures.1 = Some(last.clone());
        }
        let stale_status = doc.progress() != doc.shown_progress;
        for message in errors {
            self.report_to_console(message);
        }
        if stale_status {
            self.request_redraw();
        }
        let Some(doc) = &mut self.doc else { return };
        let view = doc.camera.view;
        // Complete also means the status line on screen says so.
        let complete = !moving && !stale_status && doc.renderer.is_complete();
        let changed = self.last_sent_view != Some((view, viewport));
        let state = ViewState {
            center_slide: view.center_slide,
            zoom: view.zoom,
            rotation_degrees: view.rotation.degrees(),
        };
        if changed {
            self.last_sent_view = Some((view, viewport));
            self.complete_sent = false;
            if let Some(ipc) = &mut self.ipc {
                ipc.send(&FromViewer::ViewChanged {
                    view: state,
                    viewport: [viewport.width, viewport.height],
                });
            }
        }
        if complete && !self.complete_sent {
            self.complete_sent = true;
            if let Some(ipc) = &mut self.ipc {
                ipc.send(&FromViewer::ViewComplete { view: state });
            }
        }
        if complete && let Some(path) = self.pending_screenshot.take() {
            self.take_screenshot(path);
        }
    }
}

/// A folder of DICOM files is one slide: open it rather than browse into it.
fn looks_like_dicom_folder(path: &Path) -> bool {
    std::fs::read_dir(path)
        .map(|entries| {
            entries.filter_map(|e| e.ok()).any(|e| {
                e.path()
                    .extension()
                    .is_some_and(|x| x.eq_ignore_ascii_case("dcm"))
            })
        })
        .unwrap_or(false)
}

impl ApplicationHandler<UserEvent> for App {
    fn resumed(&mut self, event_loop: &ActiveEventLoop) {
        if self.gfx.is_some() {
            return;
        }
        if let Err(e) = self.create_graphics(event_loop) {
            tracing::error!("could not open the viewer window: {e:#}");
            eprintln!("kh view: could not open the window: {e:#}");
            event_loop.exit();
            return;
        }
        if let Some(path) = self.args.slide.clone() {
            self.open(path);
        }
    }

    fn window_event(&mut self, event_loop: &ActiveEventLoop, _id: WindowId, event: WindowEvent) {
        let consumed = match &mut self.gfx {
            Some(g) => {
                let response = g.egui_state.on_window_event(&g.window, &event);
                if response.repaint {
                    g.window.request_redraw();
                }
                response.consumed
            }
            None => return,
        };
        let egui_has_pointer = self.egui_ctx.egui_wants_pointer_input() || self.minimap_drag;
        match event {
            WindowEvent::CloseRequested => event_loop.exit(),
            WindowEvent::Resized(size) => {
                if let Some(g) = &mut self.gfx {
                    g.config.width = size.width.max(1);
                    g.config.height = size.height.max(1);
                    g.surface.configure(&g.gpu.device, &g.config);
                }
                self.request_redraw();
            }
            WindowEvent::RedrawRequested => self.render(),
            WindowEvent::ModifiersChanged(m) => self.modifiers = m.state(),
            WindowEvent::DroppedFile(path) if crate::layers::is_annotation_file(&path) => {
                self.open_annotations(path)
            }
            WindowEvent::DroppedFile(path) => self.open(path),
            WindowEvent::CursorMoved { position, .. } => {
                self.on_cursor(DVec2::new(position.x, position.y));
            }
            WindowEvent::CursorLeft { .. } => {
                self.cursor = None;
                if let Some(ipc) = &mut self.ipc {
                    ipc.send(&FromViewer::PointerMoved { p_slide: None });
                }
            }
            WindowEvent::MouseInput {
                state,
                button: MouseButton::Left,
                ..
            } if state == ElementState::Released || !(consumed || egui_has_pointer) => {
                self.on_mouse_button(state);
            }
            WindowEvent::MouseWheel { delta, .. } if !(consumed || egui_has_pointer) => {
                let notches = match delta {
                    MouseScrollDelta::LineDelta(_, y) => f64::from(y),
                    MouseScrollDelta::PixelDelta(p) => p.y / 50.0,
                };
                self.zoom_at(WHEEL_STEP.powf(notches), self.cursor);
            }
            WindowEvent::PinchGesture { delta, .. } if !consumed => {
                self.zoom_at(1.0 / (1.0 + delta).max(0.1), self.cursor);
            }
            // Synthetic presses are winit replaying keys already down when
            // the window gains focus: acting on them would pan twice for one
            // press that arrives while focus moves.
            WindowEvent::KeyboardInput {
                event,
                is_synthetic: false,
                ..
            } if !consumed && event.state == ElementState::Pressed => {
                let m = self.modifiers;
                // Command on macOS, Ctrl elsewhere (as egui's `command`).
                let command = if cfg!(target_os = "macos") {
                    m.super_key()
                } else {
                    m.control_key()
                };
                self.on_key(event_loop, &event.logical_key, m.shift_key(), command);
            }
            _ => {}
        }
    }

    fn user_event(&mut self, event_loop: &ActiveEventLoop, event: UserEvent) {
        match event {
            UserEvent::Redraw => self.request_redraw(),
            UserEvent::Opened(path, result) => self.on_opened(path, result),
            UserEvent::Minimap(path, image) => self.set_minimap(path, image),
            UserEvent::Pictures(path, pictures) => self.set_pictures(path, pictures),
            UserEvent::Ipc(msg) => self.on_ipc(event_loop, msg),
            UserEvent::RemoteVideo(event) => self.on_remote_video(event),
            UserEvent::ScreenshotWritten(path, written) => {
                self.on_screenshot_written(path, written)
            }
            UserEvent::AnnotationsLoaded(path, loaded) => self.on_annotations_loaded(path, loaded),
            UserEvent::IpcClosed(reason) => {
                // A viewer started for a console is that console's window:
                // when the console goes (closed or crashed) the viewer goes
                // too, rather than staying as an orphan window.
                tracing::warn!("console link closed ({reason}): exiting");
                self.ipc = None;
                event_loop.exit();
            }
        }
    }
}

/// Why a slide did not open, in the reader's words: the kind of failure,
/// with the library's detail (English, for support) after it.
fn slide_problem(e: &kh_slide::SlideError) -> String {
    use kh_i18n::FileProblem;
    let problem = match e.kind {
        kh_slide::ErrorKind::Io => FileProblem::Unreadable,
        kh_slide::ErrorKind::Unsupported => FileProblem::NotASlide,
        kh_slide::ErrorKind::Corrupt => FileProblem::Damaged,
        kh_slide::ErrorKind::Limit => FileProblem::TooLarge,
        kh_slide::ErrorKind::Argument => FileProblem::NoSuchPart,
    };
    let detail = format!("{}: {}", e.part, e.reason);
    kh_i18n::current().file_problem(&e.path, problem, &detail)
}
