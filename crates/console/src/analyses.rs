//! Analyses started from a case page: run on one of the case's slides in
//! the background, with progress and cancel; the findings are written
//! (atomically) into the case's analysis folder beside the case database,
//! attached to the case as annotations, and the run is recorded in its
//! audit trail, so the report can cite it.

use crate::desk::{CaseDesk, CasePage, DeskError};
use kh_analysis::{AnalysisError, Model, Request, Run};
use kh_cases::{AttachmentKind, CaseId};
use parking_lot::Mutex;
use serde::Serialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Analyses that may run at once: each uses every core; more would only
/// queue behind one another and hold their memory.
pub const MAX_RUNNING: usize = 2;

/// What the page is told about a running analysis.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum AnalysisEvent {
    /// `done` runs from 0 to 1.
    Progress {
        job: u64,
        case: CaseId,
        done: f32,
    },
    Finished {
        job: u64,
        case: CaseId,
        objects: usize,
        file: String,
        page: Box<CasePage>,
    },
    Cancelled {
        job: u64,
        case: CaseId,
    },
    Failed {
        job: u64,
        case: CaseId,
        error: String,
    },
}

/// The running analyses, by job number, with their cancel flags.
#[derive(Default, Clone)]
pub struct Analyses {
    running: Arc<Mutex<HashMap<u64, Arc<AtomicBool>>>>,
    next: Arc<AtomicU64>,
}

impl Analyses {
    /// Starts `model` on the case's slide attachment on its own thread;
    /// events (progress at most every percent, then the outcome) go to
    /// `on_event`. Returns the job's number.
    pub fn start(
        &self,
        desk: Arc<CaseDesk>,
        case: CaseId,
        attachment: i64,
        model: &str,
        on_event: impl Fn(AnalysisEvent) + Send + Sync + 'static,
    ) -> Result<u64, DeskError> {
        let model: Model = model.parse().map_err(DeskError::Refused)?;
        // Looked up now, so a wrong attachment is refused before a thread.
        let slide = desk.slide_path(case, attachment)?;
        let cancel = Arc::new(AtomicBool::new(false));
        let job = {
            let mut running = self.running.lock();
            if running.len() >= MAX_RUNNING {
                return Err(DeskError::Refused(kh_i18n::tr!(
                    "console-refused-busy",
                    count = MAX_RUNNING
                )));
            }
            let job = self.next.fetch_add(1, Ordering::Relaxed) + 1;
            running.insert(job, cancel.clone());
            job
        };
        let running = self.running.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("analysis-{job}"))
            .spawn(move || {
                let last = AtomicU64::new(u64::MAX);
                let progress = |done: f32| {
                    let percent = (done * 100.0) as u64;
                    if last.swap(percent, Ordering::Relaxed) != percent {
                        on_event(AnalysisEvent::Progress { job, case, done });
                    }
                };
                let run = Run {
                    progress: &progress,
                    cancel: &cancel,
                };
                let outcome = analyze(&desk, case, &slide, &model, &run);
                running.lock().remove(&job);
                on_event(match outcome {
                    Ok((objects, file, page)) => AnalysisEvent::Finished {
                        job,
                        case,
                        objects,
                        file,
                        page: Box::new(page),
                    },
                    Err(AnalysisStop::Cancelled) => AnalysisEvent::Cancelled { job, case },
                    Err(AnalysisStop::Failed(e)) => AnalysisEvent::Failed {
                        job,
                        case,
                        error: crate::ForPeople::for_people(&e),
                    },
                });
            });
        if let Err(e) = spawned {
            self.running.lock().remove(&job);
            return Err(DeskError::Refused(kh_i18n::tr!(
                "console-analysis-not-started",
                problem = crate::ForPeople::for_people(&e)
            )));
        }
        Ok(job)
    }

    /// Asks a running analysis to stop (it stops between steps, writing
    /// nothing). False when no such job is running.
    pub fn cancel(&self, job: u64) -> bool {
        match self.running.lock().get(&job) {
            Some(flag) => {
                flag.store(true, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }

    pub fn running(&self) -> usize {
        self.running.lock().len()
    }
}

/// Why an analysis filed nothing: the user stopped it, or it failed.
#[derive(Debug)]
pub enum AnalysisStop {
    Cancelled,
    Failed(DeskError),
}

impl From<DeskError> for AnalysisStop {
    fn from(error: DeskError) -> AnalysisStop {
        AnalysisStop::Failed(error)
    }
}

/// Runs the analysis on the case's slide (its path and file name, as
/// `CaseDesk::slide_path` gives them) and files its findings with the
/// case: the number of objects, the result's path, and the case page after.
pub fn analyze(
    desk: &CaseDesk,
    case: CaseId,
    (slide_path, slide_name): &(String, String),
    model: &Model,
    run: &Run,
) -> Result<(usize, String, CasePage), AnalysisStop> {
    let slide = kh_slide::Slide::open(slide_path)
        .map_err(|e| DeskError::Refused(crate::ForPeople::for_people(&e)))?;
    let found =
        kh_analysis::analyze(&slide, &Request::of(model.clone()), run).map_err(|e| match e {
            AnalysisError::Cancelled => AnalysisStop::Cancelled,
            e => AnalysisStop::Failed(DeskError::Refused(kh_i18n::tr!(
                "console-analysis-run-problem",
                model = model.label(),
                slide = slide_name.as_str(),
                problem = e.to_string()
            ))),
        })?;
    let folder = analysis_folder(desk, case);
    std::fs::create_dir_all(&folder).map_err(|e| DeskError::file(&folder, &e))?;
    let stem = Path::new(&slide_name)
        .file_stem()
        .map_or_else(|| "slide".into(), |s| s.to_string_lossy().into_owned());
    let label = model.label().replace([':', '/', '\\'], "-");
    let seconds = u64::try_from(kh_cases::UnixMillis::now().0 / 1000).unwrap_or(0);
    let stamp = kh_analysis::iso8601_from_unix(seconds).replace([':', '-'], "");
    let file = folder.join(format!("{stem} {label} {stamp}.geojson"));
    kh_annotations::write(&file, &found, kh_annotations::Format::GeoJson)
        .map_err(|e| DeskError::Refused(crate::ForPeople::for_people(&e)))?;
    desk.attach(case, &file, Some(AttachmentKind::Annotations))?;
    let file_name = file
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    desk.record_analysis(
        case,
        &format!(
            "{} on {slide_name}: {} objects in {file_name}",
            model.label(),
            found.objects.len()
        ),
    )?;
    let page = desk.page_of(case)?;
    Ok((found.objects.len(), file.display().to_string(), page))
}

/// Where a case's analysis results live: `analyses/<case>` beside the case
/// database (private to the user, like the database).
pub fn analysis_folder(desk: &CaseDesk, case: CaseId) -> PathBuf {
    case_folder(desk, "analyses", case)
}

/// The file of the specialist's own annotations of a case's slide:
/// `annotations/<case>/<slide stem>.mine.geojson` beside the case
/// database.
pub fn own_annotations_file(desk: &CaseDesk, case: CaseId, slide_name: &str) -> PathBuf {
    let stem = Path::new(slide_name)
        .file_stem()
        .map_or_else(|| "slide".into(), |s| s.to_string_lossy().into_owned());
    case_folder(desk, "annotations", case).join(format!("{stem}.mine.geojson"))
}

/// `<what>/<case>` beside the case database.
pub(crate) fn case_folder(desk: &CaseDesk, what: &str, case: CaseId) -> PathBuf {
    let settings = desk.settings();
    let database = if settings.cases.database.is_empty() {
        kh_settings::default_cases_database()
    } else {
        PathBuf::from(&settings.cases.database)
    };
    database
        .parent()
        .map_or_else(|| PathBuf::from(what), |d| d.join(what))
        .join(case.to_string())
}
