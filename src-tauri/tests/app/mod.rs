//! What the console's end-to-end tests share: the application under
//! tauri-driver in a private Xvfb, a signalling server, room tokens.

// Each test binary uses part of it.
#![allow(dead_code)]

use kh_testkit::x11::Xvfb;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

pub const WAIT: Duration = Duration::from_secs(90);
pub const APP: &str = env!("CARGO_BIN_EXE_kakehashi");
pub const PATIENT_NAME: &str = "Tanaka Hanako";
pub const PATIENT_ID: &str = "E2E-77231";

pub fn kh() -> PathBuf {
    let kh = Path::new(APP).with_file_name("kh");
    assert!(
        kh.is_file(),
        "{} is missing: build the workspace (`cargo test --workspace` does)",
        kh.display()
    );
    kh
}

fn tauri_driver() -> PathBuf {
    let installed = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|home| home.join("bin/tauri-driver"))
        .filter(|p| p.is_file());
    installed.unwrap_or_else(|| {
        kh_testkit::needs::find_program("tauri-driver").unwrap_or_else(|| {
            kh_testkit::needs::missing(
                "tauri-driver",
                "`cargo install --locked tauri-driver@2.1.0` (`cargo xtask setup` does)",
            )
        })
    })
}

/// Two distinct free ports: both listeners are held until both are known,
/// so the kernel cannot hand out the same port twice.
fn two_free_ports() -> (u16, u16) {
    let bind = || std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let (a, b) = (bind(), bind());
    let port = |l: &std::net::TcpListener| l.local_addr().expect("bound").port();
    (port(&a), port(&b))
}

pub struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// tauri-driver (with WebKitWebDriver) in `x`, the app it starts kept
/// in `dir` and speaking `language`; its output in `log_path`.
pub fn start_driver(x: &Xvfb, dir: &Path, log_path: &Path, language: &str) -> (Driver, u16) {
    // The user's choice, not the environment's: the page can switch it.
    std::fs::write(
        dir.join("user.toml"),
        format!("[ui]\nlanguage = \"{language}\"\n"),
    )
    .expect("the user's settings");
    start_driver_with(x, dir, log_path, &[])
}

/// tauri-driver as [`start_driver`] has it, with `env` for the app
/// (`GDK_SCALE`; the language, which the user's settings choose when the
/// environment does not).
pub fn start_driver_with(
    x: &Xvfb,
    dir: &Path,
    log_path: &Path,
    env: &[(&str, &str)],
) -> (Driver, u16) {
    kh_testkit::needs::program("WebKitWebDriver", "webkit2gtk-driver");
    let (port, native) = two_free_ports();
    let log = std::fs::File::create(log_path).expect("log");
    let child = x
        .command(&tauri_driver().display().to_string())
        .args([
            "--port",
            &port.to_string(),
            "--native-port",
            &native.to_string(),
        ])
        .env("XDG_RUNTIME_DIR", dir.join("run"))
        .env("HOME", dir.join("home"))
        .env("KAKEHASHI_SYSTEM_CONFIG", dir.join("system.toml"))
        .env("KAKEHASHI_USER_CONFIG", dir.join("user.toml"))
        .env("KAKEHASHI_CASES_DATABASE", dir.join("cases.sqlite"))
        .env("KAKEHASHI_VIEWER", kh())
        .env_remove("KAKEHASHI_DEMO_SLIDE")
        // Everything the app and the viewer log, at every level, for the
        // patient-data search at the end.
        .env(
            "RUST_LOG",
            "trace,wgpu_core=info,wgpu_hal=info,naga=info,tao=info,wry=info",
        )
        .envs(env.iter().copied())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("starting tauri-driver");
    // tauri-driver listens at once but starts WebKitWebDriver beside itself
    // and proxies to it without retrying: a session asked for before the
    // native driver listens is dropped ("peer disconnected", seen in CI on a
    // cold machine), so both must listen first.
    let deadline = Instant::now() + WAIT;
    for (what, port) in [("tauri-driver", port), ("WebKitWebDriver", native)] {
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "{what} did not listen on port {port}; its log:\n{}",
                std::fs::read_to_string(log_path).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    (Driver(child), port)
}

pub const SIGNAL_SECRET: &str = "the console test's signalling secret, 32+ bytes";

/// A signalling server on loopback, on a runtime of its own (the test is
/// not async); its ws:// URL.
pub fn signalling_server() -> (tokio::runtime::Runtime, String) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let server = runtime
        .block_on(kakehashi_signal::Server::start(
            kakehashi_signal::Config::loopback(
                "127.0.0.1:0".parse().expect("addr"),
                SIGNAL_SECRET.into(),
            ),
        ))
        .expect("signalling server");
    let url = format!("ws://{}/ws", server.addr);
    // The server runs on the runtime's workers until the runtime drops.
    std::mem::forget(server);
    (runtime, url)
}

/// A token for the case's room, as the hospital's token API issues them.
pub fn room_token(case: &str, role: kakehashi_signal::Role) -> String {
    kakehashi_signal::TokenKey::new(SIGNAL_SECRET.as_bytes())
        .issue(
            &format!("case-{case}"),
            role,
            600,
            kakehashi_signal::token::unix_now(),
        )
        .expect("token")
}

/// Waits until the page offers its actions: "New case" is enabled once
/// the catalogue has arrived and the page is wired to the Rust side.
pub fn wait_until_ready(app: &super::webdriver::Session) {
    app.wait_for(
        "the page ready",
        "return !document.getElementById('new-case').disabled;",
        WAIT,
        |v| v == true,
    );
}
