//! `kakehashi`: the console window (Tauri, front end in `ui/`) beside the
//! GPU viewer it supervises (`kh view`, docs/design.md §2). This file only
//! translates: Tauri commands into calls on `kh_console::Workstation`, and
//! its events into Tauri events for the page. The rules live in
//! `kh-console` and `kh-cases`, tested there.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use kh_cases::{AttachmentKind, Case, CaseDetails, CaseId, CaseStatus, CaseSummary, WorklistQuery};
use kh_console::{
    CallDevices, CallStatus, CaseDesk, CasePage, ForPeople, JoinRequest, SettingsPage,
    ViewerCommand, ViewerStatus, Workstation,
};
use parking_lot::Mutex;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tauri::{Emitter, Manager};

struct Console {
    station: Workstation,
    /// The case the page opens when it loads (`--open-demo`), once.
    startup_case: Mutex<Option<CaseId>>,
}

type Answer<T> = Result<T, String>;

/// When the process started: the clock of "start to interactive console".
static STARTED: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

/// A command's answer, its error in the reader's words.
fn said<T, E: ForPeople>(result: Result<T, E>) -> Answer<T> {
    result.map_err(|e| e.for_people())
}

#[tauri::command]
fn worklist(console: tauri::State<'_, Console>, query: WorklistQuery) -> Answer<Vec<CaseSummary>> {
    said(console.station.cases.worklist(&query))
}

#[tauri::command]
fn create_case(console: tauri::State<'_, Console>, details: CaseDetails) -> Answer<Case> {
    said(console.station.cases.create_case(&details))
}

#[tauri::command]
fn open_case(console: tauri::State<'_, Console>, id: CaseId) -> Answer<CasePage> {
    said(console.station.cases.open_case(id))
}

#[tauri::command]
fn update_case(
    console: tauri::State<'_, Console>,
    id: CaseId,
    revision: i64,
    details: CaseDetails,
) -> Answer<CasePage> {
    said(console.station.cases.update_case(id, revision, &details))
}

#[tauri::command]
fn set_status(
    console: tauri::State<'_, Console>,
    id: CaseId,
    status: CaseStatus,
) -> Answer<CasePage> {
    said(console.station.cases.set_status(id, status))
}

#[tauri::command]
fn attach(
    console: tauri::State<'_, Console>,
    id: CaseId,
    path: PathBuf,
    kind: Option<AttachmentKind>,
) -> Answer<CasePage> {
    said(console.station.cases.attach(id, &path, kind))
}

#[tauri::command]
fn detach(console: tauri::State<'_, Console>, id: CaseId, attachment: i64) -> Answer<CasePage> {
    said(console.station.cases.detach(id, attachment))
}

#[tauri::command]
fn save_report(console: tauri::State<'_, Console>, id: CaseId, text: String) -> Answer<CasePage> {
    said(console.station.cases.save_report(id, &text))
}

#[tauri::command]
fn sign_report(console: tauri::State<'_, Console>, id: CaseId) -> Answer<CasePage> {
    said(console.station.cases.sign_report(id))
}

#[tauri::command]
fn open_in_viewer(console: tauri::State<'_, Console>, id: CaseId, attachment: i64) -> Answer<()> {
    console.station.open_in_viewer(id, attachment)
}

/// Starts an analysis of a case's slide; progress and the outcome arrive
/// as "analysis" events. Returns the job's number.
#[tauri::command]
fn analyze_attachment(
    app: tauri::AppHandle,
    console: tauri::State<'_, Console>,
    id: CaseId,
    attachment: i64,
    model: String,
) -> Answer<u64> {
    console
        .station
        .start_analysis(id, attachment, &model, move |event| {
            let _ = app.emit("analysis", &event);
        })
}

/// Exports an annotation attachment ("geojson" or "dicom") into the
/// case's exports folder; the export is audited.
#[tauri::command]
fn export_annotations(
    console: tauri::State<'_, Console>,
    id: CaseId,
    attachment: i64,
    format: String,
) -> Answer<kh_console::annotation_export::Exported> {
    kh_console::annotation_export::export_annotations(
        &console.station.cases,
        id,
        attachment,
        &format,
    )
    .map_err(|e| e.for_people())
}

/// Writes the case's report as a page to file or print, in the reader's
/// language, into the case's exports folder; audited.
#[tauri::command]
fn export_report(
    console: tauri::State<'_, Console>,
    id: CaseId,
) -> Answer<kh_console::report_export::ReportExported> {
    said(kh_console::report_export::export_report(
        &console.station.cases,
        id,
    ))
}

#[tauri::command]
fn cancel_analysis(console: tauri::State<'_, Console>, job: u64) -> bool {
    console.station.analyses.cancel(job)
}

#[tauri::command]
fn viewer_status(console: tauri::State<'_, Console>) -> Option<ViewerStatus> {
    console.station.viewer.with(|v| v.status())
}

/// The page calls this once its first worklist is on screen: the console is
/// interactive. With `KAKEHASHI_EXIT_WHEN_READY` set (the startup benchmark)
/// the time is printed and the application exits.
#[tauri::command]
fn page_ready(app: tauri::AppHandle) {
    let ms = STARTED
        .get()
        .map(|t| t.elapsed().as_secs_f64() * 1e3)
        .unwrap_or_default();
    tracing::info!(ms, "console interactive");
    if std::env::var_os("KAKEHASHI_EXIT_WHEN_READY").is_some() {
        println!("{{\"start_to_interactive_ms\": {ms:.1}}}");
        app.exit(0);
    }
}

#[tauri::command]
fn take_startup_case(console: tauri::State<'_, Console>) -> Option<CaseId> {
    console.startup_case.lock().take()
}

#[tauri::command]
fn settings_page(console: tauri::State<'_, Console>) -> SettingsPage {
    console.station.cases.settings_page()
}

#[tauri::command]
fn set_setting(
    console: tauri::State<'_, Console>,
    key: String,
    value: String,
) -> Answer<SettingsPage> {
    said(console.station.set_setting(&key, &value))
}

/// The page's words (the catalogue's Fluent text in the chosen language)
/// and theme; the system's language when the settings could not be read.
#[tauri::command]
fn catalogue(app: tauri::AppHandle) -> kh_console::language::PageCatalogue {
    match app.try_state::<Console>() {
        Some(console) => console.station.cases.page_catalogue(),
        None => kh_console::language::page_catalogue(None),
    }
}

/// Off the main thread: joining waits for the signalling server.
#[tauri::command(async)]
fn join_call(console: tauri::State<'_, Console>, request: JoinRequest) -> Answer<CallStatus> {
    said(
        console
            .station
            .calls
            .join(&request, &console.station.cases.settings()),
    )
}

#[tauri::command(async)]
fn hang_up(console: tauri::State<'_, Console>) -> Answer<CallStatus> {
    said(console.station.calls.hang_up())
}

#[tauri::command]
fn set_muted(console: tauri::State<'_, Console>, muted: bool) -> Answer<()> {
    said(console.station.calls.set_muted(muted))
}

#[tauri::command]
fn set_camera(console: tauri::State<'_, Console>, on: bool) -> Answer<()> {
    said(console.station.calls.set_camera_on(on))
}

#[tauri::command]
fn call_status(console: tauri::State<'_, Console>) -> Option<CallStatus> {
    console.station.calls.status()
}

#[tauri::command]
fn call_devices(console: tauri::State<'_, Console>) -> CallDevices {
    console.station.call_devices()
}

/// `kh` (whose `kh view` is the viewer) beside this executable, as the
/// package installs them, unless `KAKEHASHI_VIEWER` names another.
fn viewer_program() -> PathBuf {
    if let Some(path) = std::env::var_os("KAKEHASHI_VIEWER") {
        return PathBuf::from(path);
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| {
            exe.parent()
                .map(|dir| dir.join(format!("kh{}", std::env::consts::EXE_SUFFIX)))
        })
        .filter(|kh| kh.is_file())
        .unwrap_or_else(|| PathBuf::from("kh"))
}

/// The demo slide: `KAKEHASHI_DEMO_SLIDE`, else the package's resource
/// (/usr/lib/Kakehashi/demo on Debian, beside the .exe on Windows, the
/// bundle's Resources on macOS).
fn demo_slide(package: &tauri::PackageInfo) -> Option<PathBuf> {
    std::env::var_os("KAKEHASHI_DEMO_SLIDE")
        .map(PathBuf::from)
        .or_else(|| {
            tauri::utils::platform::resource_dir(package, &tauri::Env::default())
                .ok()
                .map(|dir| dir.join("demo/cmu_small_region.svs"))
        })
        .filter(|p| p.is_file())
}

/// The supervised viewer; its events go to the page as "viewer".
fn start_viewer(app: &tauri::AppHandle) {
    let settings = app.state::<Console>().station.cases.settings();
    let command = ViewerCommand::from_settings(viewer_program(), &settings);
    let socket = match kh_console::viewer_socket() {
        Ok(socket) => socket,
        Err(e) => {
            tracing::error!("viewer: {e}");
            return;
        }
    };
    let page = app.clone();
    let started = app
        .state::<Console>()
        .station
        .start_viewer(command, socket, move |event| {
            let _ = page.emit("viewer", &event);
        });
    if let Err(e) = started {
        tracing::error!("viewer: {e}");
    }
}

fn main() {
    STARTED.get_or_init(std::time::Instant::now);
    kh_log::init();
    if let Err(e) = run() {
        eprintln!("kakehashi: {}", kh_log::scrub(&format!("{e:#}")));
        std::process::exit(1);
    }
}

/// Why the console could not open its settings or case database, for the
/// page to show; `None` when all is well.
struct StartupProblem(Option<String>);

#[tauri::command]
fn startup_problem(problem: tauri::State<'_, StartupProblem>) -> Option<String> {
    problem.0.clone()
}

/// A window that says what is wrong (a broken managed config, a database
/// another version wrote) instead of a program that vanishes at start.
fn show_startup_problem(
    context: tauri::Context<tauri::Wry>,
    problem: String,
) -> anyhow::Result<()> {
    eprintln!("kakehashi: {problem}");
    tauri::Builder::default()
        .manage(StartupProblem(Some(problem)))
        .invoke_handler(tauri::generate_handler![
            startup_problem,
            page_ready,
            catalogue
        ])
        .run(context)?;
    Ok(())
}

fn run() -> anyhow::Result<()> {
    let open_demo = std::env::args().any(|a| a == "--open-demo");
    let context = tauri::generate_context!();
    // What stops the start is said in the reader's words (the settings'
    // language when they could be read, else the system's).
    let settings = match kh_settings::LoadedSettings::load() {
        Ok(settings) => settings,
        Err(e) => return show_startup_problem(context, e.for_people()),
    };
    kh_console::language::speak(&settings.settings);
    let desk = match CaseDesk::open(settings) {
        Ok(desk) => desk,
        Err(e) => return show_startup_problem(context, e.for_people()),
    };
    // The demo case exists only for the demo: a fresh install at a
    // hospital starts with an empty worklist.
    if open_demo
        && let Some(slide) = demo_slide(context.package_info())
        && let Some(id) = desk.ensure_demo_case(Path::new(&slide))?
    {
        tracing::info!(case = %id, "demo case created");
    }
    // `--open-demo`: the demo case on the page and its slide in the viewer.
    let startup = if open_demo {
        desk.demo_case_slide()?
    } else {
        None
    };
    // Call status goes to the page as "call" events once the app exists.
    let app_handle: std::sync::Arc<std::sync::OnceLock<tauri::AppHandle>> = Default::default();
    let handle_for_calls = app_handle.clone();
    let station = Workstation::new(
        desk,
        std::sync::Arc::new(move |status: &CallStatus| {
            if let Some(app) = handle_for_calls.get() {
                let _ = app.emit("call", status);
            }
        }),
    )?;
    let app = tauri::Builder::default()
        .plugin(tauri_plugin_dialog::init())
        .manage(StartupProblem(None))
        .manage(Console {
            station,
            startup_case: Mutex::new(startup.as_ref().map(|(id, _)| *id)),
        })
        .invoke_handler(tauri::generate_handler![
            worklist,
            create_case,
            open_case,
            update_case,
            set_status,
            attach,
            detach,
            save_report,
            sign_report,
            open_in_viewer,
            analyze_attachment,
            cancel_analysis,
            export_annotations,
            export_report,
            viewer_status,
            take_startup_case,
            page_ready,
            settings_page,
            set_setting,
            catalogue,
            startup_problem,
            join_call,
            hang_up,
            set_muted,
            set_camera,
            call_status,
            call_devices,
        ])
        .setup(move |app| {
            let _ = app_handle.set(app.handle().clone());
            start_viewer(app.handle());
            if let Some((_, slide)) = &startup {
                // Remembered now, sent as soon as the viewer connects.
                app.state::<Console>()
                    .station
                    .viewer
                    .with(|viewer| viewer.open_slide(slide));
            }
            Ok(())
        })
        .build(context)?;
    app.run(|app, event| {
        if let tauri::RunEvent::Exit = event {
            app.state::<Console>()
                .station
                .shut_down(Duration::from_secs(3));
            kh_console::remove_viewer_socket();
        }
    });
    Ok(())
}
