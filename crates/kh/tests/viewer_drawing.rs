//! The specialist's own annotations in the real viewer window (Xvfb, input
//! by xdotool): every drawing tool, moving, deleting, undo and redo, each
//! change saved (atomically) to the file named by `--own-annotations` and
//! reported over IPC; an AI finding dragged becomes an editable copy that
//! is theirs while the AI file stays as it was; the file opens again in a
//! new viewer and is drawn exactly as `kh render --annotations` draws it.

mod x11;

use kh_ipc::{FromViewer, ToViewer, ViewState};
use std::ffi::OsStr;
use std::sync::mpsc::Receiver;
use x11::{HEIGHT, KH, Viewer, WAIT, WIDTH, Xvfb, fixture, quit, wait_for};

const VIEW: ViewState = ViewState {
    center_slide: [1100.0, 1500.0],
    zoom: 1.0,
    rotation_degrees: 0,
};

/// Level-0 pixels under a window pixel in [`VIEW`].
fn slide_at(px: u32, py: u32) -> [f64; 2] {
    [
        VIEW.center_slide[0] + (f64::from(px) - f64::from(WIDTH) / 2.0) * VIEW.zoom,
        VIEW.center_slide[1] + (f64::from(py) - f64::from(HEIGHT) / 2.0) * VIEW.zoom,
    ]
}

const AI: &str = r#"{"type":"FeatureCollection","features":[
 {"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[1000,1250],[1060,1250],[1060,1310],[1000,1310],[1000,1250]]]},
  "properties":{"objectType":"detection","classification":{"name":"Mitosis","color":[200,0,0]},
   "measurements":{"Probability":0.8},
   "provenance":{"kind":"algorithm","name":"mitosis-net","version":"2.1"}}}
]}"#;

fn saved(messages: &Receiver<FromViewer>, objects: usize) {
    wait_for(
        messages,
        &format!("a save with {objects} objects"),
        |m| matches!(m, FromViewer::OwnAnnotationsSaved { objects: n, .. } if *n == objects),
    );
}

/// The saved file's features.
fn features(path: &std::path::Path) -> Vec<serde_json::Value> {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["features"].as_array().unwrap().clone()
}

/// The box around a feature's coordinates.
fn bounds(feature: &serde_json::Value) -> [f64; 4] {
    fn walk(v: &serde_json::Value, b: &mut [f64; 4]) {
        match v.as_array() {
            Some(a) if a.len() == 2 && a[0].is_number() => {
                let (x, y) = (a[0].as_f64().unwrap(), a[1].as_f64().unwrap());
                *b = [b[0].min(x), b[1].min(y), b[2].max(x), b[3].max(y)];
            }
            Some(a) => a.iter().for_each(|c| walk(c, b)),
            None => {}
        }
    }
    let mut b = [f64::MAX, f64::MAX, f64::MIN, f64::MIN];
    walk(&feature["geometry"]["coordinates"], &mut b);
    b
}

fn near(a: [f64; 4], b: [f64; 4]) -> bool {
    a.iter().zip(b).all(|(x, y)| (x - y).abs() <= 1.5)
}

#[test]
fn the_specialist_draws_edits_and_finds_it_again() {
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("viewer_drawing");
    std::fs::create_dir_all(&shots).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mine = dir.path().join("mine.geojson");
    let ai = dir.path().join("mitoses.geojson");
    std::fs::write(&ai, AI).unwrap();
    let slide = fixture("real/cmu_small_region.svs");
    let args: [&OsStr; 4] = [
        "--own-annotations".as_ref(),
        mine.as_os_str(),
        "--author".as_ref(),
        "Dr. Test".as_ref(),
    ];
    let x = Xvfb::start();
    let Viewer {
        mut child,
        mut connection,
        messages,
        window,
    } = Viewer::start_with(&x, &slide, dir.path(), &args, &[]);
    wait_for(&messages, "opened", |m| {
        matches!(m, FromViewer::Opened { .. })
    });
    connection.send(&ToViewer::SetView { view: VIEW }).unwrap();
    wait_for(
        &messages,
        "the view",
        |m| matches!(m, FromViewer::ViewComplete { view } if *view == VIEW),
    );
    x.run("xdotool", &["windowfocus", "--sync", &window]);
    let key = |k: &str| {
        x.run("xdotool", &["key", k]);
    };
    let click = |px: u32, py: u32| x11::click(&x, &window, px, py);
    let drag = |path: &[(u32, u32)]| x11::drag(&x, &window, path);

    // A polygon, vertex by vertex, closed with Enter.
    key("p");
    for (px, py) in [(250, 250), (450, 250), (450, 420), (250, 420)] {
        click(px, py);
    }
    key("Return");
    saved(&messages, 1);
    let f = features(&mine);
    assert_eq!(f[0]["geometry"]["type"], "Polygon");
    let [x0, y0] = slide_at(250, 250);
    let [x1, y1] = slide_at(450, 420);
    assert!(near(bounds(&f[0]), [x0, y0, x1, y1]), "{:?}", bounds(&f[0]));
    assert_eq!(f[0]["properties"]["provenance"]["kind"], "person");
    assert_eq!(f[0]["properties"]["provenance"]["name"], "Dr. Test");

    // Undo takes it away, redo brings it back; each is saved.
    key("ctrl+z");
    saved(&messages, 0);
    key("ctrl+y");
    saved(&messages, 1);
    // Still selected: with the tool put away (Esc), a vertex dragged moves.
    key("Escape");
    drag(&[(450, 250), (465, 240), (480, 230)]);
    saved(&messages, 1);
    let [vx, vy] = slide_at(480, 230);
    assert!(
        near(bounds(&features(&mine)[0]), [x0, vy, vx, y1]),
        "{:?}",
        bounds(&features(&mine)[0])
    );

    // A rectangle dragged corner to corner; it stays selected: Esc leaves
    // the tool, and a drag inside it moves it.
    key("b");
    drag(&[(520, 260), (580, 320), (640, 380)]);
    saved(&messages, 2);
    let [rx0, ry0] = slide_at(520, 260);
    let [rx1, ry1] = slide_at(640, 380);
    assert!(near(bounds(&features(&mine)[1]), [rx0, ry0, rx1, ry1]));
    key("Escape");
    drag(&[(580, 320), (580, 340), (580, 360)]);
    saved(&messages, 2);
    assert!(near(
        bounds(&features(&mine)[1]),
        [rx0, ry0 + 40.0, rx1, ry1 + 40.0]
    ));
    // Delete removes it; undo puts it back where it was moved to.
    key("Delete");
    saved(&messages, 1);
    key("ctrl+z");
    saved(&messages, 2);
    assert!(near(
        bounds(&features(&mine)[1]),
        [rx0, ry0 + 40.0, rx1, ry1 + 40.0]
    ));

    // A point, an ellipse, a freehand outline.
    key("t");
    click(300, 480);
    saved(&messages, 3);
    key("e");
    drag(&[(150, 300), (200, 350), (230, 380)]);
    saved(&messages, 4);
    key("d");
    drag(&[
        (600, 420),
        (660, 430),
        (690, 470),
        (660, 510),
        (600, 500),
        (580, 460),
    ]);
    saved(&messages, 5);
    key("Escape");
    let f = features(&mine);
    assert_eq!(f[2]["geometry"]["type"], "Point");
    let [ex0, ey0] = slide_at(150, 300);
    let [ex1, ey1] = slide_at(230, 380);
    assert!(
        near(bounds(&f[3]), [ex0, ey0, ex1, ey1]),
        "{:?}",
        bounds(&f[3])
    );
    assert_eq!(f[4]["geometry"]["type"], "Polygon");

    // An AI finding, selected and dragged: a copy that is the
    // specialist's, moved; the AI file is unchanged.
    connection
        .send(&ToViewer::ShowAnnotations {
            path: ai.display().to_string(),
        })
        .unwrap();
    wait_for(
        &messages,
        "the AI layer",
        |m| matches!(m, FromViewer::AnnotationsShown { objects: 1, path } if path.ends_with("mitoses.geojson")),
    );
    // (1030, 1280) in the slide is window pixel (330, 80): under the tool
    // strip. Pan down by moving the view instead of clicking there.
    let lower = ViewState {
        center_slide: [1100.0, 1300.0],
        ..VIEW
    };
    connection.send(&ToViewer::SetView { view: lower }).unwrap();
    wait_for(
        &messages,
        "the lower view",
        |m| matches!(m, FromViewer::ViewComplete { view } if *view == lower),
    );
    click(330, 280);
    wait_for(
        &messages,
        "the finding selected",
        |m| matches!(m, FromViewer::ObjectSelected { object: Some(0), file: Some(f) } if f == "mitoses.geojson"),
    );
    drag(&[(330, 280), (350, 280), (370, 280)]);
    saved(&messages, 6);
    saved(&messages, 6);
    let f = features(&mine);
    assert_eq!(f[5]["properties"]["provenance"]["name"], "Dr. Test");
    assert_eq!(
        f[5]["properties"]["provenance"]["editedFrom"],
        "mitosis-net 2.1"
    );
    assert_eq!(f[5]["properties"]["measurements"]["Probability"], 0.8);
    assert!(
        near(bounds(&f[5]), [1040.0, 1250.0, 1100.0, 1310.0]),
        "{:?}",
        bounds(&f[5])
    );
    assert_eq!(std::fs::read_to_string(&ai).unwrap(), AI);
    quit(&mut connection, &mut child);

    // A new viewer finds them again and draws them as kh render does.
    let before = std::fs::read(&mine).unwrap();
    let Viewer {
        mut child,
        mut connection,
        messages,
        window,
    } = Viewer::start_with(&x, &slide, dir.path(), &args, &[]);
    wait_for(&messages, "your annotations", |m| {
        matches!(m, FromViewer::AnnotationsShown { objects: 6, .. })
    });
    connection.send(&ToViewer::SetView { view: VIEW }).unwrap();
    kh_testkit::x11::wait_until_window_shows(
        &x,
        std::path::Path::new(KH),
        &window,
        &slide,
        VIEW,
        &["--annotations".to_owned(), mine.display().to_string()],
        &shots,
        "own annotations",
        WAIT,
    );
    assert_eq!(
        std::fs::read(&mine).unwrap(),
        before,
        "opening changed nothing"
    );
    quit(&mut connection, &mut child);
}
