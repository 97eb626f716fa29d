//! Japanese in the viewer window (Xvfb): a slide whose file name is in
//! kanji and kana, drawn in the status line with the system's Japanese
//! font (IPA Gothic in the test set-up) — not as boxes: the same window
//! without the font (`KH_CJK_FONT=none`, egui's own fonts: a box for
//! every kanji) draws that text differently. And the viewer's own words in
//! Japanese (`--language ja`, or switched live by the console): the
//! toolbar and the title change, drawn without boxes.

mod x11;

use kh_ipc::FromViewer;
use x11::{HEIGHT, Viewer, Xvfb, fixture, quit, wait_for};

/// The status line's start: the slide's name.
const NAME: (u32, u32, u32, u32) = (10, HEIGHT - 32, 190, HEIGHT - 8);

/// The toolbar's first buttons: "Open… Fit 1:1 …" or "開く… 全体表示 等倍 …".
const TOOLBAR: (u32, u32, u32, u32) = (10, 10, 330, 34);

/// The pixels (RGB rows) of `area` of the window now.
fn pixels_of(
    x: &Xvfb,
    window: &str,
    dir: &std::path::Path,
    name: &str,
    area: (u32, u32, u32, u32),
) -> Vec<u8> {
    let (w, _, rgb) = kh_testkit::x11::screenshot(x, window, &dir.join(format!("{name}.png")));
    let (x0, y0, x1, y1) = area;
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
    let pixels = pixels_of(&x, &window, &shots, font.unwrap_or("system"), NAME);
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

/// How many pixels of two same-sized areas differ clearly.
fn differing(a: &[u8], b: &[u8]) -> usize {
    a.chunks(3)
        .zip(b.chunks(3))
        .filter(|(a, b)| a.iter().zip(b.iter()).any(|(p, q)| p.abs_diff(*q) > 40))
        .count()
}

/// The toolbar of a viewer started with `args` and `env`, after `then`
/// (given the connection) has run; and the window's title.
fn toolbar(
    slide: &std::path::Path,
    dir: &std::path::Path,
    shot: &str,
    args: &[&str],
    env: &[(&str, &str)],
    then: impl FnOnce(&mut kh_ipc::Connection),
) -> (Vec<u8>, String) {
    let x = Xvfb::start();
    let extra: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
    let Viewer {
        mut child,
        mut connection,
        messages,
        window,
    } = Viewer::start_with(&x, slide, dir, &extra, env);
    wait_for(&messages, "the fitted view", |m| {
        matches!(m, FromViewer::ViewComplete { .. })
    });
    then(&mut connection);
    // Answered from the window's loop after what `then` sent was handled;
    // the frame it asked for is drawn after that: wait for the toolbar to
    // hold still.
    connection.send(&kh_ipc::ToViewer::Ping { seq: 1 }).unwrap();
    wait_for(&messages, "the pong", |m| {
        matches!(m, FromViewer::Pong { seq: 1 })
    });
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("viewer_japanese");
    std::fs::create_dir_all(&shots).unwrap();
    let mut pixels = pixels_of(&x, &window, &shots, shot, TOOLBAR);
    let deadline = std::time::Instant::now() + x11::WAIT;
    loop {
        std::thread::sleep(std::time::Duration::from_millis(300));
        let again = pixels_of(&x, &window, &shots, shot, TOOLBAR);
        if again == pixels {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{shot}: the toolbar did not hold still within {:?}",
            x11::WAIT
        );
        pixels = again;
    }
    let title = x
        .run("xdotool", &["getwindowname", &window])
        .trim()
        .to_owned();
    quit(&mut connection, &mut child);
    (pixels, title)
}

#[test]
fn the_viewer_speaks_japanese_and_switches_live() {
    let dir = tempfile::tempdir().unwrap();
    let slide = dir.path().join("胃生検.svs");
    std::fs::copy(fixture("real/cmu_small_region.svs"), &slide).unwrap();
    let none = |_: &mut kh_ipc::Connection| {};
    let (english, english_title) =
        toolbar(&slide, dir.path(), "en", &["--language", "en"], &[], none);
    let (japanese, japanese_title) =
        toolbar(&slide, dir.path(), "ja", &["--language", "ja"], &[], none);
    let (boxes, _) = toolbar(
        &slide,
        dir.path(),
        "ja-boxes",
        &["--language", "ja"],
        &[("KH_CJK_FONT", "none")],
        none,
    );
    let (switched, switched_title) = toolbar(
        &slide,
        dir.path(),
        "switched",
        &["--language", "en"],
        &[],
        |c| {
            c.send(&kh_ipc::ToViewer::SetLanguage {
                language: "ja".into(),
            })
            .unwrap();
        },
    );
    assert_eq!(english_title, "胃生検.svs — Kakehashi viewer");
    assert_eq!(japanese_title, "胃生検.svs — 架け橋 ビューア");
    assert_eq!(switched_title, japanese_title, "the title follows a switch");
    let words = differing(&english, &japanese);
    assert!(
        words > 300,
        "the toolbar reads the same in both languages ({words} pixels differ)"
    );
    let tofu = differing(&japanese, &boxes);
    assert!(
        tofu > 150,
        "the Japanese toolbar draws the same with and without a Japanese font ({tofu} pixels differ)"
    );
    let after_switch = differing(&switched, &japanese);
    assert!(
        after_switch < 20,
        "switched to Japanese live, the toolbar is not the one started in Japanese ({after_switch} pixels differ)"
    );
}

/// Japanese typed through an input method — IBus with Anthy, as on a
/// clinic's desktop — reaches the viewer's text fields: Ctrl+O's path
/// field takes 日本, converted from the romaji "nihon" (preedit, Space to
/// convert, Enter to commit), and the slide of that name opens. Without
/// the input method the field would hold "nihon" and the open would fail.
#[test]
fn an_input_method_types_kanji_into_the_viewer() {
    let x = Xvfb::start();
    let ime = kh_testkit::ime::InputMethod::start(&x);
    let dir = tempfile::tempdir().unwrap();
    let slide = fixture("real/cmu_small_region.svs");
    let japanese_named = dir.path().join("日本");
    std::fs::copy(&slide, &japanese_named).unwrap();
    let env = ime.client_env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let Viewer {
        mut child,
        mut connection,
        messages,
        window,
    } = Viewer::start_in(&x, &slide, dir.path(), &[], &env, dir.path());
    wait_for(&messages, "the first slide opened", |m| {
        matches!(m, FromViewer::Opened { .. })
    });
    // A complete view first: the window is up and drawing.
    let view = kh_ipc::ViewState {
        center_slide: [1100.0, 1500.0],
        zoom: 1.0,
        rotation_degrees: 0,
    };
    connection
        .send(&kh_ipc::ToViewer::SetView { view })
        .unwrap();
    wait_for(
        &messages,
        "the view",
        |m| matches!(m, FromViewer::ViewComplete { view: shown } if *shown == view),
    );
    x.run("xdotool", &["windowfocus", "--sync", &window]);
    x.run("xdotool", &["key", "ctrl+o"]);
    // The dialog's path field takes the keyboard; the input method is
    // switched to Japanese for it, as a user does.
    ime.switch_to_japanese();
    // XIM binds the field's input context to the engine asynchronously:
    // a first key may pass through raw ("n異本") or be lost. Keys that
    // change no text come first (End: the cursor is already there).
    x.run("xdotool", &["key", "--delay", "300", "End", "End"]);
    x.run("xdotool", &["type", "--delay", "60", "nihon"]);
    for key in ["space", "Return", "Return"] {
        x.run("xdotool", &["key", "--delay", "200", key]);
    }
    let outcome = wait_for(&messages, "the typed slide opened (or refused)", |m| {
        matches!(m, FromViewer::Opened { .. } | FromViewer::Error { .. })
    });
    match outcome {
        FromViewer::Opened { path, .. } => assert!(path.ends_with("日本"), "{path}"),
        other => panic!("the typed path did not open: {other:?}"),
    }
    quit(&mut connection, &mut child);
}
