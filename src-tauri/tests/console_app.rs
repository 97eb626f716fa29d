//! The real application end to end, driven like a user through WebDriver
//! (tauri-driver in front of Debian's WebKitWebDriver) in a private Xvfb:
//! make a case, attach the sample slide, open it in the viewer (the viewer's
//! window must match `kh render` of the view it reports), kill the viewer
//! (it comes back with the slide and view), then kill the application in the
//! middle of an edit (the database opens cleanly with the last saved edit),
//! and search every log for the patient's name and ID.

mod app;
mod webdriver;

use app::{
    APP, PATIENT_ID, PATIENT_NAME, WAIT, kh, room_token, signalling_server, start_driver,
    start_driver_with, wait_until_ready,
};
use kh_testkit::x11::{Xvfb, assert_window_shows};
use serde_json::{Value, json};
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};
use webdriver::Session;

/// The far side's `kh call`, killed if the test fails first.
struct Far(Child);

impl Far {
    /// It ends once we leave the room.
    fn ends_by_itself(mut self) {
        let deadline = Instant::now() + WAIT;
        loop {
            match self.0.try_wait().expect("wait") {
                Some(status) => {
                    assert!(status.success(), "the far side's kh call: {status}");
                    return;
                }
                None => assert!(
                    Instant::now() < deadline,
                    "the far side did not see us leave"
                ),
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Far {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn viewer_window(x: &Xvfb, slide_name: &str) -> String {
    x.run("xdotool", &["search", "--sync", "--name", slide_name])
        .lines()
        .next()
        .expect("the viewer window")
        .to_owned()
}

fn view_of(status: &Value) -> kh_ipc::ViewState {
    serde_json::from_value(status["view"].clone()).expect("a view")
}

/// The start-up problem the page shows, once it shows one.
fn startup_problem(app: &Session) -> String {
    let said = app.wait_for(
        "the start-up problem on the page",
        "return document.querySelector('#startup-problem').hidden ? null \
         : document.querySelector('#startup-problem-text').textContent;",
        WAIT,
        |v| v.is_string(),
    );
    said.as_str().unwrap_or_default().to_owned()
}

/// A managed config IT got wrong: the application opens a window that
/// names the file and the key, instead of vanishing at start.
#[test]
fn a_broken_managed_config_is_shown_in_the_window() {
    let dir = tempfile::tempdir().expect("tmp");
    for sub in ["run", "home"] {
        std::fs::create_dir_all(dir.path().join(sub)).expect("dir");
    }
    std::fs::write(dir.path().join("system.toml"), "[signalling]\nurl = 5\n")
        .expect("system config");
    let x = Xvfb::start();
    let (driver, port) = start_driver(&x, dir.path(), &dir.path().join("app.log"), "en");
    let app = Session::start(port, Path::new(APP));
    let said = startup_problem(&app);
    assert!(
        said.contains("system.toml") && said.contains("signalling.url"),
        "the problem names the file and the key: {said}"
    );
    assert_eq!(
        app.script(
            "return document.querySelector('#worklist').hidden;",
            json!([])
        )["ok"],
        true,
        "no worklist over a database that was never opened"
    );
    app.end();
    drop(driver);

    // On a Japanese machine (the settings could not be read, so the
    // system's language speaks), the same problem in Japanese.
    let (driver, port) = start_driver_with(
        &x,
        dir.path(),
        &dir.path().join("app-ja.log"),
        &[("LANG", "ja_JP.UTF-8"), ("LC_ALL", "ja_JP.UTF-8")],
    );
    let app = Session::start(port, Path::new(APP));
    let said = startup_problem(&app);
    assert!(
        said.contains("system.toml の signalling.url："),
        "the problem names the file and the key in Japanese: {said}"
    );
    app.end();
    drop(driver);
}

#[test]
fn the_console_makes_a_case_opens_its_slide_and_survives_kills() {
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("console_app");
    std::fs::create_dir_all(&shots).expect("screenshot folder");
    let dir = tempfile::tempdir().expect("tmp");
    for sub in ["run", "home"] {
        std::fs::create_dir_all(dir.path().join(sub)).expect("dir");
    }
    // Slides are named after patients often enough: the name must reach
    // the screen and no log.
    let slides = dir.path().join("slides");
    std::fs::create_dir_all(&slides).expect("slides folder");
    let slide = slides.join("Yamada_Taro.svs");
    std::fs::copy(
        kh_testkit::fixtures_dir().join("real/cmu_small_region.svs"),
        &slide,
    )
    .expect("the patient's slide");
    // And one the viewer cannot read, whose error names it.
    let broken = slides.join("Yamada_Jiro.svs");
    std::fs::write(&broken, b"II*\0not a slide at all").expect("a broken slide");
    let log = dir.path().join("app.log");
    let far_log = dir.path().join("far.log");
    let x = Xvfb::start();
    // The hospital's signalling server, as IT's managed config names it.
    let (_signalling, signal_url) = signalling_server();
    std::fs::write(
        dir.path().join("system.toml"),
        format!("[signalling]\nurl = \"{signal_url}\"\n"),
    )
    .expect("system config");
    // The English catalogue whatever this machine's locale: the checks read
    // the page's words (console_japanese is the Japanese run).
    let (driver, port) = start_driver(&x, dir.path(), &log, "en");
    let app = Session::start(port, Path::new(APP));

    // A new case, typed in like a user, once the page offers it.
    wait_until_ready(&app);
    app.find("#new-case", WAIT).click();
    app.find("#patient-name", WAIT).type_text(PATIENT_NAME);
    app.find("#patient-id", WAIT).type_text(PATIENT_ID);
    app.find("#question", WAIT).type_text("Margins clear?");
    app.find("#save-case", WAIT).click();
    app.wait_for(
        "the case in the worklist",
        "return document.querySelector('#cases').innerText;",
        WAIT,
        |v| v.as_str().is_some_and(|t| t.contains(PATIENT_NAME)),
    );
    let id = app.script(
        "return document.querySelector('#cases tr.selected').dataset.caseId;",
        json!([]),
    )["ok"]
        .as_str()
        .expect("the selected case")
        .to_owned();

    // The sample slide, attached through the command the file dialog and
    // drag and drop call (native dialogs are outside WebDriver's reach).
    app.invoke("attach", json!({ "id": id, "path": slide, "kind": null }));
    app.find("#cases tr.selected td", WAIT).click();
    app.find("#attachments button.open-in-viewer", WAIT).click();
    app.wait_for(
        "the viewer showing the slide",
        "return document.querySelector('#viewer-line').textContent;",
        WAIT,
        |v| {
            v.as_str()
                .is_some_and(|t| t.contains("Showing Yamada_Taro.svs"))
        },
    );
    let complete = |restarts: u64| {
        app.wait_for(
            "a complete view in the viewer",
            "return await window.__TAURI__.core.invoke('viewer_status');",
            WAIT,
            |s| s["connected"] == true && s["restarts"] == restarts && s["view_complete"] == true,
        )
    };
    // The viewer's window against `kh render` of the view it reports.
    let viewer_shows = |view, step| {
        let window = viewer_window(&x, "Yamada_Taro.svs");
        assert_window_shows(&x, &kh(), &window, &slide, view, &shots, step);
    };
    let status = complete(0);
    let view = view_of(&status);
    viewer_shows(view, "opened");

    // The viewer killed as a GPU driver crash would: it comes back alone,
    // same slide, same view.
    let pid = status["pid"].as_u64().expect("pid").to_string();
    assert!(
        Command::new("kill")
            .args(["-KILL", &pid])
            .status()
            .expect("kill")
            .success()
    );
    let status = complete(1);
    assert_ne!(status["pid"].as_u64().map(|p| p.to_string()), Some(pid));
    assert_eq!(view_of(&status), view);
    viewer_shows(view, "restarted");

    // A consultation call from the case page: the hospital's server (set in
    // the managed config), a room token pasted in, a specialist's peer that
    // sends its own test pattern and tone; the pattern the viewer
    // must decode and show. No audio devices here, and no camera.
    let token = room_token(&id, kakehashi_signal::Role::Presenter);
    let far = Far(Command::new(kh())
        .args([
            "call",
            "--server",
            &signal_url,
            "--room",
            &format!("case-{id}"),
        ])
        .args([
            "--token",
            &room_token(&id, kakehashi_signal::Role::Specialist),
            "--name",
            "Dr. Far",
        ])
        .args(["--bind", "127.0.0.1", "--size", "320x240", "--fps", "15"])
        .env("RUST_LOG", "debug")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&far_log).expect("far log"))
        .spawn()
        .expect("kh call"));
    app.script(
        "for (const id of ['call-microphone', 'call-speaker', 'call-camera']) \
         document.getElementById(id).value = 'none';",
        json!([]),
    );
    app.find("#call-token", WAIT).type_text(&token);
    app.find("#join-call", WAIT).click();
    let text_of = |css: &str| format!("return document.querySelector('{css}').textContent;");
    app.wait_for("in call", &text_of("#call-state"), WAIT, |v| v == "In call");
    app.wait_for(
        "the far side listed",
        &text_of("#call-participants"),
        WAIT,
        |v| v.as_str().is_some_and(|t| t.contains("Dr. Far")),
    );
    app.wait_for("a quality reading", &text_of("#call-quality"), WAIT, |v| {
        v.as_str()
            .is_some_and(|t| t.contains("connection") && t.contains("ms"))
    });
    // The far side's video, forwarded compressed, decoded by the viewer.
    app.wait_for(
        "the remote video in the viewer",
        &text_of("#call-video"),
        WAIT,
        |v| v.as_str().is_some_and(|t| t.contains("320 × 240")),
    );
    // The language switched mid-call: every word changes, the call goes
    // on (its state, the far side, fresh quality readings), and back.
    let switch_to = |language: &str| {
        app.script(
            "const s = document.getElementById('language-setting'); s.value = arguments[0]; \
             s.dispatchEvent(new Event('change'));",
            json!([language]),
        );
    };
    switch_to("ja");
    app.wait_for("in call, in Japanese", &text_of("#call-state"), WAIT, |v| {
        v == "通話中"
    });
    app.wait_for(
        "a quality reading in Japanese",
        &text_of("#call-quality"),
        WAIT,
        |v| v.as_str().is_some_and(|t| t.starts_with("接続")),
    );
    assert!(
        app.script(&text_of("#call-participants"), json!([]))["ok"]
            .as_str()
            .is_some_and(|t| t.contains("Dr. Far")),
        "the far side is still in the call"
    );
    app.script("document.getElementById('settings').close();", json!([]));
    switch_to("en");
    app.wait_for("in call, in English", &text_of("#call-state"), WAIT, |v| {
        v == "In call"
    });
    app.script("document.getElementById('settings').close();", json!([]));
    app.find("#call-mute", WAIT).click();
    app.wait_for("muted", &text_of("#call-mute"), WAIT, |v| v == "Unmute");
    app.find("#hang-up", WAIT).click();
    app.wait_for(
        "the join form back",
        "return document.querySelector('#call-join').hidden;",
        WAIT,
        |v| v == false,
    );
    far.ends_by_itself();

    // An analysis from the case page: tissue detection on the slide (the
    // picker's first choice), then its findings filed and attached.
    app.find("#attachments select.analysis-model", WAIT);
    app.find("#attachments button.analyze", WAIT).click();
    app.wait_for("the analysis filed", &text_of("#message"), WAIT, |v| {
        v.as_str()
            .is_some_and(|t| t.contains(" in Yamada_Taro tissue "))
    });
    app.wait_for(
        "its findings attached",
        &text_of("#attachments"),
        WAIT,
        |v| v.as_str().is_some_and(|t| t.contains("Annotations:")),
    );

    // The broken slide: the viewer's error reaches the screen, naming it.
    let page = app.invoke("attach", json!({ "id": id, "path": broken, "kind": null }));
    let attachment = page["attachments"]
        .as_array()
        .and_then(|all| all.iter().find(|a| a["file_name"] == "Yamada_Jiro.svs"))
        .and_then(|a| a["id"].as_i64())
        .expect("the broken slide attached");
    app.invoke(
        "open_in_viewer",
        json!({ "id": id, "attachment": attachment }),
    );
    app.wait_for(
        "the viewer's error on screen",
        &text_of("#viewer-line"),
        WAIT,
        |v| v.as_str().is_some_and(|t| t.contains("Yamada_Jiro.svs")),
    );
    // The attachment changed the case behind the page's back: reload it.
    app.find("#cases tr.selected td", WAIT).click();
    app.wait_for("the page reloaded", &text_of("#attachments"), WAIT, |v| {
        v.as_str().is_some_and(|t| t.contains("Yamada_Jiro.svs"))
    });

    // An edit saved, then another typed but not saved when the app dies.
    let question = app.find("#question", WAIT);
    question.clear();
    question.type_text("Margins clear? Saved before the crash");
    app.find("#save-case", WAIT).click();
    app.wait_for(
        "the save",
        "return document.querySelector('#message').textContent;",
        WAIT,
        |v| v == "Saved",
    );
    app.find("#specimen", WAIT).type_text("typed, never saved");
    let killed = Command::new("pkill")
        .args(["-KILL", "-f", &format!("^{APP}")])
        .status()
        .expect("pkill");
    assert!(killed.success(), "the application was running");
    app.end();
    drop(driver);

    let store = kh_cases::CaseStore::open(&dir.path().join("cases.sqlite")).expect("reopens");
    assert_eq!(store.integrity_check().expect("check"), ["ok"]);
    let case = store.case(id.parse().expect("id")).expect("the case");
    assert_eq!(
        case.details.clinical_question,
        "Margins clear? Saved before the crash"
    );
    assert_eq!(case.details.specimen, "");
    assert_eq!(case.details.patient.name.reveal(), PATIENT_NAME);

    // Logs of every process (the console, its viewer, the far side's `kh
    // call`): plenty of them, the viewer's error about the broken slide
    // among them, and not one naming the patient or their slides.
    let text = std::fs::read_to_string(&log).expect("log");
    assert!(
        text.contains("case created") && text.contains("attached"),
        "{text}"
    );
    assert!(
        text.contains("[redacted]"),
        "the broken slide's error: {text}"
    );
    let far_text = std::fs::read_to_string(&far_log).expect("far log");
    assert!(far_text.contains("joined"), "{far_text}");
    for (log, text) in [(&log, &text), (&far_log, &far_text)] {
        for secret in [PATIENT_NAME, "Tanaka", "Hanako", PATIENT_ID, "Yamada"] {
            assert!(
                !text.to_lowercase().contains(&secret.to_lowercase()),
                "{secret} is in the log {}",
                log.display()
            );
        }
    }
}
