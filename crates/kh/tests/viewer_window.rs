//! The viewer in a real X window (Xvfb), driven like a user (xdotool: drag,
//! wheel, keys) and like the console (the IPC client). After each action the
//! view the viewer reports must be the expected one, the window's pixels
//! (ImageMagick `import`) must match `kh render` of that view, and the
//! process must still be running. A slide that fails part-way shows its
//! errors and stays usable.

mod x11;

use kh_ipc::{FromViewer, Listener, ToViewer, ViewState};
use std::path::Path;
use std::process::Child;
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};
use x11::{HEIGHT, KH, WIDTH, Xvfb, assert_window_shows, fixture, read_png};

const WAIT: Duration = Duration::from_secs(60);

struct Viewer {
    child: Child,
    connection: kh_ipc::Connection,
    messages: Receiver<FromViewer>,
    window: String,
    /// A complete view seen while idling, not yet returned by `complete`.
    settled: Option<ViewState>,
}

impl Viewer {
    fn start(x: &Xvfb, slide: &Path, dir: &Path) -> Viewer {
        let run = dir.join("run");
        kh_ipc::ensure_private_dir(&run).expect("a private socket folder");
        let socket = run.join("viewer.sock");
        let listener = Listener::bind(&socket).expect("listen");
        let child = x
            .command(KH)
            .arg("view")
            .arg(slide)
            .arg("--ipc")
            .arg(&socket)
            .arg("--size")
            .arg(format!("{WIDTH}x{HEIGHT}"))
            .arg("--screenshots")
            .arg(dir)
            .env("XDG_RUNTIME_DIR", dir)
            .spawn()
            .expect("kh view");
        let (send, accepted) = channel();
        let pid = child.id();
        std::thread::spawn(move || {
            let _ = send.send(listener.accept(Some(pid)));
        });
        let connection = accepted
            .recv_timeout(WAIT)
            .expect("the viewer connects")
            .expect("accept");
        let messages = x11::messages_from(&connection);
        let window = x11::viewer_window(x);
        Viewer {
            child,
            connection,
            messages,
            window,
            settled: None,
        }
    }

    /// Messages until one satisfies `want`.
    fn wait_for(&mut self, what: &str, mut want: impl FnMut(&FromViewer) -> bool) -> FromViewer {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.messages.recv_timeout(left) {
                Ok(m) => {
                    if let FromViewer::Error { message } = &m {
                        eprintln!("viewer reported: {message}");
                    }
                    if want(&m) {
                        return m;
                    }
                }
                Err(_) => panic!("no {what} from the viewer within {WAIT:?}"),
            }
        }
    }

    /// The next complete view: one seen while idling, else the next to
    /// arrive.
    fn complete(&mut self) -> ViewState {
        if let Some(view) = self.settled.take() {
            return view;
        }
        let m = self.wait_for("complete view", |m| {
            matches!(m, FromViewer::ViewComplete { .. })
        });
        let FromViewer::ViewComplete { view } = m else {
            unreachable!()
        };
        view
    }

    /// The view once the viewer has gone quiet. One input can complete more
    /// than one view (a wheel click that arrives both as a core button and
    /// as an XInput2 scroll is two notches, each animated and completed);
    /// taking the first would leave the second queued for the next step.
    fn settle(&mut self) -> ViewState {
        let mut latest = self.complete();
        loop {
            match self.messages.recv_timeout(Duration::from_millis(700)) {
                Ok(FromViewer::ViewComplete { view }) => latest = view,
                Ok(FromViewer::ViewChanged { .. }) => latest = self.complete(),
                Ok(_) => {}
                Err(_) => return latest,
            }
        }
    }

    /// Let `duration` pass while reading messages, keeping the latest
    /// complete view (a drag completes views while the pointer holds still).
    fn idle(&mut self, duration: Duration) {
        let end = Instant::now() + duration;
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            match self.messages.recv_timeout(left) {
                Ok(FromViewer::ViewComplete { view }) => self.settled = Some(view),
                Ok(FromViewer::ViewChanged { .. }) => self.settled = None,
                Ok(_) => {}
                Err(_) => break,
            }
        }
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Still running, then asked to quit over IPC: exits, and with success.
    fn quit(&mut self) {
        assert!(self.alive(), "the viewer is still running");
        self.connection.send(&ToViewer::Quit).expect("send");
        let deadline = Instant::now() + WAIT;
        while self.alive() {
            assert!(Instant::now() < deadline, "the viewer did not quit");
            self.idle(Duration::from_millis(50));
        }
        let status = self.child.wait().expect("status");
        assert!(status.success(), "viewer exit: {status}");
    }
}

impl Drop for Viewer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn viewer_window_follows_mouse_keys_and_ipc() {
    // Screenshots stay in target/tmp for a look after a failure.
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("viewer_window");
    std::fs::create_dir_all(&shots).expect("screenshot folder");
    let dir = tempfile::tempdir().expect("tempdir");
    let slide = fixture("real/cmu_small_region.svs");
    let x = Xvfb::start();
    let mut viewer = Viewer::start(&x, &slide, dir.path());
    viewer.wait_for("hello", |m| matches!(m, FromViewer::Hello { .. }));
    viewer.wait_for("opened", |m| {
        matches!(
            m,
            FromViewer::Opened {
                width: 2220,
                height: 2967,
                ..
            }
        )
    });
    let fit = viewer.complete();
    assert_window_shows(&x, &viewer.window, &slide, fit, &shots, "fit");

    // Set a detailed view over IPC.
    let detailed = ViewState {
        center_slide: [1100.0, 1500.0],
        zoom: 1.5,
        rotation_degrees: 0,
    };
    viewer
        .connection
        .send(&ToViewer::SetView { view: detailed })
        .expect("send");
    let v = viewer.complete();
    assert_eq!(v, detailed);
    assert_window_shows(&x, &viewer.window, &slide, v, &shots, "set_view");

    // A slow drag moves the slide with the pointer, exactly.
    let w = viewer.window.clone();
    x.run(
        "xdotool",
        &["mousemove", "--window", &w, "400", "300", "mousedown", "1"],
    );
    for step in 1..=5 {
        let to_x = (400 - step * 20).to_string();
        let to_y = (300 - step * 10).to_string();
        x.run("xdotool", &["mousemove", "--window", &w, &to_x, &to_y]);
    }
    // The slide follows the pointer exactly; once it has caught up, hold
    // still before letting go, so the drag is not a throw.
    let expected = [
        detailed.center_slide[0] + 100.0 * 1.5,
        detailed.center_slide[1] + 50.0 * 1.5,
    ];
    viewer.wait_for("the view under the dragged pointer", |m| match m {
        FromViewer::ViewChanged { view, .. } | FromViewer::ViewComplete { view } => {
            (view.center_slide[0] - expected[0]).abs() < 0.5
                && (view.center_slide[1] - expected[1]).abs() < 0.5
        }
        _ => false,
    });
    viewer.idle(Duration::from_millis(300));
    x.run("xdotool", &["mouseup", "1"]);
    let v = viewer.complete();
    assert!(
        (v.center_slide[0] - expected[0]).abs() < 0.5
            && (v.center_slide[1] - expected[1]).abs() < 0.5,
        "drag: centre {:?}, expected {expected:?}",
        v.center_slide
    );
    assert_window_shows(&x, &viewer.window, &slide, v, &shots, "drag");

    // One wheel notch up zooms in towards the cursor: the slide point under
    // it stays put.
    let before = v;
    x.run(
        "xdotool",
        &["mousemove", "--window", &w, "200", "150", "click", "4"],
    );
    let v = viewer.settle();
    // XTest's wheel click may arrive as both a core button and an XInput2
    // scroll (a real wheel's are marked as one): whole notches either way.
    let notches = (v.zoom / before.zoom).ln() / 0.8f64.ln();
    assert!(
        notches >= 0.999 && (notches - notches.round()).abs() < 1e-6,
        "wheel: zoom {} from {} is not whole notches of 0.8",
        v.zoom,
        before.zoom
    );
    let anchor = |s: &ViewState| {
        [
            s.center_slide[0] + (200.0 - f64::from(WIDTH) / 2.0) * s.zoom,
            s.center_slide[1] + (150.0 - f64::from(HEIGHT) / 2.0) * s.zoom,
        ]
    };
    let (a, b) = (anchor(&before), anchor(&v));
    assert!(
        (a[0] - b[0]).abs() < 1e-6 && (a[1] - b[1]).abs() < 1e-6,
        "wheel anchor moved: {a:?} -> {b:?}"
    );
    assert_window_shows(&x, &viewer.window, &slide, v, &shots, "wheel");

    // Keys: right arrow pans an eighth of the window; minus zooms out 2x; R
    // rotates.
    let before = v;
    x.run("xdotool", &["windowfocus", "--sync", &w, "key", "Right"]);
    let v = viewer.settle();
    let expected_x = before.center_slide[0] + f64::from(WIDTH) / 8.0 * before.zoom;
    assert!(
        (v.center_slide[0] - expected_x).abs() < 1e-6,
        "right arrow: centre {:?} from {:?}, expected x {expected_x}",
        v.center_slide,
        before.center_slide
    );
    x.run("xdotool", &["key", "minus"]);
    let v = viewer.settle();
    assert!(
        (v.zoom - before.zoom * 2.0).abs() < 1e-9,
        "minus: zoom {}",
        v.zoom
    );
    x.run("xdotool", &["key", "r"]);
    let v = viewer.settle();
    assert_eq!(v.rotation_degrees, 90);
    assert_window_shows(&x, &viewer.window, &slide, v, &shots, "keys");

    // A screenshot over IPC: a PNG of the view at the window's size, in
    // the screenshot folder the viewer was started with.
    let shot = dir.path().join("screenshot.png");
    viewer
        .connection
        .send(&ToViewer::Screenshot {
            name: "screenshot.png".into(),
        })
        .expect("send");
    viewer.wait_for("screenshot", |m| {
        matches!(m, FromViewer::ScreenshotSaved { .. })
    });
    let (sw, sh, _) = read_png(&shot);
    assert_eq!((sw, sh), (WIDTH, HEIGHT));
    // A request to write anywhere else is refused, and nothing is written;
    // nor is the screenshot already there overwritten.
    let outside = dir
        .path()
        .parent()
        .expect("a parent")
        .join("kh-escaped.png");
    for name in [outside.display().to_string(), "../kh-escaped.png".into()] {
        viewer
            .connection
            .send(&ToViewer::Screenshot { name })
            .expect("send");
        viewer.wait_for(
            "the refusal",
            |m| matches!(m, FromViewer::Error { message } if message.contains("refused")),
        );
    }
    assert!(!outside.exists());
    let before = std::fs::read(&shot).expect("the screenshot");
    x.run("xdotool", &["key", "r"]);
    viewer.settle();
    viewer
        .connection
        .send(&ToViewer::Screenshot {
            name: "screenshot.png".into(),
        })
        .expect("send");
    viewer.wait_for(
        "the refusal to overwrite",
        |m| matches!(m, FromViewer::Error { message } if message.contains("screenshot")),
    );
    assert_eq!(std::fs::read(&shot).expect("the screenshot"), before);

    viewer.quit();
}

/// A slide whose lower half of full-resolution tiles is damaged: the viewer
/// reports the failing tiles (over IPC, as on screen), shows the coarser
/// level where they fail, draws the intact part exactly, and keeps running.
#[test]
fn viewer_survives_a_slide_that_fails_part_way() {
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("viewer_damaged");
    std::fs::create_dir_all(&shots).expect("screenshot folder");
    let dir = tempfile::tempdir().expect("tempdir");
    let intact = fixture("vips/jpeg_q85_t256.tiff");
    let slide = kh_slide::Slide::open(&intact).expect("fixture opens");
    let level = slide.levels()[0];
    let first_bad = level.tiles_down() / 2 * level.tiles_across();
    let damaged = dir.path().join("damaged.tiff");
    std::fs::write(
        &damaged,
        kh_testkit::damage_tiles_from(
            std::fs::read(&intact).expect("fixture"),
            0,
            first_bad as usize,
        ),
    )
    .expect("write the damaged copy");
    let (w, h) = slide.dimensions();

    let x = Xvfb::start();
    let mut viewer = Viewer::start(&x, &damaged, dir.path());
    viewer.wait_for("opened", |m| matches!(m, FromViewer::Opened { .. }));
    viewer.complete();

    // Full resolution over the damaged half.
    let bottom = ViewState {
        center_slide: [w as f64 / 2.0, h as f64 - 1024.0],
        zoom: 1.0,
        rotation_degrees: 0,
    };
    viewer
        .connection
        .send(&ToViewer::SetView { view: bottom })
        .expect("send");
    viewer.wait_for("a tile error", |m| match m {
        FromViewer::Error { message } => {
            message.contains("damaged.tiff") && message.contains("level 0 tile")
        }
        _ => false,
    });
    let v = viewer.complete();
    assert_eq!(v, bottom);
    // kh render of the same damaged file draws the same stand-ins.
    assert_window_shows(&x, &viewer.window, &damaged, v, &shots, "damaged");
    // The failures are on screen: the status line's red summary, bottom
    // left (the slide there is pale tissue and background, no red text).
    let (_, _, window) = read_png(&shots.join("damaged-window.png"));
    let red = (HEIGHT - 40..HEIGHT)
        .flat_map(|y| (0..WIDTH / 2).map(move |x| ((y * WIDTH + x) * 3) as usize))
        .filter(|&i| window[i] > 150 && window[i + 1] < 90 && window[i + 2] < 90)
        .count();
    assert!(
        red > 100,
        "no error line on screen ({red} red pixels at the bottom left)"
    );
    assert!(viewer.alive(), "the viewer survives failing tiles");

    // The intact half at full resolution: exactly the undamaged slide.
    let top = ViewState {
        center_slide: [w as f64 / 2.0, 1024.0],
        zoom: 1.0,
        rotation_degrees: 0,
    };
    viewer
        .connection
        .send(&ToViewer::SetView { view: top })
        .expect("send");
    let v = viewer.complete();
    assert_eq!(v, top);
    assert_window_shows(&x, &viewer.window, &intact, v, &shots, "intact");
    viewer.quit();
}
