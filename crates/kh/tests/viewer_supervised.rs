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
        &["search", "--sync", "--class", "kakehashi-viewer"],
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
    let dir = private_tmp();
    let x = Xvfb::start();
    let slide = fixture("real/cmu_small_region.svs");
    let (supervisor, events) = supervised_viewer(&x, dir.path(), |_| {});
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
    let dir = private_tmp();
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

/// A temporary folder only we can enter, as the viewer's socket needs.
fn private_tmp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .tempdir()
        .expect("a private tmp")
}

/// Starts a supervised viewer in `x` (its socket in `dir`), with the
/// options changed by `adjust`; returns the supervisor and its events.
fn supervised_viewer(
    x: &Xvfb,
    dir: &std::path::Path,
    adjust: impl FnOnce(&mut SupervisorOptions),
) -> (ViewerSupervisor, Receiver<ViewerEvent>) {
    let mut command = ViewerCommand::kh_view(KH.into());
    command
        .args
        .extend(["--size".into(), format!("{WIDTH}x{HEIGHT}").into()]);
    command.env = x11::display_env(x);
    command
        .env
        .push(("XDG_RUNTIME_DIR".into(), dir.as_os_str().to_owned()));
    let mut options = SupervisorOptions::new(dir.join("viewer.sock"));
    adjust(&mut options);
    ViewerSupervisor::start(command, options).expect("start")
}

fn connected_pid(events: &Receiver<ViewerEvent>) -> (u32, u32) {
    match next_event(events, "a connection", |e| {
        matches!(e, ViewerEvent::Connected { .. })
    }) {
        ViewerEvent::Connected { pid, restarts } => (pid, restarts),
        _ => unreachable!(),
    }
}

/// Another local process that reaches the socket first is shut out; the
/// viewer the console started still connects.
#[test]
fn a_foreign_client_on_the_viewer_socket_is_refused_and_the_viewer_connects() {
    use std::io::{Read, Write};
    let dir = private_tmp();
    let socket = dir.path().join("viewer.sock");
    let x = Xvfb::start();
    let (supervisor, events) = supervised_viewer(&x, dir.path(), |_| {});
    // The squatter connects as soon as the socket exists: before the
    // viewer (which needs hundreds of milliseconds to start).
    let deadline = Instant::now() + WAIT;
    let mut squatter = loop {
        match std::os::unix::net::UnixStream::connect(&socket) {
            Ok(stream) => break stream,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(2)),
            Err(e) => panic!("the socket never appeared: {e}"),
        }
    };
    // It pretends to be the viewer.
    let hello = kh_ipc::encode(&FromViewer::Hello {
        version: kh_ipc::VERSION,
        pid: std::process::id(),
    })
    .expect("encode");
    let _ = squatter.write_all(&hello);
    let (pid, restarts) = connected_pid(&events);
    assert_ne!(pid, std::process::id());
    assert_eq!(restarts, 0);
    assert_eq!(supervisor.status().pid, Some(pid));
    // The squatter was closed without a word.
    squatter
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut heard = Vec::new();
    let _ = squatter.read_to_end(&mut heard);
    assert!(heard.is_empty(), "the squatter was sent {heard:?}");
    supervisor.shutdown(Duration::from_secs(10));
}

/// A viewer that stops (SIGSTOP: alive, but answering nothing) neither
/// blocks the console — video keeps being handed over without waiting —
/// nor stays: it is found hung, killed and started again, slide and all.
#[test]
fn a_stopped_viewer_is_found_hung_and_restarted_without_blocking_the_console() {
    let dir = private_tmp();
    let x = Xvfb::start();
    let slide = fixture("real/cmu_small_region.svs");
    let (supervisor, events) = supervised_viewer(&x, dir.path(), |o| {
        o.ping_every = Duration::from_millis(500);
        o.hung_after = Duration::from_secs(6);
    });
    let (first, _) = connected_pid(&events);
    supervisor.open_slide(&slide.display().to_string());
    next_event(&events, "the slide open", |e| {
        matches!(e, ViewerEvent::Message(FromViewer::Opened { .. }))
    });
    let stopped = std::process::Command::new("kill")
        .args(["-STOP", &first.to_string()])
        .status()
        .expect("kill");
    assert!(stopped.success());
    // The call's receive path goes on handing the viewer its video: 64 MiB
    // of frames to a process that reads nothing. Each hand-over returns
    // (the thread finishing at all is the check; a minute is a hang
    // detector), and older frames are dropped rather than queued forever.
    let supervisor = std::sync::Arc::new(supervisor);
    let sender = supervisor.clone();
    let (done, handed_over) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let frame = kh_ipc::ToViewer::RemoteVideo {
            codec: "video/VP8".into(),
            data: vec![0x9d; 1 << 20],
        };
        for _ in 0..64 {
            sender.send(&frame);
        }
        let _ = done.send(());
    });
    handed_over
        .recv_timeout(Duration::from_secs(60))
        .expect("handing video to a stopped viewer blocked");
    next_event(&events, "dropped video", |e| {
        matches!(e, ViewerEvent::VideoDropped { .. })
    });
    let exited = next_event(&events, "the exit", |e| {
        matches!(e, ViewerEvent::Exited { .. })
    });
    assert!(
        matches!(&exited, ViewerEvent::Exited { restarting: true, status } if status.contains("hung")),
        "{exited:?}"
    );
    let (second, restarts) = connected_pid(&events);
    assert_ne!(second, first);
    assert_eq!(restarts, 1);
    assert!(
        !std::path::Path::new(&format!("/proc/{first}")).exists(),
        "the hung viewer is gone"
    );
    // The new viewer shows the slide again.
    next_event(&events, "the slide open again", |e| {
        matches!(e, ViewerEvent::Message(FromViewer::Opened { .. }))
    });
    let Ok(supervisor) = std::sync::Arc::try_unwrap(supervisor) else {
        panic!("the sender thread still holds the supervisor");
    };
    supervisor.shutdown(Duration::from_secs(10));
}
