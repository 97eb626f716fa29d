//! What a case holds, as the console and the store exchange it.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A case's identity: a random UUID, so cases made at two sites never clash
/// when one is sent to the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CaseId(pub uuid::Uuid);

impl CaseId {
    pub fn new_random() -> CaseId {
        CaseId(uuid::Uuid::new_v4())
    }
}

impl fmt::Display for CaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::str::FromStr for CaseId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        uuid::Uuid::parse_str(s).map(CaseId)
    }
}

/// Defines a string that identifies a patient: serialised as itself (the
/// console shows it), but `Debug` never prints it and there is no
/// `Display`, so `tracing::info!(?case)` cannot leak it into a log.
macro_rules! identifying_text {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(text: impl Into<String>) -> $name {
                $name(text.into())
            }
            /// The text itself, for the screen and the database — never a log.
            pub fn reveal(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "(«redacted»)"))
            }
        }
    };
}

identifying_text!(
    /// The patient's name.
    PatientName
);
identifying_text!(
    /// How the patient's name is read, in katakana (フリガナ): what
    /// Japanese records sort and confirm identity by.
    PatientNameReading
);
identifying_text!(
    /// The patient's identifier at the requesting site (MRN).
    PatientId
);

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    Female,
    Male,
    Other,
    #[default]
    Unknown,
}

impl Sex {
    pub fn as_str(self) -> &'static str {
        match self {
            Sex::Female => "female",
            Sex::Male => "male",
            Sex::Other => "other",
            Sex::Unknown => "unknown",
        }
    }

    pub fn from_name(name: &str) -> Option<Sex> {
        [Sex::Female, Sex::Male, Sex::Other, Sex::Unknown]
            .into_iter()
            .find(|s| s.as_str() == name)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Patient {
    /// Family name first, as Japanese records write it.
    pub name: PatientName,
    /// Empty when not given (older cases, pages that do not ask).
    #[serde(default)]
    pub name_reading: PatientNameReading,
    pub id: PatientId,
    pub age_years: Option<u16>,
    /// Months beyond `age_years`, 0–11: infants' ages are read in months.
    #[serde(default)]
    pub age_months: Option<u8>,
    pub sex: Sex,
}

/// Where a case stands. It moves forward one step at a time; the only way
/// into `Reported` is signing the report, and a request can be withdrawn to
/// a draft before the consultant takes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseStatus {
    Draft,
    Requested,
    InConsultation,
    Reported,
    Closed,
}

impl CaseStatus {
    pub const ALL: [CaseStatus; 5] = [
        CaseStatus::Draft,
        CaseStatus::Requested,
        CaseStatus::InConsultation,
        CaseStatus::Reported,
        CaseStatus::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CaseStatus::Draft => "draft",
            CaseStatus::Requested => "requested",
            CaseStatus::InConsultation => "in_consultation",
            CaseStatus::Reported => "reported",
            CaseStatus::Closed => "closed",
        }
    }

    pub fn from_name(name: &str) -> Option<CaseStatus> {
        CaseStatus::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Whether `set_status` may move a case from `self` to `to` (signing the
    /// report is the separate way into `Reported`).
    pub fn may_become(self, to: CaseStatus) -> bool {
        use CaseStatus::*;
        matches!(
            (self, to),
            (Draft, Requested)
                | (Requested, Draft)
                | (Requested, InConsultation)
                | (Reported, Closed)
        )
    }

    /// Once the report is signed the record is what was reported on: its
    /// context and attachments no longer change.
    pub fn is_locked(self) -> bool {
        matches!(self, CaseStatus::Reported | CaseStatus::Closed)
    }
}

impl fmt::Display for CaseStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The editable part of a case: what the requesting doctor writes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseDetails {
    pub patient: Patient,
    pub clinical_question: String,
    pub specimen: String,
    pub requesting_site: String,
    pub consulting_site: String,
}

/// Milliseconds since the Unix epoch, UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UnixMillis(pub i64);

impl UnixMillis {
    pub fn now() -> UnixMillis {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        UnixMillis(i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX))
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Case {
    pub id: CaseId,
    pub status: CaseStatus,
    pub details: CaseDetails,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
    /// Bumped by every edit; an edit names the revision it was made on, so
    /// two windows editing one case cannot silently overwrite each other.
    pub revision: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttachmentKind {
    Slide,
    Photo,
    Video,
    Annotations,
}

impl AttachmentKind {
    pub const ALL: [AttachmentKind; 4] = [
        AttachmentKind::Slide,
        AttachmentKind::Photo,
        AttachmentKind::Video,
        AttachmentKind::Annotations,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AttachmentKind::Slide => "slide",
            AttachmentKind::Photo => "photo",
            AttachmentKind::Video => "video",
            AttachmentKind::Annotations => "annotations",
        }
    }

    pub fn from_name(name: &str) -> Option<AttachmentKind> {
        AttachmentKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The kind a dropped file most likely is, from its extension (the
    /// console lets the user correct it). Whole-slide formats first: a
    /// `.tif`/`.tiff` is taken as a slide, since pathology TIFFs are.
    pub fn from_file_name(name: &str) -> Option<AttachmentKind> {
        let lower = name.to_ascii_lowercase();
        let extension = lower.rsplit_once('.').map(|(_, e)| e)?;
        let kind = match extension {
            "svs" | "tif" | "tiff" | "ndpi" | "vms" | "vmu" | "scn" | "mrxs" | "bif" | "dcm"
            | "svslide" | "isyntax" => AttachmentKind::Slide,
            "jpg" | "jpeg" | "png" | "heic" | "webp" | "bmp" => AttachmentKind::Photo,
            "mp4" | "mkv" | "webm" | "mov" | "y4m" | "avi" => AttachmentKind::Video,
            "geojson" | "json" | "xml" | "annotations" => AttachmentKind::Annotations,
            _ => return None,
        };
        Some(kind)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub id: i64,
    pub case_id: CaseId,
    pub kind: AttachmentKind,
    /// Where the file lies on this workstation. Slides are gigabytes, so
    /// the store refers to them rather than copying them.
    pub path: String,
    pub file_name: String,
    pub size_bytes: u64,
    pub added_at: UnixMillis,
    pub added_by: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub case_id: CaseId,
    pub text: String,
    pub updated_at: UnixMillis,
    pub signed: Option<SignOff>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignOff {
    pub by: String,
    pub at: UnixMillis,
}

/// What the audit trail records. The detail of an entry never holds patient
/// data: field names, file names of attachments, status names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    Create,
    Open,
    Edit,
    Status,
    Attach,
    Detach,
    ReportEdit,
    SignOff,
    Export,
    /// A finding of an analysis confirmed or rejected in the viewer.
    Review,
    /// An analysis run on one of the case's slides.
    Analysis,
}

impl AuditAction {
    pub const ALL: [AuditAction; 11] = [
        AuditAction::Create,
        AuditAction::Open,
        AuditAction::Edit,
        AuditAction::Status,
        AuditAction::Attach,
        AuditAction::Detach,
        AuditAction::ReportEdit,
        AuditAction::SignOff,
        AuditAction::Export,
        AuditAction::Review,
        AuditAction::Analysis,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Create => "create",
            AuditAction::Open => "open",
            AuditAction::Edit => "edit",
            AuditAction::Status => "status",
            AuditAction::Attach => "attach",
            AuditAction::Detach => "detach",
            AuditAction::ReportEdit => "report_edit",
            AuditAction::SignOff => "sign_off",
            AuditAction::Export => "export",
            AuditAction::Review => "review",
            AuditAction::Analysis => "analysis",
        }
    }

    pub fn from_name(name: &str) -> Option<AuditAction> {
        AuditAction::ALL.into_iter().find(|a| a.as_str() == name)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub case_id: CaseId,
    pub at: UnixMillis,
    pub actor: String,
    pub action: AuditAction,
    pub detail: String,
}

/// One row of the worklist.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseSummary {
    pub id: CaseId,
    pub status: CaseStatus,
    pub patient_name: PatientName,
    pub patient_name_reading: PatientNameReading,
    pub patient_id: PatientId,
    pub clinical_question: String,
    pub requesting_site: String,
    pub consulting_site: String,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
    pub attachments: u32,
    pub report_signed: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortKey {
    #[default]
    Updated,
    Created,
    Status,
    PatientName,
}

/// What the worklist shows: cases matching `search` (patient name or ID,
/// question, specimen, sites; case-insensitive for ASCII) whose status is
/// one of `statuses` (all when empty), sorted, at most `limit`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WorklistQuery {
    pub search: String,
    pub statuses: Vec<CaseStatus>,
    pub sort: SortKey,
    pub descending: bool,
    pub limit: u32,
}

impl Default for WorklistQuery {
    fn default() -> Self {
        WorklistQuery {
            search: String::new(),
            statuses: Vec::new(),
            sort: SortKey::Updated,
            descending: true,
            limit: WorklistQuery::MAX_LIMIT,
        }
    }
}

impl WorklistQuery {
    /// More rows than a person scrolls through; the bound keeps a hostile or
    /// mistaken query from building an unbounded answer.
    pub const MAX_LIMIT: u32 = 1000;
}
