// The console page: the worklist, the case page and the settings, wired to
// the Rust side through Tauri's global API (withGlobalTauri; no bundler).

import {
  STATUS_LABELS,
  analysisChoices,
  analysisLine,
  exportLine,
  type Exported,
  reportCitations,
  type AnalysisEvent,
  ageFromText,
  audioChoices,
  cameraChoices,
  type CallDevices,
  type DeviceChoice,
  callBanner,
  callEnded,
  callStateLabel,
  caseRoom,
  qualityLabel,
  remoteVideoLine,
  tokenProblem,
  type CallStatus,
  canWriteReport,
  detailsProblems,
  formatBytes,
  formatTime,
  isLocked,
  settingText,
  sourceLabel,
  transitionLabel,
  viewerLine,
  viewerStatusLine,
  worklistQuery,
  type CaseDetails,
  type CasePage,
  type CaseStatus,
  type CaseSummary,
  type SettingsPage,
  type Sex,
  type ViewerEvent,
  type ViewerStatus,
} from "./model.js";

interface TauriGlobal {
  core: { invoke<T>(command: string, args?: Record<string, unknown>): Promise<T> };
  event: {
    listen<T>(event: string, handler: (e: { payload: T }) => void): Promise<() => void>;
  };
  dialog?: {
    open(options: { multiple: boolean; directory: boolean; title: string }): Promise<string | string[] | null>;
  };
}

const tauri = (window as unknown as { __TAURI__: TauriGlobal }).__TAURI__;

function byId<T extends HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the page has no #${id}`);
  return element as T;
}

function input(id: string): HTMLInputElement {
  return byId<HTMLInputElement>(id);
}

let current: CasePage | null = null;

function say(text: string, problem = false): void {
  const line = byId("message");
  line.textContent = text;
  line.classList.toggle("problem", problem);
}

/// The command's answer, or undefined when it failed (the reason is shown).
async function call<T>(command: string, args?: Record<string, unknown>): Promise<T | undefined> {
  try {
    return await tauri.core.invoke<T>(command, args);
  } catch (error) {
    say(String(error), true);
    return undefined;
  }
}

async function refreshWorklist(): Promise<void> {
  const query = worklistQuery(
    input("search").value,
    byId<HTMLSelectElement>("status-filter").value,
    byId<HTMLSelectElement>("sort").value,
  );
  const rows = await call<CaseSummary[]>("worklist", { query });
  if (!rows) return;
  const body = byId("cases");
  body.replaceChildren(
    ...rows.map((row) => {
      const tr = document.createElement("tr");
      tr.dataset.caseId = row.id;
      tr.classList.toggle("selected", current?.case.id === row.id);
      const cells = [
        `${row.patient_name} ${row.patient_id ? `(${row.patient_id})` : ""}`,
        row.clinical_question,
        STATUS_LABELS[row.status],
        formatTime(row.updated_at),
      ];
      cells.forEach((text, i) => {
        const td = document.createElement("td");
        td.textContent = text;
        if (i === 1) td.className = "question";
        tr.append(td);
      });
      tr.addEventListener("click", () => void openCase(row.id));
      return tr;
    }),
  );
  byId("worklist-empty").hidden = rows.length > 0;
}

function detailsFromForm(): CaseDetails {
  return {
    patient: {
      name: input("patient-name").value,
      id: input("patient-id").value,
      age_years: ageFromText(input("patient-age").value),
      sex: byId<HTMLSelectElement>("patient-sex").value as Sex,
    },
    clinical_question: byId<HTMLTextAreaElement>("question").value,
    specimen: input("specimen").value,
    requesting_site: input("requesting-site").value,
    consulting_site: input("consulting-site").value,
  };
}

function showCase(page: CasePage): void {
  current = page;
  const { case: c } = page;
  byId("case").hidden = false;
  byId("case-title").textContent = c.details.patient.name || c.details.patient.id || "Case";
  byId("call-room").textContent = caseRoom(c.id);
  const badge = byId("case-status");
  badge.textContent = STATUS_LABELS[c.status];
  badge.className = `badge ${c.status}`;
  input("patient-name").value = c.details.patient.name;
  input("patient-id").value = c.details.patient.id;
  input("patient-age").value = c.details.patient.age_years === null ? "" : String(c.details.patient.age_years);
  byId<HTMLSelectElement>("patient-sex").value = c.details.patient.sex;
  byId<HTMLTextAreaElement>("question").value = c.details.clinical_question;
  input("specimen").value = c.details.specimen;
  input("requesting-site").value = c.details.requesting_site;
  input("consulting-site").value = c.details.consulting_site;
  byId("form-problems").textContent = "";
  const locked = isLocked(c.status);
  for (const element of byId("case-form").querySelectorAll("input, textarea, select, button")) {
    (element as HTMLInputElement).disabled = locked;
  }
  byId("drop-zone").hidden = locked;

  byId("transitions").replaceChildren(
    ...page.next_statuses.map((to: CaseStatus) => {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = transitionLabel(c.status, to);
      button.addEventListener("click", async () => {
        const next = await call<CasePage>("set_status", { id: c.id, status: to });
        if (next) {
          showCase(next);
          void refreshWorklist();
        }
      });
      return button;
    }),
  );

  byId("attachments").replaceChildren(
    ...page.attachments.map((a) => {
      const li = document.createElement("li");
      li.textContent = `${a.kind}: ${a.file_name} (${formatBytes(a.size_bytes)})`;
      if (a.kind === "slide") {
        const view = document.createElement("button");
        view.type = "button";
        view.textContent = "Open in viewer";
        view.className = "open-in-viewer";
        view.addEventListener("click", async () => {
          const opened = await call<null>("open_in_viewer", { id: c.id, attachment: a.id });
          if (opened !== undefined) {
            say(`Opening ${a.file_name} in the viewer`);
            void reloadCase();
          }
        });
        li.append(view);
        if (!locked) li.append(analysisPicker(c.id, a.id, a.file_name));
      }
      if (a.kind === "annotations") {
        for (const [format, label] of [
          ["geojson", "Export GeoJSON"],
          ["dicom", "Export DICOM"],
        ] as const) {
          const exportButton = document.createElement("button");
          exportButton.type = "button";
          exportButton.className = `export-${format}`;
          exportButton.textContent = label;
          exportButton.addEventListener("click", async () => {
            const done = await call<Exported>("export_annotations", { id: c.id, attachment: a.id, format });
            if (done) {
              say(exportLine(done));
              void reloadCase();
            }
          });
          li.append(exportButton);
        }
      }
      if (!locked) {
        const remove = document.createElement("button");
        remove.type = "button";
        remove.textContent = "Remove";
        remove.addEventListener("click", async () => {
          const next = await call<CasePage>("detach", { id: c.id, attachment: a.id });
          if (next) showCase(next);
        });
        li.append(remove);
      }
      return li;
    }),
  );

  const report = byId<HTMLTextAreaElement>("report-text");
  report.value = page.report?.text ?? "";
  const writable = canWriteReport(c.status) && !page.report?.signed;
  report.readOnly = !writable;
  byId<HTMLButtonElement>("save-report").hidden = !writable;
  byId<HTMLButtonElement>("cite-findings").hidden = !writable || reportCitations(page.audit) === "";
  byId<HTMLButtonElement>("sign-report").hidden = !writable;
  byId("report-section").hidden = !page.report && !writable;
  const signed = page.report?.signed;
  byId("report-signed").textContent = signed ? `Signed by ${signed.by}, ${formatTime(signed.at)}` : "";

  byId("audit").replaceChildren(
    ...page.audit.map((entry) => {
      const li = document.createElement("li");
      li.textContent = `${formatTime(entry.at)} ${entry.actor}: ${entry.action}${entry.detail ? ` — ${entry.detail}` : ""}`;
      return li;
    }),
  );
}

async function openCase(id: string): Promise<void> {
  const page = await call<CasePage>("open_case", { id });
  if (page) {
    showCase(page);
    void refreshWorklist();
  }
}

/// What the analysis picker offers: refreshed with the settings.
let offeredAnalyses = analysisChoices(null);

async function loadAnalysisChoices(): Promise<void> {
  const page = await call<SettingsPage>("settings_page");
  if (page) offeredAnalyses = analysisChoices(page);
}

/// "Analyze: [model] [Analyze]" for a slide attachment.
function analysisPicker(caseId: string, attachment: number, fileName: string): HTMLElement {
  const span = document.createElement("span");
  span.className = "analysis-picker";
  const select = document.createElement("select");
  select.className = "analysis-model";
  select.setAttribute("aria-label", `Analysis of ${fileName}`);
  for (const a of offeredAnalyses) {
    const option = document.createElement("option");
    option.value = a.model;
    option.textContent = a.label;
    select.append(option);
  }
  const start = document.createElement("button");
  start.type = "button";
  start.className = "analyze";
  start.textContent = "Analyze";
  start.addEventListener("click", async () => {
    const label = select.selectedOptions[0]?.textContent ?? select.value;
    const job = await call<number>("analyze_attachment", { id: caseId, attachment, model: select.value });
    if (job !== undefined) analysisRow(job, `${label} on ${fileName}`);
  });
  span.append(select, start);
  return span;
}

/// A running analysis's row: what, its progress, and Cancel.
function analysisRow(job: number, what: string): void {
  const li = document.createElement("li");
  li.id = `analysis-${job}`;
  const name = document.createElement("span");
  name.textContent = `${what}: `;
  const bar = document.createElement("progress");
  bar.max = 1;
  bar.value = 0;
  const state = document.createElement("span");
  state.className = "analysis-state";
  const cancel = document.createElement("button");
  cancel.type = "button";
  cancel.textContent = "Cancel";
  cancel.addEventListener("click", () => void call<boolean>("cancel_analysis", { job }));
  li.append(name, bar, state, cancel);
  byId("analyses").append(li);
}

function onAnalysis(event: AnalysisEvent): void {
  const row = document.getElementById(`analysis-${event.job}`);
  const line = analysisLine(event);
  if (row) {
    const bar = row.querySelector("progress");
    if (bar && event.state === "progress") bar.value = event.done;
    const state = row.querySelector(".analysis-state");
    if (state) state.textContent = ` ${line.text}`;
  }
  if (!line.ended) return;
  row?.remove();
  say(line.text, line.problem);
  if (event.state === "finished" && current?.case.id === event.case) showCase(event.page);
}

async function reloadCase(): Promise<void> {
  if (current) await openCase(current.case.id);
}

async function attachPaths(paths: string[]): Promise<void> {
  if (!current) {
    say("Open a case before attaching files.", true);
    return;
  }
  for (const path of paths) {
    const next = await call<CasePage>("attach", { id: current.case.id, path, kind: null });
    if (next) showCase(next);
  }
  void refreshWorklist();
}

async function showSettings(): Promise<void> {
  const page = await call<SettingsPage>("settings_page");
  if (!page) return;
  offeredAnalyses = analysisChoices(page);
  byId("settings-files").textContent = `System: ${page.system_file} · Yours: ${page.user_file}`;
  byId("settings-rows").replaceChildren(
    ...page.values.map((row) => {
      const tr = document.createElement("tr");
      const key = document.createElement("td");
      key.textContent = row.key;
      const value = document.createElement("td");
      const field = document.createElement("input");
      field.value = settingText(row.value);
      field.disabled = row.locked;
      field.title = row.locked ? "Locked by your IT department" : "";
      field.addEventListener("change", async () => {
        const next = await call<SettingsPage>("set_setting", { key: row.key, value: field.value });
        if (next) {
          say(`${row.key} saved`);
          void showSettings();
        }
      });
      value.append(field);
      const from = document.createElement("td");
      from.textContent = sourceLabel(row) + (row.locked ? " 🔒" : "");
      tr.append(key, value, from);
      return tr;
    }),
  );
  byId("settings-warnings").replaceChildren(
    ...page.warnings.map((w) => {
      const li = document.createElement("li");
      li.textContent = w;
      return li;
    }),
  );
  const dialog = byId<HTMLDialogElement>("settings");
  if (!dialog.open) dialog.showModal();
}

function wire(): void {
  byId("worklist-form").addEventListener("input", () => void refreshWorklist());
  byId("worklist-form").addEventListener("submit", (e) => e.preventDefault());
  byId("new-case").addEventListener("click", async () => {
    const blank: CaseDetails = {
      patient: { name: "", id: "", age_years: null, sex: "unknown" },
      clinical_question: "",
      specimen: "",
      requesting_site: "",
      consulting_site: "",
    };
    const created = await call<{ id: string }>("create_case", { details: blank });
    if (created) await openCase(created.id);
    input("patient-name").focus();
  });
  byId("case-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!current) return;
    const details = detailsFromForm();
    const problems = detailsProblems(details);
    byId("form-problems").textContent = [...problems.values()].join(" ");
    if (problems.size > 0) return;
    const next = await call<CasePage>("update_case", {
      id: current.case.id,
      revision: current.case.revision,
      details,
    });
    if (next) {
      showCase(next);
      say("Saved");
      void refreshWorklist();
    }
  });
  byId("cite-findings").addEventListener("click", () => {
    if (!current) return;
    const report = byId<HTMLTextAreaElement>("report-text");
    const citations = reportCitations(current.audit);
    report.value = report.value.trim() ? `${report.value.trimEnd()}\n\n${citations}` : citations;
    say("Cited; save the draft to keep it");
  });
  byId("save-report").addEventListener("click", async () => {
    if (!current) return;
    const next = await call<CasePage>("save_report", {
      id: current.case.id,
      text: byId<HTMLTextAreaElement>("report-text").value,
    });
    if (next) {
      showCase(next);
      say("Report saved");
    }
  });
  byId("sign-report").addEventListener("click", async () => {
    if (!current) return;
    if (!window.confirm("Sign the report? It cannot be changed afterwards.")) return;
    const saved = await call<CasePage>("save_report", {
      id: current.case.id,
      text: byId<HTMLTextAreaElement>("report-text").value,
    });
    if (!saved) return;
    const next = await call<CasePage>("sign_report", { id: current.case.id });
    if (next) {
      showCase(next);
      say("Report signed");
      void refreshWorklist();
    }
  });
  byId("attach").addEventListener("click", async () => {
    const chosen = await tauri.dialog?.open({ multiple: true, directory: false, title: "Attach files" });
    if (chosen) await attachPaths(Array.isArray(chosen) ? chosen : [chosen]);
  });
  byId("open-settings").addEventListener("click", () => void showSettings());

  const zone = byId("drop-zone");
  void tauri.event.listen<{ paths: string[] }>("tauri://drag-enter", () => zone.classList.add("over"));
  void tauri.event.listen("tauri://drag-leave", () => zone.classList.remove("over"));
  void tauri.event.listen<{ paths: string[] }>("tauri://drag-drop", (e) => {
    zone.classList.remove("over");
    void attachPaths(e.payload.paths);
  });
  void tauri.event.listen<AnalysisEvent>("analysis", (e) => onAnalysis(e.payload));
  void loadAnalysisChoices();
  void tauri.event.listen<ViewerEvent>("viewer", (e) => {
    const line = viewerLine(e.payload);
    if (line) showViewerLine(line);
    const video = remoteVideoLine(e.payload);
    if (video) byId("call-video").textContent = video;
  });
  void call<ViewerStatus | null>("viewer_status").then((status) => {
    if (status !== undefined) showViewerLine(viewerStatusLine(status));
  });
}

/// The call panel from a status snapshot (null: no call).
function showCall(status: CallStatus | null): void {
  const ended = callEnded(status);
  byId("call-join").hidden = !ended;
  byId("call-live").hidden = ended;
  const banner = callBanner(status);
  const bannerElement = byId("call-banner");
  bannerElement.hidden = banner === null;
  bannerElement.textContent = banner?.text ?? "";
  bannerElement.classList.toggle("problem", banner?.problem ?? false);
  if (ended) byId("call-video").textContent = "";
  if (!status) return;
  byId("call-state").textContent = callStateLabel(status.state);
  const quality = byId("call-quality");
  quality.textContent = qualityLabel(status.quality);
  quality.className = status.quality?.level ?? "";
  const list = byId("call-participants");
  list.replaceChildren(
    ...status.participants.map((p) => {
      const item = document.createElement("li");
      item.textContent = p.name;
      return item;
    }),
  );
  byId("call-mute").textContent = status.muted ? "Unmute" : "Mute";
  byId("call-camera-toggle").textContent = status.camera_on ? "Turn camera off" : "Turn camera on";
}

let callNow: CallStatus | null = null;

async function fillDevicePickers(): Promise<void> {
  const devices = await call<CallDevices>("call_devices");
  if (!devices) return;
  const fill = (id: string, choices: DeviceChoice[], chosen: string) => {
    const select = byId<HTMLSelectElement>(id);
    select.replaceChildren(
      ...choices.map(({ value, label }) => {
        const option = document.createElement("option");
        option.value = value;
        option.textContent = label;
        return option;
      }),
    );
    select.value = choices.some((c) => c.value === chosen) ? chosen : "default";
  };
  fill("call-microphone", audioChoices(devices.inputs), devices.input);
  fill("call-speaker", audioChoices(devices.outputs), devices.output);
  fill("call-camera", cameraChoices(devices.cameras), devices.camera);
}

function wireCall(): void {
  byId("call-join").addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!current) return;
    const token = input("call-token").value;
    const problem = tokenProblem(token);
    if (problem) {
      say(problem, true);
      return;
    }
    say("Joining the call…");
    const joined = await call<CallStatus>("join_call", {
      request: {
        case: current.case.id,
        token: token.trim(),
        microphone: byId<HTMLSelectElement>("call-microphone").value,
        speaker: byId<HTMLSelectElement>("call-speaker").value,
        camera: byId<HTMLSelectElement>("call-camera").value,
      },
    });
    if (joined) {
      callNow = joined;
      showCall(joined);
      say(`Joined ${joined.room}`);
    }
  });
  byId("call-mute").addEventListener("click", () => {
    if (callNow) void call<null>("set_muted", { muted: !callNow.muted });
  });
  byId("call-camera-toggle").addEventListener("click", () => {
    if (callNow) void call<null>("set_camera", { on: !callNow.camera_on });
  });
  byId("hang-up").addEventListener("click", async () => {
    const ended = await call<CallStatus>("hang_up");
    if (ended) {
      callNow = ended;
      showCall(ended);
      say("Call ended");
    }
  });
  void tauri.event.listen<CallStatus>("call", (e) => {
    callNow = e.payload;
    showCall(e.payload);
  });
  void call<CallStatus | null>("call_status").then((status) => {
    callNow = status ?? null;
    showCall(callNow);
  });
  void fillDevicePickers();
}

function showViewerLine(line: { text: string; problem: boolean }): void {
  const element = byId("viewer-line");
  element.textContent = line.text;
  element.classList.toggle("problem", line.problem);
}

/// The settings or the case database could not be opened: say so, whole
/// page, naming the file and the key (the Rust side's message).
function showStartupProblem(problem: string): void {
  byId("startup-problem-text").textContent = problem;
  byId("startup-problem").hidden = false;
  byId("worklist").hidden = true;
  byId("case").hidden = true;
  byId("new-case").hidden = true;
  byId("open-settings").hidden = true;
  showViewerLine({ text: "Not started", problem: true });
}

void call<string | null>("startup_problem").then((problem) => {
  if (problem) {
    showStartupProblem(problem);
    void call<null>("page_ready");
    return;
  }
  wire();
  wireCall();
  // Interactive once the first worklist is on screen.
  void refreshWorklist().then(() => call<null>("page_ready"));
  void call<string | null>("take_startup_case").then((id) => {
    if (id) void openCase(id);
  });
});
