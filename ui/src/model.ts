// The shapes the console's Rust side sends and takes (serde of kh-cases and
// kh-console), and the pure rules the page applies to them. No DOM here:
// model.test.ts runs these under Node.

export type CaseStatus = "draft" | "requested" | "in_consultation" | "reported" | "closed";
export type Sex = "female" | "male" | "other" | "unknown";
export type AttachmentKind = "slide" | "photo" | "video" | "annotations";
export type SortKey = "updated" | "created" | "status" | "patient_name";

export interface Patient {
  /// Family name first, as Japanese records write it.
  name: string;
  /// The name's reading in katakana (フリガナ): how it is said and sorted.
  name_reading: string;
  id: string;
  age_years: number | null;
  /// Months beyond the years, for infants.
  age_months: number | null;
  sex: Sex;
}

export interface CaseDetails {
  patient: Patient;
  clinical_question: string;
  specimen: string;
  requesting_site: string;
  consulting_site: string;
}

export interface Case {
  id: string;
  status: CaseStatus;
  details: CaseDetails;
  created_at: number;
  updated_at: number;
  revision: number;
}

export interface CaseSummary {
  id: string;
  status: CaseStatus;
  patient_name: string;
  patient_name_reading: string;
  patient_id: string;
  clinical_question: string;
  requesting_site: string;
  consulting_site: string;
  created_at: number;
  updated_at: number;
  attachments: number;
  report_signed: boolean;
}

export interface Attachment {
  id: number;
  case_id: string;
  kind: AttachmentKind;
  path: string;
  file_name: string;
  size_bytes: number;
  added_at: number;
  added_by: string;
}

export interface Report {
  case_id: string;
  text: string;
  updated_at: number;
  signed: { by: string; at: number } | null;
}

export interface AuditEntry {
  case_id: string;
  at: number;
  actor: string;
  action: string;
  detail: string;
}

export interface CasePage {
  case: Case;
  attachments: Attachment[];
  report: Report | null;
  audit: AuditEntry[];
  next_statuses: CaseStatus[];
}

export interface WorklistQuery {
  search: string;
  statuses: CaseStatus[];
  sort: SortKey;
  descending: boolean;
  limit: number;
}

export interface SettingRow {
  key: string;
  value: unknown;
  source: { kind: "default" | "system" | "user" | "environment"; path?: string; variable?: string };
  locked: boolean;
}

export interface SettingsPage {
  values: SettingRow[];
  warnings: string[];
  system_file: string;
  user_file: string;
}

/// Message `id` of the catalogue (crates/i18n/locales, the files the
/// viewer and kh speak from too) in the page's language, with `args`.
export type Args = Record<string, string | number>;
export type Translate = (id: string, args?: Args) => string;

export const STATUSES: CaseStatus[] = ["draft", "requested", "in_consultation", "reported", "closed"];

export function statusLabel(t: Translate, status: CaseStatus): string {
  return t(`console-status-${status.replace("_", "-")}`);
}

/// A worklist row's patient: name (reading) and ID.
export function patientLine(row: CaseSummary): string {
  const reading = row.patient_name_reading ? `（${row.patient_name_reading}）` : "";
  const id = row.patient_id ? ` (${row.patient_id})` : "";
  return `${row.patient_name}${reading}${id}`.trim();
}

/// What a button moving the case to `to` says.
export function transitionLabel(t: Translate, from: CaseStatus, to: CaseStatus): string {
  if (from === "draft" && to === "requested") return t("console-move-request");
  if (from === "requested" && to === "draft") return t("console-move-withdraw");
  if (from === "requested" && to === "in_consultation") return t("console-move-take");
  if (from === "reported" && to === "closed") return t("console-move-close");
  return t("console-move-to", { status: to });
}

/// Context and attachments are frozen once the report is signed (the
/// store refuses too; the page does not offer what would be refused).
export function isLocked(status: CaseStatus): boolean {
  return status === "reported" || status === "closed";
}

export function canWriteReport(status: CaseStatus): boolean {
  return status === "in_consultation";
}

/// What is wrong with a case form before it is sent, by field.
export function detailsProblems(t: Translate, details: CaseDetails): Map<string, string> {
  const problems = new Map<string, string>();
  const age = details.patient.age_years;
  if (age !== null && (!Number.isInteger(age) || age < 0 || age > 150)) {
    problems.set("age", t("console-problem-age"));
  }
  const months = details.patient.age_months;
  if (months !== null && (!Number.isInteger(months) || months < 0 || months > 11)) {
    problems.set("months", t("console-problem-months"));
  }
  if (details.patient.name.trim() === "" && details.patient.id.trim() === "") {
    problems.set("patient", t("console-problem-patient"));
  }
  const long = [
    ["name", details.patient.name],
    ["patient_id", details.patient.id],
    ["specimen", details.specimen],
    ["requesting_site", details.requesting_site],
    ["consulting_site", details.consulting_site],
  ] as const;
  for (const [field, text] of long) {
    if (new TextEncoder().encode(text).length > 1024) {
      problems.set(field, t("console-problem-too-long"));
    }
  }
  return problems;
}

/// The months field's text as the model's value (empty → none).
export function monthsFromText(text: string): number | null {
  return ageFromText(text);
}

/// The age field's text as the model's value (empty → unknown).
export function ageFromText(text: string): number | null {
  const trimmed = text.trim();
  if (trimmed === "") return null;
  const n = Number(trimmed);
  return Number.isFinite(n) ? n : NaN;
}

export function worklistQuery(search: string, status: string, sort: string): WorklistQuery {
  const statuses = STATUSES.filter((s) => s === status);
  const sorts: SortKey[] = ["updated", "created", "status", "patient_name"];
  const key = sorts.find((s) => s === sort) ?? "updated";
  return {
    search: search.trim(),
    statuses,
    sort: key,
    // Names read A→Z; dates and statuses newest/furthest first.
    descending: key !== "patient_name",
    limit: 500,
  };
}

/// The kind a dropped file is taken as (mirrors kh-cases; the store has
/// the last word).
export function kindFromFileName(name: string): AttachmentKind | null {
  const dot = name.lastIndexOf(".");
  if (dot < 0) return null;
  const ext = name.slice(dot + 1).toLowerCase();
  const kinds: Record<AttachmentKind, string[]> = {
    slide: ["svs", "tif", "tiff", "ndpi", "vms", "vmu", "scn", "mrxs", "bif", "dcm", "svslide", "isyntax"],
    photo: ["jpg", "jpeg", "png", "heic", "webp", "bmp"],
    video: ["mp4", "mkv", "webm", "mov", "y4m", "avi"],
    annotations: ["geojson", "json", "xml", "annotations"],
  };
  for (const kind of Object.keys(kinds) as AttachmentKind[]) {
    if (kinds[kind].includes(ext)) return kind;
  }
  return null;
}

/// A moment as the worklist and the audit trail show it: the time alone
/// today, else the date too, as the language writes dates
/// ("2026年12月7日 09:05", "2026-12-07 09:05").
export function formatTime(t: Translate, ms: number, now: number = Date.now()): string {
  const date = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, "0");
  const time = `${pad(date.getHours())}:${pad(date.getMinutes())}`;
  const sameDay = new Date(now).toDateString() === date.toDateString();
  if (sameDay) return time;
  return t("common-date-time", {
    year: String(date.getFullYear()),
    month: String(date.getMonth() + 1),
    month2: pad(date.getMonth() + 1),
    day: String(date.getDate()),
    day2: pad(date.getDate()),
    time,
  });
}

export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export function sourceLabel(t: Translate, row: SettingRow): string {
  return t("console-source", {
    kind: row.source.kind,
    path: row.source.path ?? "",
    variable: row.source.variable ?? "",
  });
}

/// A setting's name in the reader's words, from its key
/// (`console-setting-name-ui-language` for `ui.language`); empty for a
/// key the catalogue does not name yet (a newer config on an older build).
export function settingName(t: Translate, key: string): string {
  const id = `console-setting-name-${key.replace(/[._]/g, "-")}`;
  const name = t(id);
  return name === id ? "" : name;
}

/// A setting's value as the text field shows it (and `set_setting` reads).
export function settingText(value: unknown): string {
  if (Array.isArray(value)) return `[${value.join(", ")}]`;
  return String(value);
}

export interface ViewerEvent {
  kind: "connected" | "message" | "exited" | "gave_up";
  pid?: number;
  restarts?: number;
  status?: string;
  restarting?: boolean;
  reason?: string;
  type?: string;
  message?: string;
  path?: string;
  width?: number;
  height?: number;
  frames?: number;
  dropped?: number;
  received?: number;
  decoded?: number;
  late?: number;
}

/// The status line's words for what the viewer supervisor said; null for
/// chatter (view changes) the line does not show.
export function viewerLine(t: Translate, event: ViewerEvent): { text: string; problem: boolean } | null {
  const pid = String(event.pid ?? "?");
  switch (event.kind) {
    case "connected":
      return {
        text: event.restarts ? t("console-viewer-restarted", { pid }) : t("console-viewer-ready", { pid }),
        problem: false,
      };
    case "exited":
      return event.restarting
        ? { text: t("console-viewer-stopped", { status: event.status ?? "?" }), problem: true }
        : { text: t("console-viewer-closed"), problem: false };
    case "gave_up":
      return { text: t("console-viewer-not-running", { reason: event.reason ?? "" }), problem: true };
    case "message":
      if (event.type === "opened") {
        return { text: t("console-viewer-showing", { name: baseName(event.path ?? "") }), problem: false };
      }
      if (event.type === "error") {
        return { text: t("console-viewer-problem", { message: event.message ?? "" }), problem: true };
      }
      return null;
  }
}

export function baseName(path: string): string {
  const parts = path.split(/[\\/]/);
  return parts[parts.length - 1] ?? path;
}

export interface ViewerStatus {
  connected: boolean;
  pid: number | null;
  restarts: number;
  slide: string | null;
  gave_up: string | null;
}

/// The status line from a snapshot (the page asks once when it loads: the
/// events before that were sent before anyone listened).
export function viewerStatusLine(t: Translate, status: ViewerStatus | null): { text: string; problem: boolean } {
  if (!status) return { text: t("console-viewer-not-started"), problem: true };
  if (status.gave_up) return { text: t("console-viewer-not-running", { reason: status.gave_up }), problem: true };
  if (!status.connected) return { text: t("console-viewer-starting"), problem: false };
  if (status.slide) return { text: t("console-viewer-showing", { name: baseName(status.slide) }), problem: false };
  return { text: t("console-viewer-ready", { pid: String(status.pid ?? "?") }), problem: false };
}

export type QualityLevel = "good" | "fair" | "poor";

export interface CallQuality {
  level: QualityLevel;
  rtt_ms: number | null;
  loss_percent: number;
  jitter_ms: number | null;
  bitrate_in_kbps: number;
  bitrate_out_kbps: number;
  video_in_fps: number;
}

export interface CallStatus {
  case: string;
  room: string;
  state: string;
  participants: { peer_id: string; name: string }[];
  muted: boolean;
  camera_on: boolean;
  microphone: string;
  speaker: string;
  camera: string;
  /// Why the camera gives no pictures now (kh-console's CallStatus).
  camera_problem: string | null;
  quality: CallQuality | null;
  problem: string | null;
}

const CALL_STATES = ["joining", "waiting", "connecting", "connected", "reconnecting", "failed", "closed", "ended"];

export function callStateLabel(t: Translate, state: string): string {
  return CALL_STATES.includes(state) ? t("console-call-state", { state }) : state;
}

/// Whether the call is over (the panel offers to join again).
export function callEnded(status: CallStatus | null): boolean {
  return !status || ["failed", "closed", "ended"].includes(status.state);
}

/// The banner over the call panel: the connection is being restored, or
/// was lost for good, or the camera stopped (the call goes on, the other
/// site sees black until it is back); null while all is well.
export function callBanner(t: Translate, status: CallStatus | null): { text: string; problem: boolean } | null {
  if (!status) return null;
  if (status.state === "reconnecting") {
    return { text: t("console-reconnecting-banner"), problem: true };
  }
  if (status.state === "failed") {
    return { text: status.problem ?? t("console-call-failed"), problem: true };
  }
  if (status.camera_problem && !callEnded(status)) {
    return { text: t("console-camera-lost", { problem: status.camera_problem }), problem: true };
  }
  return null;
}

/// The quality indicator's words: level, then the figures behind it.
export function qualityLabel(t: Translate, quality: CallQuality | null): string {
  if (!quality) return "";
  const parts = [t("console-quality", { level: quality.level })];
  if (quality.rtt_ms !== null) parts.push(t("console-quality-rtt", { ms: String(Math.round(quality.rtt_ms)) }));
  parts.push(t("console-quality-loss", { percent: quality.loss_percent.toFixed(1) }));
  parts.push(t("console-quality-bitrate", { kbps: String(Math.round(quality.bitrate_in_kbps)) }));
  return parts.join(" · ");
}

/// The room a case's call happens in (kh-console's `case_room`).
export function caseRoom(caseId: string): string {
  return `case-${caseId}`;
}

/// What is wrong with a room token before it is sent, or null: tokens are
/// `v1.<claims>.<signature>`.
export function tokenProblem(t: Translate, token: string): string | null {
  const trimmed = token.trim();
  if (trimmed === "") return t("console-token-missing");
  const parts = trimmed.split(".");
  if (parts.length !== 3 || parts[0] !== "v1" || parts.some((p) => p === "")) {
    return t("console-token-malformed");
  }
  return null;
}

/// The call panel's line about the remote video the viewer shows, from the
/// viewer's `remote_video_shown` reports; null for other viewer events.
export function remoteVideoLine(t: Translate, event: ViewerEvent): string | null {
  if (event.kind !== "message" || event.type !== "remote_video_shown") return null;
  const losses = [
    event.late ? t("console-remote-video-late", { late: event.late }) : "",
    event.dropped ? t("console-remote-video-dropped", { dropped: event.dropped }) : "",
  ].filter((s) => s !== "");
  const shown = t("console-remote-video", {
    width: String(event.width ?? "?"),
    height: String(event.height ?? "?"),
    frames: event.frames ?? 0,
  });
  const received = event.received ? ` ${t("console-remote-video-received", { received: event.received })}` : "";
  const lost = losses.length ? ` (${losses.join(", ")})` : "";
  return `${shown}${received}${lost}`;
}

/// What `call_devices` answers: the audio devices and cameras the machine
/// has, and what the settings choose.
export interface CallDevices {
  inputs: string[];
  outputs: string[];
  cameras: string[];
  input: string;
  output: string;
  camera: string;
}

export interface DeviceChoice {
  value: string;
  label: string;
}

/// A microphone or speaker picker: the system default, each device, none.
export function audioChoices(t: Translate, names: string[]): DeviceChoice[] {
  return [
    { value: "default", label: t("console-system-default") },
    ...names.filter((n) => n !== "default" && n !== "none").map((n) => ({ value: n, label: n })),
    { value: "none", label: t("console-none") },
  ];
}

/// The camera picker: the first camera (the test pattern where there is
/// none), each camera by name, the test pattern, no video.
export function cameraChoices(t: Translate, cameras: string[]): DeviceChoice[] {
  const reserved = new Set(["default", "test-pattern", "none"]);
  const first = cameras[0];
  return [
    {
      value: "default",
      label: first !== undefined ? t("console-default-camera", { name: first }) : t("console-default-no-camera"),
    },
    ...cameras.filter((n) => !reserved.has(n)).map((n) => ({ value: n, label: n })),
    { value: "test-pattern", label: t("console-test-pattern") },
    { value: "none", label: t("console-none") },
  ];
}

/// The analyses a case page offers on a slide (the same names as
/// `kh analyze --model`), with the catalogue's names for them.
export const ANALYSES: { model: string; label: string }[] = [
  { model: "tissue", label: "console-analysis-tissue" },
  { model: "nuclei", label: "console-analysis-nuclei" },
  { model: "focus", label: "console-analysis-focus" },
];

/// An analysis's progress or outcome, as the console's "analysis" event
/// carries it.
export type AnalysisEvent =
  | { state: "progress"; job: number; case: string; done: number }
  | { state: "finished"; job: number; case: string; objects: number; file: string; page: CasePage }
  | { state: "cancelled"; job: number; case: string }
  | { state: "failed"; job: number; case: string; error: string };

/// What exporting an annotation file wrote (`export_annotations`).
export interface Exported {
  path: string;
  objects: number;
  /// What the format could not hold, one line each.
  notes: string[];
}

/// The line an export leaves: where it went, and what it could not keep.
export function exportLine(t: Translate, done: Exported): string {
  if (done.notes.length === 0) return t("console-exported", { objects: done.objects, path: done.path });
  return t("console-exported-with-notes", { objects: done.objects, path: done.path, notes: done.notes.join("; ") });
}

/// The line a running or ended analysis shows; `ended` when its row goes.
export function analysisLine(t: Translate, event: AnalysisEvent): { text: string; ended: boolean; problem: boolean } {
  switch (event.state) {
    case "progress": {
      const percent = String(Math.round(Math.min(Math.max(event.done, 0), 1) * 100));
      return { text: t("console-analysis-percent", { percent }), ended: false, problem: false };
    }
    case "finished":
      return {
        text: t("console-analysis-finished", { objects: event.objects, file: baseName(event.file) }),
        ended: true,
        problem: false,
      };
    case "cancelled":
      return { text: t("console-analysis-cancelled"), ended: true, problem: false };
    case "failed":
      return { text: t("console-analysis-failed", { error: event.error }), ended: true, problem: true };
  }
}

/// What a report cites of the case's analyses and findings reviews, from
/// its audit trail: each analysis run (what, on which slide, how many
/// objects, which file, who and when), and per reviewed file how many
/// findings were confirmed and rejected and how far the review got. Empty
/// when there is neither.
export function reportCitations(t: Translate, audit: AuditEntry[]): string {
  const when = (ms: number) => new Date(ms).toISOString().slice(0, 16).replace("T", " ") + " UTC";
  const analyses = audit
    .filter((e) => e.action === "analysis")
    .map((e) => `- ${e.detail} (${e.actor}, ${when(e.at)})`);
  // Review details read "<file> object <n> (score <s>) <verdict>; <k> of <m> reviewed".
  const reviews = new Map<string, { confirmed: number; rejected: number; progress: string; actors: Set<string> }>();
  for (const e of audit.filter((e) => e.action === "review")) {
    const match = /^(.*) object \d+ \(score [^)]*\) (confirmed|rejected); (.*)$/.exec(e.detail);
    if (!match) continue;
    const [, file, verdict, progress] = match as unknown as [string, string, string, string];
    const tally = reviews.get(file) ?? { confirmed: 0, rejected: 0, progress: "", actors: new Set<string>() };
    if (verdict === "confirmed") tally.confirmed += 1;
    else tally.rejected += 1;
    tally.progress = progress;
    tally.actors.add(e.actor);
    reviews.set(file, tally);
  }
  const lines: string[] = [];
  if (analyses.length) lines.push(t("console-citations-analyses"), ...analyses);
  if (reviews.size) {
    lines.push(t("console-citations-reviews"));
    for (const [file, tally] of reviews) {
      lines.push(
        t("console-citation-review", {
          file,
          confirmed: tally.confirmed,
          rejected: tally.rejected,
          progress: tally.progress,
          actors: [...tally.actors].join(", "),
        }),
      );
    }
  }
  return lines.join("\n");
}

/// The analyses a slide can be given: the built-in ones, then the ONNX
/// models IT approved in the settings (`analysis.models`), named by file.
export function analysisChoices(t: Translate, settings: SettingsPage | null): { model: string; label: string }[] {
  const row = settings?.values.find((r) => r.key === "analysis.models");
  const models = Array.isArray(row?.value) ? (row.value as unknown[]).filter((m): m is string => typeof m === "string") : [];
  return [
    ...ANALYSES.map(({ model, label }) => ({ model, label: t(label) })),
    ...models.map((path) => ({ model: `onnx:${path}`, label: t("console-analysis-model", { name: baseName(path) }) })),
  ];
}
