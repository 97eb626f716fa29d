//! The viewer as a supervised child process (docs/design.md §2: a GPU or driver
//! crash kills only the viewer; the console restarts it and puts the slide
//! and view back).

use crate::viewer_outbox::{Outbox, Queued};
use kh_ipc::{Connection, FromViewer, IpcError, Listener, ToViewer, ViewState};
use parking_lot::Mutex;
use serde::Serialize;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The viewer's socket for this console process, in a directory only this user can enter
/// (`$XDG_RUNTIME_DIR/kakehashi`, else a fresh one under the temporary
/// directory); one socket per console process.
pub fn viewer_socket() -> Result<PathBuf, IpcError> {
    let dir = match SOCKET_DIR.get() {
        Some(dir) => dir,
        None => {
            let made = kh_ipc::SocketDir::for_this_session()?;
            SOCKET_DIR.get_or_init(|| made)
        }
    };
    Ok(socket_in(dir))
}

static SOCKET_DIR: std::sync::OnceLock<kh_ipc::SocketDir> = std::sync::OnceLock::new();

fn socket_in(dir: &kh_ipc::SocketDir) -> PathBuf {
    dir.path()
        .join(format!("viewer-{}.sock", std::process::id()))
}

/// Removes what [`viewer_socket`] made, as the console exits (its process
/// ends without dropping statics).
pub fn remove_viewer_socket() {
    if let Some(dir) = SOCKET_DIR.get() {
        dir.clean_up(&socket_in(dir));
    }
}

/// How to start the viewer; `--ipc SOCKET` is appended.
#[derive(Clone, Debug)]
pub struct ViewerCommand {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub env: Vec<(OsString, OsString)>,
}

impl ViewerCommand {
    /// `kh view` from `program`.
    pub fn kh_view(program: PathBuf) -> ViewerCommand {
        ViewerCommand {
            program,
            args: vec!["view".into()],
            env: Vec::new(),
        }
    }

    /// `kh view` from `program` as the settings have it: the tile cache
    /// (`cache.tile_cache_mib`), the GPU budget (`cache.gpu_budget_mib`,
    /// 0 leaving it to the adapter) and the GPU backend (`gpu.backend`).
    pub fn from_settings(program: PathBuf, settings: &kh_settings::Settings) -> ViewerCommand {
        let mut command = ViewerCommand::kh_view(program);
        command.args.extend([
            "--tile-cache-mib".into(),
            settings.cache.tile_cache_mib.to_string().into(),
        ]);
        if settings.cache.gpu_budget_mib > 0 {
            command.args.extend([
                "--budget-mib".into(),
                settings.cache.gpu_budget_mib.to_string().into(),
            ]);
        }
        command.args.extend([
            "--max-picture".into(),
            format!(
                "{}x{}",
                settings.video.max_picture_width, settings.video.max_picture_height
            )
            .into(),
        ]);
        // The setting itself: "system" is resolved by the viewer in the
        // same environment.
        command
            .args
            .extend(["--language".into(), settings.ui.language.clone().into()]);
        if let Some(backend) = settings.gpu.backend.wgpu_env_name() {
            command.env.push(("WGPU_BACKEND".into(), backend.into()));
        }
        command
    }
}

#[derive(Clone, Debug)]
pub struct SupervisorOptions {
    /// The local socket the viewer connects to, in a private directory
    /// (`kh_ipc::SocketDir`; binding elsewhere is refused).
    pub socket: PathBuf,
    /// Where the viewer may write screenshots (`--screenshots`); without
    /// one it refuses the console's screenshot requests.
    pub screenshots: Option<PathBuf>,
    /// How long a started viewer may take to connect (a software renderer
    /// on a loaded machine takes seconds).
    pub connect_timeout: Duration,
    /// Restarts allowed within `restart_window` before giving up: a viewer
    /// that dies at once every time would otherwise spin.
    pub max_restarts: usize,
    pub restart_window: Duration,
    /// The console pings the viewer's event loop this often …
    pub ping_every: Duration,
    /// … and a viewer silent for this long is hung: killed and restarted.
    /// Generous, as a software renderer on a loaded machine can take
    /// seconds over one frame.
    pub hung_after: Duration,
}

impl SupervisorOptions {
    pub fn new(socket: PathBuf) -> SupervisorOptions {
        SupervisorOptions {
            socket,
            screenshots: None,
            connect_timeout: Duration::from_secs(30),
            max_restarts: 5,
            restart_window: Duration::from_secs(60),
            ping_every: Duration::from_secs(2),
            hung_after: Duration::from_secs(15),
        }
    }
}

/// What the console hears from the supervisor.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ViewerEvent {
    /// A viewer process connected (`restarts` before this one).
    Connected { pid: u32, restarts: u32 },
    /// A message from the viewer.
    Message(FromViewer),
    /// The viewer process ended; `restarting` unless the console asked.
    Exited { status: String, restarting: bool },
    /// Restarting stopped, with why; the console shows it.
    GaveUp { reason: String },
    /// The viewer fell behind and `frames` of the call's video were
    /// dropped before reaching it: the call is asked for a keyframe.
    VideoDropped { frames: usize },
}

/// A snapshot for the console's status line.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ViewerStatus {
    pub connected: bool,
    pub pid: Option<u32>,
    pub restarts: u32,
    pub slide: Option<String>,
    /// Annotation files shown over `slide`.
    pub annotations: Vec<String>,
    /// The file of the specialist's own annotations of `slide`, and their
    /// name.
    pub own_annotations: Option<(String, String)>,
    pub view: Option<ViewState>,
    /// The language the console asked the viewer to speak ("ja", "en").
    pub language: Option<String>,
    /// Every visible tile of `view` is drawn (the last word was
    /// `ViewComplete`, not `ViewChanged`).
    pub view_complete: bool,
    pub gave_up: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    #[error("viewer socket {path}: {source}")]
    Socket { path: PathBuf, source: IpcError },
    #[error("starting the viewer's event thread: {0}")]
    Thread(String),
}

/// The supervisor's line to the viewer: its status, the live
/// connection's outbox, the child process.
struct ViewerLine {
    status: Mutex<ViewerStatus>,
    /// The writing half of the live connection, if any: queued, never
    /// waiting on the viewer.
    outbox: Mutex<Option<Outbox>>,
    child: Mutex<Option<Child>>,
    stopping: AtomicBool,
    events: Sender<ViewerEvent>,
}

impl ViewerLine {
    fn send(&self, message: &ToViewer) {
        let queued = match self.outbox.lock().as_ref() {
            Some(outbox) => outbox.push(message),
            None => return,
        };
        if let Queued::Yes { dropped_video } = queued
            && dropped_video > 0
        {
            let _ = self.events.send(ViewerEvent::VideoDropped {
                frames: dropped_video,
            });
        }
    }
}

pub struct ViewerSupervisor {
    shared: Arc<ViewerLine>,
    thread: Option<JoinHandle<()>>,
}

impl ViewerSupervisor {
    /// Starts the viewer and keeps it running until `shutdown`.
    pub fn start(
        command: ViewerCommand,
        options: SupervisorOptions,
    ) -> Result<(ViewerSupervisor, Receiver<ViewerEvent>), SupervisorError> {
        let listener =
            Listener::bind(&options.socket).map_err(|source| SupervisorError::Socket {
                path: options.socket.clone(),
                source,
            })?;
        let (events, receiver) = channel();
        let shared = Arc::new(ViewerLine {
            status: Mutex::new(ViewerStatus::default()),
            outbox: Mutex::new(None),
            child: Mutex::new(None),
            stopping: AtomicBool::new(false),
            events,
        });
        let thread_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("viewer-supervisor".into())
            .spawn(move || supervise(&thread_shared, &listener, &command, &options))
            .ok();
        Ok((ViewerSupervisor { shared, thread }, receiver))
    }

    /// Shows `path`; remembered, so a restarted viewer shows it again.
    pub fn open_slide(&self, path: &str) {
        {
            let mut status = self.shared.status.lock();
            status.slide = Some(path.to_owned());
            status.annotations.clear();
            status.own_annotations = None;
            status.view = None;
            status.view_complete = false;
        }
        self.shared.send(&ToViewer::OpenSlide {
            path: path.to_owned(),
        });
    }

    /// Shows an annotation file over the slide; remembered with it, so a
    /// restarted viewer shows it again.
    pub fn show_annotations(&self, path: &str) {
        {
            let mut status = self.shared.status.lock();
            if !status.annotations.iter().any(|a| a == path) {
                status.annotations.push(path.to_owned());
            }
        }
        self.shared.send(&ToViewer::ShowAnnotations {
            path: path.to_owned(),
        });
    }

    /// Keeps the specialist's own annotations of the slide in `path`
    /// (`author` draws them); remembered with the slide.
    pub fn keep_own_annotations(&self, path: &str, author: &str) {
        self.shared.status.lock().own_annotations = Some((path.to_owned(), author.to_owned()));
        self.shared.send(&ToViewer::OwnAnnotations {
            path: path.to_owned(),
            author: author.to_owned(),
        });
    }

    pub fn set_view(&self, view: ViewState) {
        {
            let mut status = self.shared.status.lock();
            status.view = Some(view);
            status.view_complete = false;
        }
        self.shared.send(&ToViewer::SetView { view });
    }

    /// Passes a message through (pointer, screenshot, video); never waits
    /// for the viewer.
    /// Speak `language` ("ja", "en"); remembered, so a restarted viewer
    /// speaks it too.
    pub fn set_language(&self, language: &str) {
        self.shared.status.lock().language = Some(language.to_owned());
        self.shared.send(&ToViewer::SetLanguage {
            language: language.to_owned(),
        });
    }

    pub fn send(&self, message: &ToViewer) {
        self.shared.send(message);
    }

    pub fn status(&self) -> ViewerStatus {
        self.shared.status.lock().clone()
    }

    /// Asks the viewer to quit, waits up to `grace`, then kills it.
    pub fn shutdown(mut self, grace: Duration) {
        self.stop(grace);
    }

    fn stop(&mut self, grace: Duration) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        self.shared.send(&ToViewer::Quit);
        // The supervising thread reaps the child once its link closes; a
        // viewer that hangs instead is killed after `grace`.
        ended_within(grace, || {
            self.shared
                .child
                .lock()
                .as_mut()
                .is_none_or(|child| !matches!(child.try_wait(), Ok(None)))
        });
        if let Some(child) = self.shared.child.lock().as_mut() {
            let _ = child.kill();
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for ViewerSupervisor {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.stop(Duration::from_secs(2));
        }
    }
}

fn supervise(
    shared: &ViewerLine,
    listener: &Listener,
    command: &ViewerCommand,
    options: &SupervisorOptions,
) {
    let events = &shared.events;
    let mut recent_starts: Vec<Instant> = Vec::new();
    let mut restarts = 0u32;
    while !shared.stopping.load(Ordering::SeqCst) {
        let now = Instant::now();
        recent_starts.retain(|t| now.duration_since(*t) < options.restart_window);
        if recent_starts.len() > options.max_restarts {
            let reason = format!(
                "the viewer stopped {} times within {:?}; not restarting it",
                recent_starts.len(),
                options.restart_window
            );
            tracing::error!("{reason}");
            shared.status.lock().gave_up = Some(reason.clone());
            let _ = events.send(ViewerEvent::GaveUp { reason });
            return;
        }
        // Back off a little more with each start in the window.
        if let Some(previous) = recent_starts.len().checked_sub(1) {
            std::thread::sleep(Duration::from_millis(100 << previous.min(5)));
        }
        recent_starts.push(Instant::now());

        let status = run_once(shared, listener, command, options, restarts);
        // Dropping the outbox ends its writer, even one stuck on a viewer
        // that stopped reading.
        *shared.outbox.lock() = None;
        {
            let mut s = shared.status.lock();
            s.connected = false;
            s.pid = None;
            s.view_complete = false;
        }
        let stopping = shared.stopping.load(Ordering::SeqCst);
        tracing::warn!(restarting = !stopping, "viewer ended: {status}");
        let _ = events.send(ViewerEvent::Exited {
            status,
            restarting: !stopping,
        });
        restarts += 1;
    }
}

/// Starts one viewer process, restores the slide and view, relays its
/// messages until it goes (or hangs), and says how it ended.
fn run_once(
    shared: &ViewerLine,
    listener: &Listener,
    command: &ViewerCommand,
    options: &SupervisorOptions,
    restarts: u32,
) -> String {
    let events = &shared.events;
    let mut spawn = Command::new(&command.program);
    spawn.args(&command.args).arg("--ipc").arg(&options.socket);
    if let Some(screenshots) = &options.screenshots {
        spawn.arg("--screenshots").arg(screenshots);
    }
    let spawned = spawn.envs(command.env.iter().map(|(k, v)| (k, v))).spawn();
    let child = match spawned {
        Ok(child) => child,
        Err(e) => return format!("could not start {}: {e}", command.program.display()),
    };
    let pid = child.id();
    *shared.child.lock() = Some(child);
    let deadline = Instant::now() + options.connect_timeout;
    let alive = || {
        !shared.stopping.load(Ordering::SeqCst)
            && matches!(
                shared.child.lock().as_mut().map(|c| c.try_wait()),
                Some(Ok(None))
            )
    };
    // Only the process just started may connect; anyone else who tries
    // first is closed and the wait goes on.
    let connection = match listener.accept_until(deadline, Some(pid), alive) {
        Ok(Some(connection)) => connection,
        Ok(None) => {
            let how = reap(shared, Duration::ZERO);
            return format!("did not connect ({how})");
        }
        Err(e) => {
            let how = reap(shared, Duration::ZERO);
            return format!("accepting its connection failed: {e} ({how})");
        }
    };
    let mut reader = match connection.try_clone() {
        Ok(reader) => reader,
        Err(e) => return format!("viewer link: {e} ({})", reap(shared, Duration::ZERO)),
    };
    if let Err(why) = greeted(&mut reader, pid, deadline) {
        return format!("{why} ({})", reap(shared, Duration::ZERO));
    }
    let outbox = match Outbox::start(connection) {
        Ok(outbox) => outbox,
        Err(e) => return format!("viewer link: {e} ({})", reap(shared, Duration::ZERO)),
    };
    *shared.outbox.lock() = Some(outbox);
    let (slide, annotations, own, view, language) = {
        let mut s = shared.status.lock();
        s.connected = true;
        s.pid = Some(pid);
        s.restarts = restarts;
        (
            s.slide.clone(),
            s.annotations.clone(),
            s.own_annotations.clone(),
            s.view,
            s.language.clone(),
        )
    };
    let _ = events.send(ViewerEvent::Connected { pid, restarts });
    // Put back what the last viewer showed: the slide now, the view once
    // the slide is open (a view set before that has no slide to apply to).
    if let Some(language) = language {
        shared.send(&ToViewer::SetLanguage { language });
    }
    let mut view_to_restore = None;
    if let Some(slide) = slide {
        shared.send(&ToViewer::OpenSlide { path: slide });
        // The viewer holds them until the slide is open.
        for path in annotations {
            shared.send(&ToViewer::ShowAnnotations { path });
        }
        if let Some((path, author)) = own {
            shared.send(&ToViewer::OwnAnnotations { path, author });
        }
        view_to_restore = view;
    }
    // The reader wakes at least every `ping_every` to ping and to notice
    // a viewer that has gone quiet.
    if let Err(e) = reader.set_read_timeout(Some(options.ping_every)) {
        return format!("viewer link: {e} ({})", reap(shared, Duration::ZERO));
    }
    let mut heard_at = Instant::now();
    let mut pinged_at = Instant::now();
    let mut ping = 0u64;
    loop {
        match reader.recv::<FromViewer>() {
            Ok(message) => {
                heard_at = Instant::now();
                if matches!(message, FromViewer::Pong { .. }) {
                    continue;
                }
                match &message {
                    FromViewer::Opened { path, .. } => {
                        let current = shared.status.lock().slide.clone();
                        if current.as_deref() == Some(path.as_str())
                            && let Some(view) = view_to_restore.take()
                        {
                            shared.send(&ToViewer::SetView { view });
                        }
                    }
                    FromViewer::ViewChanged { view, .. } => {
                        let mut status = shared.status.lock();
                        status.view = Some(*view);
                        status.view_complete = false;
                    }
                    FromViewer::ViewComplete { view } => {
                        let mut status = shared.status.lock();
                        status.view = Some(*view);
                        status.view_complete = true;
                    }
                    _ => {}
                }
                let _ = events.send(ViewerEvent::Message(message));
            }
            Err(IpcError::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => {
                let grace = if shared.stopping.load(Ordering::SeqCst) {
                    Duration::from_secs(2)
                } else {
                    Duration::from_millis(500)
                };
                return format!("{e}; {}", reap(shared, grace));
            }
        }
        if shared.stopping.load(Ordering::SeqCst) {
            continue;
        }
        let failed = shared.outbox.lock().as_ref().and_then(Outbox::failed);
        if let Some(why) = failed {
            return format!(
                "hung: it stopped reading its messages ({why}); {}",
                reap(shared, Duration::ZERO)
            );
        }
        let silent = heard_at.elapsed();
        if silent >= options.hung_after {
            tracing::error!(
                pid,
                "the viewer has not answered for {silent:?}: restarting it"
            );
            return format!(
                "hung: no answer for {:.0} s; {}",
                silent.as_secs_f64(),
                reap(shared, Duration::ZERO)
            );
        }
        if pinged_at.elapsed() >= options.ping_every {
            ping += 1;
            pinged_at = Instant::now();
            shared.send(&ToViewer::Ping { seq: ping });
        }
    }
}

/// Reads the viewer's first message: a Hello from the process we started,
/// speaking our protocol. (With peer credentials the listener has checked
/// the pid already; where there are none, this is the check.)
fn greeted(reader: &mut Connection, pid: u32, deadline: Instant) -> Result<(), String> {
    let left = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(100));
    reader
        .set_read_timeout(Some(left))
        .map_err(|e| format!("viewer link: {e}"))?;
    match reader.recv::<FromViewer>() {
        Ok(FromViewer::Hello { version, pid: said })
            if said == pid && version == kh_ipc::VERSION =>
        {
            Ok(())
        }
        Ok(FromViewer::Hello { version, pid: said }) => Err(format!(
            "refused: its greeting names process {said} and protocol {version}, \
             expected {pid} and {}",
            kh_ipc::VERSION
        )),
        Ok(other) => Err(format!("refused: it spoke before greeting ({other:?})")),
        Err(e) => Err(format!("no greeting: {e}")),
    }
}

/// Waits up to `grace` for the child to end, kills it if it has not, and
/// says how it ended.
fn reap(shared: &ViewerLine, grace: Duration) -> String {
    let Some(mut child) = shared.child.lock().take() else {
        return "no process".into();
    };
    end_child(&mut child, grace)
}

/// Gives a child told to quit up to `grace` to end, kills it if it has not,
/// and says how it ended.
pub fn end_child(child: &mut Child, grace: Duration) -> String {
    ended_within(grace, || !matches!(child.try_wait(), Ok(None)));
    match child.try_wait() {
        Ok(Some(status)) => format!("exit {status}"),
        Ok(None) => {
            let _ = child.kill();
            match child.wait() {
                Ok(status) => format!("killed after hanging ({status})"),
                Err(e) => format!("killed after hanging ({e})"),
            }
        }
        Err(e) => format!("unknown ({e})"),
    }
}

/// Polls `ended` until it says yes or `grace` has passed (a child process
/// offers no wait with a timeout).
fn ended_within(grace: Duration, mut ended: impl FnMut() -> bool) {
    let deadline = Instant::now() + grace;
    while !ended() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_viewer_is_started_with_the_settings_caches_and_backend() {
        let mut settings = kh_settings::Settings::default();
        settings.cache.tile_cache_mib = 2048;
        settings.cache.gpu_budget_mib = 768;
        settings.gpu.backend = kh_settings::GpuBackend::Vulkan;
        let command = ViewerCommand::from_settings("kh".into(), &settings);
        let args: Vec<String> = command
            .args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args,
            [
                "view",
                "--tile-cache-mib",
                "2048",
                "--budget-mib",
                "768",
                "--max-picture",
                "8192x8192",
                "--language",
                "system"
            ]
        );
        assert_eq!(
            command.env,
            [(OsString::from("WGPU_BACKEND"), OsString::from("vulkan"))]
        );
        // 0 leaves the GPU budget to the adapter; auto leaves the backend.
        let command = ViewerCommand::from_settings("kh".into(), &kh_settings::Settings::default());
        assert_eq!(command.args.len(), 7);
        assert!(command.env.is_empty());
    }
}
