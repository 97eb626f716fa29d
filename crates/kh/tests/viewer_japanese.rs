//! Japanese in the viewer window (Xvfb): a slide whose file name is in
//! kanji and kana, drawn in the status line with the system's Japanese
//! font (IPA Gothic in the test set-up) — not as boxes: the same window
//! without the font (`KH_CJK_FONT=none`, egui's own fonts: a box for
//! every kanji) draws that text differently.

mod x11;

use kh_ipc::FromViewer;
use x11::{HEIGHT, Viewer, Xvfb, fixture, quit, wait_for};

/// The status line's start: the slide's name.
const NAME: (u32, u32, u32, u32) = (10, HEIGHT - 32, 190, HEIGHT - 8);

/// The status line's pixels (RGB rows) in the window now.
fn status_line(x: &Xvfb, window: &str, dir: &std::path::Path, name: &str) -> Vec<u8> {
    let (w, _, rgb) = kh_testkit::x11::screenshot(x, window, &dir.join(format!("{name}.png")));
    let (x0, y0, x1, y1) = NAME;
    let mut out = Vec::new();
    for y in y0..y1 {
        let row = ((y * w + x0) * 3) as usize..((y * w + x1) * 3) as usize;
        out.extend_from_slice(&rgb[row]);
    }
    out
}

fn shown(font: Option<&str>, slide: &std::path::Path, dir: &std::path::Path) -> Vec<u8> {
    let x = Xvfb::start();
    let env: Vec<(&str, &str)> = font.map(|f| ("KH_CJK_FONT", f)).into_iter().collect();
    let Viewer {
        mut child,
        mut connection,
        messages,
        window,
    } = Viewer::start_with(&x, slide, dir, &[], &env);
    wait_for(&messages, "opened", |m| {
        matches!(m, FromViewer::Opened { .. })
    });
    wait_for(&messages, "the fitted view", |m| {
        matches!(m, FromViewer::ViewComplete { .. })
    });
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("viewer_japanese");
    std::fs::create_dir_all(&shots).unwrap();
    let pixels = status_line(&x, &window, &shots, font.unwrap_or("system"));
    quit(&mut connection, &mut child);
    pixels
}

#[test]
fn a_japanese_slide_name_is_drawn_in_japanese() {
    let dir = tempfile::tempdir().unwrap();
    let slide = dir.path().join("胃生検_生検胃.svs");
    std::fs::copy(fixture("real/cmu_small_region.svs"), &slide).unwrap();
    let with_font = shown(None, &slide, dir.path());
    let boxes = shown(Some("none"), &slide, dir.path());
    let differing = with_font
        .chunks(3)
        .zip(boxes.chunks(3))
        .filter(|(a, b)| a.iter().zip(b.iter()).any(|(p, q)| p.abs_diff(*q) > 40))
        .count();
    assert!(
        differing > 150,
        "the name draws the same with and without a Japanese font ({differing} pixels differ)"
    );
    // And it is drawn at all: text's light pixels on the dark line.
    let ink = with_font.chunks(3).filter(|p| p[0] > 90).count();
    assert!(ink > 300, "{ink} light pixels where the name should be");
}
