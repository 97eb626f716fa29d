//! The case store against a real SQLite database on disk.

use kh_cases::*;
use std::path::Path;

fn details(name: &str, patient_id: &str, question: &str) -> CaseDetails {
    CaseDetails {
        patient: Patient {
            name: PatientName::new(name),
            id: PatientId::new(patient_id),
            age_years: Some(67),
            sex: Sex::Female,
            ..Default::default()
        },
        clinical_question: question.into(),
        specimen: "gastric biopsy".into(),
        requesting_site: "Tsushima Clinic".into(),
        consulting_site: "Kyushu University Hospital".into(),
    }
}

fn actions(store: &CaseStore, id: CaseId) -> Vec<AuditAction> {
    store
        .audit_trail(id)
        .expect("audit")
        .into_iter()
        .map(|e| e.action)
        .collect()
}

fn file(dir: &Path, name: &str, bytes: usize) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, vec![7u8; bytes]).expect("write");
    path
}

#[test]
fn a_case_goes_from_draft_to_a_signed_report_and_is_then_locked() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut store = CaseStore::open(&dir.path().join("cases.sqlite")).expect("open");
    let case = store
        .create_case(&details("Sato Hanako", "MRN-1", ""), "dr.island")
        .expect("create");
    assert_eq!((case.status, case.revision), (CaseStatus::Draft, 1));

    // A request needs a question.
    let err = store
        .set_status(case.id, CaseStatus::Requested, "dr.island")
        .expect_err("no question");
    assert!(matches!(err, CaseStoreError::Missing { .. }), "{err}");
    let slide = file(dir.path(), "biopsy.svs", 1234);
    let attachment = store
        .attach(case.id, &slide, None, "dr.island")
        .expect("attach");
    assert_eq!(
        (attachment.kind, attachment.size_bytes),
        (AttachmentKind::Slide, 1234)
    );
    let edited = store
        .update_case(
            case.id,
            store.case(case.id).expect("case").revision,
            &details("Sato Hanako", "MRN-1", "Signet ring cells?"),
            "dr.island",
        )
        .expect("edit");
    store
        .set_status(case.id, CaseStatus::Requested, "dr.island")
        .expect("request");
    // The consultant cannot write before taking the case.
    assert!(store.save_report(case.id, "early", "prof.hub").is_err());
    store
        .set_status(case.id, CaseStatus::InConsultation, "prof.hub")
        .expect("take");
    // Nor sign an empty report, nor jump to reported by status.
    assert!(matches!(
        store.sign_report(case.id, "prof.hub"),
        Err(CaseStoreError::Missing { .. })
    ));
    assert!(matches!(
        store.set_status(case.id, CaseStatus::Reported, "prof.hub"),
        Err(CaseStoreError::InvalidTransition { .. })
    ));
    store
        .save_report(case.id, "Draft: suspicious.", "prof.hub")
        .expect("draft report");
    store
        .save_report(case.id, "Poorly cohesive carcinoma.", "prof.hub")
        .expect("report");
    let signed = store.sign_report(case.id, "prof.hub").expect("sign");
    assert_eq!(signed.text, "Poorly cohesive carcinoma.");
    assert_eq!(
        signed.signed.as_ref().map(|s| s.by.as_str()),
        Some("prof.hub")
    );
    let reported = store.case(case.id).expect("case");
    assert_eq!(reported.status, CaseStatus::Reported);

    // Locked: no edit, attachment, report change or second signature.
    let locked = [
        store
            .update_case(case.id, reported.revision, &edited.details, "dr.island")
            .map(|_| ()),
        store
            .attach(case.id, &file(dir.path(), "late.png", 3), None, "dr.island")
            .map(|_| ()),
        store.detach(case.id, attachment.id, "dr.island"),
        store
            .save_report(case.id, "changed", "prof.hub")
            .map(|_| ()),
        store.sign_report(case.id, "someone.else").map(|_| ()),
    ];
    for result in locked {
        let err = result.expect_err("locked");
        assert!(matches!(err, CaseStoreError::NotAllowed { .. }), "{err}");
        assert!(err.to_string().contains("reported"), "{err}");
    }
    store
        .set_status(case.id, CaseStatus::Closed, "prof.hub")
        .expect("close");
    store
        .record_export(case.id, "report pdf", "prof.hub")
        .expect("export");
    store.open_case(case.id, "auditor").expect("open");
    // Reviewing findings reads the case: recorded even once it is closed.
    store
        .record_review(
            case.id,
            "nuclei.geojson object 7 (score 0.930) confirmed; 1 of 40 reviewed",
            "prof.hub",
        )
        .expect("review");
    store
        .record_analysis(
            case.id,
            "nuclei on slide.svs: 1204 objects in slide nuclei 20261207-101500.geojson",
            "prof.hub",
        )
        .expect("analysis");

    use AuditAction::*;
    assert_eq!(
        actions(&store, case.id),
        [
            Create, Attach, Edit, Status, Status, ReportEdit, ReportEdit, SignOff, Status, Export,
            Open, Review, Analysis
        ]
    );
    let trail = store.audit_trail(case.id).expect("trail");
    assert_eq!(trail[2].detail, "clinical_question");
    assert_eq!(trail[3].detail, "draft->requested");
    assert_eq!(trail[1].detail, "slide biopsy.svs");
    assert!(
        trail
            .iter()
            .all(|e| !e.detail.contains("Sato") && !e.detail.contains("MRN"))
    );
    assert_eq!(store.integrity_check().expect("check"), ["ok"]);
}

/// The triggers hold even against SQL that bypasses `CaseStore`.
#[test]
fn the_database_itself_refuses_to_change_a_signed_report_or_the_audit_trail() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("cases.sqlite");
    let mut store = CaseStore::open(&path).expect("open");
    let case = store
        .create_case(&details("A", "1", "Q"), "dr")
        .expect("create");
    store
        .set_status(case.id, CaseStatus::Requested, "dr")
        .expect("request");
    store
        .set_status(case.id, CaseStatus::InConsultation, "prof")
        .expect("take");
    store
        .save_report(case.id, "benign", "prof")
        .expect("report");
    store.sign_report(case.id, "prof").expect("sign");
    drop(store);

    let raw = rusqlite::Connection::open(&path).expect("raw");
    let attempts = [
        "UPDATE reports SET text = 'malignant'",
        "DELETE FROM reports",
        "UPDATE audit SET actor = 'nobody'",
        "DELETE FROM audit",
    ];
    for sql in attempts {
        let err = raw.execute(sql, []).expect_err(sql);
        assert!(
            err.to_string().contains("locked") || err.to_string().contains("append-only"),
            "{sql}: {err}"
        );
    }
    let store = CaseStore::open(&path).expect("reopen");
    assert_eq!(
        store.report(case.id).expect("report").map(|r| r.text),
        Some("benign".into())
    );
    // create, requested, in consultation, report, sign-off.
    assert_eq!(store.audit_trail(case.id).expect("trail").len(), 5);
}

#[test]
fn an_edit_made_on_an_old_revision_is_refused_not_merged() {
    let mut store = CaseStore::open_in_memory().expect("open");
    let case = store
        .create_case(&details("A", "1", "Q"), "dr")
        .expect("create");
    let first = details("A", "1", "Q from window one");
    let second = details("A", "1", "Q from window two");
    store
        .update_case(case.id, case.revision, &first, "dr")
        .expect("first edit");
    let err = store
        .update_case(case.id, case.revision, &second, "dr")
        .expect_err("stale");
    assert!(
        matches!(
            err,
            CaseStoreError::Conflict {
                expected: 1,
                found: 2,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        store.case(case.id).expect("case").details.clinical_question,
        "Q from window one"
    );
    // Saving unchanged details is not an edit.
    let now = store.case(case.id).expect("case");
    let same = store
        .update_case(case.id, now.revision, &first, "dr")
        .expect("same");
    assert_eq!(same.revision, now.revision);
    assert_eq!(actions(&store, case.id).len(), 2);
}

#[test]
fn status_moves_one_step_at_a_time() {
    let mut store = CaseStore::open_in_memory().expect("open");
    let case = store
        .create_case(&details("A", "1", "Q"), "dr")
        .expect("create");
    for to in [
        CaseStatus::InConsultation,
        CaseStatus::Reported,
        CaseStatus::Closed,
        CaseStatus::Draft,
    ] {
        let err = store.set_status(case.id, to, "dr").expect_err("skip");
        assert!(
            matches!(err, CaseStoreError::InvalidTransition { .. }),
            "{err}"
        );
    }
    store
        .set_status(case.id, CaseStatus::Requested, "dr")
        .expect("request");
    store
        .set_status(case.id, CaseStatus::Draft, "dr")
        .expect("withdraw");
    let missing = CaseId::new_random();
    assert!(matches!(
        store.set_status(missing, CaseStatus::Requested, "dr"),
        Err(CaseStoreError::NoSuchCase(id)) if id == missing
    ));
}

#[test]
fn attachments_are_checked_and_named_in_errors() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut store = CaseStore::open_in_memory().expect("open");
    let case = store
        .create_case(&details("A", "1", "Q"), "dr")
        .expect("create");
    let missing = store
        .attach(case.id, &dir.path().join("gone.svs"), None, "dr")
        .expect_err("missing");
    assert!(missing.to_string().contains("gone.svs"), "{missing}");
    let folder = store
        .attach(case.id, dir.path(), None, "dr")
        .expect_err("dir");
    assert!(folder.to_string().contains("not a file"), "{folder}");
    let odd = file(dir.path(), "notes.xyz", 4);
    let unknown = store.attach(case.id, &odd, None, "dr").expect_err("kind");
    assert!(unknown.to_string().contains("kind"), "{unknown}");
    let forced = store
        .attach(case.id, &odd, Some(AttachmentKind::Annotations), "dr")
        .expect("with a kind");
    let again = store
        .attach(case.id, &odd, Some(AttachmentKind::Annotations), "dr")
        .expect_err("twice");
    assert!(again.to_string().contains("already attached"), "{again}");
    let photo = store
        .attach(case.id, &file(dir.path(), "gross.JPG", 10), None, "dr")
        .expect("photo");
    let video = store
        .attach(case.id, &file(dir.path(), "scope.mp4", 10), None, "dr")
        .expect("video");
    assert_eq!(
        store
            .attachments(case.id)
            .expect("list")
            .iter()
            .map(|a| a.kind)
            .collect::<Vec<_>>(),
        [
            AttachmentKind::Annotations,
            AttachmentKind::Photo,
            AttachmentKind::Video
        ]
    );
    store.detach(case.id, forced.id, "dr").expect("detach");
    assert!(store.detach(case.id, forced.id, "dr").is_err());
    let left: Vec<i64> = store
        .attachments(case.id)
        .expect("list")
        .iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(left, [photo.id, video.id]);
}

#[test]
fn the_worklist_searches_filters_sorts_and_bounds() {
    let mut store = CaseStore::open_in_memory().expect("open");
    let people = [
        ("Suzuki Ichiro", "MRN-100", "Lymphoma?"),
        ("Tanaka Yuki", "MRN-200", "Margins clear? 50% necrosis"),
        ("suzuki jiro", "MRN-300", "Melanoma depth"),
    ];
    let mut ids = Vec::new();
    for (name, patient_id, question) in people {
        ids.push(
            store
                .create_case(&details(name, patient_id, question), "dr")
                .expect("create")
                .id,
        );
    }
    store
        .set_status(ids[1], CaseStatus::Requested, "dr")
        .expect("request");
    let names = |query: WorklistQuery| -> Vec<String> {
        store
            .worklist(&query)
            .expect("worklist")
            .into_iter()
            .map(|s| s.patient_name.reveal().to_owned())
            .collect()
    };
    let search = |text: &str| WorklistQuery {
        search: text.into(),
        sort: SortKey::PatientName,
        descending: false,
        ..WorklistQuery::default()
    };
    assert_eq!(names(search("SUZUKI")), ["Suzuki Ichiro", "suzuki jiro"]);
    assert_eq!(names(search("mrn-2")), ["Tanaka Yuki"]);
    assert_eq!(names(search("melanoma")), ["suzuki jiro"]);
    // Wildcards typed by the user are literal.
    assert_eq!(names(search("50%")), ["Tanaka Yuki"]);
    assert!(names(search("%")).len() == 1);
    assert!(names(search("_")).is_empty());
    assert_eq!(names(search("Kyushu")).len(), 3);
    let requested = WorklistQuery {
        statuses: vec![CaseStatus::Requested],
        ..WorklistQuery::default()
    };
    assert_eq!(names(requested), ["Tanaka Yuki"]);
    // The most recently touched case first by default.
    assert_eq!(names(WorklistQuery::default())[0], "Tanaka Yuki");
    let by_status = WorklistQuery {
        sort: SortKey::Status,
        descending: true,
        limit: 1,
        ..WorklistQuery::default()
    };
    assert_eq!(names(by_status), ["Tanaka Yuki"]);
    let bounded = WorklistQuery {
        limit: u32::MAX,
        ..WorklistQuery::default()
    };
    assert_eq!(names(bounded).len(), 3);
    let summary = &store.worklist(&search("Tanaka")).expect("worklist")[0];
    assert_eq!((summary.attachments, summary.report_signed), (0, false));
}

#[test]
fn a_foreign_or_newer_database_is_refused_with_a_reason() {
    let dir = tempfile::tempdir().expect("tmp");
    let not_sqlite = dir.path().join("slide.svs");
    std::fs::write(
        &not_sqlite,
        b"II*\0 this is a TIFF, not SQLite, and long enough to look like a header ......",
    )
    .expect("write");
    let err = CaseStore::open(&not_sqlite).err().expect("refused");
    assert!(matches!(err, CaseStoreError::NotADatabase { .. }), "{err}");
    assert!(err.to_string().contains("slide.svs"), "{err}");

    let newer = dir.path().join("newer.sqlite");
    drop(CaseStore::open(&newer).expect("create"));
    rusqlite::Connection::open(&newer)
        .expect("raw")
        .execute_batch("PRAGMA user_version = 99")
        .expect("bump");
    let err = CaseStore::open(&newer).err().expect("refused");
    assert!(
        matches!(
            err,
            CaseStoreError::NewerSchema {
                found: 99,
                known: SCHEMA_VERSION
            }
        ),
        "{err}"
    );
}

#[test]
fn a_reopened_database_keeps_its_cases_and_migrates_once() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("nested/dir/cases.sqlite");
    let id = {
        let mut store = CaseStore::open(&path).expect("open");
        store
            .create_case(&details("A", "1", "Q"), "dr")
            .expect("create")
            .id
    };
    let store = CaseStore::open(&path).expect("reopen");
    assert_eq!(store.case_count().expect("count"), 1);
    assert_eq!(store.case(id).expect("case").details.clinical_question, "Q");
    let version: u32 = rusqlite::Connection::open(&path)
        .expect("raw")
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .expect("version");
    assert_eq!(version, SCHEMA_VERSION);
}

#[test]
fn oversized_fields_are_refused_before_they_reach_the_database() {
    let mut store = CaseStore::open_in_memory().expect("open");
    let mut huge = details("A", "1", "Q");
    huge.specimen = "x".repeat(10_000);
    let err = store.create_case(&huge, "dr").expect_err("too long");
    assert!(err.to_string().contains("specimen"), "{err}");
    let mut old = details("A", "1", "Q");
    old.patient.age_years = Some(400);
    assert!(store.create_case(&old, "dr").is_err());
    assert_eq!(store.case_count().expect("count"), 0);
}

#[test]
fn inspecting_a_database_changes_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("cases.sqlite");
    assert!(CaseStore::inspect(&path).is_err(), "no file, no database");
    assert!(!path.exists(), "inspect created nothing");
    let mut store = CaseStore::open(&path).expect("open");
    store
        .create_case(&details("A", "1", "Q"), "dr")
        .expect("create");
    let report = CaseStore::inspect(&path).expect("inspect");
    assert_eq!(report.schema_version, SCHEMA_VERSION);
    assert_eq!(report.cases, Some(1));
    assert_eq!(report.integrity, ["ok"]);
    let text = dir.path().join("notes.txt");
    std::fs::write(
        &text,
        "not a database at all, but long enough to read a header from it",
    )
    .expect("write");
    let err = CaseStore::inspect(&text).expect_err("not sqlite");
    assert!(err.to_string().contains("notes.txt"), "{err}");
}

/// The database holds patient data: no other local user may read it.
#[cfg(unix)]
#[test]
fn the_database_and_its_directory_are_private() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("data/kakehashi");
    let path = dir.join("cases.sqlite");
    let mut store = CaseStore::open(&path).expect("open");
    store
        .create_case(&details("Yamada Taro", "P-1", "?"), "dr")
        .expect("a case");
    drop(store);
    let mode = |p: &Path| std::fs::metadata(p).expect("metadata").mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&path), 0o600);
    for entry in std::fs::read_dir(&dir).expect("dir").flatten() {
        assert_eq!(mode(&entry.path()), 0o600, "{}", entry.path().display());
    }
    // A database left readable by others (an older build, a copy) is
    // closed to them when opened.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let store = CaseStore::open(&path).expect("reopen");
    assert_eq!(store.case_count().expect("count"), 1);
    assert_eq!(mode(&path), 0o600);
}

#[test]
fn japanese_names_carry_their_reading_and_infants_their_months() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut store = CaseStore::open(&dir.path().join("cases.sqlite")).expect("open");
    let person = |name: &str, reading: &str| {
        let mut d = details(name, "", "胃生検：腺癌の有無");
        d.patient.name_reading = PatientNameReading::new(reading);
        d
    };
    // Read as a Japanese list is (アイウエオ): 青木 (アオキ) first, though
    // its kanji's code point (青 U+9752) would put it last.
    for (name, reading) in [
        ("山田 太郎", "ヤマダ タロウ"),
        ("渡辺 花子", "ワタナベ ハナコ"),
        ("佐藤 一郎", "サトウ イチロウ"),
        ("青木 二郎", "アオキ ジロウ"),
    ] {
        store
            .create_case(&person(name, reading), "dr.island")
            .expect("create");
    }
    let query = WorklistQuery {
        sort: SortKey::PatientName,
        descending: false,
        ..WorklistQuery::default()
    };
    let names: Vec<String> = store
        .worklist(&query)
        .expect("worklist")
        .iter()
        .map(|c| c.patient_name_reading.reveal().to_owned())
        .collect();
    assert_eq!(
        names,
        [
            "アオキ ジロウ",
            "サトウ イチロウ",
            "ヤマダ タロウ",
            "ワタナベ ハナコ"
        ]
    );
    // The reading is searched like the name.
    let found = store
        .worklist(&WorklistQuery {
            search: "ワタナベ".into(),
            ..WorklistQuery::default()
        })
        .expect("search");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].patient_name.reveal(), "渡辺 花子");

    // However the reading is typed — hiragana, half-width katakana (older
    // hospital systems), with an ideographic space — it finds the case;
    // so do full-width Latin letters for an ID or a Latin name.
    for typed in ["わたなべ", "ﾜﾀﾅﾍﾞ", "ワタナベ　ハナコ", "ﾜﾀﾅﾍﾞ ﾊﾅｺ"]
    {
        let found = store
            .worklist(&WorklistQuery {
                search: typed.into(),
                ..WorklistQuery::default()
            })
            .expect("search");
        let names: Vec<&str> = found.iter().map(|c| c.patient_name.reveal()).collect();
        assert_eq!(names, ["渡辺 花子"], "searched as {typed:?}");
    }
    let latin = store
        .create_case(&person("SMITH John", ""), "dr.island")
        .expect("latin");
    let found = store
        .worklist(&WorklistQuery {
            search: "ｓｍｉｔｈ".into(),
            ..WorklistQuery::default()
        })
        .expect("search");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, latin.id);
    // A reading typed in hiragana sorts among the katakana ones (by code
    // point every hiragana reading would come first).
    store
        .create_case(&person("中村 三郎", "なかむら さぶろう"), "dr.island")
        .expect("hiragana reading");
    let readings: Vec<String> = store
        .worklist(&query)
        .expect("worklist")
        .iter()
        .map(|c| c.patient_name_reading.reveal().to_owned())
        .filter(|r| !r.is_empty())
        .collect();
    assert_eq!(
        readings,
        [
            "アオキ ジロウ",
            "サトウ イチロウ",
            "なかむら さぶろう",
            "ヤマダ タロウ",
            "ワタナベ ハナコ"
        ]
    );

    // An infant: 1 year 3 months, kept; 12 months is a year, refused.
    let mut infant = person("小林 陽", "コバヤシ ヒナタ");
    infant.patient.age_years = Some(1);
    infant.patient.age_months = Some(3);
    let case = store.create_case(&infant, "dr.island").expect("infant");
    let again = store.case(case.id).expect("case");
    assert_eq!(again.details.patient.age_months, Some(3));
    assert_eq!(
        again.details.patient.name_reading.reveal(),
        "コバヤシ ヒナタ"
    );
    infant.patient.age_months = Some(12);
    let err = store
        .update_case(case.id, again.revision, &infant, "dr.island")
        .expect_err("12 months");
    assert!(err.to_string().contains("months"), "{err}");
    // The reading identifies the patient: never in a Debug print.
    assert!(!format!("{:?}", again.details.patient).contains("コバヤシ"));
}

#[test]
fn a_database_of_the_first_schema_gains_the_reading_and_keeps_its_cases() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("cases.sqlite");
    {
        // The first schema, as version 0.1 left it, with one case.
        let mut store = CaseStore::open(&path).expect("open");
        store
            .create_case(&details("Sato Hanako", "MRN-1", "q"), "dr.island")
            .expect("create");
    }
    {
        let connection = rusqlite::Connection::open(&path).expect("sqlite");
        connection
            .execute_batch(
                "ALTER TABLE cases DROP COLUMN patient_age_months;
                 ALTER TABLE cases DROP COLUMN patient_name_reading;
                 PRAGMA user_version = 1;",
            )
            .expect("back to the first schema");
    }
    let store = CaseStore::open(&path).expect("reopen migrates");
    let cases = store.worklist(&WorklistQuery::default()).expect("worklist");
    assert_eq!(cases.len(), 1);
    assert_eq!(cases[0].patient_name_reading.reveal(), "");
    let case = store.case(cases[0].id).expect("case");
    assert_eq!(case.details.patient.age_months, None);
}
