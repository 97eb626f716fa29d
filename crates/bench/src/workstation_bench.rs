//! `kh-bench workstation`: the workstation's speed targets, each against
//! its reference measured in the same run. Needs a display (the xtask runs
//! it under Xvfb when there is none).
//!
//! 1. Opening a case's slide to its first full-resolution frame, against
//!    the standalone viewer opening the same file. Both start cold (no
//!    viewer process running) and end at the viewer's `ViewComplete`:
//!    - standalone: `kh view FILE` launched;
//!    - console: the case's slide looked up and the open audited in a real
//!      case database (the console's `CaseDesk`), the viewer started by the
//!      console's `ViewerSupervisor`, and the slide opened over IPC.
//!
//!    Rounds alternate so machine noise hits both alike. The console's
//!    warm figure (viewer already running, as after the application has
//!    started) is printed beside it.
//! 2. With `--app`: the application's start to an interactive console (the
//!    page calls back once its first worklist is on screen), against the
//!    1.5 s target.

use anyhow::{Context, Result, bail};
use kh_console::{CaseDesk, SupervisorOptions, ViewerCommand, ViewerEvent, ViewerSupervisor};
use kh_ipc::{FromViewer, Listener, ToViewer};
use kh_settings::{LoadedSettings, SettingsPaths};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use crate::samples::median;

/// The target: the console's open at most this times the viewer's.
const OPEN_RATIO_TARGET: f64 = 1.2;
/// The target for start to interactive console.
const START_TARGET_MS: f64 = 1500.0;
/// Longest wait for one open (lavapipe on a loaded machine is slow).
const OPEN_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(clap::Args)]
pub struct WorkstationBenchArgs {
    /// The slide to open.
    file: PathBuf,
    /// Rounds of each measurement.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// The `kakehashi` application to time from start to interactive.
    #[arg(long)]
    app: Option<PathBuf>,
    /// Write the results here as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
}

pub fn run(args: WorkstationBenchArgs) -> Result<()> {
    if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
        bail!("the workstation bench opens windows: run it with a display (or under Xvfb)");
    }
    let kh = crate::kh_beside()?;
    let file =
        std::fs::canonicalize(&args.file).with_context(|| format!("{}", args.file.display()))?;
    // Private, as the console's socket folder must be.
    let work = tempfile::Builder::new()
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .tempdir()?;
    let desk = bench_desk(work.path())?;
    desk.ensure_demo_case(&file)?;
    let (case, _) = desk
        .demo_case_slide()?
        .context("the bench case has no slide")?;
    let attachment = desk
        .open_case(case)?
        .attachments
        .first()
        .map(|a| a.id)
        .context("the bench case has no attachment")?;

    let (mut standalone, mut console, mut warm) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..args.rounds {
        let socket = work.path().join(format!("standalone-{round}.sock"));
        standalone.push(standalone_open_ms(&kh, &file, &socket)?);
        let socket = work.path().join(format!("console-{round}.sock"));
        let (cold, warm_ms) = console_open_ms(&kh, &desk, case, attachment, &socket)?;
        console.push(cold);
        warm.push(warm_ms);
        eprintln!(
            "round {}: standalone {:.0} ms, console {:.0} ms (warm viewer {:.0} ms)",
            round + 1,
            standalone[round],
            console[round],
            warm[round]
        );
    }
    let middle = |samples: &[f64]| median(&mut samples.to_vec()).context("no rounds");
    let (standalone_ms, console_ms, warm_ms) =
        (middle(&standalone)?, middle(&console)?, middle(&warm)?);
    let ratio = console_ms / standalone_ms;
    println!(
        "open a case's slide to its first full-resolution frame: console {console_ms:.0} ms vs standalone viewer {standalone_ms:.0} ms = {ratio:.2}x (target <= {OPEN_RATIO_TARGET}x) {}",
        verdict(ratio <= OPEN_RATIO_TARGET)
    );
    println!("  with the viewer already running (after the console has started): {warm_ms:.0} ms");
    let mut summary = json!({
        "slide": file,
        "rounds": args.rounds,
        "open_to_complete": {
            "standalone_ms": standalone,
            "console_ms": console,
            "console_warm_ms": warm,
            "standalone_median_ms": standalone_ms,
            "console_median_ms": console_ms,
            "console_warm_median_ms": warm_ms,
            "ratio": ratio,
            "target_ratio": OPEN_RATIO_TARGET,
        },
    });

    if let Some(app) = &args.app {
        let mut starts = Vec::new();
        for round in 0..args.rounds {
            starts.push(start_to_interactive_ms(
                app,
                &work.path().join(format!("app-{round}")),
            )?);
        }
        let start_ms = middle(&starts)?;
        println!(
            "application start to interactive console: {start_ms:.0} ms (median of {}) vs target {START_TARGET_MS:.0} ms = {:.2}x {}",
            starts.len(),
            start_ms / START_TARGET_MS,
            verdict(start_ms <= START_TARGET_MS)
        );
        summary["start_to_interactive"] = json!({
            "app": app,
            "samples_ms": starts,
            "median_ms": start_ms,
            "target_ms": START_TARGET_MS,
        });
    }
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&summary)?)
            .with_context(|| format!("{}", path.display()))?;
    }
    Ok(())
}

fn verdict(met: bool) -> &'static str {
    if met { "MET" } else { "NOT MET" }
}

/// A case desk over a fresh database and settings of its own.
fn bench_desk(dir: &Path) -> Result<CaseDesk> {
    let paths = SettingsPaths {
        system: dir.join("system.toml"),
        user: dir.join("user.toml"),
    };
    std::fs::write(
        &paths.system,
        format!(
            "[cases]\ndatabase = \"{}\"\n",
            dir.join("cases.sqlite").display()
        ),
    )?;
    let settings = LoadedSettings::load_from(paths, |_| None)?;
    Ok(CaseDesk::open(settings)?)
}

/// `kh view FILE` from launch to its first complete frame; the IPC link
/// only listens.
fn standalone_open_ms(kh: &Path, file: &Path, socket: &Path) -> Result<f64> {
    let listener = Listener::bind(socket)?;
    let start = Instant::now();
    let mut child = Command::new(kh)
        .arg("view")
        .arg(file)
        .arg("--ipc")
        .arg(socket)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("kh view")?;
    let pid = child.id();
    let accepted = listener.accept_until(start + OPEN_TIMEOUT, Some(pid), || {
        matches!(child.try_wait(), Ok(None))
    });
    let result = (|| -> Result<f64> {
        let mut link = accepted?.context("the viewer ended or did not connect")?;
        link.set_read_timeout(Some(OPEN_TIMEOUT))?;
        loop {
            match link.recv::<FromViewer>()? {
                FromViewer::ViewComplete { .. } => {
                    let ms = start.elapsed().as_secs_f64() * 1e3;
                    let _ = link.send(&ToViewer::Quit);
                    return Ok(ms);
                }
                FromViewer::Error { message } => bail!("the viewer: {message}"),
                _ => {}
            }
        }
    })();
    kh_console::end_child(&mut child, Duration::from_secs(5));
    result
}

/// The console's way: the case's slide from the database (an audited
/// open), the supervised viewer started, the slide sent over IPC; then the
/// same open again with the viewer running.
fn console_open_ms(
    kh: &Path,
    desk: &CaseDesk,
    case: kh_cases::CaseId,
    attachment: i64,
    socket: &Path,
) -> Result<(f64, f64)> {
    let start = Instant::now();
    let slide = desk.slide_for_viewer(case, attachment)?;
    let (viewer, events) = ViewerSupervisor::start(
        ViewerCommand::kh_view(kh.to_path_buf()),
        SupervisorOptions::new(socket.to_path_buf()),
    )?;
    viewer.open_slide(&slide);
    let cold = wait_complete(&events, start);
    let warm = cold.and_then(|cold| {
        let start = Instant::now();
        let slide = desk.slide_for_viewer(case, attachment)?;
        viewer.open_slide(&slide);
        Ok((cold, wait_complete(&events, start)?))
    });
    viewer.shutdown(Duration::from_secs(5));
    warm
}

fn wait_complete(events: &Receiver<ViewerEvent>, start: Instant) -> Result<f64> {
    loop {
        let left = OPEN_TIMEOUT
            .checked_sub(start.elapsed())
            .context("no complete frame in time")?;
        match events.recv_timeout(left)? {
            ViewerEvent::Message(FromViewer::ViewComplete { .. }) => {
                return Ok(start.elapsed().as_secs_f64() * 1e3);
            }
            ViewerEvent::Message(FromViewer::Error { message }) => bail!("the viewer: {message}"),
            ViewerEvent::GaveUp { reason } => bail!("the viewer: {reason}"),
            _ => {}
        }
    }
}

/// The application started with `KAKEHASHI_EXIT_WHEN_READY`: it prints
/// `{"start_to_interactive_ms": N}` when the page reports interactive.
fn start_to_interactive_ms(app: &Path, dir: &Path) -> Result<f64> {
    std::fs::create_dir_all(dir)?;
    let out = Command::new(app)
        .env("KAKEHASHI_EXIT_WHEN_READY", "1")
        .env("KAKEHASHI_SYSTEM_CONFIG", dir.join("system.toml"))
        .env("KAKEHASHI_USER_CONFIG", dir.join("user.toml"))
        .env("KAKEHASHI_CASES_DATABASE", dir.join("cases.sqlite"))
        .env("XDG_RUNTIME_DIR", dir)
        .stderr(Stdio::null())
        .output()
        .with_context(|| format!("{}", app.display()))?;
    let said = String::from_utf8_lossy(&out.stdout);
    let line = said
        .lines()
        .find(|l| l.contains("start_to_interactive_ms"))
        .with_context(|| format!("{} printed no start time ({})", app.display(), out.status))?;
    let value: serde_json::Value = serde_json::from_str(line)?;
    value["start_to_interactive_ms"]
        .as_f64()
        .context("start_to_interactive_ms is not a number")
}
