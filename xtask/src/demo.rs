//! `cargo xtask demo`: the built-in demo case through `kh` (metadata, a
//! region, the associated images, two headless renders, a read benchmark),
//! then the workstation itself on it — on the desktop, or under Xvfb with a
//! screenshot left behind.

use super::*;

pub(crate) fn demo() -> Result<()> {
    apt(BUILD_PACKAGES)?;
    venv()?;
    ui()?;
    let slide = demo_slide()?;
    release_build()?;
    let kh = root().join("target/release/kh");
    let out = root().join("target/demo");
    // Mesa's Vulkan loader says "XDG_RUNTIME_DIR is invalid or not set"
    // when a root shell has none: the demo's commands get a private one.
    let runtime = demo_runtime(&out)?;
    let kh = |args: &[&str]| {
        let mut c = Command::new(&kh);
        c.args(args).env("XDG_RUNTIME_DIR", &runtime);
        c
    };
    println!("\n== kh slide info {}", slide.display());
    run(kh(&["slide", "info"]).arg(&slide))?;
    let region = out.join("region.png");
    println!(
        "\n== a 1024x768 region at full resolution -> {}",
        region.display()
    );
    run(kh(&["slide", "region"])
        .arg(&slide)
        .args([
            "--level", "0", "--x", "600", "--y", "1100", "--width", "1024", "--height", "768",
            "--out",
        ])
        .arg(&region))?;
    for name in ["thumbnail", "macro"] {
        let path = out.join(format!("{name}.png"));
        run(kh(&["slide", "associated"])
            .arg(&slide)
            .arg(name)
            .arg("--out")
            .arg(&path))?;
        println!("== {name} -> {}", path.display());
    }
    // The viewer's renderer, headless (lavapipe when there is no GPU): the
    // whole slide fitted, then a 2x-magnified detail rotated 90 degrees.
    for (name, extra) in [
        ("view_fit.png", vec![]),
        (
            "view_detail.png",
            vec![
                "--center-x=1100",
                "--center-y=1500",
                "--zoom=0.5",
                "--rotation=90",
            ],
        ),
    ] {
        let path = out.join(name);
        println!("\n== kh render -> {}", path.display());
        run(kh(&["render"])
            .arg(&slide)
            .args(["--width", "1600", "--height", "1000"])
            .args(extra)
            .arg("--out")
            .arg(&path))?;
    }
    println!("\n== random 512x512 regions, one thread");
    run(Command::new(root().join("target/release/kh-bench"))
        .arg("slide")
        .arg(&slide)
        .args(["--regions", "300"]))?;
    workstation(&slide)
}

/// `XDG_RUNTIME_DIR` for the demo's processes: the caller's, or a private
/// folder under `out`.
fn demo_runtime(out: &Path) -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let runtime = out.join("runtime");
    std::fs::create_dir_all(&runtime)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(runtime)
}

/// The application itself on the demo case: the console with the case open
/// and the viewer showing its slide. On a desktop it stays open until
/// closed; without a display it runs under Xvfb and leaves a screenshot of
/// both windows.
fn workstation(slide: &Path) -> Result<()> {
    let out = root().join("target/demo");
    let app = root().join("target/release/kakehashi");
    // The demo's own settings and case database, not the user's.
    let mut command = Command::new(&app);
    command
        .arg("--open-demo")
        .env("KAKEHASHI_DEMO_SLIDE", slide)
        .env("KAKEHASHI_VIEWER", root().join("target/release/kh"))
        .env("KAKEHASHI_SYSTEM_CONFIG", out.join("system-config.toml"))
        .env("KAKEHASHI_USER_CONFIG", out.join("user-settings.toml"))
        .env("KAKEHASHI_CASES_DATABASE", out.join("cases.sqlite"));
    let xvfb = Display::open()?;
    let Some(display) = xvfb.name.clone() else {
        println!("\n== the Kakehashi workstation on the demo case (close it to finish)");
        return run(&mut command);
    };
    let display = display.as_str();
    let runtime = demo_runtime(&out)?;
    // Without a desktop there are no sound devices, and ALSA and JACK say
    // so at length while the console lists them: its log goes to a file.
    let log_path = out.join("workstation.log");
    let log = std::fs::File::create(&log_path)?;
    let mut child = command
        .env("DISPLAY", display)
        .env("XDG_RUNTIME_DIR", &runtime)
        .stderr(log)
        .spawn()
        .context("kakehashi")?;
    println!(
        "(the workstation's own log, sound-device probing included: {})",
        log_path.display()
    );
    let shot = out.join("workstation.png");
    let result = (|| -> Result<()> {
        let x = |args: &[&str]| -> Result<String> {
            output(
                Command::new("timeout")
                    .arg("120")
                    .arg("xdotool")
                    .args(args)
                    .env("DISPLAY", display),
            )
        };
        // The viewer's title names the slide once it is open.
        let slide_name = slide
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let viewer = x(&["search", "--sync", "--name", &slide_name])?;
        let viewer = viewer
            .lines()
            .next()
            .context("the viewer window")?
            .to_owned();
        // The console by its class: its title is in the reader's language.
        let console = x(&[
            "search",
            "--sync",
            "--onlyvisible",
            "--class",
            "^kakehashi$",
        ])?;
        let console = console
            .lines()
            .next()
            .context("the console window")?
            .to_owned();
        // Side by side, as on a workstation with the viewer on the right.
        x(&[
            "windowsize",
            &console,
            "960",
            "1080",
            "windowmove",
            &console,
            "0",
            "0",
        ])?;
        x(&[
            "windowsize",
            &viewer,
            "960",
            "1080",
            "windowmove",
            &viewer,
            "960",
            "0",
        ])?;
        // Both settled (the page has loaded the case, the viewer completed
        // its view) when two screenshots a second apart are the same.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let mut before = Vec::new();
        loop {
            run(Command::new("import")
                .args(["-window", "root", "-depth", "8"])
                .arg(format!("PNG24:{}", shot.display()))
                .env("DISPLAY", display))?;
            let now = std::fs::read(&shot)?;
            if now == before || std::time::Instant::now() > deadline {
                return Ok(());
            }
            before = now;
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
    })();
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let _ = child.wait();
    drop(xvfb);
    result?;
    println!(
        "\n== the workstation on the demo case (console + viewer) -> {}",
        shot.display()
    );
    Ok(())
}
