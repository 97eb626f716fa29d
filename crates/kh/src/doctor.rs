//! `kh doctor`: what this workstation has and where its settings came from,
//! for hospital IT. Every check runs; the exit status is 1 when any found a
//! problem, so a deployment script can gate on it.

use anyhow::Result;
use kh_call::reachability::{self, Reachability};
use kh_cases::{CaseStore, DatabaseReport};
use kh_console::ForPeople;
use kh_i18n::tr;
use kh_settings::{LoadedSettings, SettingReport, SettingsPaths};
use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;

#[derive(clap::Args)]
pub struct DoctorArgs {
    #[arg(long)]
    json: bool,
    #[arg(long, default_value_t = 3.0)]
    timeout: f64,
}

#[derive(Serialize)]
struct Report {
    version: &'static str,
    gpu: GpuReport,
    settings: SettingsSection,
    signalling: Option<Reachability>,
    ice_servers: Vec<Reachability>,
    audio_devices: Vec<AudioDevice>,
    cameras: Vec<CameraEntry>,
    video_codecs: VideoCodecs,
    onnx_runtime: OnnxRuntimeSection,
    case_database: DatabaseSection,
    problems: Vec<String>,
    warnings: Vec<String>,
}

#[derive(Serialize)]
struct CameraEntry {
    path: PathBuf,
    name: String,
    driver: String,
    bus: String,
    /// Layout, size and rate of each mode Kakehashi reads.
    modes: Vec<String>,
    /// Modes offered in layouts Kakehashi does not read (H.264, …).
    unread_modes: usize,
}

/// Which encoder and decoders a call would use here, and why not hardware
/// where it is software (what `kh call --stats-json` reports per call).
#[derive(Serialize)]
struct VideoCodecs {
    /// GPU render nodes VA-API may open (`KH_VAAPI_DEVICE` picks one).
    render_nodes: Vec<PathBuf>,
    /// The call's encoder choices: H.264 at 1080p30 (every peer), HEVC at
    /// 8K30 (how 8K goes out live; only hardware keeps up).
    encoders: Vec<CodecPath>,
    decoders: Vec<CodecPath>,
}

#[derive(Serialize)]
struct CodecPath {
    codec: &'static str,
    /// The picture an encoder was opened for.
    #[serde(skip_serializing_if = "Option::is_none")]
    picture: Option<&'static str>,
    hardware: bool,
    /// What does the work and, for software, why not hardware.
    implementation: String,
}

/// ONNX Runtime, which runs AI models on slides (`kh analyze --model
/// onnx:PATH`): where it was loaded from and which execution providers
/// its build has.
#[derive(Serialize)]
struct OnnxRuntimeSection {
    path: Option<PathBuf>,
    build: Option<String>,
    providers: Vec<OnnxProvider>,
    error: Option<String>,
}

#[derive(Serialize)]
struct OnnxProvider {
    name: &'static str,
    available: bool,
}

fn onnx_runtime_section(warnings: &mut Vec<String>) -> OnnxRuntimeSection {
    match kh_analysis::onnx::runtime() {
        Ok(info) => OnnxRuntimeSection {
            path: Some(info.path.clone()),
            build: Some(info.build.clone()),
            providers: info
                .providers
                .iter()
                .map(|&(name, available)| OnnxProvider { name, available })
                .collect(),
            error: None,
        },
        Err(e) => {
            warnings.push(tr!("cli-doctor-onnx-missing", problem = e.to_string()));
            OnnxRuntimeSection {
                path: None,
                build: None,
                providers: Vec::new(),
                error: Some(e.to_string()),
            }
        }
    }
}

#[derive(Serialize)]
struct GpuReport {
    adapters: Vec<Adapter>,
    /// The adapter the viewer would use.
    chosen: Option<String>,
}

#[derive(Serialize)]
struct Adapter {
    name: String,
    backend: String,
    device_type: String,
    driver: String,
}

#[derive(Serialize)]
struct SettingsSection {
    system_file: PathBuf,
    system_file_present: bool,
    user_file: PathBuf,
    user_file_present: bool,
    values: Vec<SettingReport>,
}

#[derive(Serialize)]
struct AudioDevice {
    name: String,
    input: bool,
    output: bool,
}

#[derive(Serialize)]
struct DatabaseSection {
    path: PathBuf,
    exists: bool,
    report: Option<DatabaseReport>,
    error: Option<String>,
}

pub fn run(args: DoctorArgs) -> Result<()> {
    let timeout = Duration::from_secs_f64(args.timeout.clamp(0.1, 60.0));
    let mut problems = Vec::new();
    let mut warnings = Vec::new();

    let paths = SettingsPaths::platform();
    let loaded = match LoadedSettings::load() {
        Ok(loaded) => Some(loaded),
        Err(e) => {
            problems.push(tr!("cli-doctor-settings-problem", problem = e.for_people()));
            None
        }
    };
    let settings = loaded
        .as_ref()
        .map(|l| l.settings.clone())
        .unwrap_or_default();
    if let Some(loaded) = &loaded {
        warnings.extend(loaded.warnings.iter().map(ForPeople::for_people));
    }

    // The probes' own chatter (Mesa, ALSA, JACK, FFmpeg about devices this
    // machine lacks) goes to the log: the report says what they found.
    let gpu = kh_log::hushed("GPU probe", || gpu_report(&mut problems, &mut warnings));

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let signalling = if settings.signalling.url.is_empty() {
        problems.push(tr!("cli-doctor-no-signalling"));
        None
    } else {
        let check = runtime.block_on(reachability::check_signalling(
            &settings.signalling.url,
            timeout,
        ));
        if let Some(why) = &check.error {
            problems.push(tr!(
                "cli-doctor-signalling-problem",
                url = check.url.as_str(),
                problem = why.as_str()
            ));
        }
        Some(check)
    };
    let ice_servers: Vec<Reachability> = settings
        .turn
        .urls
        .iter()
        .map(|url| runtime.block_on(reachability::check_ice_server(url, timeout)))
        .collect();
    for check in &ice_servers {
        if let Some(why) = &check.error {
            problems.push(format!("{}: {why}", check.url));
        }
    }

    let audio_devices: Vec<AudioDevice> = kh_log::hushed("sound devices", kh_devices::devices)
        .into_iter()
        .map(|d| AudioDevice {
            name: d.name,
            input: d.input,
            output: d.output,
        })
        .collect();
    if !audio_devices.iter().any(|d| d.input) {
        warnings.push(tr!("cli-doctor-no-microphone"));
    }
    let cameras = kh_log::hushed("cameras", cameras);
    let camera_setting = settings.devices.camera.trim();
    if camera_setting != "default"
        && camera_setting != "none"
        && camera_setting != "test-pattern"
        && let Err(e) = kh_devices::camera::find(camera_setting)
    {
        warnings.push(tr!(
            "cli-doctor-camera-problem",
            camera = format!("{camera_setting:?}"),
            problem = e.to_string()
        ));
    }
    if cameras.iter().all(|c| c.modes.is_empty()) {
        warnings.push(tr!("cli-doctor-no-camera"));
    }

    let video_codecs = kh_log::hushed("video codecs", video_codecs);
    if !video_codecs.encoders.iter().any(|e| e.hardware) {
        warnings.push(tr!("cli-doctor-no-hardware-encoder"));
    } else if video_codecs
        .encoders
        .iter()
        .any(|e| e.codec == kh_media::VideoCodec::H265.mime() && !e.hardware)
    {
        warnings.push(tr!("cli-doctor-no-hevc-8k"));
    }

    let onnx_runtime = kh_log::hushed("ONNX Runtime", || onnx_runtime_section(&mut warnings));

    let database_path = if settings.cases.database.is_empty() {
        kh_settings::default_cases_database()
    } else {
        PathBuf::from(&settings.cases.database)
    };
    let case_database = database_section(database_path, &mut problems);

    let report = Report {
        version: env!("CARGO_PKG_VERSION"),
        gpu,
        settings: SettingsSection {
            system_file_present: paths.system.is_file(),
            system_file: paths.system,
            user_file_present: paths.user.is_file(),
            user_file: paths.user,
            values: loaded.map(|l| l.report()).unwrap_or_default(),
        },
        signalling,
        ice_servers,
        audio_devices,
        cameras,
        video_codecs,
        onnx_runtime,
        case_database,
        problems,
        warnings,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_text(&report);
    }
    if !report.problems.is_empty() {
        std::process::exit(1);
    }
    Ok(())
}

fn gpu_report(problems: &mut Vec<String>, warnings: &mut Vec<String>) -> GpuReport {
    let adapters: Vec<Adapter> = kh_render::gpu::adapter_infos()
        .into_iter()
        .map(|info| Adapter {
            name: info.name,
            backend: format!("{:?}", info.backend),
            device_type: format!("{:?}", info.device_type),
            driver: [info.driver, info.driver_info]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" "),
        })
        .collect();
    let chosen = match kh_render::Gpu::headless() {
        Ok(gpu) => Some(gpu.describe()),
        Err(e) => {
            problems.push(format!("GPU: {e}"));
            None
        }
    };
    if !adapters.is_empty() && adapters.iter().all(|a| a.device_type == "Cpu") {
        warnings.push(tr!("cli-doctor-software-gpu"));
    }
    GpuReport { adapters, chosen }
}

fn video_codecs() -> VideoCodecs {
    use kh_media::{EncoderConfig, VideoCodec, VideoDecoder, VideoEncoder};
    let path = |codec: VideoCodec, picture, opened: Result<(bool, String), String>| {
        let (hardware, implementation) = opened.unwrap_or_else(|e| (false, e));
        CodecPath {
            codec: codec.mime(),
            picture,
            hardware,
            implementation,
        }
    };
    let encoders = [
        (VideoCodec::H264, "1080p30", 1920, 1080, 4_000),
        (VideoCodec::H265, "8K30", 7680, 4320, 60_000),
    ]
    .into_iter()
    .map(|(codec, picture, width, height, bitrate_kbps)| {
        let encoder = VideoEncoder::preferring_hardware(EncoderConfig {
            codec,
            width,
            height,
            fps: 30,
            bitrate_kbps,
            threads: 1,
        })
        .map(|e| (e.is_hardware(), e.implementation().to_owned()))
        .map_err(|e| e.to_string());
        path(codec, Some(picture), encoder)
    })
    .collect();
    VideoCodecs {
        render_nodes: kh_media::vaapi::render_nodes(std::path::Path::new("/dev/dri")),
        encoders,
        decoders: VideoCodec::ALL
            .into_iter()
            .map(|codec| {
                let decoder = VideoDecoder::preferring_hardware(codec, 1)
                    .map(|d| (d.is_hardware(), d.implementation().to_owned()))
                    .map_err(|e| e.to_string());
                path(codec, None, decoder)
            })
            .collect(),
    }
}

/// Video capture devices the OS offers (V4L2 nodes on Linux).
fn cameras() -> Vec<CameraEntry> {
    kh_devices::camera::cameras()
        .into_iter()
        .map(|c| CameraEntry {
            modes: c
                .modes
                .iter()
                .filter(|m| m.format.is_some())
                .map(|m| m.to_string())
                .collect(),
            unread_modes: c.modes.iter().filter(|m| m.format.is_none()).count(),
            path: c.path,
            name: c.name,
            driver: c.driver,
            bus: c.bus,
        })
        .collect()
}

fn database_section(path: PathBuf, problems: &mut Vec<String>) -> DatabaseSection {
    if !path.exists() {
        return DatabaseSection {
            path,
            exists: false,
            report: None,
            error: None,
        };
    }
    match CaseStore::inspect(&path) {
        Ok(report) => {
            if report.integrity != ["ok"] {
                problems.push(tr!(
                    "cli-doctor-database-damaged",
                    path = path.display().to_string(),
                    problem = report.integrity.join("; ")
                ));
            }
            if report.schema_version > report.known_schema_version {
                problems.push(tr!(
                    "cli-doctor-database-newer",
                    path = path.display().to_string(),
                    schema = report.schema_version,
                    known = report.known_schema_version
                ));
            }
            DatabaseSection {
                path,
                exists: true,
                report: Some(report),
                error: None,
            }
        }
        Err(e) => {
            problems.push(e.to_string());
            DatabaseSection {
                path,
                exists: true,
                report: None,
                error: Some(e.to_string()),
            }
        }
    }
}

fn check_line(check: &Reachability) -> String {
    match (&check.error, check.round_trip_ms) {
        (None, Some(ms)) => {
            let mut line = tr!(
                "cli-doctor-check-ok",
                url = check.url.as_str(),
                ms = format!("{ms:.1}")
            );
            if let Some(address) = check.address {
                line += " ";
                line += &tr!("cli-doctor-check-address", address = address.to_string());
            }
            if let Some(mapped) = check.mapped_address {
                line += &tr!("cli-doctor-check-mapped", mapped = mapped.to_string());
            }
            line
        }
        (Some(why), _) => tr!(
            "cli-doctor-check-fail",
            url = check.url.as_str(),
            problem = why.as_str()
        ),
        (None, None) => format!("?     {}", check.url),
    }
}

/// Where a setting came from, as people read it.
fn source_words(source: &kh_settings::Source) -> String {
    let (kind, path, variable) = match source {
        kh_settings::Source::Default => ("default", String::new(), ""),
        kh_settings::Source::System { path } => ("system", path.display().to_string(), ""),
        kh_settings::Source::User { path } => ("user", path.display().to_string(), ""),
        kh_settings::Source::Environment { variable } => {
            ("environment", String::new(), variable.as_str())
        }
    };
    tr!(
        "cli-doctor-source",
        kind = kind,
        path = path,
        variable = variable
    )
}

fn print_text(report: &Report) {
    println!("{}\n", tr!("cli-doctor-title", version = report.version));
    println!("{}", tr!("cli-doctor-gpu"));
    for adapter in &report.gpu.adapters {
        println!(
            "  {} — {} {} ({})",
            adapter.name, adapter.backend, adapter.device_type, adapter.driver
        );
    }
    if report.gpu.adapters.is_empty() {
        println!("  {}", tr!("cli-doctor-no-adapter"));
    }
    if let Some(chosen) = &report.gpu.chosen {
        println!(
            "  {}",
            tr!("cli-doctor-viewer-uses", adapter = chosen.as_str())
        );
    }
    let s = &report.settings;
    let presence = |present: bool| {
        if present {
            tr!("cli-doctor-present")
        } else {
            tr!("cli-doctor-absent")
        }
    };
    println!("\n{}", tr!("cli-doctor-settings"));
    println!(
        "  {}",
        tr!(
            "cli-doctor-system-file",
            path = s.system_file.display().to_string(),
            presence = presence(s.system_file_present)
        )
    );
    println!(
        "  {}",
        tr!(
            "cli-doctor-user-file",
            path = s.user_file.display().to_string(),
            presence = presence(s.user_file_present)
        )
    );
    let locked = tr!("cli-doctor-locked");
    // Columns as wide as the longest key and value (values capped, so one
    // long list does not push every source off the screen).
    let key_width = s
        .values
        .iter()
        .map(|r| r.key.chars().count())
        .max()
        .unwrap_or(0);
    let value_width = s
        .values
        .iter()
        .map(|r| r.value.to_string().chars().count())
        .max()
        .unwrap_or(0)
        .min(36);
    for row in &s.values {
        println!(
            "  {:<key_width$} = {:<value_width$} {}{}",
            row.key,
            row.value.to_string(),
            source_words(&row.source),
            if row.locked {
                format!(" {locked}")
            } else {
                String::new()
            }
        );
    }
    println!("\n{}", tr!("cli-doctor-signalling"));
    match &report.signalling {
        Some(check) => println!("  {}", check_line(check)),
        None => println!("  {}", tr!("cli-doctor-not-configured")),
    }
    println!("\n{}", tr!("cli-doctor-ice"));
    for check in &report.ice_servers {
        println!("  {}", check_line(check));
    }
    if report.ice_servers.is_empty() {
        println!("  {}", tr!("cli-doctor-no-ice"));
    }
    println!("\n{}", tr!("cli-doctor-audio"));
    for device in &report.audio_devices {
        let role = match (device.input, device.output) {
            (true, true) => "in/out",
            (true, false) => "in",
            _ => "out",
        };
        println!("  {role:<6} {}", device.name);
    }
    if report.audio_devices.is_empty() {
        println!("  {}", tr!("cli-doctor-none-found"));
    }
    println!("\n{}", tr!("cli-doctor-cameras"));
    for camera in &report.cameras {
        println!(
            "  {}  {} ({}, {})",
            camera.path.display(),
            camera.name,
            camera.driver,
            camera.bus
        );
        let shown = camera.modes.len().min(6);
        for mode in &camera.modes[..shown] {
            println!("      {mode}");
        }
        if camera.modes.len() > shown {
            println!(
                "      {}",
                tr!("cli-doctor-more-modes", count = camera.modes.len() - shown)
            );
        }
    }
    if report.cameras.is_empty() {
        println!("  {}", tr!("cli-doctor-none-found"));
    }
    let codecs = &report.video_codecs;
    println!("\n{}", tr!("cli-doctor-codecs"));
    if codecs.render_nodes.is_empty() {
        println!("  {}", tr!("cli-doctor-render-nodes-none"));
    } else {
        let nodes: Vec<String> = codecs
            .render_nodes
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        println!(
            "  {}",
            tr!("cli-doctor-render-nodes", nodes = nodes.join(", "))
        );
    }
    let (encode, decode) = (tr!("cli-doctor-encode"), tr!("cli-doctor-decode"));
    for (role, path) in codecs
        .encoders
        .iter()
        .map(|e| (&encode, e))
        .chain(codecs.decoders.iter().map(|d| (&decode, d)))
    {
        let codec = path.codec.trim_start_matches("video/");
        let what = match path.picture {
            Some(picture) => format!("{codec} {picture}"),
            None => codec.to_owned(),
        };
        // Hardware or software in the reader's words; the codec library's
        // own account (which backend, why not hardware) after it, as the
        // library says it.
        let kind = if path.hardware {
            tr!("cli-doctor-hardware")
        } else {
            tr!("cli-doctor-software")
        };
        println!("  {role} {what:<13} {kind} — {}", path.implementation);
    }
    let onnx = &report.onnx_runtime;
    println!("\n{}", tr!("cli-doctor-onnx"));
    match (&onnx.path, &onnx.error) {
        (Some(path), _) => {
            println!("  {}", path.display());
            if let Some(build) = &onnx.build {
                println!("  {build}");
            }
            let (yes, no) = (tr!("cli-doctor-yes"), tr!("cli-doctor-no"));
            let providers: Vec<String> = onnx
                .providers
                .iter()
                .map(|p| format!("{} {}", p.name, if p.available { &yes } else { &no }))
                .collect();
            println!(
                "  {}",
                tr!("cli-doctor-providers", providers = providers.join(", "))
            );
        }
        (None, Some(e)) => println!("  {e}"),
        (None, None) => println!("  {}", tr!("cli-doctor-not-found")),
    }
    let db = &report.case_database;
    println!("\n{}", tr!("cli-doctor-database"));
    let path = db.path.display().to_string();
    match (&db.report, &db.error) {
        (Some(r), _) => println!(
            "  {}",
            tr!(
                "cli-doctor-database-line",
                path = path,
                schema = r.schema_version,
                known = r.known_schema_version,
                cases = r.cases.unwrap_or(0),
                integrity = r.integrity.join("; ")
            )
        ),
        (None, Some(e)) => println!("  {path}: {e}"),
        (None, None) => println!("  {}", tr!("cli-doctor-database-not-created", path = path)),
    }
    if !report.warnings.is_empty() {
        println!("\n{}", tr!("cli-doctor-warnings"));
        for warning in &report.warnings {
            println!("  - {warning}");
        }
    }
    if report.problems.is_empty() {
        println!("\n{}", tr!("cli-doctor-no-problems"));
    } else {
        println!(
            "\n{}",
            tr!("cli-doctor-problems", count = report.problems.len())
        );
        for problem in &report.problems {
            println!("  - {problem}");
        }
    }
}
