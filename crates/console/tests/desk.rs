//! The console's case desk over a real database and real settings files.

use kh_cases::{AttachmentKind, AuditAction, CaseStatus, WorklistQuery};
mod common;

use common::desk;
use std::path::Path;

#[test]
fn the_demo_case_is_made_once_and_its_slide_opens_in_the_viewer_audited() {
    // The refusal below is read in English, whatever this machine's locale.
    kh_i18n::set_language(kh_i18n::Language::English);
    let dir = tempfile::tempdir().expect("tmp");
    let slide = dir.path().join("demo.svs");
    std::fs::write(&slide, b"not really a slide; the desk only refers to it").expect("slide");
    let desk = desk(dir.path(), "");
    assert_eq!(desk.actor(), "Dr. Test");
    let id = desk
        .ensure_demo_case(&slide)
        .expect("demo")
        .expect("made on first start");
    assert_eq!(desk.ensure_demo_case(&slide).expect("again"), None);
    let (demo, demo_slide) = desk.demo_case_slide().expect("find").expect("the demo");
    assert_eq!(
        (demo, Path::new(&demo_slide)),
        (id, slide.canonicalize().expect("c").as_path())
    );
    let page = desk.open_case(id).expect("open");
    assert_eq!(page.case.status, CaseStatus::Draft);
    assert_eq!(page.next_statuses, [CaseStatus::Requested]);
    let attachment = &page.attachments[0];
    assert_eq!(attachment.kind, AttachmentKind::Slide);
    let path = desk.slide_for_viewer(id, attachment.id).expect("slide");
    assert_eq!(Path::new(&path), slide.canonicalize().expect("canonical"));
    // A photo is not a slide.
    let photo = dir.path().join("gross.jpg");
    std::fs::write(&photo, b"jpeg").expect("photo");
    let page = desk.attach(id, &photo, None).expect("attach");
    let photo_id = page.attachments[1].id;
    let err = desk.slide_for_viewer(id, photo_id).expect_err("photo");
    assert!(err.to_string().contains("not a slide"), "{err}");
    let page = desk.open_case(id).expect("open");
    let viewings: Vec<_> = page
        .audit
        .iter()
        .filter(|e| e.action == AuditAction::Open && e.detail.starts_with("viewer"))
        .collect();
    // Once by demo_case_slide, once by the explicit open.
    assert_eq!(viewings.len(), 2);
    assert_eq!(viewings[0].actor, "Dr. Test");
    assert_eq!(
        desk.worklist(&WorklistQuery::default())
            .expect("list")
            .len(),
        1
    );
}

#[test]
fn settings_from_the_form_respect_locks_and_types() {
    let dir = tempfile::tempdir().expect("tmp");
    let desk = desk(
        dir.path(),
        "locked = [\"signalling\"]\n[signalling]\nurl = \"wss://a.example/ws\"",
    );
    let err = desk
        .set_setting("signalling.url", "ws://elsewhere/ws")
        .expect_err("locked");
    assert!(err.to_string().contains("locked"), "{err}");
    let page = desk
        .set_setting("cache.tile_cache_mib", "2048")
        .expect("number");
    let row = page
        .values
        .iter()
        .find(|r| r.key == "cache.tile_cache_mib")
        .expect("row");
    assert_eq!(row.value, 2048);
    let page = desk
        .set_setting("turn.urls", "[turn:a.example:3478, stun:b.example]")
        .expect("list");
    let row = page
        .values
        .iter()
        .find(|r| r.key == "turn.urls")
        .expect("row");
    assert_eq!(
        row.value,
        serde_json::json!(["turn:a.example:3478", "stun:b.example"])
    );
    assert!(
        desk.set_setting("devices.echo_cancellation", "maybe")
            .is_err()
    );
}

#[test]
fn a_japanese_workstation_makes_a_japanese_demo_case() {
    let dir = tempfile::tempdir().expect("tmp");
    let slide = dir.path().join("demo.svs");
    std::fs::write(&slide, b"not really a slide").expect("slide");
    let desk = desk(dir.path(), "[ui]\nlanguage = \"ja\"");
    let id = desk
        .ensure_demo_case(&slide)
        .expect("demo")
        .expect("made on first start");
    let page = desk.open_case(id).expect("open");
    let patient = &page.case.details.patient;
    assert_eq!(patient.name.reveal(), "デモ 患者");
    assert_eq!(patient.name_reading.reveal(), "デモ カンジャ");
    assert!(page.case.details.clinical_question.starts_with("デモ："));
    assert_eq!(page.case.details.requesting_site, "デモ 離島診療所");
}
