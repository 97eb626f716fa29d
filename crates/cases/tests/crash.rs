//! A process killed in the middle of editing leaves a database that opens
//! cleanly and holds the last edit it reported committed; and nothing the
//! store logs names the patient.

use kh_cases::*;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

const CHILD_DB: &str = "KH_CASES_CRASH_CHILD_DB";

fn details(question: &str) -> CaseDetails {
    CaseDetails {
        patient: Patient {
            name: PatientName::new("Yamada Taro"),
            id: PatientId::new("MRN-8472-ZX"),
            age_years: Some(54),
            sex: Sex::Male,
            ..Default::default()
        },
        clinical_question: question.into(),
        specimen: "liver core".into(),
        requesting_site: "Goto".into(),
        consulting_site: "Nagasaki".into(),
    }
}

/// The child: edits one case as fast as it can, saying after each commit
/// which edit is now on disk, until it is killed.
#[test]
#[ignore = "the child process of the crash test"]
fn editing_child() {
    let Some(path) = std::env::var_os(CHILD_DB) else {
        return;
    };
    let mut store = CaseStore::open(std::path::Path::new(&path)).expect("open");
    let mut case = store
        .create_case(&details("edit 0"), "child")
        .expect("create");
    let mut out = std::io::stdout().lock();
    writeln!(out, "case {}", case.id).expect("stdout");
    // Bounded, so an orphan cannot run forever if the parent dies.
    for n in 1..=20_000 {
        case = store
            .update_case(
                case.id,
                case.revision,
                &details(&format!("edit {n}")),
                "child",
            )
            .expect("edit");
        writeln!(out, "committed {n}").expect("stdout");
        out.flush().expect("flush");
    }
}

#[test]
fn a_killed_editor_leaves_the_last_committed_edit() {
    let dir = tempfile::tempdir().expect("tmp");
    // Kill at a few different points, each time into the same database.
    for (round, kill_after) in [37u32, 5, 120].into_iter().enumerate() {
        let path = dir.path().join("cases.sqlite");
        let mut child = Command::new(std::env::current_exe().expect("test binary"))
            .args([
                "editing_child",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_DB, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("child");
        let stdout = child.stdout.take().expect("stdout");
        let mut case = None;
        let mut last_committed = 0;
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("line");
            // libtest's "test editing_child ... " may precede the first line.
            if let Some((_, id)) = line.split_once("case ") {
                case = Some(id.trim().parse::<CaseId>().expect("id"));
            } else if let Some(n) = line.strip_prefix("committed ") {
                last_committed = n.parse::<u32>().expect("n");
                if last_committed >= kill_after {
                    // SIGKILL: no destructors, no final checkpoint.
                    child.kill().expect("kill");
                    break;
                }
            }
        }
        child.wait().expect("reaped");
        let case = case.expect("the child made a case");

        let store = CaseStore::open(&path).expect("reopens after the kill");
        assert_eq!(
            store.integrity_check().expect("check"),
            ["ok"],
            "round {round}"
        );
        let on_disk = store.case(case).expect("case");
        let edit: u32 = on_disk
            .details
            .clinical_question
            .strip_prefix("edit ")
            .and_then(|n| n.parse().ok())
            .expect("an edit");
        // The child may commit one more edit between its last line and the
        // kill, never fewer than it reported.
        assert!(
            edit == last_committed || edit == last_committed + 1,
            "round {round}: reported {last_committed}, found {edit}"
        );
        let edits = store
            .audit_trail(case)
            .expect("trail")
            .iter()
            .filter(|e| e.action == AuditAction::Edit)
            .count();
        assert_eq!(edits as u32, edit, "the audit trail has one entry per edit");
        assert_eq!(store.case_count().expect("count"), round as u64 + 1);
    }
}

#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn the_store_logs_what_happened_never_who_the_patient_is() {
    let logs = LogBuffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let dir = tempfile::tempdir().expect("tmp");
    tracing::subscriber::with_default(subscriber, || {
        let mut store = CaseStore::open(&dir.path().join("cases.sqlite")).expect("open");
        let case = store.create_case(&details("Q"), "dr").expect("create");
        // What a careless caller might log.
        tracing::info!(?case, "opened");
        let slide = dir.path().join("s.svs");
        std::fs::write(&slide, b"x").expect("write");
        store.attach(case.id, &slide, None, "dr").expect("attach");
        let mut renamed = details("Q2");
        renamed.patient.name = PatientName::new("Yamada Taro (corrected)");
        store.update_case(case.id, 2, &renamed, "dr").expect("edit");
        store
            .set_status(case.id, CaseStatus::Requested, "dr")
            .expect("request");
        let err = store
            .update_case(case.id, 1, &renamed, "dr")
            .expect_err("stale");
        tracing::warn!(%err, "edit refused");
        let rows = store.worklist(&WorklistQuery::default()).expect("worklist");
        tracing::info!(?rows, "worklist");
    });
    let text = String::from_utf8(logs.0.lock().expect("logs").clone()).expect("utf8");
    assert!(
        text.contains("case created") && text.contains("«redacted»"),
        "{text}"
    );
    for secret in ["Yamada", "Taro", "MRN-8472"] {
        assert!(!text.contains(secret), "{secret} in the log:\n{text}");
    }
}
