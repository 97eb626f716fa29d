//! What the window tests share: fixtures, a private X server, and the
//! check that a window shows what `kh render` draws for the same view.
// Each test file uses its own subset.
#![allow(dead_code)]

use kh_ipc::ViewState;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub const KH: &str = env!("CARGO_BIN_EXE_kh");
pub const WIDTH: u32 = 800;
pub const HEIGHT: u32 = 600;

pub fn fixture(name: &str) -> PathBuf {
    let dir = std::env::var_os("KH_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/fixtures"));
    let path = dir.join(name);
    assert!(
        path.exists(),
        "missing fixture {}: run `cargo xtask fixtures`",
        path.display()
    );
    path
}

/// A private X server, stopped on drop.
pub struct Xvfb {
    child: Child,
    display: String,
}

impl Xvfb {
    pub fn start() -> Xvfb {
        // -displayfd: Xvfb picks a free display and prints its number.
        let mut child = Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                "1024x768x24",
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
            .expect("Xvfb (apt install xvfb)");
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
    window: &str,
    slide: &Path,
    view: ViewState,
    dir: &Path,
    step: &str,
) {
    let shot = dir.join(format!("{step}-window.png"));
    x.run(
        "import",
        &[
            "-window",
            window,
            "-depth",
            "8",
            &format!("PNG24:{}", shot.display()),
        ],
    );
    let expected = dir.join(format!("{step}-render.png"));
    let out = Command::new(KH)
        .arg("render")
        .arg(slide)
        .args([
            "--width",
            &WIDTH.to_string(),
            "--height",
            &HEIGHT.to_string(),
        ])
        .arg(format!("--center-x={}", view.center_slide[0]))
        .arg(format!("--center-y={}", view.center_slide[1]))
        .arg(format!("--zoom={}", view.zoom))
        .arg(format!("--rotation={}", view.rotation_degrees))
        .arg("--out")
        .arg(&expected)
        .output()
        .expect("kh render");
    assert!(
        out.status.success(),
        "kh render: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (ww, wh, window) = read_png(&shot);
    let (rw, rh, render) = read_png(&expected);
    assert_eq!((ww, wh), (WIDTH, HEIGHT), "{step}: window size");
    assert_eq!((rw, rh), (WIDTH, HEIGHT));
    let (mut sum, mut n, mut worst) = (0u64, 0u64, 0u8);
    for y in HEIGHT / 4..HEIGHT * 3 / 4 {
        for xx in WIDTH / 8..WIDTH * 5 / 8 {
            let i = ((y * WIDTH + xx) * 3) as usize;
            for c in 0..3 {
                let d = window[i + c].abs_diff(render[i + c]);
                sum += u64::from(d);
                worst = worst.max(d);
                n += 1;
            }
        }
    }
    let mean = sum as f64 / n as f64;
    assert!(
        mean < 1.0 && worst <= 8,
        "{step}: the window differs from kh render of {view:?}: mean {mean:.2}, largest {worst} (see {} and {})",
        shot.display(),
        expected.display()
    );
}

/// The environment a child needs to open windows on `x`.
pub fn display_env(x: &Xvfb) -> Vec<(std::ffi::OsString, std::ffi::OsString)> {
    vec![("DISPLAY".into(), x.display.clone().into())]
}
