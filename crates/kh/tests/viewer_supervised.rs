//! The console's viewer supervisor with the real viewer in a real X window:
//! killed with SIGKILL, the viewer comes back by itself with the same slide
//! and view (the window shows what `kh render` draws for that view); a
//! viewer that cannot start is given up on with a reason, not spun forever.

mod x11;

use kh_console::{SupervisorOptions, ViewerCommand, ViewerEvent, ViewerSupervisor};
use kh_ipc::{FromViewer, ViewState};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};
use x11::{HEIGHT, KH, WIDTH, Xvfb, assert_window_shows, fixture};

const WAIT: Duration = Duration::from_secs(60);

fn next_event(
    events: &Receiver<ViewerEvent>,
    what: &str,
    mut want: impl FnMut(&ViewerEvent) -> bool,
) -> ViewerEvent {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match events.recv_timeout(left) {
            Ok(event) if want(&event) => return event,
            Ok(_) => {}
            Err(_) => panic!("no {what} within {WAIT:?}"),
        }
    }
}

fn complete_view(events: &Receiver<ViewerEvent>, view: ViewState) {
    next_event(
        events,
        "the view complete",
        |e| matches!(e, ViewerEvent::Message(FromViewer::ViewComplete { view: v }) if *v == view),
    );
}

fn window_of(x: &Xvfb) -> String {
    x.run(
        "xdotool",
        &["search", "--sync", "--name", "Kakehashi viewer"],
    )
    .lines()
    .next()
    .expect("a window")
    .to_string()
}

#[test]
fn a_killed_viewer_comes_back_with_its_slide_and_view() {
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("viewer_supervised");
    std::fs::create_dir_all(&shots).expect("screenshot folder");
    let dir = tempfile::tempdir().expect("tmp");
    let x = Xvfb::start();
    let slide = fixture("real/cmu_small_region.svs");
    let mut command = ViewerCommand::kh_view(KH.into());
    command
        .args
        .extend(["--size".into(), format!("{WIDTH}x{HEIGHT}").into()]);
    command.env = x11::display_env(&x);
    command
        .env
        .push(("XDG_RUNTIME_DIR".into(), dir.path().as_os_str().to_owned()));
    let (supervisor, events) = ViewerSupervisor::start(
        command,
        SupervisorOptions::new(dir.path().join("viewer.sock")),
    )
    .expect("start");
    let first_pid = match next_event(&events, "a connection", |e| {
        matches!(e, ViewerEvent::Connected { .. })
    }) {
        ViewerEvent::Connected { pid, restarts } => {
            assert_eq!(restarts, 0);
            pid
        }
        _ => unreachable!(),
    };
    supervisor.open_slide(&slide.display().to_string());
    next_event(&events, "the slide open", |e| {
        matches!(e, ViewerEvent::Message(FromViewer::Opened { .. }))
    });
    let view = ViewState {
        center_slide: [900.0, 1700.0],
        zoom: 1.25,
        rotation_degrees: 90,
    };
    supervisor.set_view(view);
    complete_view(&events, view);
    assert_window_shows(&x, &window_of(&x), &slide, view, &shots, "before");

    // A GPU driver crash, as the console sees it.
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &first_pid.to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let exited = next_event(&events, "the exit", |e| {
        matches!(e, ViewerEvent::Exited { .. })
    });
    assert!(
        matches!(&exited, ViewerEvent::Exited { restarting: true, status } if status.contains("signal")),
        "{exited:?}"
    );
    let second_pid = match next_event(&events, "a new viewer", |e| {
        matches!(e, ViewerEvent::Connected { .. })
    }) {
        ViewerEvent::Connected { pid, restarts } => {
            assert_eq!(restarts, 1);
            pid
        }
        _ => unreachable!(),
    };
    assert_ne!(second_pid, first_pid);
    // Same slide, same view, drawn: as if nothing happened.
    complete_view(&events, view);
    let status = supervisor.status();
    assert_eq!(
        status.slide.as_deref(),
        Some(slide.display().to_string().as_str())
    );
    assert_eq!(status.view, Some(view));
    assert_eq!((status.connected, status.restarts), (true, 1));
    assert_window_shows(&x, &window_of(&x), &slide, view, &shots, "after");

    // Asked to quit, the viewer goes and is not restarted.
    supervisor.shutdown(Duration::from_secs(10));
    let exited = next_event(&events, "the exit", |e| {
        matches!(e, ViewerEvent::Exited { .. })
    });
    assert!(
        matches!(
            exited,
            ViewerEvent::Exited {
                restarting: false,
                ..
            }
        ),
        "{exited:?}"
    );
    assert!(
        !std::path::Path::new(&format!("/proc/{second_pid}")).exists(),
        "the viewer process is gone"
    );
}

#[test]
fn a_viewer_that_cannot_start_is_given_up_on_with_a_reason() {
    let dir = tempfile::tempdir().expect("tmp");
    // `kh view` with no display: it exits at once, every time.
    let mut command = ViewerCommand::kh_view(KH.into());
    command.env = vec![
        ("DISPLAY".into(), ":99999".into()),
        ("WAYLAND_DISPLAY".into(), "".into()),
    ];
    let mut options = SupervisorOptions::new(dir.path().join("viewer.sock"));
    options.max_restarts = 2;
    let (supervisor, events) = ViewerSupervisor::start(command, options).expect("start");
    let gave_up = next_event(&events, "giving up", |e| {
        matches!(e, ViewerEvent::GaveUp { .. })
    });
    let ViewerEvent::GaveUp { reason } = gave_up else {
        unreachable!()
    };
    assert!(reason.contains("stopped 3 times"), "{reason}");
    assert_eq!(supervisor.status().gave_up, Some(reason));
    supervisor.shutdown(Duration::from_secs(1));
}
