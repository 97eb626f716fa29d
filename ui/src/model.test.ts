/// <reference types="node" />
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { localizer } from "./l10n.js";
import {
  analysisChoices,
  reportCitations,
  analysisLine,
  exportLine,
  ageFromText,
  audioChoices,
  cameraChoices,
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
  kindFromFileName,
  settingText,
  transitionLabel,
  viewerLine,
  viewerStatusLine,
  worklistQuery,
  type CaseDetails,
  patientLine,
  statusLabel,
  monthsFromText,
  settingName,
} from "./model.js";

/// The page's catalogue files in `language`, read where kh-i18n compiles
/// them in from (the page gets the same text from the Rust side).
function catalogue(language: string): string {
  const root = new URL("../../../crates/i18n/locales/", import.meta.url);
  return ["common", "console"]
    .map((file) => readFileSync(new URL(`${language}/${file}.ftl`, root), "utf8"))
    .join("\n");
}

const english = localizer("en", catalogue("en"));
const japanese = localizer("ja", catalogue("ja"));
const t = english.t;
const ja = japanese.t;

test("the catalogue parses in both languages", () => {
  assert.deepEqual(english.errors, []);
  assert.deepEqual(japanese.errors, []);
});

function details(name: string, id: string, age: number | null): CaseDetails {
  return {
    patient: { name, name_reading: "", id, age_years: age, age_months: null, sex: "unknown" },
    clinical_question: "",
    specimen: "",
    requesting_site: "",
    consulting_site: "",
  };
}

test("a case form needs the patient's name or ID and a sane age", () => {
  assert.deepEqual([...detailsProblems(t, details("Sato", "", 40)).keys()], []);
  assert.deepEqual([...detailsProblems(t, details("", "MRN-1", null)).keys()], []);
  assert.deepEqual([...detailsProblems(t, details("", " ", 40)).keys()], ["patient"]);
  assert.deepEqual([...detailsProblems(t, details("A", "", 151)).keys()], ["age"]);
  assert.deepEqual([...detailsProblems(t, details("A", "", 4.5)).keys()], ["age"]);
  assert.deepEqual([...detailsProblems(t, details("A", "", NaN)).keys()], ["age"]);
  // Bytes, not characters: 400 kanji are 1200 bytes.
  assert.deepEqual([...detailsProblems(t, details("漢".repeat(400), "", 1)).keys()], ["name"]);
});

test("the age field reads empty as unknown and junk as invalid", () => {
  assert.equal(ageFromText(""), null);
  assert.equal(ageFromText(" 67 "), 67);
  assert.ok(Number.isNaN(ageFromText("sixty")));
});

test("the worklist query follows the form", () => {
  assert.deepEqual(worklistQuery("  suzuki ", "", "patient_name"), {
    search: "suzuki",
    statuses: [],
    sort: "patient_name",
    descending: false,
    limit: 500,
  });
  const requested = worklistQuery("", "requested", "updated");
  assert.deepEqual(requested.statuses, ["requested"]);
  assert.equal(requested.descending, true);
  // Unknown values from a tampered form fall back, never pass through.
  const odd = worklistQuery("", "deleted", "DROP TABLE");
  assert.deepEqual(odd.statuses, []);
  assert.equal(odd.sort, "updated");
});

test("locks and report rights follow the status", () => {
  assert.equal(isLocked("draft"), false);
  assert.equal(isLocked("reported"), true);
  assert.equal(isLocked("closed"), true);
  assert.equal(canWriteReport("in_consultation"), true);
  assert.equal(canWriteReport("requested"), false);
  assert.equal(transitionLabel(t, "draft", "requested"), "Request consultation");
  assert.equal(transitionLabel(t, "requested", "draft"), "Withdraw request");
});

test("dropped files are sorted into kinds like the store does", () => {
  assert.equal(kindFromFileName("CMU-1.SVS"), "slide");
  assert.equal(kindFromFileName("gross.jpeg"), "photo");
  assert.equal(kindFromFileName("scope.webm"), "video");
  assert.equal(kindFromFileName("cells.geojson"), "annotations");
  assert.equal(kindFromFileName("notes"), null);
  assert.equal(kindFromFileName("report.docx"), null);
});

test("times, sizes and settings read as people expect", () => {
  const noon = new Date(2026, 10, 24, 12, 5).getTime();
  assert.equal(formatTime(t, noon, noon + 1000), "12:05");
  assert.equal(formatTime(t, noon, noon + 3 * 86_400_000), "2026-11-24 12:05");
  assert.equal(formatTime(ja, noon, noon + 3 * 86_400_000), "2026年11月24日 12:05");
  assert.equal(formatBytes(512), "512 B");
  assert.equal(formatBytes(1536), "1.5 KiB");
  assert.equal(formatBytes(3 * 1024 ** 3), "3.0 GiB");
  assert.equal(settingText(["turn:a", "stun:b"]), "[turn:a, stun:b]");
  assert.equal(settingText(2048), "2048");
});

test("the viewer's status line says restarts and failures, not chatter", () => {
  assert.deepEqual(viewerLine(t, { kind: "connected", pid: 7, restarts: 0 }), {
    text: "Viewer ready (pid 7)",
    problem: false,
  });
  assert.equal(viewerLine(t, { kind: "connected", pid: 8, restarts: 1 })?.text, "Viewer restarted (pid 8)");
  assert.equal(viewerLine(t, { kind: "exited", status: "signal 9", restarting: true })?.problem, true);
  assert.equal(viewerLine(t, { kind: "message", type: "view_changed" }), null);
  assert.equal(viewerLine(t, { kind: "message", type: "opened", path: "/data/CMU-1.svs" })?.text, "Showing CMU-1.svs");
  assert.equal(viewerLine(t, { kind: "gave_up", reason: "no display" })?.problem, true);
});

test("the status line at load time comes from the supervisor's snapshot", () => {
  const base = { connected: true, pid: 9, restarts: 0, slide: null, gave_up: null };
  assert.equal(viewerStatusLine(t, base).text, "Viewer ready (pid 9)");
  assert.equal(viewerStatusLine(t, { ...base, slide: "/s/CMU-1.svs" }).text, "Showing CMU-1.svs");
  assert.equal(viewerStatusLine(t, { ...base, connected: false }).text, "Viewer starting…");
  assert.equal(viewerStatusLine(t, { ...base, gave_up: "no GPU" }).problem, true);
  assert.equal(viewerStatusLine(t, null).problem, true);
});

const inCall = (state: string, extra: Partial<CallStatus> = {}): CallStatus => ({
  case: "c1",
  room: "case-c1",
  state,
  participants: [],
  muted: false,
  camera_on: true,
  microphone: "default",
  speaker: "default",
  camera: "test-pattern",
  camera_problem: null,
  quality: null,
  problem: null,
  ...extra,
});

test("the call banner shows only when the connection is lost or failed", () => {
  assert.equal(callBanner(t, null), null);
  assert.equal(callBanner(t, inCall("connected")), null);
  assert.equal(callBanner(t, inCall("waiting")), null);
  const lost = callBanner(t, inCall("reconnecting"));
  assert.ok(lost?.problem && lost.text.includes("reconnecting"));
  const failed = callBanner(t, inCall("failed", { problem: "the connection failed" }));
  assert.deepEqual(failed, { text: "the connection failed", problem: true });
  const unplugged = callBanner(t, 
    inCall("connected", { camera_problem: "camera /dev/video0 stopped: capturing: No such device" }),
  );
  assert.ok(unplugged?.problem && unplugged.text.includes("Camera lost") && unplugged.text.includes("No such device"));
  // The connection matters more than the picture.
  assert.match(callBanner(t, inCall("reconnecting", { camera_problem: "x" }))?.text ?? "", /reconnecting/);
  assert.equal(callBanner(t, inCall("ended", { camera_problem: "x" })), null);
});

test("a call that failed or ended can be joined again; one in progress cannot", () => {
  assert.ok(callEnded(null));
  assert.ok(callEnded(inCall("ended")));
  assert.ok(callEnded(inCall("failed")));
  assert.ok(!callEnded(inCall("reconnecting")));
  assert.ok(!callEnded(inCall("joining")));
  assert.equal(callStateLabel(t, "connected"), "In call");
});

test("the quality indicator says the level and the figures behind it", () => {
  assert.equal(qualityLabel(t, null), "");
  const label = qualityLabel(t, {
    level: "fair",
    rtt_ms: 212.4,
    loss_percent: 2.5,
    jitter_ms: 4,
    bitrate_in_kbps: 1480.6,
    bitrate_out_kbps: 1500,
    video_in_fps: 30,
  });
  assert.equal(label, "Fair connection · 212 ms · 2.5 % loss · 1481 kbit/s in");
});

test("room tokens are checked for shape before they are sent", () => {
  assert.match(tokenProblem(t, "  ") ?? "", /Paste/);
  assert.match(tokenProblem(t, "abc") ?? "", /not a room token/);
  assert.match(tokenProblem(t, "v1..sig") ?? "", /not a room token/);
  assert.equal(tokenProblem(t, " v1.eyJ9.c2ln "), null);
  assert.equal(caseRoom("42"), "case-42");
});

test("the viewer's remote-video reports become the call panel's video line", () => {
  assert.equal(remoteVideoLine(t, { kind: "connected", pid: 1 }), null);
  assert.equal(remoteVideoLine(t, { kind: "message", type: "opened", path: "/a.svs" }), null);
  assert.equal(
    remoteVideoLine(t, { kind: "message", type: "remote_video_shown", width: 1920, height: 1080, frames: 60, dropped: 0 }),
    "Remote video in the viewer: 1920 × 1080, 60 frames shown",
  );
  assert.match(
    remoteVideoLine(t, { kind: "message", type: "remote_video_shown", width: 320, height: 240, frames: 30, dropped: 2 }) ?? "",
    /\(2 dropped\)$/,
  );
  assert.equal(
    remoteVideoLine(t, {
      kind: "message", type: "remote_video_shown", width: 7680, height: 4320,
      received: 64, decoded: 62, frames: 58, late: 4, dropped: 2,
    }),
    "Remote video in the viewer: 7680 × 4320, 58 frames shown of 64 received (4 late, 2 dropped)",
  );
});

test("the camera picker offers the cameras, the test pattern and none", () => {
  const none = cameraChoices(t, []);
  assert.deepEqual(
    none.map((c) => c.value),
    ["default", "test-pattern", "none"],
  );
  assert.match(none[0].label, /no camera/);
  const two = cameraChoices(t, ["Logitech BRIO", "vivid", "none"]);
  assert.deepEqual(
    two.map((c) => c.value),
    ["default", "Logitech BRIO", "vivid", "test-pattern", "none"],
  );
  assert.equal(two[0].label, "Default camera (Logitech BRIO)");
  assert.deepEqual(
    audioChoices(t, ["default", "pulse"]).map((c) => c.value),
    ["default", "pulse", "none"],
  );
});

test("an analysis's line shows its progress and how it ended", () => {
  assert.deepEqual(analysisLine(t, { state: "progress", job: 1, case: "c", done: 0.426 }), {
    text: "43%",
    ended: false,
    problem: false,
  });
  assert.equal(analysisLine(t, { state: "progress", job: 1, case: "c", done: 1.7 }).text, "100%");
  const done = analysisLine(t, {
    state: "finished",
    job: 1,
    case: "c",
    objects: 1,
    file: "/data/analyses/c/slide tissue 20261207T120000Z.geojson",
    page: {} as never,
  });
  assert.deepEqual(done, { text: "1 object in slide tissue 20261207T120000Z.geojson", ended: true, problem: false });
  assert.equal(analysisLine(t, { state: "cancelled", job: 2, case: "c" }).problem, false);
  const failed = analysisLine(t, { state: "failed", job: 3, case: "c", error: "level 9: the slide has 3 levels" });
  assert.equal(failed.text, "Failed: level 9: the slide has 3 levels");
  assert.ok(failed.problem && failed.ended);
});

test("a report cites the case's analyses and findings reviews from the audit trail", () => {
  const at = Date.UTC(2026, 11, 7, 12, 30);
  const entry = (action: string, detail: string, actor = "Dr. Sato") => ({ case_id: "c", at, actor, action, detail });
  const text = reportCitations(t, [
    entry("open", "viewer slide.svs"),
    entry("analysis", "nuclei on slide.svs: 1204 objects in slide nuclei 20261207T123000Z.geojson"),
    entry("review", "mitoses.geojson object 7 (score 0.930) confirmed; 1 of 3 reviewed"),
    entry("review", "mitoses.geojson object 2 (score 0.700) rejected; 2 of 3 reviewed", "Dr. Ito"),
    entry("review", "not in the known form"),
  ]);
  assert.equal(
    text,
    [
      "Analyses:",
      "- nuclei on slide.svs: 1204 objects in slide nuclei 20261207T123000Z.geojson (Dr. Sato, 2026-12-07 12:30 UTC)",
      "Findings reviewed:",
      "- mitoses.geojson: 1 confirmed, 1 rejected; 2 of 3 reviewed (Dr. Sato, Dr. Ito)",
    ].join("\n"),
  );
  assert.equal(reportCitations(t, [entry("open", "x")]), "");
});

test("the analyses offered are the built-in ones and the models IT approved", () => {
  assert.deepEqual(
    analysisChoices(t, null).map((c) => c.model),
    ["tissue", "nuclei", "focus"],
  );
  const settings = {
    values: [
      { key: "analysis.models", value: ["/opt/models/tumour.onnx", 7], source: { kind: "system" as const }, locked: true },
    ],
    warnings: [],
    system_file: "/etc/kakehashi/config.toml",
    user_file: "~/.config/kakehashi/settings.toml",
  };
  const choices = analysisChoices(t, settings);
  assert.deepEqual(choices[3], { model: "onnx:/opt/models/tumour.onnx", label: "Model: tumour.onnx" });
  assert.equal(choices.length, 4);
});

test("an export says where it went and what it could not keep", () => {
  assert.equal(
    exportLine(t, { path: "/data/exports/c/cells.dcm", objects: 3, notes: [] }),
    "Exported 3 objects to /data/exports/c/cells.dcm",
  );
  assert.equal(
    exportLine(t, { path: "x.dcm", objects: 1, notes: ["1 polygon holes dropped", "2 names dropped"] }),
    "Exported 1 objects to x.dcm (1 polygon holes dropped; 2 names dropped)",
  );
});

test("the page speaks Japanese from the same catalogue", () => {
  assert.equal(statusLabel(ja, "in_consultation"), "コンサルテーション中");
  assert.equal(statusLabel(t, "in_consultation"), "In consultation");
  assert.equal(transitionLabel(ja, "draft", "requested"), "コンサルテーションを依頼");
  assert.equal(callStateLabel(ja, "connected"), "通話中");
  assert.equal(
    qualityLabel(ja, {
      level: "good",
      rtt_ms: 40,
      loss_percent: 0,
      jitter_ms: 1,
      bitrate_in_kbps: 2000,
      bitrate_out_kbps: 2000,
      video_in_fps: 30,
    }),
    "接続良好 · 40 ms · 損失 0.0 % · 受信 2000 kbit/s",
  );
  assert.equal(analysisLine(ja, { state: "cancelled", job: 1, case: "c" }).text, "中止しました：何も保存されていません");
  assert.deepEqual([...detailsProblems(ja, details("", "", 200)).values()], [
    "年齢は 0〜150 の整数（歳）で入力してください。",
    "患者の氏名か ID を入力してください。",
  ]);
  // Every message the page names exists in Japanese: none falls back to its id.
  for (const id of ["console-new-case", "console-no-cases", "common-sex-female", "console-status-draft"]) {
    assert.notEqual(ja(id), id);
  }
});

test("a patient's line carries the kana reading and the ID", () => {
  const row = {
    id: "c", status: "draft" as const, patient_name: "山田 太郎", patient_name_reading: "ヤマダ タロウ",
    patient_id: "MRN-1", clinical_question: "", requesting_site: "", consulting_site: "",
    created_at: 0, updated_at: 0, attachments: 0, report_signed: false,
  };
  assert.equal(patientLine(row), "山田 太郎（ヤマダ タロウ） (MRN-1)");
  assert.equal(patientLine({ ...row, patient_name_reading: "", patient_id: "" }), "山田 太郎");
});

test("infants' months are checked like ages", () => {
  assert.equal(monthsFromText(""), null);
  assert.equal(monthsFromText("3"), 3);
  const infant = details("A", "", 1);
  infant.patient.age_months = 12;
  assert.deepEqual([...detailsProblems(t, infant).keys()], ["months"]);
});

test("settings are named in the reader's words", () => {
  assert.equal(settingName(ja, "ui.language"), "表示言語");
  assert.equal(settingName(t, "signalling.url"), "Signalling server (wss://…)");
  assert.equal(settingName(t, "future.setting"), "");
});
