//! The findings review's whole path, with real parts: a case in a real
//! database with a real slide and an annotation file attached, the
//! Workstation's supervised viewer in a real X window showing both when
//! the slide is opened from the case, a verdict given with the keyboard —
//! and a `review` entry in that case's audit trail; a mark the specialist
//! draws is saved beside the case database, attached to the case, and
//! comes back as their own layer when the slide is opened again.

mod x11;

use kh_cases::AuditAction;
use kh_console::{CaseDesk, ViewerCommand, ViewerEvent, Workstation};
use kh_ipc::FromViewer;
use kh_settings::{LoadedSettings, SettingsPaths};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};
use x11::{HEIGHT, KH, WIDTH, Xvfb, fixture};

const WAIT: Duration = Duration::from_secs(60);

fn next_event(
    events: &Receiver<ViewerEvent>,
    what: &str,
    mut want: impl FnMut(&ViewerEvent) -> bool,
) {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match events.recv_timeout(left) {
            Ok(e) if want(&e) => return,
            Ok(_) => {}
            Err(_) => panic!("no {what} within {WAIT:?}"),
        }
    }
}

#[test]
fn a_verdict_in_the_viewer_lands_in_the_cases_audit_trail() {
    let dir = tempfile::Builder::new()
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .tempdir()
        .unwrap();
    let paths = SettingsPaths {
        system: dir.path().join("config.toml"),
        user: dir.path().join("user.toml"),
    };
    std::fs::write(
        &paths.system,
        format!(
            "[cases]\ndatabase = \"{}\"\n[user]\ndisplay_name = \"Dr. Review\"\n",
            dir.path().join("cases.sqlite").display()
        ),
    )
    .unwrap();
    let desk = CaseDesk::open(LoadedSettings::load_from(paths, |_| None).unwrap()).unwrap();
    let slide = fixture("real/cmu_small_region.svs");
    let case = desk.ensure_demo_case(&slide).unwrap().expect("a new case");
    let station = Workstation::new(desk, std::sync::Arc::new(|_: &_| {})).unwrap();
    let attachment = station.cases.open_case(case).unwrap().attachments[0].id;

    let x = Xvfb::start();
    let mut command = ViewerCommand::kh_view(KH.into());
    command
        .args
        .extend(["--size".into(), format!("{WIDTH}x{HEIGHT}").into()]);
    command.env = x11::display_env(&x);
    command
        .env
        .push(("XDG_RUNTIME_DIR".into(), dir.path().as_os_str().to_owned()));
    command.env.push((
        "XDG_CACHE_HOME".into(),
        dir.path().join("cache").into_os_string(),
    ));
    let (send, events) = channel();
    station
        .start_viewer(command, dir.path().join("viewer.sock"), move |e| {
            let _ = send.send(e);
        })
        .unwrap();
    next_event(&events, "the viewer", |e| {
        matches!(e, ViewerEvent::Connected { .. })
    });
    let findings = dir.path().join("mitoses.geojson");
    std::fs::write(
        &findings,
        r#"[{"type":"Feature","geometry":{"type":"Point","coordinates":[700,900]},
             "properties":{"objectType":"detection","measurements":{"Probability":0.8}}}]"#,
    )
    .unwrap();
    // Attached to the case: it opens over the case's slide.
    station
        .cases
        .attach(case, &findings, Some(kh_cases::AttachmentKind::Annotations))
        .unwrap();
    station.open_in_viewer(case, attachment).unwrap();
    // The slide drawn and the attached file shown, in either order.
    let (mut drawn, mut shown) = (false, false);
    next_event(&events, "the slide and its annotations", |e| {
        match e {
            ViewerEvent::Message(FromViewer::ViewComplete { .. }) => drawn = true,
            ViewerEvent::Message(FromViewer::AnnotationsShown { objects: 1, .. }) => shown = true,
            _ => {}
        }
        drawn && shown
    });
    let window = x11::viewer_window(&x);
    x.run("xdotool", &["windowfocus", "--sync", &window]);
    x.run("xdotool", &["key", "j"]);
    x.run("xdotool", &["key", "c"]);
    next_event(&events, "the verdict", |e| {
        matches!(e, ViewerEvent::Message(FromViewer::FindingReviewed { .. }))
    });
    // The relay records it before passing the event on.
    let trail = station.cases.open_case(case).unwrap().audit;
    let review = trail
        .iter()
        .find(|e| e.action == AuditAction::Review)
        .expect("a review entry");
    assert_eq!(review.actor, "Dr. Review");
    assert_eq!(
        review.detail,
        "mitoses.geojson object 0 (score 0.800) confirmed; 1 of 1 reviewed"
    );

    // A point of their own: saved, attached to the case (audited), theirs.
    x.run("xdotool", &["key", "t"]);
    x11::click(&x, &window, 200, 450);
    let mut mine = String::new();
    next_event(&events, "the saved mark", |e| match e {
        ViewerEvent::Message(FromViewer::OwnAnnotationsSaved { path, objects: 1 }) => {
            mine = path.clone();
            true
        }
        _ => false,
    });
    assert!(
        mine.ends_with(&format!("annotations/{case}/cmu_small_region.mine.geojson")),
        "{mine}"
    );
    let page = station.cases.open_case(case).unwrap();
    let attached = page
        .attachments
        .iter()
        .find(|a| a.path == mine)
        .expect("attached to the case");
    assert_eq!(attached.kind, kh_cases::AttachmentKind::Annotations);
    assert!(
        page.audit
            .iter()
            .any(|e| e.action == AuditAction::Attach && e.detail.contains("mine.geojson")),
        "{:?}",
        page.audit
    );
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&mine).unwrap()).unwrap();
    assert_eq!(
        saved["features"][0]["properties"]["provenance"]["name"],
        "Dr. Review"
    );
    // Opened again: their layer is back (once, as theirs), beside the
    // findings.
    station.open_in_viewer(case, attachment).unwrap();
    let (mut theirs, mut findings_shown) = (0, 0);
    next_event(&events, "both layers again", |e| {
        if let ViewerEvent::Message(FromViewer::AnnotationsShown { path, objects }) = e {
            if *path == mine {
                assert_eq!(*objects, 1);
                theirs += 1;
            } else {
                findings_shown += 1;
            }
        }
        theirs >= 1 && findings_shown >= 1
    });
    station.shut_down(Duration::from_secs(3));
}
