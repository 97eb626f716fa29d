//! A Japanese input method on a private X server, as a user's desktop
//! runs one: a D-Bus session bus, IBus with its XIM bridge (for winit's
//! windows) and GTK module (for WebKitGTK's), and the Anthy engine, which
//! turns typed romaji into kana and converts them to kanji. Keys typed
//! with xdotool then go through the input method exactly as a user's do.

use crate::x11::Xvfb;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// IBus with Anthy for one X server; everything stops on drop.
pub struct InputMethod {
    bus: Child,
    daemon: Child,
    bus_address: String,
    ibus_address: String,
    /// IBus's configuration and cache, away from the user's.
    home: tempfile::TempDir,
}

/// The system's programs first: the engine is a Python program run as
/// `python3`, and a Python other than Debian's (pyenv, a venv) lacks the
/// GObject bindings it imports.
const SYSTEM_PATH: &str = "/usr/bin:/bin:/usr/sbin:/sbin";

impl InputMethod {
    pub fn start(x: &Xvfb) -> InputMethod {
        let dbus = crate::needs::program("dbus-daemon", "dbus-daemon");
        let ibus_daemon = crate::needs::program("ibus-daemon", "ibus");
        if !std::path::Path::new("/usr/share/ibus/component/anthy.xml").exists() {
            crate::needs::missing(
                "IBus's Anthy engine",
                "install the Debian package ibus-anthy (`cargo xtask setup` installs it, as root)",
            );
        }
        let gsettings = crate::needs::program("gsettings", "libglib2.0-bin");
        let home = tempfile::tempdir().expect("a home for IBus");
        // Services the bus starts (dconf, which keeps the engine's
        // settings) get its environment: the same home as IBus's.
        let mut bus = Command::new(dbus)
            .args(["--session", "--nofork", "--print-address=1"])
            .envs(private_home(home.path()))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting a D-Bus session bus");
        let mut bus_address = String::new();
        BufReader::new(bus.stdout.take().expect("stdout"))
            .read_line(&mut bus_address)
            .expect("the bus's address");
        let bus_address = bus_address.trim().to_owned();
        let ibus_address = format!("unix:path={}", home.path().join("ibus").display());
        // Anthy starts in Latin (input mode 3) until the user switches it;
        // a clinic's desktop has it in hiragana (0).
        let set = Command::new(gsettings)
            .args([
                "set",
                "org.freedesktop.ibus.engine.anthy.common",
                "input-mode",
                "0",
            ])
            .env("PATH", SYSTEM_PATH)
            .envs(private_home(home.path()))
            .env("DBUS_SESSION_BUS_ADDRESS", &bus_address)
            .output()
            .expect("running gsettings");
        assert!(
            set.status.success(),
            "setting Anthy to hiragana: {}",
            String::from_utf8_lossy(&set.stderr)
        );
        let daemon = x
            .command(ibus_daemon.to_str().expect("a UTF-8 path"))
            .args([
                "--xim",
                "--panel=disable",
                "--emoji-extension=disable",
                "--cache=refresh",
                &format!("--address={ibus_address}"),
            ])
            .env("PATH", SYSTEM_PATH)
            .envs(private_home(home.path()))
            .env("DBUS_SESSION_BUS_ADDRESS", &bus_address)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting ibus-daemon");
        let ime = InputMethod {
            bus,
            daemon,
            bus_address,
            ibus_address,
            home,
        };
        ime.wait_until_ready(x);
        // Anthy's engine (a Python program) starts now, not when a test
        // has focused a field and begun to type: keys typed while it was
        // still starting went through as Latin on a loaded machine
        // ("ihoん" for "nihon").
        ime.switch_to_japanese();
        ime.wait_for_engine_process();
        ime
    }

    /// Anthy's engine process is running (IBus starts it for the first
    /// context that uses it, or when it becomes the global engine).
    fn wait_for_engine_process(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let running = || {
            std::fs::read_dir("/proc")
                .into_iter()
                .flatten()
                .flatten()
                .any(|entry| {
                    std::fs::read(entry.path().join("cmdline")).is_ok_and(|cmdline| {
                        String::from_utf8_lossy(&cmdline).contains("ibus-anthy")
                    })
                })
        };
        while !running() {
            assert!(Instant::now() < deadline, "Anthy's engine did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// IBus answers and its XIM bridge has registered on the X server: a
    /// window opened before that would find no input method (winit and
    /// GTK look for one when they start).
    fn wait_until_ready(&self, x: &Xvfb) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let answers = self.ibus(&["engine"]).status.code().is_some();
            let servers = x
                .command("xprop")
                .args(["-root", "XIM_SERVERS"])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            if answers && servers.contains("@server=ibus") {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "IBus's XIM bridge did not register on the X server: {servers}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// What a program needs in its environment to type through this input
    /// method: GTK's module and XIM's modifier name IBus, and where it is.
    pub fn client_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("GTK_IM_MODULE", "ibus".into()),
            ("XMODIFIERS", "@im=ibus".into()),
            ("IBUS_ADDRESS", self.ibus_address.clone()),
            ("DBUS_SESSION_BUS_ADDRESS", self.bus_address.clone()),
        ]
    }

    fn ibus(&self, args: &[&str]) -> std::process::Output {
        Command::new("ibus")
            .args(args)
            .env("PATH", SYSTEM_PATH)
            .envs(private_home(self.home.path()))
            .env("IBUS_ADDRESS", &self.ibus_address)
            .env("DBUS_SESSION_BUS_ADDRESS", &self.bus_address)
            .output()
            .expect("running ibus")
    }

    /// Switch the focused field to Japanese input (Anthy, in hiragana), as
    /// a user does with the input-method key, once IBus is up and has
    /// found the engine (it starts in the background).
    pub fn switch_to_japanese(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            // `ibus engine anthy` exits 1 even where it sets the engine:
            // what counts is the engine IBus then reports.
            let set = self.ibus(&["engine", "anthy"]);
            let now = self.ibus(&["engine"]);
            if String::from_utf8_lossy(&now.stdout).trim() == "anthy" {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "IBus did not take the Anthy engine: {}",
                String::from_utf8_lossy(&set.stderr)
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// The home, configuration and cache directories of the input method's
/// processes, all in `home`.
fn private_home(home: &std::path::Path) -> [(&'static str, std::path::PathBuf); 3] {
    [
        ("HOME", home.to_path_buf()),
        ("XDG_CONFIG_HOME", home.join("config")),
        ("XDG_CACHE_HOME", home.join("cache")),
    ]
}

impl Drop for InputMethod {
    fn drop(&mut self) {
        let _ = self.ibus(&["exit"]);
        for child in [&mut self.daemon, &mut self.bus] {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
