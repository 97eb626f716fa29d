//! `CaseDesk`: what the console window asks of the case store and the
//! settings, in the shapes the front end shows. The Tauri commands are thin
//! wrappers over these methods, so this is where the console's rules live
//! and are tested.

use kh_cases::*;
use kh_settings::{LoadedSettings, SettingReport};
use parking_lot::Mutex;
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum DeskError {
    #[error(transparent)]
    Cases(#[from] CaseStoreError),
    #[error(transparent)]
    Settings(#[from] kh_settings::SettingsError),
    /// Refused, in the reader's words (catalogue sentences).
    #[error("{0}")]
    Refused(String),
}

impl DeskError {
    /// Reading or writing `path` failed: which file, and why in words.
    pub fn file(path: &Path, error: &std::io::Error) -> DeskError {
        use crate::ForPeople;
        DeskError::Refused(kh_i18n::tr!(
            "console-file-refused",
            path = path.display().to_string(),
            problem = error.for_people()
        ))
    }
}

/// Everything the case page shows, from one audited open.
#[derive(Clone, Debug, Serialize)]
pub struct CasePage {
    pub case: Case,
    pub attachments: Vec<Attachment>,
    pub report: Option<Report>,
    pub audit: Vec<AuditEntry>,
    /// The statuses the case may be moved to from here by hand.
    pub next_statuses: Vec<CaseStatus>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SettingsPage {
    pub values: Vec<SettingReport>,
    pub warnings: Vec<String>,
    pub system_file: PathBuf,
    pub user_file: PathBuf,
}

pub struct CaseDesk {
    store: Mutex<CaseStore>,
    settings: Mutex<LoadedSettings>,
    actor: String,
}

/// Who is at this workstation, for the audit trail and sign-offs: the name
/// set in the settings, else the OS account.
pub fn actor_from(settings: &kh_settings::Settings) -> String {
    let named = settings.user.display_name.trim();
    if !named.is_empty() {
        return named.to_owned();
    }
    std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "workstation".into())
}

impl CaseDesk {
    /// Opens the case database the settings name (or the default one).
    pub fn open(settings: LoadedSettings) -> Result<CaseDesk, DeskError> {
        let database = if settings.settings.cases.database.is_empty() {
            kh_settings::default_cases_database()
        } else {
            PathBuf::from(&settings.settings.cases.database)
        };
        let store = CaseStore::open(&database)?;
        let actor = actor_from(&settings.settings);
        Ok(CaseDesk {
            store: Mutex::new(store),
            settings: Mutex::new(settings),
            actor,
        })
    }

    pub fn actor(&self) -> &str {
        &self.actor
    }

    pub fn worklist(&self, query: &WorklistQuery) -> Result<Vec<CaseSummary>, DeskError> {
        let cases = self.store.lock().worklist(query)?;
        for case in &cases {
            kh_log::remember_name(case.patient_name.reveal());
            kh_log::remember(case.patient_id.reveal());
        }
        Ok(cases)
    }

    pub fn create_case(&self, details: &CaseDetails) -> Result<Case, DeskError> {
        keep_out_of_logs(details);
        Ok(self.store.lock().create_case(details, &self.actor)?)
    }

    /// The case page, with the open recorded in the audit trail.
    pub fn open_case(&self, id: CaseId) -> Result<CasePage, DeskError> {
        let mut store = self.store.lock();
        let case = store.open_case(id, &self.actor)?;
        page(&store, case)
    }

    /// The case page again after a change (not a new open).
    /// The case page as it stands, without an audited open (for a page
    /// already open that changed).
    pub fn page_of(&self, id: CaseId) -> Result<CasePage, DeskError> {
        let store = self.store.lock();
        let case = store.case(id)?;
        page(&store, case)
    }

    pub fn update_case(
        &self,
        id: CaseId,
        revision: i64,
        details: &CaseDetails,
    ) -> Result<CasePage, DeskError> {
        keep_out_of_logs(details);
        self.store
            .lock()
            .update_case(id, revision, details, &self.actor)?;
        self.page_of(id)
    }

    pub fn set_status(&self, id: CaseId, to: CaseStatus) -> Result<CasePage, DeskError> {
        self.store.lock().set_status(id, to, &self.actor)?;
        self.page_of(id)
    }

    pub fn attach(
        &self,
        id: CaseId,
        path: &Path,
        kind: Option<AttachmentKind>,
    ) -> Result<CasePage, DeskError> {
        kh_log::remember_path(path);
        self.store.lock().attach(id, path, kind, &self.actor)?;
        self.page_of(id)
    }

    pub fn detach(&self, id: CaseId, attachment: i64) -> Result<CasePage, DeskError> {
        self.store.lock().detach(id, attachment, &self.actor)?;
        self.page_of(id)
    }

    pub fn save_report(&self, id: CaseId, text: &str) -> Result<CasePage, DeskError> {
        self.store.lock().save_report(id, text, &self.actor)?;
        self.page_of(id)
    }

    pub fn sign_report(&self, id: CaseId) -> Result<CasePage, DeskError> {
        self.store.lock().sign_report(id, &self.actor)?;
        self.page_of(id)
    }

    /// The file of a slide attachment, for the viewer; the viewing is
    /// audited. Photos and videos are not slides and are refused.
    pub fn slide_for_viewer(&self, id: CaseId, attachment: i64) -> Result<String, DeskError> {
        let mut store = self.store.lock();
        let found = slide_attachment(&store, id, attachment)?;
        store.record_viewing(id, &found.file_name, &self.actor)?;
        Ok(found.path)
    }

    /// The file of a slide attachment and its name, for an analysis (the
    /// analysis's own audit entry records it was read).
    pub fn slide_path(&self, id: CaseId, attachment: i64) -> Result<(String, String), DeskError> {
        let found = slide_attachment(&self.store.lock(), id, attachment)?;
        Ok((found.path, found.file_name))
    }

    /// The case's annotation files, to show over its slide.
    pub fn annotation_paths(&self, id: CaseId) -> Result<Vec<String>, DeskError> {
        Ok(self
            .store
            .lock()
            .attachments(id)?
            .into_iter()
            .filter(|a| a.kind == AttachmentKind::Annotations)
            .map(|a| a.path)
            .collect())
    }

    /// Records an analysis run on the case's slide in its audit trail.
    pub fn record_analysis(&self, id: CaseId, note: &str) -> Result<(), DeskError> {
        self.store.lock().record_analysis(id, note, &self.actor)?;
        Ok(())
    }

    /// Records an export of the case's data (`what`: the file and the form
    /// it was written in) in its audit trail.
    pub fn record_export(&self, id: CaseId, what: &str) -> Result<(), DeskError> {
        self.store.lock().record_export(id, what, &self.actor)?;
        Ok(())
    }

    /// Records a verdict on an analysis's finding in the case's audit trail.
    pub fn record_review(&self, id: CaseId, note: &str) -> Result<(), DeskError> {
        self.store.lock().record_review(id, note, &self.actor)?;
        Ok(())
    }

    /// The settings in force now (the user may have changed some).
    pub fn settings(&self) -> kh_settings::Settings {
        self.settings.lock().settings.clone()
    }

    pub fn settings_page(&self) -> SettingsPage {
        let settings = self.settings.lock();
        SettingsPage {
            values: settings.report(),
            warnings: settings
                .warnings
                .iter()
                .map(crate::ForPeople::for_people)
                .collect(),
            system_file: settings.paths.system.clone(),
            user_file: settings.paths.user.clone(),
        }
    }

    /// The page's catalogue and theme, as the settings have them.
    pub fn page_catalogue(&self) -> crate::language::PageCatalogue {
        crate::language::page_catalogue(Some(&self.settings.lock()))
    }

    pub fn set_setting(&self, key: &str, value: &str) -> Result<SettingsPage, DeskError> {
        self.settings.lock().set_user_text(key, value)?;
        Ok(self.settings_page())
    }

    /// The demo case and its slide's path, if the demo case exists; the
    /// viewing is audited like any other.
    pub fn demo_case_slide(&self) -> Result<Option<(CaseId, String)>, DeskError> {
        let query = WorklistQuery {
            search: DEMO_PATIENT_ID.into(),
            limit: 1,
            ..WorklistQuery::default()
        };
        let Some(demo) = self.worklist(&query)?.into_iter().next() else {
            return Ok(None);
        };
        let slide = self
            .store
            .lock()
            .attachments(demo.id)?
            .into_iter()
            .find(|a| a.kind == AttachmentKind::Slide);
        match slide {
            Some(slide) => Ok(Some((demo.id, self.slide_for_viewer(demo.id, slide.id)?))),
            None => Ok(None),
        }
    }

    /// On a first start with no cases, a demo case with `slide` attached,
    /// so a newcomer sees the product work. Returns it when made.
    pub fn ensure_demo_case(&self, slide: &Path) -> Result<Option<CaseId>, DeskError> {
        // In the reader's language: a Japanese newcomer meets a Japanese
        // case (a name with its reading).
        let words = kh_i18n::Catalogue::new(crate::language::language_of(&self.settings()));
        let mut store = self.store.lock();
        if store.case_count()? > 0 || !slide.is_file() {
            return Ok(None);
        }
        let details = CaseDetails {
            patient: Patient {
                name: PatientName::new(words.text("console-demo-name")),
                name_reading: PatientNameReading::new(words.text("console-demo-reading.value")),
                id: PatientId::new(DEMO_PATIENT_ID),
                age_years: Some(58),
                sex: Sex::Unknown,
                ..Default::default()
            },
            clinical_question: words.text("console-demo-question"),
            specimen: words.text("console-demo-specimen"),
            requesting_site: words.text("console-demo-requesting-site"),
            consulting_site: words.text("console-demo-consulting-site"),
        };
        let case = store.create_case(&details, "kakehashi")?;
        store.attach(case.id, slide, Some(AttachmentKind::Slide), "kakehashi")?;
        Ok(Some(case.id))
    }
}

/// The demo case's patient ID: what marks it as the demo.
const DEMO_PATIENT_ID: &str = "DEMO-0001";

/// Patient data this process now holds, for `kh_log` to scrub from any
/// line that would carry it (an error quoting a file, say).
fn keep_out_of_logs(details: &CaseDetails) {
    kh_log::remember_name(details.patient.name.reveal());
    kh_log::remember(details.patient.id.reveal());
    kh_log::remember(&details.clinical_question);
    kh_log::remember(&details.specimen);
}

fn page(store: &CaseStore, case: Case) -> Result<CasePage, DeskError> {
    let id = case.id;
    keep_out_of_logs(&case.details);
    let attachments = store.attachments(id)?;
    for attachment in &attachments {
        kh_log::remember_path(Path::new(&attachment.path));
    }
    let report = store.report(id)?;
    if let Some(report) = &report {
        kh_log::remember(&report.text);
    }
    let next_statuses = CaseStatus::ALL
        .into_iter()
        .filter(|to| case.status.may_become(*to))
        .collect();
    Ok(CasePage {
        attachments,
        report,
        audit: store.audit_trail(id)?,
        next_statuses,
        case,
    })
}

/// A case's attachment that must be a slide (photos, videos and
/// annotation files are refused, naming what they are).
fn slide_attachment(
    store: &CaseStore,
    id: CaseId,
    attachment: i64,
) -> Result<Attachment, DeskError> {
    let found = store
        .attachments(id)?
        .into_iter()
        .find(|a| a.id == attachment)
        .ok_or_else(|| {
            DeskError::Refused(kh_i18n::tr!(
                "console-no-such-attachment",
                attachment = attachment.to_string()
            ))
        })?;
    if found.kind != AttachmentKind::Slide {
        return Err(DeskError::Refused(kh_i18n::tr!(
            "console-refused-not-slide",
            name = found.file_name.as_str(),
            kind = found.kind.as_str()
        )));
    }
    Ok(found)
}
