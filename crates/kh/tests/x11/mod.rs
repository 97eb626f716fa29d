//! What the window tests share: the X server and window check from
//! kh-testkit, with this package's `kh` binary and window size.
// Each test file uses its own subset.
#![allow(dead_code, unused_imports)]

use kh_ipc::ViewState;
use std::path::{Path, PathBuf};

pub use kh_testkit::x11::{Xvfb, display_env, read_png};

pub const KH: &str = env!("CARGO_BIN_EXE_kh");
pub const WIDTH: u32 = 800;
pub const HEIGHT: u32 = 600;

pub fn fixture(name: &str) -> PathBuf {
    let path = kh_testkit::fixtures_dir().join(name);
    assert!(path.exists(), "missing fixture {}", path.display());
    path
}

pub fn assert_window_shows(
    x: &Xvfb,
    window: &str,
    slide: &Path,
    view: ViewState,
    dir: &Path,
    step: &str,
) {
    kh_testkit::x11::assert_window_shows(x, Path::new(KH), window, slide, view, dir, step);
}

/// The viewer's messages from `connection`, read on a thread of their own.
pub fn messages_from(
    connection: &kh_ipc::Connection,
) -> std::sync::mpsc::Receiver<kh_ipc::FromViewer> {
    let mut reader = connection.try_clone().expect("clone");
    let (send, messages) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        while let Ok(m) = reader.recv::<kh_ipc::FromViewer>() {
            if send.send(m).is_err() {
                return;
            }
        }
    });
    messages
}

/// How long a window test waits for the viewer's next word.
pub const WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// The first message from the viewer that `want` accepts (the ones before
/// it dropped), panicking with `what` after [`WAIT`].
pub fn wait_for(
    messages: &std::sync::mpsc::Receiver<kh_ipc::FromViewer>,
    what: &str,
    want: impl Fn(&kh_ipc::FromViewer) -> bool,
) -> kh_ipc::FromViewer {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match messages.recv_timeout(left) {
            Ok(m) if want(&m) => return m,
            Ok(_) => {}
            Err(_) => panic!("no {what} from the viewer within {WAIT:?}"),
        }
    }
}

/// The viewer's window (by its class: its title is in the reader's language), waiting for it.
pub fn viewer_window(x: &Xvfb) -> String {
    x.run(
        "xdotool",
        &["search", "--sync", "--class", "kakehashi-viewer"],
    )
    .lines()
    .next()
    .expect("a window")
    .to_owned()
}

/// `kh view SLIDE` in `x`, connected to this test as its console; its
/// caches kept in `dir`.
pub struct Viewer {
    pub child: std::process::Child,
    pub connection: kh_ipc::Connection,
    pub messages: std::sync::mpsc::Receiver<kh_ipc::FromViewer>,
    pub window: String,
}

impl Viewer {
    pub fn start(x: &Xvfb, slide: &Path, dir: &Path) -> Viewer {
        Viewer::start_with(x, slide, dir, &[], &[])
    }

    /// [`Viewer::start`] with more arguments for `kh view`, and more
    /// environment.
    pub fn start_with(
        x: &Xvfb,
        slide: &Path,
        dir: &Path,
        extra: &[&std::ffi::OsStr],
        env: &[(&str, &str)],
    ) -> Viewer {
        Viewer::start_in(x, slide, dir, extra, env, Path::new("."))
    }

    /// As `start_with`, the viewer's working directory `cwd` (where
    /// Ctrl+O's dialog opens).
    pub fn start_in(
        x: &Xvfb,
        slide: &Path,
        dir: &Path,
        extra: &[&std::ffi::OsStr],
        env: &[(&str, &str)],
        cwd: &Path,
    ) -> Viewer {
        let run = dir.join("run");
        kh_ipc::ensure_private_dir(&run).unwrap();
        let socket = run.join("viewer.sock");
        let listener = kh_ipc::Listener::bind(&socket).unwrap();
        let child = x
            .command(KH)
            .arg("view")
            .arg(slide)
            .arg("--ipc")
            .arg(&socket)
            .arg("--size")
            .arg(format!("{WIDTH}x{HEIGHT}"))
            .args(extra)
            .envs(env.iter().copied())
            .env("XDG_RUNTIME_DIR", dir)
            .env("XDG_CACHE_HOME", dir.join("cache"))
            .current_dir(cwd)
            .spawn()
            .unwrap();
        let connection = listener.accept(Some(child.id())).unwrap();
        let messages = messages_from(&connection);
        let window = viewer_window(x);
        Viewer {
            child,
            connection,
            messages,
            window,
        }
    }
}

/// Asked to quit, the viewer exits (checked every 50 ms up to WAIT).
pub fn quit(connection: &mut kh_ipc::Connection, child: &mut std::process::Child) {
    connection.send(&kh_ipc::ToViewer::Quit).unwrap();
    let deadline = std::time::Instant::now() + WAIT;
    while child.try_wait().unwrap().is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "the viewer did not quit"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// The pointer to window pixel (`px`, `py`) of `window`.
pub fn mouse_to(x: &Xvfb, window: &str, px: u32, py: u32) {
    x.run(
        "xdotool",
        &[
            "mousemove",
            "--window",
            window,
            &px.to_string(),
            &py.to_string(),
        ],
    );
}

/// A left click at window pixel (`px`, `py`).
pub fn click(x: &Xvfb, window: &str, px: u32, py: u32) {
    mouse_to(x, window, px, py);
    x.run("xdotool", &["click", "1"]);
}

/// A drag with the left button through window pixels `path`.
pub fn drag(x: &Xvfb, window: &str, path: &[(u32, u32)]) {
    mouse_to(x, window, path[0].0, path[0].1);
    x.run("xdotool", &["mousedown", "1"]);
    for &(px, py) in &path[1..] {
        mouse_to(x, window, px, py);
    }
    x.run("xdotool", &["mouseup", "1"]);
}

/// Waits (up to [`WAIT`]) until window pixel (`px`, `py`) is as `want`
/// says: for what the window shows without telling (a panel drawn).
pub fn wait_for_pixel(
    x: &Xvfb,
    window: &str,
    dir: &Path,
    (px, py): (u32, u32),
    what: &str,
    want: impl Fn([u8; 3]) -> bool,
) {
    let deadline = std::time::Instant::now() + WAIT;
    let path = dir.join("pixel-probe.png");
    loop {
        let (w, _, rgb) = kh_testkit::x11::screenshot(x, window, &path);
        let i = ((py * w + px) * 3) as usize;
        if want([rgb[i], rgb[i + 1], rgb[i + 2]]) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: not shown within {WAIT:?} (see {})",
            path.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}
