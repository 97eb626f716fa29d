//! The window, its event handling, and each frame: slide pass, then the egui
//! overlay in the same render pass.

use crate::ViewerArgs;
use crate::camera::ViewMotion;
use crate::document::{self, display_name};
use crate::ipc_link::IpcLink;
use crate::remote_video::{RemotePicture, RemoteVideo, RemoteVideoEvent};
use crate::scalebar;
use anyhow::Context as _;
use glam::DVec2;
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
pub const PRESETS: [f64; 6] = [1.25, 2.5, 5.0, 10.0, 20.0, 40.0];
/// One wheel notch zooms by this factor.
const WHEEL_STEP: f64 = 0.8;
/// Arrow keys pan by this fraction of the viewport.
const KEY_PAN: f64 = 0.125;
const DOUBLE_CLICK: Duration = Duration::from_millis(350);
/// Messages stay on screen this long.
const MESSAGE_TIME: Duration = Duration::from_secs(12);
/// The remote camera window's width at first (logical points).
const REMOTE_VIDEO_WIDTH: f32 = 480.0;

pub enum UserEvent {
    /// A tile arrived: draw again.
    Redraw,
    Opened(PathBuf, Result<Arc<Slide>, String>),
    Minimap(PathBuf, Option<RgbaImage>),
    Pictures(PathBuf, Vec<(String, RgbaImage)>),
    Ipc(ToViewer),
    IpcClosed(String),
    RemoteVideo(RemoteVideoEvent),
    ScreenshotWritten(PathBuf, Result<(), String>),
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
}

impl OpenDialog {
    fn new(dir: PathBuf) -> OpenDialog {
        let mut dialog = OpenDialog {
            path_text: String::new(),
            dir: dir.clone(),
            entries: Vec::new(),
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
        self.path_text = dir.display().to_string();
        self.dir = dir;
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
}

pub fn run(args: ViewerArgs) -> anyhow::Result<()> {
    let event_loop = EventLoop::<UserEvent>::with_user_event()
        .build()
        .context("starting the window system (is DISPLAY or WAYLAND_DISPLAY set?)")?;
    let proxy = event_loop.create_proxy();
    let mut app = App {
        args,
        proxy,
        egui_ctx: egui::Context::default(),
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
    };
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
            .with_title("Kakehashi viewer")
            .with_inner_size(winit::dpi::PhysicalSize::new(w, h));
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

    fn on_opened(&mut self, path: PathBuf, result: Result<Arc<Slide>, String>) {
        if self.opening.as_deref() != Some(path.as_path()) {
            return;
        }
        self.opening = None;
        let slide = match result {
            Ok(s) => s,
            Err(e) => {
                self.report(format!("could not open {}: {e}", display_name(&path)));
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
                self.report(format!("could not draw {}: {e}", display_name(&path)));
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
        gfx.window
            .set_title(&format!("{} — Kakehashi viewer", display_name(&path)));
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
        self.last_sent_view = None;
        self.complete_sent = false;
        self.ruler = Ruler::default();
        self.request_redraw();
    }

    fn on_ipc(&mut self, event_loop: &ActiveEventLoop, msg: ToViewer) {
        match msg {
            ToViewer::OpenSlide { path } => self.open(PathBuf::from(path)),
            ToViewer::SetView { view } => {
                let Some(rotation) = Rotation::from_degrees(i64::from(view.rotation_degrees))
                else {
                    self.report(format!(
                        "set_view: rotation {} is not a multiple of 90",
                        view.rotation_degrees
                    ));
                    return;
                };
                let valid = view.zoom.is_finite()
                    && view.zoom > 0.0
                    && view.center_slide.iter().all(|c| c.is_finite());
                if !valid {
                    self.report("set_view: the view has a non-finite or non-positive value".into());
                    return;
                }
                if let Some(doc) = &mut self.doc {
                    doc.camera.set(View {
                        center_slide: view.center_slide,
                        zoom: view
                            .zoom
                            .clamp(kh_render::view::MIN_ZOOM, kh_render::view::MAX_ZOOM),
                        rotation,
                    });
                }
                self.request_redraw();
            }
            ToViewer::Pointer { p_slide, label } => {
                self.remote_pointer = p_slide.map(|p| (p, label));
                self.request_redraw();
            }
            ToViewer::Screenshot { name } => match &self.args.screenshots {
                // Only a plain file name, only in the folder we were given:
                // the console's link must not become a way to write files.
                Some(folder) if kh_ipc::is_screenshot_name(&name) => {
                    self.pending_screenshot = Some(folder.join(name));
                    self.request_redraw();
                }
                Some(_) => self.report(format!(
                    "screenshot {name:?} refused: a screenshot is named by a plain .png file name"
                )),
                None => self.report(
                    "screenshot refused: the viewer was started without a screenshot folder"
                        .to_owned(),
                ),
            },
            ToViewer::Ping { seq } => {
                if let Some(link) = &mut self.ipc {
                    link.send(&FromViewer::Pong { seq });
                }
            }
            ToViewer::RemoteVideo { codec, data } => {
                if self.remote_video.is_none() {
                    let limit = self.args.picture_limit.unwrap_or_default();
                    match RemoteVideo::start(self.proxy.clone(), limit) {
                        Ok(video) => self.remote_video = Some(video),
                        Err(e) => {
                            self.report(format!("remote video: starting the decoder: {e}"));
                            return;
                        }
                    }
                }
                let queued = self
                    .remote_video
                    .as_mut()
                    .is_some_and(|video| video.push(&codec, data));
                if !queued && let Some(link) = &mut self.ipc {
                    link.send(&FromViewer::KeyframeWanted);
                }
            }
            ToViewer::RemoteVideoEnded => {
                if let Some(video) = self.remote_video.take()
                    && let Some(gfx) = &mut self.gfx
                {
                    if let Some(id) = video.texture {
                        gfx.egui_renderer.free_texture(&id);
                    }
                    gfx.video_plane = None;
                }
                self.request_redraw();
            }
            ToViewer::Quit => event_loop.exit(),
        }
    }

    /// A decoded remote picture (or a frame that failed) from the decoder.
    fn on_remote_video(&mut self, event: RemoteVideoEvent) {
        let Some(video) = &mut self.remote_video else {
            return;
        };
        match event {
            RemoteVideoEvent::Picture(picture) => {
                let size = [picture.width, picture.height];
                let resized = video.size.replace(size) != Some(size);
                // Only the latest waits for the GPU; older ones are skipped.
                video.pending = Some(picture);
                video.shown += 1;
                video.problem = None;
                if (resized || video.shown % 30 == 0)
                    && let Some(link) = &mut self.ipc
                {
                    link.send(&FromViewer::RemoteVideoShown {
                        width: size[0],
                        height: size[1],
                        frames: video.shown,
                        dropped: video.dropped,
                    });
                }
            }
            RemoteVideoEvent::Undecodable(why) => {
                video.dropped += 1;
                video.problem = Some(why);
                if let Some(link) = &mut self.ipc {
                    link.send(&FromViewer::KeyframeWanted);
                }
            }
        }
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

    /// Where S puts a screenshot: the screenshot folder, else the working
    /// directory, under a name from the time (to the millisecond: two
    /// presses in a second must not collide, and nothing is overwritten).
    fn screenshot_path(&self) -> PathBuf {
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        let name = format!("kakehashi-view-{stamp}.png");
        match &self.args.screenshots {
            Some(folder) => folder.join(name),
            None => PathBuf::from(name),
        }
    }

    fn on_key(&mut self, event_loop: &ActiveEventLoop, key: &Key, shift: bool, ctrl: bool) {
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
                if self.dragging.take().is_some()
                    && !self.ruler.active
                    && let Some(doc) = &mut self.doc
                {
                    doc.camera.release(now);
                }
                self.request_redraw();
            }
        }
    }

    fn on_cursor(&mut self, position: DVec2) {
        let previous = self.cursor.replace(position);
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
            }
            gfx.egui_renderer.render(&mut pass, &paint_jobs, &screen);
        }
        queue.submit(extra.into_iter().chain([encoder.finish()]));
        queue.present(frame);
        for id in output.textures_delta.free.drain() {
            gfx.egui_renderer.free_texture(&id);
        }
        for error in gfx.gpu.take_errors() {
            self.messages.push((now, format!("GPU: {error}")));
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

    fn take_screenshot(&mut self, path: PathBuf) {
        let viewport = self.viewport();
        let (Some(gfx), Some(doc)) = (&self.gfx, &mut self.doc) else {
            return;
        };
        let pixels = Target::new(&gfx.gpu, viewport).and_then(|target| {
            target.draw(
                &gfx.gpu,
                &mut doc.renderer,
                &doc.camera.view,
                &self.adjustments,
            );
            target.read(&gfx.gpu)
        });
        let mut pixels = match pixels {
            Ok(p) => p,
            Err(e) => {
                self.report(format!("screenshot: {e}"));
                return;
            }
        };
        // Burning in the bar and encoding the PNG happen off the UI thread;
        // the result comes back as `UserEvent::ScreenshotWritten`.
        let um_per_px = doc.mpp.map(|mpp| mpp * doc.camera.view.zoom);
        let proxy = self.proxy.clone();
        let spawned = std::thread::Builder::new()
            .name("kh-screenshot".into())
            .spawn(move || {
                if let Some(um_per_px) = um_per_px {
                    scalebar::burn_in(&mut pixels, viewport.width, viewport.height, um_per_px);
                }
                let written = crate::png_file::write_rgba_new(
                    &path,
                    viewport.width,
                    viewport.height,
                    &pixels,
                )
                .map_err(|e| format!("{e:#}"));
                let _ = proxy.send_event(UserEvent::ScreenshotWritten(path, written));
            });
        if let Err(e) = spawned {
            self.report(format!("screenshot: could not start a thread: {e}"));
        }
    }

    fn on_screenshot_written(&mut self, path: PathBuf, written: Result<(), String>) {
        match written {
            Ok(()) => {
                self.messages
                    .push((Instant::now(), format!("saved {}", path.display())));
                if let Some(ipc) = &mut self.ipc {
                    ipc.send(&FromViewer::ScreenshotSaved {
                        path: path.display().to_string(),
                    });
                }
                self.request_redraw();
            }
            Err(e) => self.report(format!("screenshot {}: {e}", path.display())),
        }
    }

    fn draw_ui(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        let ppp = f64::from(ctx.pixels_per_point());
        let viewport = self.viewport();
        self.toolbar(&ctx);
        self.status(&ctx, ppp);
        self.minimap(&ctx);
        self.overlays(&ctx, ppp, viewport);
        self.windows(&ctx);
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

    fn toolbar(&mut self, ctx: &egui::Context) {
        egui::Area::new(egui::Id::unique("toolbar"))
            .anchor(egui::Align2::LEFT_TOP, egui::vec2(8.0, 8.0))
            .show(ctx, |ui| {
                egui::Frame::popup(ui.style()).show(ui, |ui| {
                    ui.horizontal(|ui| {
                        if ui.button("Open…").on_hover_text("Ctrl+O").clicked() {
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
                        if ui.button("Fit").on_hover_text("F").clicked() {
                            self.fit();
                        }
                        if ui.button("1:1").on_hover_text("Z").clicked() {
                            self.zoom_to(1.0);
                        }
                        for (i, preset) in PRESETS.iter().enumerate() {
                            if ui
                                .button(format!("{preset}×"))
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
                            .button("Rotate")
                            .on_hover_text("Rotate 90° clockwise (R)")
                            .clicked()
                        {
                            self.rotate(true);
                        }
                        ui.toggle_value(&mut self.ruler.active, "Ruler")
                            .on_hover_text("M");
                        if ui.button("Screenshot").on_hover_text("S").clicked() {
                            self.pending_screenshot = Some(self.screenshot_path());
                        }
                        ui.toggle_value(&mut self.show_pictures, "Slide images")
                            .on_hover_text("I");
                        ui.toggle_value(&mut self.show_adjust, "Adjust")
                            .on_hover_text("A");
                        ui.toggle_value(&mut self.show_help, "?").on_hover_text("H");
                    });
                });
            });
    }

    fn status(&mut self, ctx: &egui::Context, ppp: f64) {
        let cursor_slide = self.slide_from_cursor();
        let Some(doc) = &mut self.doc else {
            let text = match &self.opening {
                Some(p) => format!("Opening {}…", display_name(p)),
                None => "Drop a slide here, or Open… (Ctrl+O)".to_string(),
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
        let mut parts = vec![format!(
            "{:.2}×{}",
            doc.magnification(view.zoom),
            if doc.mpp.is_none() { " (relative)" } else { "" }
        )];
        if let Some(p) = cursor_slide {
            match doc.mpp {
                Some(mpp) => parts.push(format!("x {:.1} µm  y {:.1} µm", p.x * mpp, p.y * mpp)),
                None => parts.push(format!("x {:.0} px  y {:.0} px", p.x, p.y)),
            }
        }
        parts.push(format!("level {} ({:.3}×)", stats.level, level.downsample));
        parts.push(format!(
            "{}/{} tiles",
            stats.visible_resident, stats.visible_tiles
        ));
        if view.rotation != Rotation::Deg0 {
            parts.push(format!("{}°", view.rotation.degrees()));
        }
        parts.push(format!("{:.0} fps", self.fps));
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
                        let what = if *n == 1 { "tile" } else { "tiles" };
                        ui.add(
                            egui::Label::new(
                                egui::RichText::new(format!(
                                    "{n} {what} could not be read: a coarser level shows there"
                                ))
                                .color(egui::Color32::from_rgb(200, 40, 40)),
                            )
                            .wrap_mode(egui::TextWrapMode::Extend),
                        )
                        .on_hover_text(format!(
                            "Latest: {last}\nEvery failure is in the log and reported to the console."
                        ));
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

    fn minimap(&mut self, ctx: &egui::Context) {
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
    fn overlays(&mut self, ctx: &egui::Context, ppp: f64, viewport: Viewport) {
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

    fn windows(&mut self, ctx: &egui::Context) {
        if let Some(video) = &self.remote_video {
            egui::Window::new("Remote camera")
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
                        ui.small(format!("{} × {}", size[0], size[1]));
                    }
                    _ => {
                        ui.label("Waiting for the first picture…");
                        if let Some(problem) = &video.problem {
                            ui.small(problem);
                        }
                    }
                });
        }
        if self.show_help {
            egui::Window::new("Keyboard and mouse")
                .collapsible(false)
                .anchor(egui::Align2::CENTER_CENTER, egui::vec2(0.0, 0.0))
                .show(ctx, |ui| {
                    egui::Grid::new("help").striped(true).show(ui, |ui| {
                        for (keys, what) in HELP {
                            ui.strong(*keys);
                            ui.label(*what);
                            ui.end_row();
                        }
                    });
                });
        }
        if self.show_adjust {
            let mut open = true;
            egui::Window::new("Display")
                .open(&mut open)
                .show(ctx, |ui| {
                    ui.add(
                        egui::Slider::new(&mut self.adjustments.brightness, -0.5..=0.5)
                            .text("brightness"),
                    );
                    ui.add(
                        egui::Slider::new(&mut self.adjustments.contrast, 0.25..=3.0)
                            .text("contrast"),
                    );
                    ui.add(egui::Slider::new(&mut self.adjustments.gamma, 0.3..=3.0).text("gamma"));
                    if ui.button("Reset").clicked() {
                        self.adjustments = Adjustments::default();
                    }
                });
            self.show_adjust = open;
        }
        if self.show_pictures
            && let Some(doc) = &self.doc
        {
            let mut open = true;
            egui::Window::new("Slide images")
                .open(&mut open)
                .default_width(280.0)
                .show(ctx, |ui| {
                    ui.checkbox(&mut self.hide_label, "Hide label (patient identity)");
                    if doc.pictures.is_empty() {
                        ui.label("This slide has no label, macro or thumbnail image.");
                    }
                    for (name, texture, size) in &doc.pictures {
                        ui.strong(name);
                        if name == "label" && self.hide_label {
                            ui.label("Hidden.");
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
            egui::Window::new("Open slide")
                .open(&mut open)
                .default_width(480.0)
                .show(ctx, |ui| {
                    ui.horizontal(|ui| {
                        let edit = ui.text_edit_singleline(&mut dialog.path_text);
                        if (edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)))
                            || ui.button("Open").clicked()
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
                    if ui.button("⬆ Up").clicked()
                        && let Some(parent) = dialog.dir.parent()
                    {
                        enter = Some(parent.to_path_buf());
                    }
                    egui::ScrollArea::vertical()
                        .max_height(360.0)
                        .show(ui, |ui| {
                            for (path, is_dir) in &dialog.entries {
                                let name = display_name(path);
                                let text = if *is_dir {
                                    format!("📁 {name}")
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

    fn set_minimap(&mut self, path: PathBuf, image: Option<RgbaImage>) {
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

    fn set_pictures(&mut self, path: PathBuf, pictures: Vec<(String, RgbaImage)>) {
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

fn color_image(image: &RgbaImage) -> egui::ColorImage {
    egui::ColorImage::from_rgba_unmultiplied(
        [image.width as usize, image.height as usize],
        &image.pixels,
    )
}

/// The latest remote picture onto the GPU: NV12 planes uploaded and
/// converted by kh-render's video pass into the texture the "Remote camera"
/// window draws (made, or remade at a new size, as pictures need).
fn show_remote_picture(gfx: &mut Graphics, video: &mut RemoteVideo, picture: &RemotePicture) {
    let device = &gfx.gpu.device;
    let size = (picture.width, picture.height);
    if gfx.video_plane.as_ref().is_none_or(|p| p.size() != size) {
        match kh_render::video::VideoPlane::new(device, size.0, size.1) {
            Ok(plane) => {
                let view = plane.output();
                match video.texture {
                    Some(id) => gfx.egui_renderer.update_egui_texture_from_wgpu_texture(
                        device,
                        view,
                        wgpu::FilterMode::Linear,
                        id,
                    ),
                    None => {
                        let id = gfx.egui_renderer.register_native_texture(
                            device,
                            view,
                            wgpu::FilterMode::Linear,
                        );
                        video.texture = Some(id);
                    }
                }
                gfx.video_plane = Some(plane);
            }
            Err(e) => {
                video.problem = Some(e.to_string());
                return;
            }
        }
    }
    let Some(plane) = &gfx.video_plane else {
        return;
    };
    let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
        label: Some("remote video"),
    });
    match plane.convert(&gfx.gpu.queue, &mut encoder, &picture.nv12()) {
        Ok(()) => {
            gfx.gpu.queue.submit([encoder.finish()]);
        }
        Err(e) => video.problem = Some(e.to_string()),
    }
}

const HELP: &[(&str, &str)] = &[
    ("drag, arrow keys", "pan (a quick drag throws the slide)"),
    ("wheel, pinch, + / −", "zoom towards the cursor"),
    ("double-click", "zoom in there"),
    ("1 … 6", "1.25× 2.5× 5× 10× 20× 40×"),
    ("F / Z", "fit the slide / 1:1 pixels"),
    ("R / Shift+R", "rotate 90° clockwise / counter-clockwise"),
    ("M", "ruler: drag to measure"),
    ("S", "screenshot (PNG with scale bar)"),
    ("I / L", "slide images / show or hide the label"),
    ("A", "brightness, contrast, gamma"),
    ("Ctrl+O, drop a file", "open a slide"),
    ("F11 / Esc", "fullscreen / leave, close"),
    ("H, ?, F1", "this help"),
];

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
                let modifiers = self.egui_ctx.input(|i| i.modifiers);
                self.on_key(
                    event_loop,
                    &event.logical_key,
                    modifiers.shift,
                    modifiers.command,
                );
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
