//! Analyses started from a case, as the console starts them: a real case
//! database, the fixtures' slides attached, the Workstation running the
//! analysis in the background. Progress arrives, the findings are filed in
//! the case's analysis folder and attached as annotations, the run is in
//! the audit trail; a cancelled run leaves nothing; wrong requests are
//! refused in words.

use kh_cases::{
    AttachmentKind, AuditAction, CaseDetails, CaseId, Patient, PatientId, PatientName, Sex,
};
use kh_console::analyses::AnalysisEvent;
use kh_console::{CaseDesk, Workstation};
use kh_settings::{LoadedSettings, SettingsPaths};
use kh_testkit::fixtures_dir;
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(120);

fn workstation(dir: &std::path::Path) -> Workstation {
    let paths = SettingsPaths {
        system: dir.join("config.toml"),
        user: dir.join("user.toml"),
    };
    std::fs::write(
        &paths.system,
        format!(
            // English whatever this machine's locale: refusals are read.
            "[cases]\ndatabase = \"{}\"\n[user]\ndisplay_name = \"Dr. Analyse\"\n[ui]\nlanguage = \"en\"\n",
            dir.join("cases.sqlite").display()
        ),
    )
    .unwrap();
    let desk = CaseDesk::open(LoadedSettings::load_from(paths, |_| None).unwrap()).unwrap();
    Workstation::new(desk, std::sync::Arc::new(|_: &_| {})).unwrap()
}

fn case_with(station: &Workstation, slide: &str) -> (CaseId, i64) {
    let case = station
        .cases
        .create_case(&CaseDetails {
            patient: Patient {
                name: PatientName::new("Test Patient"),
                id: PatientId::new("A-1"),
                age_years: Some(60),
                sex: Sex::Male,
                ..Default::default()
            },
            clinical_question: "tissue, nuclei, focus?".into(),
            ..CaseDetails::default()
        })
        .unwrap();
    let page = station
        .cases
        .attach(
            case.id,
            &fixtures_dir().join(slide),
            Some(AttachmentKind::Slide),
        )
        .unwrap();
    (case.id, page.attachments[0].id)
}

/// Events until the job ends (the last one returned with the rest).
fn until_end(events: &Receiver<AnalysisEvent>) -> Vec<AnalysisEvent> {
    let mut seen = Vec::new();
    loop {
        let e = events.recv_timeout(WAIT).expect("the analysis ends");
        let end = !matches!(e, AnalysisEvent::Progress { .. });
        seen.push(e);
        if end {
            return seen;
        }
    }
}

#[test]
fn tissue_from_a_case_is_filed_attached_and_audited() {
    let dir = tempfile::tempdir().unwrap();
    let station = workstation(dir.path());
    let (case, slide) = case_with(&station, "analysis/tissue.tiff");
    let (send, events) = channel();
    let job = station
        .start_analysis(case, slide, "tissue", move |e| {
            let _ = send.send(e);
        })
        .unwrap();
    let seen = until_end(&events);
    let progress: Vec<f32> = seen
        .iter()
        .filter_map(|e| match e {
            AnalysisEvent::Progress { done, job: j, .. } if *j == job => Some(*done),
            _ => None,
        })
        .collect();
    assert!(progress.len() >= 3, "{seen:?}");
    assert!(progress.windows(2).all(|w| w[0] <= w[1]), "{progress:?}");
    let AnalysisEvent::Finished {
        objects,
        file,
        page,
        ..
    } = seen.last().unwrap()
    else {
        panic!("{seen:?}");
    };
    assert_eq!(*objects, 3);
    // In the case's analysis folder beside the database, readable.
    let file = std::path::PathBuf::from(file);
    assert!(
        file.starts_with(dir.path().join("analyses").join(case.to_string())),
        "{}",
        file.display()
    );
    let (_, read) = kh_annotations::read(&file).unwrap();
    assert_eq!(read.objects.len(), 3);
    assert!(
        page.attachments
            .iter()
            .any(|a| a.kind == AttachmentKind::Annotations && std::path::Path::new(&a.path) == file),
        "{:?}",
        page.attachments
    );
    let entry = page
        .audit
        .iter()
        .find(|e| e.action == AuditAction::Analysis)
        .expect("an analysis entry");
    assert_eq!(entry.actor, "Dr. Analyse");
    assert!(
        entry
            .detail
            .starts_with("tissue on tissue.tiff: 3 objects in tissue tissue "),
        "{}",
        entry.detail
    );
    assert_eq!(station.analyses.running(), 0);
}

#[test]
fn a_cancelled_analysis_leaves_nothing_and_bad_requests_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let station = workstation(dir.path());
    let (case, slide) = case_with(&station, "analysis/he.tiff");
    let (send, events) = channel();
    let sender = send.clone();
    let first = station
        .start_analysis(case, slide, "nuclei", move |e| {
            let _ = sender.send(e);
        })
        .unwrap();
    let sender = send.clone();
    let second = station
        .start_analysis(case, slide, "focus", move |e| {
            let _ = sender.send(e);
        })
        .unwrap();
    // Two run at most.
    let third = station.start_analysis(case, slide, "tissue", |_| {});
    assert!(
        third
            .as_ref()
            .is_err_and(|e| e.contains("analyses are running")),
        "{third:?}"
    );
    assert!(station.analyses.cancel(first));
    assert!(station.analyses.cancel(second));
    let mut ended = Vec::new();
    while ended.len() < 2 {
        let e = events.recv_timeout(WAIT).expect("both end");
        if let AnalysisEvent::Cancelled { job, .. } = e {
            ended.push(job);
        } else {
            assert!(
                matches!(e, AnalysisEvent::Progress { .. }),
                "a cancelled job ended otherwise: {e:?}"
            );
        }
    }
    let page = station.cases.page_of(case).unwrap();
    assert_eq!(page.attachments.len(), 1, "nothing attached");
    assert!(!page.audit.iter().any(|e| e.action == AuditAction::Analysis));
    let folder = dir.path().join("analyses").join(case.to_string());
    let left: Vec<_> = std::fs::read_dir(&folder)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "files left: {left:?}");
    assert!(!station.analyses.cancel(first), "no longer running");

    for (model, attachment, says) in [
        ("cells", slide, "expected tissue, nuclei, focus"),
        ("tissue", slide + 99, "has no attachment"),
    ] {
        let refused = station.start_analysis(case, attachment, model, |_| {});
        assert!(
            refused.as_ref().is_err_and(|e| e.contains(says)),
            "{model}: {refused:?}"
        );
    }
    drop(send);
}
