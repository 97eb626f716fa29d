//! The workstation as the console window drives it: the case store, the
//! call desk and the supervised viewer, wired together. The rules that
//! join them live here, not in the window's shell: the call's remote video
//! goes to the viewer; the viewer's request for a keyframe (it lost a
//! frame) goes to the call; the call panel's device lists come from the
//! machine's devices and the settings; a verdict on an AI finding in the
//! viewer goes to the audit trail of the case whose slide it shows.

use crate::ForPeople;
use crate::analyses::{Analyses, AnalysisEvent};
use crate::call::{CallDesk, CallDeskError, StatusSink};
use crate::desk::{CaseDesk, DeskError, SettingsPage};
use crate::supervisor::{
    SupervisorError, SupervisorOptions, ViewerCommand, ViewerEvent, ViewerSupervisor,
};
use crate::viewer_link::ViewerLink;
use kh_cases::CaseId;
use kh_ipc::FromViewer;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub struct Workstation {
    pub cases: Arc<CaseDesk>,
    pub calls: Arc<CallDesk>,
    pub viewer: ViewerLink,
    /// Analyses running in the background, started from case pages.
    pub analyses: Analyses,
    /// The case whose slide the viewer was last asked to show.
    viewer_case: Arc<parking_lot::Mutex<Option<CaseId>>>,
}

/// Audio devices and cameras for the call panel's pickers.
#[derive(Debug, Clone, Serialize)]
pub struct CallDevices {
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    /// Camera names, as `kh camera list` shows them.
    pub cameras: Vec<String>,
    /// What the settings choose.
    pub input: String,
    pub output: String,
    pub camera: String,
}

impl Workstation {
    /// The workstation around `cases`; call status snapshots go to
    /// `call_status` (the window shows them). One workstation is one
    /// console process: from here on the process speaks the language the
    /// settings choose.
    pub fn new(cases: CaseDesk, call_status: StatusSink) -> Result<Workstation, CallDeskError> {
        crate::language::speak(&cases.settings());
        let viewer = ViewerLink::default();
        let calls = Arc::new(CallDesk::new(call_status, Some(viewer.clone()))?);
        Ok(Workstation {
            cases: Arc::new(cases),
            calls,
            viewer,
            analyses: Analyses::default(),
            viewer_case: Arc::default(),
        })
    }

    /// Changes one of the user's settings. A new `ui.language` is spoken at
    /// once: by this process's messages and by the viewer (a call in
    /// progress goes on untouched).
    pub fn set_setting(&self, key: &str, value: &str) -> Result<SettingsPage, DeskError> {
        let page = self.cases.set_setting(key, value)?;
        if key == "ui.language" {
            let language = crate::language::language_of(&self.cases.settings());
            kh_i18n::set_language(language);
            self.viewer
                .with(|viewer| viewer.set_language(language.tag()));
        }
        Ok(page)
    }

    /// Show a case's slide attachment in the viewer (the viewing audited);
    /// the viewer's verdicts on findings are recorded against this case.
    pub fn open_in_viewer(&self, id: CaseId, attachment: i64) -> Result<(), String> {
        let path = self
            .cases
            .slide_for_viewer(id, attachment)
            .map_err(|e| e.for_people())?;
        // The specialist's own annotations of this slide: kept with the
        // case, drawn and edited as their own layer.
        let slide_name = Path::new(&path)
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let own = crate::analyses::own_annotations_file(&self.cases, id, &slide_name);
        if let Some(folder) = own.parent() {
            std::fs::create_dir_all(folder)
                .map_err(|e| DeskError::file(folder, &e).for_people())?;
        }
        let own = own.display().to_string();
        // The case's other annotation files go over it (the viewer holds
        // them until the slide is open).
        let annotations = self
            .cases
            .annotation_paths(id)
            .map_err(|e| e.for_people())?;
        let author = self.cases.actor().to_owned();
        *self.viewer_case.lock() = Some(id);
        self.viewer
            .with(|viewer| {
                viewer.open_slide(&path);
                for file in annotations.iter().filter(|f| **f != own) {
                    viewer.show_annotations(file);
                }
                viewer.keep_own_annotations(&own, &author);
            })
            .ok_or_else(|| kh_i18n::tr!("console-viewer-not-started"))
    }

    /// Starts an analysis of a case's slide attachment in the background
    /// (`model`: tissue, nuclei, focus or onnx:PATH); its progress and
    /// outcome go to `on_event`. Findings of the case the viewer shows go
    /// over the slide when they are filed.
    pub fn start_analysis(
        &self,
        id: CaseId,
        attachment: i64,
        model: &str,
        on_event: impl Fn(AnalysisEvent) + Send + Sync + 'static,
    ) -> Result<u64, String> {
        let viewer = self.viewer.clone();
        let viewer_case = self.viewer_case.clone();
        self.analyses
            .start(self.cases.clone(), id, attachment, model, move |event| {
                if let AnalysisEvent::Finished { case, file, .. } = &event
                    && *viewer_case.lock() == Some(*case)
                {
                    viewer.with(|v| v.show_annotations(file));
                }
                on_event(event);
            })
            .map_err(|e| e.for_people())
    }

    /// Start the supervised viewer (`command`, connecting at `socket`).
    /// The viewer's events go to `on_event` — except its request for a
    /// keyframe, which goes to the call.
    pub fn start_viewer(
        &self,
        command: ViewerCommand,
        socket: PathBuf,
        on_event: impl Fn(ViewerEvent) + Send + 'static,
    ) -> Result<(), SupervisorError> {
        let (viewer, events) = ViewerSupervisor::start(command, SupervisorOptions::new(socket))?;
        let calls = self.calls.clone();
        let cases = self.cases.clone();
        let viewer_case = self.viewer_case.clone();
        std::thread::Builder::new()
            .name("viewer-events".into())
            .spawn(move || {
                for event in events {
                    if let ViewerEvent::Message(FromViewer::KeyframeWanted)
                    | ViewerEvent::VideoDropped { .. } = event
                    {
                        // The viewer lost a frame of the call's video, or
                        // was too far behind to be sent one.
                        let _ = calls.request_keyframe();
                        continue;
                    }
                    // The specialist's own annotations, saved for the first
                    // time: attached to the case they were drawn on.
                    if let ViewerEvent::Message(FromViewer::OwnAnnotationsSaved { path, .. }) =
                        &event
                        && let Some(case) = *viewer_case.lock()
                        && cases
                            .annotation_paths(case)
                            .is_ok_and(|attached| !attached.contains(path))
                        && let Err(e) = cases.attach(
                            case,
                            Path::new(path),
                            Some(kh_cases::AttachmentKind::Annotations),
                        )
                    {
                        tracing::error!("could not attach the saved annotations: {e}");
                    }
                    if let ViewerEvent::Message(FromViewer::FindingReviewed {
                        file,
                        object,
                        score,
                        verdict,
                        reviewed,
                        total,
                    }) = &event
                        && let Some(case) = *viewer_case.lock()
                    {
                        let note = format!(
                            "{file} object {object} (score {score:.3}) {verdict}; {reviewed} of {total} reviewed"
                        );
                        if let Err(e) = cases.record_review(case, &note) {
                            tracing::error!("could not record a finding's review: {e}");
                        }
                    }
                    on_event(event);
                }
            })
            .map_err(|e| SupervisorError::Thread(e.to_string()))?;
        if let Some(old) = self.viewer.attach(Some(viewer)) {
            old.shutdown(Duration::from_secs(3));
        }
        Ok(())
    }

    /// The devices the call panel offers, and what the settings choose.
    pub fn call_devices(&self) -> CallDevices {
        let devices = kh_devices::devices();
        let settings = self.cases.settings();
        CallDevices {
            cameras: kh_devices::camera::cameras()
                .into_iter()
                .filter(|c| c.modes.iter().any(|m| m.format.is_some()))
                .map(|c| c.name)
                .collect(),
            camera: settings.devices.camera.clone(),
            inputs: devices
                .iter()
                .filter(|d| d.input)
                .map(|d| d.name.clone())
                .collect(),
            outputs: devices
                .iter()
                .filter(|d| d.output)
                .map(|d| d.name.clone())
                .collect(),
            input: settings.devices.audio_in,
            output: settings.devices.audio_out,
        }
    }

    /// Leave any call (rather than vanish from the room) and stop the
    /// viewer, giving it `grace` to exit.
    pub fn shut_down(&self, grace: Duration) {
        let _ = self.calls.hang_up();
        if let Some(viewer) = self.viewer.detach() {
            viewer.shutdown(grace);
        }
    }
}
