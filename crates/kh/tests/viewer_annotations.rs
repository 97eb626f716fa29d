//! Annotations in the real viewer window (Xvfb): a file the console asks
//! for over IPC is read, answered with its object count and drawn over the
//! slide exactly as `kh render --annotations` draws the same view (and,
//! with a class switched off in the panel, as it draws with that class
//! hidden); a file
//! that cannot be read is reported, naming it, and the viewer goes on;
//! findings are stepped through with the keyboard, and a click selects
//! the object under it (reported over IPC) until a click elsewhere or Esc.

mod x11;

use kh_ipc::{FromViewer, ToViewer, ViewState};
use std::sync::mpsc::Receiver;
use x11::{HEIGHT, KH, Viewer, WAIT, WIDTH, Xvfb, fixture, quit, wait_for};

const SHAPES: &str = r#"{"type":"FeatureCollection","features":[
 {"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[900,1300],[1300,1350],[1250,1700],[950,1650],[900,1300]],[[1000,1400],[1150,1420],[1100,1550],[1000,1400]]]},
  "properties":{"objectType":"annotation","classification":{"name":"Tumor","color":[200,0,0]}}},
 {"type":"Feature","geometry":{"type":"LineString","coordinates":[[800,1250],[1400,1800]]},
  "properties":{"classification":{"name":"Margin","color":[0,0,255]}}},
 {"type":"Feature","geometry":{"type":"Point","coordinates":[1200,1300]},
  "properties":{"classification":{"name":"Mitosis","color":[255,200,0]}}}
]}"#;

#[test]
fn annotations_asked_for_are_drawn_as_kh_render_draws_them() {
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("viewer_annotations");
    std::fs::create_dir_all(&shots).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let shapes = dir.path().join("shapes.geojson");
    std::fs::write(&shapes, SHAPES).unwrap();
    let broken = dir.path().join("broken.geojson");
    std::fs::write(&broken, &SHAPES[..200]).unwrap();
    let slide = fixture("real/cmu_small_region.svs");
    let x = Xvfb::start();
    let Viewer {
        mut child,
        mut connection,
        messages,
        window,
    } = Viewer::start(&x, &slide, dir.path());
    wait_for(&messages, "opened", |m| {
        matches!(m, FromViewer::Opened { .. })
    });
    let view = ViewState {
        center_slide: [1100.0, 1500.0],
        zoom: 1.0,
        rotation_degrees: 90,
    };
    connection.send(&ToViewer::SetView { view }).unwrap();
    wait_for(
        &messages,
        "the view",
        |m| matches!(m, FromViewer::ViewComplete { view: v } if *v == view),
    );

    connection
        .send(&ToViewer::ShowAnnotations {
            path: broken.display().to_string(),
        })
        .unwrap();
    let FromViewer::Error { message } = wait_for(&messages, "an error", |m| {
        matches!(m, FromViewer::Error { .. })
    }) else {
        unreachable!()
    };
    assert!(message.contains("broken.geojson"), "{message}");

    connection
        .send(&ToViewer::ShowAnnotations {
            path: shapes.display().to_string(),
        })
        .unwrap();
    let shown = wait_for(&messages, "annotations shown", |m| {
        matches!(m, FromViewer::AnnotationsShown { .. })
    });
    assert_eq!(
        shown,
        FromViewer::AnnotationsShown {
            path: shapes.display().to_string(),
            objects: 3
        }
    );
    kh_testkit::x11::wait_until_window_shows(
        &x,
        std::path::Path::new(KH),
        &window,
        &slide,
        view,
        &["--annotations".to_owned(), shapes.display().to_string()],
        &shots,
        "annotations",
        WAIT,
    );
    // A class switched off in the Annotations panel (N; it opens on the
    // right, its last row the class): drawn as kh render draws with that
    // class hidden (the panel lies outside the part compared).
    x.run("xdotool", &["windowfocus", "--sync", &window]);
    x.run("xdotool", &["key", "n"]);
    let (left, top) = (WIDTH - 290, 220);
    // The pointer rests on the panel first: egui claims a press only
    // once a frame has seen the pointer over it.
    x11::mouse_to(&x, &window, left + 200, top + 135);
    x11::wait_for_pixel(
        &x,
        &window,
        &shots,
        (left + 200, top + 135),
        "the Annotations panel",
        |[r, g, b]| r < 60 && g < 60 && b < 60,
    );
    x11::click(&x, &window, left + 45, top + 182);
    kh_testkit::x11::wait_until_window_shows(
        &x,
        std::path::Path::new(KH),
        &window,
        &slide,
        view,
        &[
            "--annotations".to_owned(),
            shapes.display().to_string(),
            "--hide-class".to_owned(),
            "Tumor".to_owned(),
        ],
        &shots,
        "a class hidden",
        WAIT,
    );
    quit(&mut connection, &mut child);
}

const FINDINGS: &str = r#"{"type":"FeatureCollection","features":[
 {"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[950,950],[1050,950],[1050,1050],[950,1050],[950,950]]]},
  "properties":{"objectType":"detection","classification":{"name":"Mitosis","color":[200,0,0]},"measurements":{"Probability":0.55}}},
 {"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[400,400],[500,400],[500,500],[400,500],[400,400]]]},
  "properties":{"objectType":"detection","classification":{"name":"Mitosis","color":[200,0,0]},"measurements":{"Probability":0.9}}},
 {"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[1450,1950],[1550,1950],[1550,2050],[1450,2050],[1450,1950]]]},
  "properties":{"objectType":"detection","classification":{"name":"Mitosis","color":[200,0,0]},"measurements":{"Probability":0.7}}},
 {"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[200,2000],[300,2000],[300,2100],[200,2100],[200,2000]]]},
  "properties":{"objectType":"detection","classification":{"name":"Mitosis","color":[200,0,0]},"measurements":{"Probability":0.3}}}
]}"#;

/// Findings review in the window: J moves to the highest score first, C and
/// X mark and move on, K goes back; each verdict reaches the console with
/// the review's progress.
#[test]
fn findings_are_stepped_through_by_score_and_each_verdict_reported() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mitoses.geojson");
    std::fs::write(&file, FINDINGS).unwrap();
    let slide = fixture("real/cmu_small_region.svs");
    let x = Xvfb::start();
    let Viewer {
        mut child,
        mut connection,
        messages,
        window,
    } = Viewer::start(&x, &slide, dir.path());
    wait_for(&messages, "opened", |m| {
        matches!(m, FromViewer::Opened { .. })
    });
    wait_for(&messages, "the fitted view", |m| {
        matches!(m, FromViewer::ViewComplete { .. })
    });
    connection
        .send(&ToViewer::ShowAnnotations {
            path: file.display().to_string(),
        })
        .unwrap();
    wait_for(&messages, "annotations shown", |m| {
        matches!(m, FromViewer::AnnotationsShown { objects: 4, .. })
    });
    x.run("xdotool", &["windowfocus", "--sync", &window]);
    let key = |k: &str| {
        x.run("xdotool", &["key", k]);
    };
    let centred_on = |messages: &Receiver<FromViewer>, c: [f64; 2]| {
        wait_for(
            messages,
            "the view on a finding",
            |m| matches!(m, FromViewer::ViewComplete { view } if view.center_slide == c),
        );
    };
    let verdict = |messages: &Receiver<FromViewer>| {
        let FromViewer::FindingReviewed {
            file,
            object,
            score,
            verdict,
            reviewed,
            total,
        } = wait_for(messages, "a verdict", |m| {
            matches!(m, FromViewer::FindingReviewed { .. })
        })
        else {
            unreachable!()
        };
        (file, object, score, verdict, reviewed, total)
    };
    key("g");
    key("j");
    centred_on(&messages, [450.0, 450.0]);
    key("c");
    assert_eq!(
        verdict(&messages),
        (
            "mitoses.geojson".to_owned(),
            1,
            0.9,
            "confirmed".to_owned(),
            1,
            3
        )
    );
    // Marking moves on to the next score.
    centred_on(&messages, [1500.0, 2000.0]);
    key("x");
    assert_eq!(
        verdict(&messages),
        (
            "mitoses.geojson".to_owned(),
            2,
            0.7,
            "rejected".to_owned(),
            2,
            3
        )
    );
    centred_on(&messages, [1000.0, 1000.0]);
    key("k");
    centred_on(&messages, [1500.0, 2000.0]);
    // With the Findings panel closed (it floats over the middle), a click
    // on the finding in the middle of the window selects it; a click on
    // bare slide clears the selection, and so does Escape.
    key("g");
    let click = |px: u32, py: u32| x11::click(&x, &window, px, py);
    let selected = |messages: &Receiver<FromViewer>| {
        let FromViewer::ObjectSelected { file, object } = wait_for(messages, "a selection", |m| {
            matches!(m, FromViewer::ObjectSelected { .. })
        }) else {
            unreachable!()
        };
        (file, object)
    };
    click(WIDTH / 2, HEIGHT / 2);
    assert_eq!(
        selected(&messages),
        (Some("mitoses.geojson".to_owned()), Some(2))
    );
    click(120, HEIGHT - 180);
    assert_eq!(selected(&messages), (None, None));
    click(WIDTH / 2, HEIGHT / 2);
    assert_eq!(selected(&messages).1, Some(2));
    key("Escape");
    assert_eq!(selected(&messages), (None, None));
    quit(&mut connection, &mut child);
}
