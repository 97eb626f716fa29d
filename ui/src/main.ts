// The console page: the worklist, the case page and the settings, wired to
// the Rust side through Tauri's global API (withGlobalTauri; no bundler).
// Every word comes from the catalogue through `t` (see l10n.ts).

import {
  analysisChoices,
  analysisLine,
  exportLine,
  type Exported,
  reportCitations,
  type AnalysisEvent,
  ageFromText,
  monthsFromText,
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
  patientLine,
  settingName,
  settingText,
  sourceLabel,
  statusLabel,
  transitionLabel,
  viewerLine,
  viewerStatusLine,
  worklistQuery,
  type Args,
  type CaseDetails,
  type CasePage,
  type CaseStatus,
  type CaseSummary,
  type SettingsPage,
  type Sex,
  type ViewerEvent,
  type ViewerStatus,
} from "./model.js";
import { type Localizer, localize, localizer } from "./l10n.js";

interface TauriGlobal {
  core: { invoke<T>(command: string, args?: Record<string, unknown>): Promise<T> };
  event: {
    listen<T>(event: string, handler: (e: { payload: T }) => void): Promise<() => void>;
  };
  window?: { getCurrentWindow(): { setTitle(title: string): Promise<void> } };
  dialog?: {
    open(options: { multiple: boolean; directory: boolean; title: string }): Promise<string | string[] | null>;
  };
}

/// What `catalogue` answers (kh-console's PageCatalogue).
interface PageCatalogue {
  language: string;
  source: string;
  language_setting: string;
  language_locked: boolean;
  system_language: string;
  theme: string;
  theme_locked: boolean;
  language_from_environment: string | null;
  theme_from_environment: string | null;
}

/// A settings choice the page cannot change: locked by IT, or set by the
/// environment (which wins over the user's file); why, as its tooltip.
function fixChoice(select: HTMLSelectElement, locked: boolean, variable: string | null): void {
  select.disabled = locked || variable !== null;
  select.title = locked
    ? t("console-setting-locked")
    : variable !== null
      ? t("console-setting-environment", { variable })
      : "";
}

const tauri = (window as unknown as { __TAURI__: TauriGlobal }).__TAURI__;

let l10n: Localizer = localizer("en", "");
const t = (id: string, args?: Args): string => l10n.t(id, args);

function byId<T extends HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the page has no #${id}`); // not shown
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

/// The `ui.theme` setting; "system" follows the desktop's preference.
let themeSetting = "system";
const prefersDark = window.matchMedia("(prefers-color-scheme: dark)");

function applyTheme(): void {
  const dark = themeSetting === "dark" || (themeSetting === "system" && prefersDark.matches);
  document.documentElement.dataset.theme = dark ? "dark" : "light";
}

prefersDark.addEventListener("change", applyTheme);

/// The catalogue and theme as the settings have them, applied to the page.
async function loadCatalogue(): Promise<PageCatalogue | undefined> {
  const catalogue = await call<PageCatalogue>("catalogue");
  if (!catalogue) return undefined;
  l10n = localizer(catalogue.language, catalogue.source);
  for (const error of l10n.errors) console.warn(error);
  document.documentElement.lang = catalogue.language;
  themeSetting = catalogue.theme;
  applyTheme();
  localize(document, l10n);
  document.title = t("console-title");
  void tauri.window?.getCurrentWindow().setTitle(document.title);
  const language = byId<HTMLSelectElement>("language-setting");
  language.value = catalogue.language_setting;
  fixChoice(language, catalogue.language_locked, catalogue.language_from_environment);
  byId("language-system").textContent = t("console-language-system", {
    language: t(`common-language-${catalogue.system_language}`),
  });
  const theme = byId<HTMLSelectElement>("theme-setting");
  theme.value = catalogue.theme;
  fixChoice(theme, catalogue.theme_locked, catalogue.theme_from_environment);
  return catalogue;
}

async function refreshWorklist(): Promise<void> {
  const search = input("search").value;
  const status = byId<HTMLSelectElement>("status-filter").value;
  const query = worklistQuery(search, status, byId<HTMLSelectElement>("sort").value);
  const rows = await call<CaseSummary[]>("worklist", { query });
  if (!rows) return;
  const body = byId("cases");
  body.replaceChildren(
    ...rows.map((row) => {
      const tr = document.createElement("tr");
      tr.dataset.caseId = row.id;
      tr.tabIndex = 0;
      tr.classList.toggle("selected", current?.case.id === row.id);
      const cells = [patientLine(row), row.clinical_question, statusLabel(t, row.status), formatTime(t, row.updated_at)];
      cells.forEach((text, i) => {
        const td = document.createElement("td");
        td.textContent = text;
        if (i === 1) td.className = "question";
        if (i === 2) td.className = `status ${row.status}`;
        tr.append(td);
      });
      tr.addEventListener("click", () => void openCase(row.id));
      tr.addEventListener("keydown", (e) => {
        if (e.key === "Enter" || e.key === " ") {
          e.preventDefault();
          void openCase(row.id);
        }
      });
      return tr;
    }),
  );
  const empty = byId("worklist-empty");
  empty.hidden = rows.length > 0;
  empty.textContent = search.trim() === "" && status === "" ? t("console-no-cases") : t("console-no-match");
}

function detailsFromForm(): CaseDetails {
  return {
    patient: {
      name: input("patient-name").value,
      name_reading: input("patient-reading").value,
      id: input("patient-id").value,
      age_years: ageFromText(input("patient-age").value),
      age_months: monthsFromText(input("patient-age-months").value),
      sex: byId<HTMLSelectElement>("patient-sex").value as Sex,
    },
    clinical_question: byId<HTMLTextAreaElement>("question").value,
    specimen: input("specimen").value,
    requesting_site: input("requesting-site").value,
    consulting_site: input("consulting-site").value,
  };
}

function button(text: string, className: string, onClick: () => void): HTMLButtonElement {
  const element = document.createElement("button");
  element.type = "button";
  element.textContent = text;
  element.className = className;
  element.addEventListener("click", onClick);
  return element;
}

function showCase(page: CasePage): void {
  current = page;
  const { case: c } = page;
  byId("case").hidden = false;
  byId("no-case").hidden = true;
  const patient = c.details.patient;
  byId("case-title").textContent = patient.name || patient.id || t("console-case-untitled");
  byId("call-room").textContent = caseRoom(c.id);
  const badge = byId("case-status");
  badge.textContent = statusLabel(t, c.status);
  badge.className = `badge ${c.status}`;
  input("patient-name").value = patient.name;
  input("patient-reading").value = patient.name_reading ?? "";
  input("patient-id").value = patient.id;
  input("patient-age").value = patient.age_years === null ? "" : String(patient.age_years);
  input("patient-age-months").value = patient.age_months == null ? "" : String(patient.age_months);
  byId<HTMLSelectElement>("patient-sex").value = patient.sex;
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
    ...page.next_statuses.map((to: CaseStatus) =>
      button(transitionLabel(t, c.status, to), "transition", async () => {
        const next = await call<CasePage>("set_status", { id: c.id, status: to });
        if (next) {
          showCase(next);
          void refreshWorklist();
        }
      }),
    ),
  );

  byId("attachments").replaceChildren(
    ...page.attachments.map((a) => {
      const li = document.createElement("li");
      const line = document.createElement("span");
      line.textContent = t("console-attachment-line", {
        kind: t("console-attachment-kind", { kind: a.kind }),
        name: a.file_name,
        size: formatBytes(a.size_bytes),
      });
      li.append(line);
      if (a.kind === "slide") {
        li.append(
          button(t("console-open-in-viewer"), "open-in-viewer", async () => {
            const opened = await call<null>("open_in_viewer", { id: c.id, attachment: a.id });
            if (opened !== undefined) {
              say(t("console-opening-in-viewer", { name: a.file_name }));
              void reloadCase();
            }
          }),
        );
        if (!locked) li.append(analysisPicker(c.id, a.id, a.file_name));
      }
      if (a.kind === "annotations") {
        for (const [format, label] of [
          ["geojson", "console-export-geojson"],
          ["dicom", "console-export-dicom"],
        ] as const) {
          li.append(
            button(t(label), `export-${format}`, async () => {
              const done = await call<Exported>("export_annotations", { id: c.id, attachment: a.id, format });
              if (done) {
                say(exportLine(t, done));
                void reloadCase();
              }
            }),
          );
        }
      }
      if (!locked) {
        li.append(
          button(t("console-remove"), "remove", async () => {
            const next = await call<CasePage>("detach", { id: c.id, attachment: a.id });
            if (next) showCase(next);
          }),
        );
      }
      return li;
    }),
  );

  const report = byId<HTMLTextAreaElement>("report-text");
  report.value = page.report?.text ?? "";
  const writable = canWriteReport(c.status) && !page.report?.signed;
  report.readOnly = !writable;
  byId<HTMLButtonElement>("save-report").hidden = !writable;
  byId<HTMLButtonElement>("cite-findings").hidden = !writable || reportCitations(t, page.audit) === "";
  byId<HTMLButtonElement>("sign-report").hidden = !writable;
  byId("report-section").hidden = !page.report && !writable;
  byId<HTMLButtonElement>("export-report").hidden = !page.report;
  const signed = page.report?.signed;
  byId("report-signed").textContent = signed
    ? t("console-signed-by", { name: signed.by, when: formatTime(t, signed.at) })
    : "";

  byId("audit").replaceChildren(
    ...page.audit.map((entry) => {
      const li = document.createElement("li");
      const action = t("console-audit-action", { action: entry.action });
      li.textContent = `${formatTime(t, entry.at)} ${entry.actor}: ${action}${entry.detail ? ` — ${entry.detail}` : ""}`;
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

/// The settings as last read: the analysis picker offers their models.
let lastSettings: SettingsPage | null = null;

async function loadAnalysisChoices(): Promise<void> {
  lastSettings = (await call<SettingsPage>("settings_page")) ?? lastSettings;
}

/// "Analyze: [model] [Analyze]" for a slide attachment.
function analysisPicker(caseId: string, attachment: number, fileName: string): HTMLElement {
  const span = document.createElement("span");
  span.className = "analysis-picker";
  const select = document.createElement("select");
  select.className = "analysis-model";
  select.setAttribute("aria-label", t("console-analysis-of.aria-label", { name: fileName }));
  for (const a of analysisChoices(t, lastSettings)) {
    const option = document.createElement("option");
    option.value = a.model;
    option.textContent = a.label;
    select.append(option);
  }
  const start = button(t("console-analyze"), "analyze", async () => {
    const label = select.selectedOptions[0]?.textContent ?? select.value;
    const job = await call<number>("analyze_attachment", { id: caseId, attachment, model: select.value });
    if (job !== undefined) analysisRow(job, t("console-analysis-on", { model: label, name: fileName }));
  });
  span.append(select, start);
  return span;
}

/// A running analysis's row: what, its progress, and Cancel.
function analysisRow(job: number, what: string): void {
  const li = document.createElement("li");
  li.id = `analysis-${job}`;
  const name = document.createElement("span");
  name.textContent = what;
  const bar = document.createElement("progress");
  bar.max = 1;
  bar.value = 0;
  const state = document.createElement("span");
  state.className = "analysis-state";
  const cancel = button(t("console-cancel"), "cancel", () => void call<boolean>("cancel_analysis", { job }));
  li.append(name, bar, state, cancel);
  byId("analyses").append(li);
}

function onAnalysis(event: AnalysisEvent): void {
  const row = document.getElementById(`analysis-${event.job}`);
  const line = analysisLine(t, event);
  if (row) {
    const bar = row.querySelector("progress");
    if (bar && event.state === "progress") bar.value = event.done;
    const state = row.querySelector(".analysis-state");
    if (state) state.textContent = line.text;
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
    say(t("console-open-case-first"), true);
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
  lastSettings = page;
  byId("settings-files").textContent = t("console-settings-files", { system: page.system_file, user: page.user_file });
  byId("settings-rows").replaceChildren(
    ...page.values.map((row) => {
      const tr = document.createElement("tr");
      const key = document.createElement("td");
      const name = document.createElement("span");
      name.className = "setting-name";
      name.textContent = settingName(t, row.key);
      const code = document.createElement("code");
      code.textContent = row.key;
      key.append(name, code);
      const value = document.createElement("td");
      const field = document.createElement("input");
      field.value = settingText(row.value);
      field.disabled = row.locked;
      field.title = row.locked ? t("console-setting-locked") : "";
      field.setAttribute("aria-label", row.key);
      field.addEventListener("change", () => void changeSetting(row.key, field.value));
      value.append(field);
      const from = document.createElement("td");
      from.textContent = sourceLabel(t, row) + (row.locked ? " 🔒" : "");
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

/// Saves one setting; the language and theme take effect at once (a call
/// in progress goes on: only words and colours change).
async function changeSetting(key: string, value: string): Promise<void> {
  const next = await call<SettingsPage>("set_setting", { key, value });
  if (!next) return;
  if (key === "ui.language" || key === "ui.theme") await relocalize();
  say(t("console-setting-saved", { key }));
  void showSettings();
}

/// Everything on screen again in the language the settings now choose.
async function relocalize(): Promise<void> {
  await loadCatalogue();
  void refreshWorklist();
  if (current) showCase(current);
  showCall(callNow);
  void fillDevicePickers();
  void call<ViewerStatus | null>("viewer_status").then((status) => {
    if (status !== undefined) showViewerLine(viewerStatusLine(t, status));
  });
}

function wire(): void {
  byId("worklist-form").addEventListener("input", () => void refreshWorklist());
  byId("worklist-form").addEventListener("submit", (e) => e.preventDefault());
  byId("new-case").addEventListener("click", async () => {
    const blank: CaseDetails = {
      patient: { name: "", name_reading: "", id: "", age_years: null, age_months: null, sex: "unknown" },
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
    const problems = detailsProblems(t, details);
    byId("form-problems").textContent = [...problems.values()].join(" ");
    if (problems.size > 0) return;
    const next = await call<CasePage>("update_case", {
      id: current.case.id,
      revision: current.case.revision,
      details,
    });
    if (next) {
      showCase(next);
      say(t("console-saved"));
      void refreshWorklist();
    }
  });
  byId("cite-findings").addEventListener("click", () => {
    if (!current) return;
    const report = byId<HTMLTextAreaElement>("report-text");
    const citations = reportCitations(t, current.audit);
    report.value = report.value.trim() ? `${report.value.trimEnd()}\n\n${citations}` : citations;
    say(t("console-cited"));
  });
  byId("save-report").addEventListener("click", async () => {
    if (!current) return;
    const next = await call<CasePage>("save_report", {
      id: current.case.id,
      text: byId<HTMLTextAreaElement>("report-text").value,
    });
    if (next) {
      showCase(next);
      say(t("console-report-saved"));
    }
  });
  byId("sign-report").addEventListener("click", async () => {
    if (!current) return;
    if (!window.confirm(t("console-sign-confirm"))) return;
    const saved = await call<CasePage>("save_report", {
      id: current.case.id,
      text: byId<HTMLTextAreaElement>("report-text").value,
    });
    if (!saved) return;
    const next = await call<CasePage>("sign_report", { id: current.case.id });
    if (next) {
      showCase(next);
      say(t("console-report-signed"));
      void refreshWorklist();
    }
  });
  byId("export-report").addEventListener("click", async () => {
    if (!current) return;
    const done = await call<{ path: string; signed: boolean }>("export_report", { id: current.case.id });
    if (done) {
      say(t("console-report-exported", { path: done.path }));
      void reloadCase();
    }
  });
  byId("attach").addEventListener("click", async () => {
    const chosen = await tauri.dialog?.open({ multiple: true, directory: false, title: t("console-attach-title") });
    if (chosen) await attachPaths(Array.isArray(chosen) ? chosen : [chosen]);
  });
  byId("open-settings").addEventListener("click", () => void showSettings());
  byId<HTMLButtonElement>("new-case").disabled = false;
  byId<HTMLButtonElement>("open-settings").disabled = false;
  byId("language-setting").addEventListener("change", (e) => {
    void changeSetting("ui.language", (e.target as HTMLSelectElement).value);
  });
  byId("theme-setting").addEventListener("change", (e) => {
    void changeSetting("ui.theme", (e.target as HTMLSelectElement).value);
  });

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
    const line = viewerLine(t, e.payload);
    if (line) showViewerLine(line);
    const video = remoteVideoLine(t, e.payload);
    if (video) byId("call-video").textContent = video;
  });
  void call<ViewerStatus | null>("viewer_status").then((status) => {
    if (status !== undefined) showViewerLine(viewerStatusLine(t, status));
  });
}

/// The call panel from a status snapshot (null: no call).
function showCall(status: CallStatus | null): void {
  const ended = callEnded(status);
  byId("call-join").hidden = !ended;
  byId("call-live").hidden = ended;
  const banner = callBanner(t, status);
  const bannerElement = byId("call-banner");
  bannerElement.hidden = banner === null;
  bannerElement.textContent = banner?.text ?? "";
  bannerElement.classList.toggle("problem", banner?.problem ?? false);
  if (ended) byId("call-video").textContent = "";
  if (!status) return;
  byId("call-state").textContent = callStateLabel(t, status.state);
  const quality = byId("call-quality");
  quality.textContent = qualityLabel(t, status.quality);
  quality.className = status.quality?.level ?? "";
  const list = byId("call-participants");
  list.replaceChildren(
    ...status.participants.map((p) => {
      const item = document.createElement("li");
      item.textContent = p.name;
      return item;
    }),
  );
  byId("call-mute").textContent = status.muted ? t("console-unmute") : t("console-mute");
  byId("call-camera-toggle").textContent = status.camera_on ? t("console-camera-off") : t("console-camera-on");
}

let callNow: CallStatus | null = null;

async function fillDevicePickers(): Promise<void> {
  const devices = await call<CallDevices>("call_devices");
  if (!devices) return;
  const fill = (id: string, choices: DeviceChoice[], chosen: string) => {
    const select = byId<HTMLSelectElement>(id);
    const before = select.value;
    select.replaceChildren(
      ...choices.map(({ value, label }) => {
        const option = document.createElement("option");
        option.value = value;
        option.textContent = label;
        return option;
      }),
    );
    // A choice made on the page survives a language switch.
    const wanted = before && choices.some((c) => c.value === before) ? before : chosen;
    select.value = choices.some((c) => c.value === wanted) ? wanted : "default";
  };
  fill("call-microphone", audioChoices(t, devices.inputs), devices.input);
  fill("call-speaker", audioChoices(t, devices.outputs), devices.output);
  fill("call-camera", cameraChoices(t, devices.cameras), devices.camera);
}

function wireCall(): void {
  byId("call-join").addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!current) return;
    const token = input("call-token").value;
    const problem = tokenProblem(t, token);
    if (problem) {
      say(problem, true);
      return;
    }
    say(t("console-joining"));
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
      say(t("console-joined", { room: joined.room }));
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
      say(t("console-call-ended"));
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
  byId("no-case").hidden = true;
  byId("new-case").hidden = true;
  byId("open-settings").hidden = true;
  showViewerLine({ text: t("console-not-started"), problem: true });
}

void loadCatalogue().then(() =>
  call<string | null>("startup_problem").then((problem) => {
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
  }),
);
