//! A private X server for window tests, and the check that a window shows
//! what `kh render` draws for the same view.

use kh_ipc::ViewState;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A private X server, stopped on drop.
pub struct Xvfb {
    child: Child,
    display: String,
}

impl Xvfb {
    pub fn start() -> Xvfb {
        Xvfb::start_sized(1920, 1200)
    }

    /// A screen of `width` × `height` pixels (a 4K screen for HiDPI
    /// screenshots).
    pub fn start_sized(width: u32, height: u32) -> Xvfb {
        let screen = format!("{width}x{height}x24");
        // -displayfd: Xvfb picks a free display and prints its number.
        let mut child = Command::new(crate::needs::program("Xvfb", "xvfb"))
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                &screen,
                "-nolisten",
                "tcp",
                // No key autorepeat within a test: on a loaded machine the
                // server can see xdotool's press long enough before its
                // release to repeat it (one Right arrow panned twice).
                "-ardelay",
                "30000",
                "-arinterval",
                "30000",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting Xvfb");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("display number");
        Xvfb {
            child,
            display: format!(":{}", line.trim()),
        }
    }

    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        if let Some(package) = package_of(program) {
            crate::needs::program(program, package);
        }
        c.env("DISPLAY", &self.display);
        c
    }

    pub fn run(&self, program: &str, args: &[&str]) -> String {
        let out = self.command(program).args(args).output().expect(program);
        assert!(
            out.status.success(),
            "{program} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// The Debian package of the X tools the window tests run.
fn package_of(program: &str) -> Option<&'static str> {
    match program {
        "xdotool" => Some("xdotool"),
        "import" | "convert" | "compare" => Some("imagemagick"),
        "xprop" => Some("x11-utils"),
        _ => None,
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn read_png(path: &Path) -> (u32, u32, Vec<u8>) {
    let decoder = png::Decoder::new(BufReader::new(std::fs::File::open(path).expect("png")));
    let mut reader = decoder.read_info().expect("png header");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("png frame");
    let channels = info.color_type.samples();
    let rgb: Vec<u8> = buf[..info.buffer_size()]
        .chunks_exact(channels)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    (info.width, info.height, rgb)
}

/// The window's pixels against `kh render` of the same view, over a part of
/// the window no overlay covers (toolbar on top, minimap top right, status
/// and scale bar at the bottom).
pub fn assert_window_shows(
    x: &Xvfb,
    kh: &Path,
    window: &str,
    slide: &Path,
    view: ViewState,
    dir: &Path,
    step: &str,
) {
    let view_args = view_args(view);
    assert_window_matches_render(
        x,
        kh,
        window,
        slide,
        &view_args,
        &format!("{view:?}"),
        dir,
        step,
    );
}

/// Waits (up to `wait`) until the window shows `kh render` of `view` with
/// `extra` arguments (annotations, their style) over the part no panel
/// covers: for changes that complete no new view, such as a layer drawn
/// over the one already shown.
#[allow(clippy::too_many_arguments)]
pub fn wait_until_window_shows(
    x: &Xvfb,
    kh: &Path,
    window: &str,
    slide: &Path,
    view: ViewState,
    extra: &[String],
    dir: &Path,
    step: &str,
    wait: std::time::Duration,
) {
    let mut args = view_args(view);
    args.extend(extra.iter().cloned());
    let said = args.join(" ");
    wait_until_window_matches(x, kh, window, slide, &args, &said, dir, step, wait);
}

/// Waits (up to `wait`) until the window shows `kh render` of the whole
/// slide fitted to it: what a viewer shows once it has opened the slide and
/// its tiles are in.
pub fn wait_until_window_shows_fit(
    x: &Xvfb,
    kh: &Path,
    window: &str,
    slide: &Path,
    dir: &Path,
    step: &str,
    wait: std::time::Duration,
) {
    let said = "of the fitted slide";
    wait_until_window_matches(x, kh, window, slide, &[], said, dir, step, wait);
}

/// `kh render`'s arguments for a view.
fn view_args(view: ViewState) -> Vec<String> {
    vec![
        format!("--center-x={}", view.center_slide[0]),
        format!("--center-y={}", view.center_slide[1]),
        format!("--zoom={}", view.zoom),
        format!("--rotation={}", view.rotation_degrees),
    ]
}

/// Polls the window (a screenshot every 300 ms) until it matches `kh
/// render` with `args`, panicking with both pictures' paths at `wait`.
#[allow(clippy::too_many_arguments)]
fn wait_until_window_matches(
    x: &Xvfb,
    kh: &Path,
    window: &str,
    slide: &Path,
    args: &[String],
    said: &str,
    dir: &Path,
    step: &str,
    wait: std::time::Duration,
) {
    let deadline = std::time::Instant::now() + wait;
    let shot = dir.join(format!("{step}-window.png"));
    let (width, height, _) = screenshot(x, window, &shot);
    let expected = render(
        kh,
        slide,
        (width, height),
        args,
        &dir.join(format!("{step}-render.png")),
    );
    loop {
        let window_rgb = screenshot(x, window, &shot);
        match compare(&window_rgb, &expected) {
            Ok(()) => return,
            Err(why) if std::time::Instant::now() > deadline => panic!(
                "{step}: after {wait:?} the window still differs from kh render {said}: {why} (see {} and {})",
                shot.display(),
                expected.3.display()
            ),
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(300)),
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn assert_window_matches_render(
    x: &Xvfb,
    kh: &Path,
    window: &str,
    slide: &Path,
    view_args: &[String],
    view_said: &str,
    dir: &Path,
    step: &str,
) {
    let shot = dir.join(format!("{step}-window.png"));
    let window_rgb = screenshot(x, window, &shot);
    // Rendered at the window's own size: what the viewer would draw there.
    let expected = render(
        kh,
        slide,
        (window_rgb.0, window_rgb.1),
        view_args,
        &dir.join(format!("{step}-render.png")),
    );
    if let Err(why) = compare(&window_rgb, &expected) {
        panic!(
            "{step}: the window differs from kh render of {view_said}: {why} (see {} and {})",
            shot.display(),
            expected.3.display()
        );
    }
}

pub type Picture = (u32, u32, Vec<u8>);

/// The window's pixels now (written to `path` too).
pub fn screenshot(x: &Xvfb, window: &str, path: &Path) -> Picture {
    x.run(
        "import",
        &[
            "-window",
            window,
            "-depth",
            "8",
            &format!("PNG24:{}", path.display()),
        ],
    );
    read_png(path)
}

/// `kh render` at `size`: the picture and where it was written.
fn render(
    kh: &Path,
    slide: &Path,
    size: (u32, u32),
    view_args: &[String],
    path: &Path,
) -> (u32, u32, Vec<u8>, std::path::PathBuf) {
    let out = Command::new(kh)
        .arg("render")
        .arg(slide)
        .args([
            "--width",
            &size.0.to_string(),
            "--height",
            &size.1.to_string(),
        ])
        .args(view_args)
        .arg("--out")
        .arg(path)
        .output()
        .expect("kh render");
    assert!(
        out.status.success(),
        "kh render: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (w, h, rgb) = read_png(path);
    assert_eq!((w, h), size, "render size");
    (w, h, rgb, path.to_path_buf())
}

/// Mean and largest difference over the part of the window no overlay
/// covers: the same picture up to GPU rounding, or why not.
fn compare(
    window: &Picture,
    render: &(u32, u32, Vec<u8>, std::path::PathBuf),
) -> Result<(), String> {
    let (width, height, window_rgb) = window;
    if (*width, *height) != (render.0, render.1) {
        return Err(format!(
            "the window is {width}x{height}, the render {}x{}",
            render.0, render.1
        ));
    }
    let (mut sum, mut n, mut worst) = (0u64, 0u64, 0u8);
    for y in height / 4..height * 3 / 4 {
        for xx in width / 8..width * 5 / 8 {
            let i = ((y * width + xx) * 3) as usize;
            for c in 0..3 {
                let d = window_rgb[i + c].abs_diff(render.2[i + c]);
                sum += u64::from(d);
                worst = worst.max(d);
                n += 1;
            }
        }
    }
    let mean = sum as f64 / n as f64;
    if mean < 1.0 && worst <= 8 {
        Ok(())
    } else {
        Err(format!("mean {mean:.2}, largest {worst}"))
    }
}

/// The environment a child needs to open windows on `x`.
pub fn display_env(x: &Xvfb) -> Vec<(std::ffi::OsString, std::ffi::OsString)> {
    vec![("DISPLAY".into(), x.display.clone().into())]
}
