//! The Debian package as IT deploys it: its control data names the packages
//! its binaries link against, dpkg installs it on this machine, and the
//! installed application starts from /usr/bin on its own demo case, with no
//! paths from this checkout: the console's page becomes interactive, and the
//! viewer (the package's /usr/bin/kh) shows the packaged demo slide exactly
//! as `kh render` draws it. The package is removed again at the end.
//!
//! It needs root and the package of the binaries under test, which
//! `cargo xtask test` builds (`cargo xtask package --debug`) and names in
//! `KH_DEB` before running the suite. Without `KH_DEB` (a plain
//! `cargo test`) it says so and checks nothing.

use kh_testkit::x11::{Xvfb, wait_until_window_shows_fit};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(120);
const APP: &str = env!("CARGO_BIN_EXE_kakehashi");
/// The primary button's colour in the light theme (`--accent` in
/// ui/public/style.css): "New case" in the header.
const ACCENT: [u8; 3] = [0x1f, 0x5f, 0x8b];

fn the_package() -> Option<PathBuf> {
    std::env::var_os("KH_DEB").map(PathBuf::from)
}

/// The `kh` the package was made from.
fn app_dir_kh() -> String {
    Path::new(APP)
        .with_file_name("kh")
        .to_string_lossy()
        .into_owned()
}

fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The Debian package that owns a shared library, found through the
/// dynamic loader's own search (not through dpkg-shlibdeps, which made the
/// package's list).
fn package_owning(library: &str) -> String {
    let path = run("ldconfig", &["-p"])
        .lines()
        .find_map(|l| {
            let (name, path) = l.trim().split_once(" => ")?;
            (name.split(' ').next() == Some(library)).then(|| path.to_owned())
        })
        .unwrap_or_else(|| panic!("{library} is not known to ldconfig"));
    let real = std::fs::canonicalize(&path).expect("library path");
    // Debian's merged /usr: dpkg may have recorded /lib/... for /usr/lib/...
    let candidates = [
        real.display().to_string(),
        real.display().to_string().replacen("/usr/lib/", "/lib/", 1),
        path.clone(),
    ];
    for candidate in candidates {
        if let Ok(out) = Command::new("dpkg").args(["-S", &candidate]).output()
            && out.status.success()
        {
            let said = String::from_utf8_lossy(&out.stdout);
            let package = said.split(':').next().unwrap_or_default().trim();
            return package.to_owned();
        }
    }
    panic!("no package owns {library} ({path})")
}

fn needed_libraries(binary: &Path) -> Vec<String> {
    run("readelf", &["-d", &binary.display().to_string()])
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(|l| Some(l.split_once('[')?.1.split_once(']')?.0.to_owned()))
        .collect()
}

/// Removes the package when the test ends, passed or not.
struct Installed(String);

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = Command::new("dpkg").args(["--purge", &self.0]).output();
    }
}

struct RunningApp(Child);

impl Drop for RunningApp {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_package_installs_and_the_installed_app_shows_its_demo_case() {
    let Some(deb) = the_package() else {
        eprintln!("no KH_DEB: not checking the installer (cargo xtask test packages and runs it)");
        return;
    };
    assert_eq!(
        run("id", &["-u"]).trim(),
        "0",
        "installing a package needs root"
    );
    let deb_arg = deb.display().to_string();
    let field = |name: &str| run("dpkg-deb", &["--field", &deb_arg, name]);
    let name = field("Package").trim().to_owned();
    let depends: Vec<String> = field("Depends")
        .split(',')
        .map(|d| d.split_whitespace().next().unwrap_or_default().to_owned())
        .collect();
    let contents = run("dpkg-deb", &["--contents", &deb_arg]);
    let files: Vec<&str> = contents
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .map(|p| p.trim_start_matches("./"))
        .collect();
    for path in [
        "usr/bin/kakehashi",
        "usr/bin/kh",
        "usr/lib/Kakehashi/demo/cmu_small_region.svs",
        "usr/lib/Kakehashi/onnxruntime/libonnxruntime.so",
        "usr/share/applications/Kakehashi.desktop",
    ] {
        assert!(
            files.contains(&path),
            "{path} is not in the package:\n{contents}"
        );
    }
    // What users run, and nothing else: no benchmarks, no link emulator.
    assert!(
        !files.iter().any(|f| f.contains("kh-bench")),
        "the benchmarks are in the package:\n{contents}"
    );
    let kh_help = run(app_dir_kh().as_str(), &["--help"]);
    assert!(
        !kh_help.contains("bench") && kh_help.contains("view"),
        "the packaged kh carries benchmarks: {kh_help}"
    );
    // The island-link emulator would leave its source paths (panic
    // locations) in the binary.
    let kh_bytes = std::fs::read(app_dir_kh()).expect("the packaged kh");
    assert!(
        !kh_bytes
            .windows(b"crates/netem/".len())
            .any(|w| w == b"crates/netem/"),
        "the packaged kh links the island-link emulator"
    );

    // Every library the two programs link against comes from a package the
    // .deb depends on; so do the ones the viewer opens at run time.
    let app_dir = Path::new(APP).parent().expect("target dir");
    for binary in [app_dir.join("kakehashi"), app_dir.join("kh")] {
        for library in needed_libraries(&binary) {
            let owner = package_owning(&library);
            assert!(
                depends.iter().any(|d| d == &owner),
                "{} needs {library} from {owner}, which the package does not depend on: {depends:?}",
                binary.display()
            );
        }
    }
    for dlopened in ["libvulkan1", "libwebkit2gtk-4.1-0", "libxkbcommon-x11-0"] {
        assert!(
            depends.iter().any(|d| d == dlopened),
            "no dependency on {dlopened}: {depends:?}"
        );
    }

    run("dpkg", &["--install", &deb_arg]);
    let _installed = Installed(name.clone());
    let status = run("dpkg-query", &["--show", "--showformat=${Status}", &name]);
    assert_eq!(status, "install ok installed");
    // The desktop's menu names it in Japanese too.
    let entry = std::fs::read_to_string("/usr/share/applications/Kakehashi.desktop")
        .expect("the installed menu entry");
    for line in [
        "Name=Kakehashi",
        "Name[ja]=架け橋",
        "Comment[ja]=",
        "Exec=kakehashi",
    ] {
        assert!(
            entry.contains(line),
            "{line} is not in the menu entry:\n{entry}"
        );
    }

    // The installed kh finds the packaged ONNX Runtime (nothing in the
    // environment pointing at it) and says which providers it has.
    let doctor = Command::new("/usr/bin/kh")
        .args(["doctor", "--json", "--timeout", "0.5"])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", std::env::temp_dir())
        .output()
        .expect("the installed kh");
    let report: serde_json::Value =
        serde_json::from_slice(&doctor.stdout).expect("kh doctor --json prints JSON");
    assert_eq!(
        report["onnx_runtime"]["path"], "/usr/lib/Kakehashi/onnxruntime/libonnxruntime.so",
        "{}",
        report["onnx_runtime"]
    );
    assert!(
        report["onnx_runtime"]["providers"]
            .as_array()
            .is_some_and(|p| p
                .iter()
                .any(|p| p["name"] == "CPUExecutionProvider" && p["available"] == true)),
        "{}",
        report["onnx_runtime"]
    );

    // The installed programs only: a cleared environment, a private home
    // (settings, case database) and no pointers into this checkout.
    let home = tempfile::tempdir().expect("home");
    let x = Xvfb::start();
    let installed_app = |extra: &[&str]| {
        let mut command = Command::new("/usr/bin/kakehashi");
        command
            .args(extra)
            .env_clear()
            .envs(kh_testkit::x11::display_env(&x))
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", home.path())
            .env("XDG_RUNTIME_DIR", home.path())
            .env("KAKEHASHI_SYSTEM_CONFIG", home.path().join("system.toml"));
        command
    };

    // The page loads from the installed binary and answers (it calls back
    // when interactive; this mode then prints the time and exits).
    let out = installed_app(&[])
        .env("KAKEHASHI_EXIT_WHEN_READY", "1")
        .output()
        .expect("the installed kakehashi");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && said.contains("start_to_interactive_ms"),
        "the installed console did not become interactive: {}\n{}",
        said,
        String::from_utf8_lossy(&out.stderr)
    );
    // A fresh install starts with an empty worklist: the demo case is made
    // only for the demo (`--open-demo`, below).
    let cases = home.path().join(".local/share/kakehashi/cases.sqlite");
    assert_eq!(
        kh_cases::CaseStore::open(&cases)
            .expect("the case database the console made")
            .case_count()
            .expect("count"),
        0,
        "a fresh install showed cases"
    );

    // The demo case opened: the console window, and the installed viewer
    // showing the packaged slide.
    let log = home.path().join("app.log");
    let log_file = std::fs::File::create(&log).expect("log");
    let app = RunningApp(
        installed_app(&["--open-demo"])
            .stdout(log_file.try_clone().expect("log"))
            .stderr(log_file)
            .spawn()
            .expect("the installed kakehashi"),
    );
    // GTK also names an unmapped leader window after the title: only a
    // visible one can be photographed.
    let search = |by: &str, what: &str| {
        x.run(
            "timeout",
            &[
                "120",
                "xdotool",
                "search",
                "--sync",
                "--onlyvisible",
                by,
                what,
            ],
        )
        .lines()
        .next()
        .map(str::to_owned)
        .unwrap_or_else(|| {
            panic!(
                "no window {what}: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            )
        })
    };
    // The console by its class (its title is in the reader's language),
    // the viewer by the slide its title names.
    let console = search("--class", "^kakehashi$");
    let viewer = search("--name", "cmu_small_region.svs");
    let viewer_pid = x.run("xdotool", &["getwindowpid", &viewer]);
    let viewer_exe = std::fs::read_link(format!("/proc/{}/exe", viewer_pid.trim()))
        .expect("the viewer's executable");
    assert_eq!(viewer_exe, Path::new("/usr/bin/kh"), "the package's viewer");
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("installer");
    std::fs::create_dir_all(&shots).expect("screenshot folder");
    wait_until_window_shows_fit(
        &x,
        &app_dir.join("kh"),
        &viewer,
        Path::new("/usr/lib/Kakehashi/demo/cmu_small_region.svs"),
        &shots,
        "installed-viewer",
        WAIT,
    );
    // The console's page is drawn: with no window manager both windows sit
    // at the origin, so the viewer moves aside first (until the console
    // repaints, the screen there still holds the viewer's picture). The
    // page has the primary "New case" button in its header, over a light
    // body.
    x.run("xdotool", &["windowmove", &viewer, "1280", "0"]);
    let console_shot = shots.join("installed-console.png");
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        x.run(
            "import",
            &[
                "-window",
                &console,
                "-depth",
                "8",
                &format!("PNG24:{}", console_shot.display()),
            ],
        );
        let (width, height, rgb) = kh_testkit::x11::read_png(&console_shot);
        let pixel = |x: u32, y: u32| {
            let i = ((y * width + x) * 3) as usize;
            [rgb[i], rgb[i + 1], rgb[i + 2]]
        };
        let band: Vec<[u8; 3]> = (4..44)
            .flat_map(|y| (width.saturating_sub(400)..width).map(move |x| (x, y)))
            .map(|(x, y)| pixel(x, y))
            .collect();
        let ink = band.iter().filter(|p| **p == ACCENT).count();
        let body: Vec<[u8; 3]> = (height / 4..height * 3 / 4)
            .flat_map(|y| (0..width).map(move |x| (x, y)))
            .map(|(x, y)| pixel(x, y))
            .collect();
        let light = body.iter().filter(|p| p.iter().all(|&c| c > 200)).count();
        // The button is about 100 × 30 of the 400 × 40 band.
        if ink * 20 > band.len() && light * 2 > body.len() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the console page is not drawn ({ink} of {} header pixels the primary button's, {light} of {} body pixels light): {}",
            band.len(),
            body.len(),
            console_shot.display()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    drop(app);
}
