//! `CaseStore`: every change is one SQLite transaction that also appends its
//! audit entry, so the record and its history never disagree.

use crate::model::*;
use crate::private;
use crate::refusal::{CaseAction, CaseField};
use crate::schema;
use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction, params};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum CaseStoreError {
    #[error("case database {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("{path} is not a case database, or it is damaged: {source}")]
    NotADatabase {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(
        "the case database was written by a newer Kakehashi (schema {found}, this build knows up to {known}); update this workstation"
    )]
    NewerSchema { found: u32, known: u32 },
    #[error("no case {0}")]
    NoSuchCase(CaseId),
    #[error("case {id} is {status}: {what} is not allowed")]
    NotAllowed {
        id: CaseId,
        status: CaseStatus,
        what: CaseAction,
    },
    #[error("case {id} cannot go from {from} to {to}")]
    InvalidTransition {
        id: CaseId,
        from: CaseStatus,
        to: CaseStatus,
    },
    #[error(
        "case {id} was changed elsewhere (it is at revision {found}, the edit was made on {expected}); reload it and edit again"
    )]
    Conflict {
        id: CaseId,
        expected: i64,
        found: i64,
    },
    #[error("case {id} needs {field} before {what}")]
    Missing {
        id: CaseId,
        field: CaseField,
        what: CaseAction,
    },
    #[error("attachment {path}: {reason}")]
    Attachment { path: PathBuf, reason: String },
    #[error("{field} is too long ({len} bytes, at most {max})")]
    TooLong {
        field: CaseField,
        len: usize,
        max: usize,
    },
    #[error("{field} cannot be {value} (at most {max})")]
    OutOfRange {
        field: CaseField,
        value: u32,
        max: u32,
    },
    #[error("the case database holds {what} this build does not know: {value:?}")]
    Unreadable { what: &'static str, value: String },
    #[error("case database: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// What `CaseStore::inspect` found.
#[derive(Clone, Debug, serde::Serialize)]
pub struct DatabaseReport {
    pub schema_version: u32,
    /// The version this build writes; a lower one is migrated on first use.
    pub known_schema_version: u32,
    pub cases: Option<u64>,
    /// SQLite's quick check: `["ok"]` or what is wrong.
    pub integrity: Vec<String>,
}

type Result<T> = std::result::Result<T, CaseStoreError>;

/// The next value of `cases.change_seq` (indexed, so this is a lookup).
const NEXT_CHANGE: &str = "(SELECT coalesce(max(change_seq), 0) + 1 FROM cases)";

/// Short fields (names, IDs, sites) and long ones (question, report): far
/// above what a person types, far below what would hurt the worklist.
const MAX_SHORT_FIELD: usize = 1024;
const MAX_LONG_FIELD: usize = 256 * 1024;

pub struct CaseStore {
    connection: Connection,
    path: Option<PathBuf>,
}

impl CaseStore {
    /// Opens (creating if needed) the database at `path` and brings its
    /// schema up to date. The database holds patient data: a directory made
    /// for it is 0700 and the file is 0600 (an existing file open to others
    /// is closed to them; SQLite gives its journal files the same mode).
    pub fn open(path: &Path) -> Result<CaseStore> {
        let io_error = |e: std::io::Error| CaseStoreError::Open {
            path: path.to_owned(),
            source: rusqlite::Error::InvalidPath(PathBuf::from(e.to_string())),
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            private::make_dir(parent).map_err(io_error)?;
        }
        private::make_file(path).map_err(io_error)?;
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection =
            Connection::open_with_flags(path, flags).map_err(|source| CaseStoreError::Open {
                path: path.to_owned(),
                source,
            })?;
        CaseStore::prepare(connection, Some(path.to_owned()))
    }

    /// A database that lives only as long as the store (tests, previews).
    pub fn open_in_memory() -> Result<CaseStore> {
        CaseStore::prepare(Connection::open_in_memory()?, None)
    }

    fn prepare(mut connection: Connection, path: Option<PathBuf>) -> Result<CaseStore> {
        let not_a_database = |source| match &path {
            Some(path) => CaseStoreError::NotADatabase {
                path: path.clone(),
                source,
            },
            None => CaseStoreError::Sqlite(source),
        };
        // The first read of the file is where a foreign or damaged file shows.
        connection
            .query_row("PRAGMA schema_version", [], |row| row.get::<_, i64>(0))
            .map_err(not_a_database)?;
        connection.busy_timeout(Duration::from_secs(5))?;
        // WAL: readers never block the writer; FULL: a commit is on disk
        // when it returns, so an edit the user saw saved stays saved.
        connection
            .query_row("PRAGMA journal_mode = WAL", [], |row| {
                row.get::<_, String>(0)
            })
            .map_err(not_a_database)?;
        connection.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")?;
        crate::fold::register(&connection)?;
        schema::migrate(&mut connection)?;
        Ok(CaseStore { connection, path })
    }

    /// Looks at the database at `path` without changing it (no creation,
    /// no migration): what `kh doctor` reports.
    pub fn inspect(path: &Path) -> Result<DatabaseReport> {
        let opened = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|source| CaseStoreError::Open {
            path: path.to_owned(),
            source,
        })?;
        let not_a_database = |source| CaseStoreError::NotADatabase {
            path: path.to_owned(),
            source,
        };
        let schema_version: u32 = opened
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(not_a_database)?;
        let mut statement = opened
            .prepare("PRAGMA quick_check")
            .map_err(not_a_database)?;
        let integrity = statement
            .query_map([], |row| row.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(not_a_database)?;
        let cases = if schema_version >= 1 {
            let count: i64 = opened
                .query_row("SELECT count(*) FROM cases", [], |row| row.get(0))
                .map_err(not_a_database)?;
            Some(u64::try_from(count).unwrap_or(0))
        } else {
            None
        };
        Ok(DatabaseReport {
            schema_version,
            known_schema_version: schema::SCHEMA_VERSION,
            cases,
            integrity,
        })
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// SQLite's own check of every page and index: "ok" or what is wrong.
    pub fn integrity_check(&self) -> Result<Vec<String>> {
        let mut statement = self.connection.prepare("PRAGMA integrity_check")?;
        let rows = statement.query_map([], |row| row.get::<_, String>(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn create_case(&mut self, details: &CaseDetails, actor: &str) -> Result<Case> {
        check_details(details)?;
        let id = CaseId::new_random();
        let now = UnixMillis::now();
        let tx = self.connection.transaction()?;
        tx.execute(
            &format!(
                "INSERT INTO cases (id, status, patient_name, patient_id, patient_age_years,
                patient_sex, clinical_question, specimen, requesting_site, consulting_site,
                created_at_ms, updated_at_ms, revision, change_seq, patient_name_reading,
                patient_age_months)
             VALUES (?1, 'draft', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, 1, {NEXT_CHANGE},
                ?11, ?12)"
            ),
            params![
                id.to_string(),
                details.patient.name.reveal(),
                details.patient.id.reveal(),
                details.patient.age_years,
                details.patient.sex.as_str(),
                details.clinical_question,
                details.specimen,
                details.requesting_site,
                details.consulting_site,
                now.0,
                details.patient.name_reading.reveal(),
                details.patient.age_months,
            ],
        )?;
        audit(&tx, id, actor, AuditAction::Create, "")?;
        let case = case_in(&tx, id)?;
        tx.commit()?;
        tracing::info!(case = %id, "case created");
        Ok(case)
    }

    /// The case, without recording that anyone looked.
    pub fn case(&self, id: CaseId) -> Result<Case> {
        case_in(&self.connection, id)
    }

    /// The case as a person opens it: the open is audited.
    pub fn open_case(&mut self, id: CaseId, actor: &str) -> Result<Case> {
        let tx = self.connection.transaction()?;
        let case = case_in(&tx, id)?;
        audit(&tx, id, actor, AuditAction::Open, "")?;
        tx.commit()?;
        Ok(case)
    }

    /// Replaces the case's details, if nobody else changed the case since
    /// `expected_revision` and it is not yet reported.
    pub fn update_case(
        &mut self,
        id: CaseId,
        expected_revision: i64,
        details: &CaseDetails,
        actor: &str,
    ) -> Result<Case> {
        check_details(details)?;
        let tx = self.connection.transaction()?;
        let before = case_in(&tx, id)?;
        if before.status.is_locked() {
            return Err(not_allowed(&before, CaseAction::Edit));
        }
        if before.revision != expected_revision {
            return Err(CaseStoreError::Conflict {
                id,
                expected: expected_revision,
                found: before.revision,
            });
        }
        let changed = changed_fields(&before.details, details);
        if changed.is_empty() {
            return Ok(before);
        }
        tx.execute(
            &format!(
                "UPDATE cases SET patient_name = ?2, patient_id = ?3, patient_age_years = ?4,
                patient_sex = ?5, clinical_question = ?6, specimen = ?7, requesting_site = ?8,
                consulting_site = ?9, updated_at_ms = ?10, revision = revision + 1,
                change_seq = {NEXT_CHANGE}, patient_name_reading = ?11, patient_age_months = ?12
             WHERE id = ?1"
            ),
            params![
                id.to_string(),
                details.patient.name.reveal(),
                details.patient.id.reveal(),
                details.patient.age_years,
                details.patient.sex.as_str(),
                details.clinical_question,
                details.specimen,
                details.requesting_site,
                details.consulting_site,
                UnixMillis::now().0,
                details.patient.name_reading.reveal(),
                details.patient.age_months,
            ],
        )?;
        audit(&tx, id, actor, AuditAction::Edit, &changed.join(","))?;
        let case = case_in(&tx, id)?;
        tx.commit()?;
        tracing::info!(case = %id, fields = %changed.join(","), "case edited");
        Ok(case)
    }

    pub fn set_status(&mut self, id: CaseId, to: CaseStatus, actor: &str) -> Result<Case> {
        let tx = self.connection.transaction()?;
        let before = case_in(&tx, id)?;
        if !before.status.may_become(to) {
            return Err(CaseStoreError::InvalidTransition {
                id,
                from: before.status,
                to,
            });
        }
        if to == CaseStatus::Requested && before.details.clinical_question.trim().is_empty() {
            return Err(CaseStoreError::Missing {
                id,
                field: CaseField::ClinicalQuestion,
                what: CaseAction::RequestConsultation,
            });
        }
        set_status_in(&tx, id, to)?;
        let detail = format!("{}->{}", before.status, to);
        audit(&tx, id, actor, AuditAction::Status, &detail)?;
        let case = case_in(&tx, id)?;
        tx.commit()?;
        tracing::info!(case = %id, from = %before.status, to = %to, "case status");
        Ok(case)
    }

    /// Adds a file on this workstation to the case. `kind` is guessed from
    /// the extension when not given.
    pub fn attach(
        &mut self,
        id: CaseId,
        file: &Path,
        kind: Option<AttachmentKind>,
        actor: &str,
    ) -> Result<Attachment> {
        let attachment_error = |reason: String| CaseStoreError::Attachment {
            path: file.to_owned(),
            reason,
        };
        let path = std::fs::canonicalize(file).map_err(|e| attachment_error(e.to_string()))?;
        let metadata = std::fs::metadata(&path).map_err(|e| attachment_error(e.to_string()))?;
        if !metadata.is_file() {
            return Err(attachment_error("not a file".into()));
        }
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let kind = kind
            .or_else(|| AttachmentKind::from_file_name(&file_name))
            .ok_or_else(|| {
                attachment_error(
                    "its kind is not known from its name; say whether it is a slide, photo, video or annotations".into(),
                )
            })?;
        let path_text = path
            .to_str()
            .ok_or_else(|| attachment_error("the path is not valid UTF-8".into()))?
            .to_owned();
        let tx = self.connection.transaction()?;
        let case = case_in(&tx, id)?;
        if case.status.is_locked() {
            return Err(not_allowed(&case, CaseAction::Attach));
        }
        let already: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM attachments WHERE case_id = ?1 AND path = ?2)",
            params![id.to_string(), path_text],
            |row| row.get(0),
        )?;
        if already {
            return Err(attachment_error("already attached to this case".into()));
        }
        let now = UnixMillis::now();
        tx.execute(
            "INSERT INTO attachments (case_id, kind, path, file_name, size_bytes, added_at_ms, added_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                id.to_string(),
                kind.as_str(),
                path_text,
                file_name,
                i64::try_from(metadata.len()).unwrap_or(i64::MAX),
                now.0,
                actor,
            ],
        )?;
        let attachment_id = tx.last_insert_rowid();
        touch(&tx, id)?;
        audit(
            &tx,
            id,
            actor,
            AuditAction::Attach,
            &format!("{} {}", kind.as_str(), file_name),
        )?;
        tx.commit()?;
        tracing::info!(case = %id, kind = kind.as_str(), "attached");
        Ok(Attachment {
            id: attachment_id,
            case_id: id,
            kind,
            path: path_text,
            file_name,
            size_bytes: metadata.len(),
            added_at: now,
            added_by: actor.to_owned(),
        })
    }

    pub fn detach(&mut self, id: CaseId, attachment_id: i64, actor: &str) -> Result<()> {
        let tx = self.connection.transaction()?;
        let case = case_in(&tx, id)?;
        if case.status.is_locked() {
            return Err(not_allowed(&case, CaseAction::Detach));
        }
        let file_name: Option<String> = tx
            .query_row(
                "DELETE FROM attachments WHERE case_id = ?1 AND id = ?2 RETURNING file_name",
                params![id.to_string(), attachment_id],
                |row| row.get(0),
            )
            .optional()?;
        let Some(file_name) = file_name else {
            return Err(CaseStoreError::Attachment {
                path: PathBuf::from(format!("#{attachment_id}")),
                reason: format!("not an attachment of case {id}"),
            });
        };
        touch(&tx, id)?;
        audit(&tx, id, actor, AuditAction::Detach, &file_name)?;
        tx.commit()?;
        Ok(())
    }

    pub fn attachments(&self, id: CaseId) -> Result<Vec<Attachment>> {
        case_in(&self.connection, id)?;
        let mut statement = self.connection.prepare(
            "SELECT id, kind, path, file_name, size_bytes, added_at_ms, added_by
             FROM attachments WHERE case_id = ?1 ORDER BY id",
        )?;
        let rows = statement.query_map(params![id.to_string()], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, i64>(4)?,
                row.get::<_, i64>(5)?,
                row.get::<_, String>(6)?,
            ))
        })?;
        rows.map(|row| {
            let (attachment_id, kind, path, file_name, size, added_at, added_by) = row?;
            Ok(Attachment {
                id: attachment_id,
                case_id: id,
                kind: AttachmentKind::from_name(&kind).ok_or(CaseStoreError::Unreadable {
                    what: "an attachment kind",
                    value: kind,
                })?,
                path,
                file_name,
                size_bytes: u64::try_from(size).unwrap_or(0),
                added_at: UnixMillis(added_at),
                added_by,
            })
        })
        .collect()
    }

    /// Writes the consultant's report (a draft until signed).
    pub fn save_report(&mut self, id: CaseId, text: &str, actor: &str) -> Result<Report> {
        check_len(CaseField::Report, text, MAX_LONG_FIELD)?;
        let tx = self.connection.transaction()?;
        let case = case_in(&tx, id)?;
        if case.status != CaseStatus::InConsultation {
            return Err(not_allowed(&case, CaseAction::WriteReport));
        }
        let now = UnixMillis::now();
        tx.execute(
            "INSERT INTO reports (case_id, text, updated_at_ms) VALUES (?1, ?2, ?3)
             ON CONFLICT (case_id) DO UPDATE SET text = excluded.text,
                updated_at_ms = excluded.updated_at_ms",
            params![id.to_string(), text, now.0],
        )?;
        touch(&tx, id)?;
        audit(&tx, id, actor, AuditAction::ReportEdit, "")?;
        let report = report_in(&tx, id)?.ok_or(CaseStoreError::NoSuchCase(id))?;
        tx.commit()?;
        Ok(report)
    }

    /// Signs the report as `actor`: the report is locked and the case
    /// becomes reported, in one transaction.
    pub fn sign_report(&mut self, id: CaseId, actor: &str) -> Result<Report> {
        let tx = self.connection.transaction()?;
        let case = case_in(&tx, id)?;
        if case.status != CaseStatus::InConsultation {
            return Err(not_allowed(&case, CaseAction::SignReport));
        }
        let has_text = report_in(&tx, id)?.is_some_and(|r| !r.text.trim().is_empty());
        if !has_text {
            return Err(CaseStoreError::Missing {
                id,
                field: CaseField::Report,
                what: CaseAction::SignReport,
            });
        }
        tx.execute(
            "UPDATE reports SET signed_by = ?2, signed_at_ms = ?3 WHERE case_id = ?1",
            params![id.to_string(), actor, UnixMillis::now().0],
        )?;
        set_status_in(&tx, id, CaseStatus::Reported)?;
        audit(&tx, id, actor, AuditAction::SignOff, "")?;
        let report = report_in(&tx, id)?.ok_or(CaseStoreError::NoSuchCase(id))?;
        tx.commit()?;
        tracing::info!(case = %id, "report signed");
        Ok(report)
    }

    pub fn report(&self, id: CaseId) -> Result<Option<Report>> {
        case_in(&self.connection, id)?;
        report_in(&self.connection, id)
    }

    /// Records that something of the case left the workstation (`what`
    /// names the kind of export, never its contents).
    pub fn record_export(&mut self, id: CaseId, what: &str, actor: &str) -> Result<()> {
        check_len(CaseField::ExportName, what, MAX_SHORT_FIELD)?;
        let tx = self.connection.transaction()?;
        case_in(&tx, id)?;
        audit(&tx, id, actor, AuditAction::Export, what)?;
        tx.commit()?;
        Ok(())
    }

    /// Records that `actor` looked at one of the case's images (`what`: its
    /// file name) — opening a slide in the viewer is an access to patient
    /// data as much as opening the case.
    pub fn record_viewing(&mut self, id: CaseId, what: &str, actor: &str) -> Result<()> {
        check_len(CaseField::ViewedFile, what, MAX_SHORT_FIELD)?;
        let tx = self.connection.transaction()?;
        case_in(&tx, id)?;
        audit(&tx, id, actor, AuditAction::Open, &format!("viewer {what}"))?;
        tx.commit()?;
        Ok(())
    }

    /// Records a verdict on one finding of an analysis (`what`: the
    /// annotation file's name, the object, its score, the verdict and the
    /// review's progress — never patient data).
    pub fn record_review(&mut self, id: CaseId, what: &str, actor: &str) -> Result<()> {
        self.record(id, AuditAction::Review, CaseField::ReviewNote, what, actor)
    }

    /// Records an analysis run on the case's slide (`what`: the analysis,
    /// the slide's file name, how many objects, the result's file name).
    pub fn record_analysis(&mut self, id: CaseId, what: &str, actor: &str) -> Result<()> {
        self.record(
            id,
            AuditAction::Analysis,
            CaseField::AnalysisNote,
            what,
            actor,
        )
    }

    fn record(
        &mut self,
        id: CaseId,
        action: AuditAction,
        field: CaseField,
        what: &str,
        actor: &str,
    ) -> Result<()> {
        check_len(field, what, MAX_SHORT_FIELD)?;
        let tx = self.connection.transaction()?;
        case_in(&tx, id)?;
        audit(&tx, id, actor, action, what)?;
        tx.commit()?;
        Ok(())
    }

    pub fn audit_trail(&self, id: CaseId) -> Result<Vec<AuditEntry>> {
        let mut statement = self.connection.prepare(
            "SELECT at_ms, actor, action, detail FROM audit WHERE case_id = ?1 ORDER BY id",
        )?;
        let rows = statement.query_map(params![id.to_string()], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
            ))
        })?;
        rows.map(|row| {
            let (at, actor, action, detail) = row?;
            Ok(AuditEntry {
                case_id: id,
                at: UnixMillis(at),
                actor,
                action: AuditAction::from_name(&action).ok_or(CaseStoreError::Unreadable {
                    what: "an audit action",
                    value: action,
                })?,
                detail,
            })
        })
        .collect()
    }

    pub fn case_count(&self) -> Result<u64> {
        let count: i64 = self
            .connection
            .query_row("SELECT count(*) FROM cases", [], |row| row.get(0))?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    pub fn worklist(&self, query: &WorklistQuery) -> Result<Vec<CaseSummary>> {
        let mut sql = String::from(
            "SELECT c.id, c.status, c.patient_name, c.patient_id, c.clinical_question,
                c.requesting_site, c.consulting_site, c.created_at_ms, c.updated_at_ms,
                (SELECT count(*) FROM attachments a WHERE a.case_id = c.id),
                EXISTS (SELECT 1 FROM reports r WHERE r.case_id = c.id AND r.signed_at_ms IS NOT NULL),
                c.patient_name_reading
             FROM cases c WHERE 1",
        );
        let mut values: Vec<Value> = Vec::new();
        let search = query.search.trim();
        if !search.is_empty() {
            check_len(CaseField::Search, search, MAX_SHORT_FIELD)?;
            // Who the patient is — name, reading, ID — is compared in its
            // search form: やまだ, ﾔﾏﾀﾞ and ヤマダ find one another (see
            // `fold`). Folded together, one call a row, joined by a control
            // character no search holds so no match spans two fields. The
            // question, specimen and sites are compared as written: folding
            // them too cost 24 ms a search over 10,000 cases that matches
            // none, against 12 (4 with nothing folded; release, 2 cores).
            let folded: String = crate::fold::search_form(search)
                .chars()
                .filter(|c| !c.is_control())
                .collect();
            values.push(Value::Text(format!("%{}%", like_escaped(&folded))));
            let f = values.len();
            values.push(Value::Text(format!("%{}%", like_escaped(search))));
            let n = values.len();
            sql += &format!(
                " AND (kh_search_form(c.patient_name || char(31) || c.patient_id || char(31)
                   || c.patient_name_reading) LIKE ?{f} ESCAPE '\\'
                   OR c.clinical_question LIKE ?{n} ESCAPE '\\' OR c.specimen LIKE ?{n} ESCAPE '\\'
                   OR c.requesting_site LIKE ?{n} ESCAPE '\\' OR c.consulting_site LIKE ?{n} ESCAPE '\\')"
            );
        }
        if !query.statuses.is_empty() {
            let mut placeholders = Vec::new();
            for status in &query.statuses {
                values.push(Value::Text(status.as_str().to_owned()));
                placeholders.push(format!("?{}", values.len()));
            }
            sql += &format!(" AND c.status IN ({})", placeholders.join(", "));
        }
        // Status sorts by the order a case moves through, not alphabetically.
        let order = match query.sort {
            SortKey::Updated => "c.change_seq",
            SortKey::Created => "c.created_at_ms",
            SortKey::Status => {
                "CASE c.status WHEN 'draft' THEN 0 WHEN 'requested' THEN 1
                 WHEN 'in_consultation' THEN 2 WHEN 'reported' THEN 3 ELSE 4 END"
            }
            // By how the name is read where the reading is known: kanji
            // sort by code point, not as a Japanese list is read (あいうえお).
            // A reading typed in hiragana sorts with those in katakana.
            SortKey::PatientName => {
                "kh_search_form(CASE c.patient_name_reading WHEN '' THEN c.patient_name
                 ELSE c.patient_name_reading END)"
            }
        };
        let direction = if query.descending { "DESC" } else { "ASC" };
        values.push(Value::Integer(i64::from(
            query.limit.min(WorklistQuery::MAX_LIMIT),
        )));
        sql += &format!(
            " ORDER BY {order} {direction}, c.id LIMIT ?{}",
            values.len()
        );
        let mut statement = self.connection.prepare(&sql)?;
        let rows = statement.query_map(rusqlite::params_from_iter(values), |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                (row.get::<_, String>(2)?, row.get::<_, String>(3)?),
                row.get::<_, String>(4)?,
                (row.get::<_, String>(5)?, row.get::<_, String>(6)?),
                (row.get::<_, i64>(7)?, row.get::<_, i64>(8)?),
                row.get::<_, i64>(9)?,
                row.get::<_, bool>(10)?,
                row.get::<_, String>(11)?,
            ))
        })?;
        rows.map(|row| {
            let (
                id,
                status,
                (name, patient_id),
                question,
                (requesting, consulting),
                (created, updated),
                attachments,
                signed,
                reading,
            ) = row?;
            Ok(CaseSummary {
                id: parse_id(&id)?,
                status: parse_status(&status)?,
                patient_name: PatientName::new(name),
                patient_name_reading: PatientNameReading::new(reading),
                patient_id: PatientId::new(patient_id),
                clinical_question: question,
                requesting_site: requesting,
                consulting_site: consulting,
                created_at: UnixMillis(created),
                updated_at: UnixMillis(updated),
                attachments: u32::try_from(attachments).unwrap_or(u32::MAX),
                report_signed: signed,
            })
        })
        .collect()
    }
}

fn check_len(field: CaseField, text: &str, max: usize) -> Result<()> {
    if text.len() > max {
        return Err(CaseStoreError::TooLong {
            field,
            len: text.len(),
            max,
        });
    }
    Ok(())
}

fn check_details(details: &CaseDetails) -> Result<()> {
    check_len(
        CaseField::PatientName,
        details.patient.name.reveal(),
        MAX_SHORT_FIELD,
    )?;
    check_len(
        CaseField::NameReading,
        details.patient.name_reading.reveal(),
        MAX_SHORT_FIELD,
    )?;
    check_len(
        CaseField::PatientId,
        details.patient.id.reveal(),
        MAX_SHORT_FIELD,
    )?;
    check_len(CaseField::Specimen, &details.specimen, MAX_SHORT_FIELD)?;
    check_len(
        CaseField::RequestingSite,
        &details.requesting_site,
        MAX_SHORT_FIELD,
    )?;
    check_len(
        CaseField::ConsultingSite,
        &details.consulting_site,
        MAX_SHORT_FIELD,
    )?;
    check_len(
        CaseField::ClinicalQuestion,
        &details.clinical_question,
        MAX_LONG_FIELD,
    )?;
    let ages = [
        (
            CaseField::AgeYears,
            details.patient.age_years.map(u32::from),
            150,
        ),
        (
            CaseField::AgeMonths,
            details.patient.age_months.map(u32::from),
            11,
        ),
    ];
    for (field, value, max) in ages {
        if let Some(value) = value.filter(|v| *v > max) {
            return Err(CaseStoreError::OutOfRange { field, value, max });
        }
    }
    Ok(())
}

/// The names of the fields that differ — what the audit trail says was
/// edited, without the values.
fn changed_fields(before: &CaseDetails, after: &CaseDetails) -> Vec<&'static str> {
    let checks = [
        ("patient_name", before.patient.name != after.patient.name),
        (
            "patient_name_reading",
            before.patient.name_reading != after.patient.name_reading,
        ),
        ("patient_id", before.patient.id != after.patient.id),
        (
            "patient_age",
            before.patient.age_years != after.patient.age_years
                || before.patient.age_months != after.patient.age_months,
        ),
        ("patient_sex", before.patient.sex != after.patient.sex),
        (
            "clinical_question",
            before.clinical_question != after.clinical_question,
        ),
        ("specimen", before.specimen != after.specimen),
        (
            "requesting_site",
            before.requesting_site != after.requesting_site,
        ),
        (
            "consulting_site",
            before.consulting_site != after.consulting_site,
        ),
    ];
    checks
        .into_iter()
        .filter(|(_, changed)| *changed)
        .map(|(name, _)| name)
        .collect()
}

/// `%`, `_` and `\` in what the user typed are literal, not wildcards.
fn like_escaped(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

fn not_allowed(case: &Case, what: CaseAction) -> CaseStoreError {
    CaseStoreError::NotAllowed {
        id: case.id,
        status: case.status,
        what,
    }
}

fn parse_id(text: &str) -> Result<CaseId> {
    text.parse().map_err(|_| CaseStoreError::Unreadable {
        what: "a case ID",
        value: text.to_owned(),
    })
}

fn parse_status(text: &str) -> Result<CaseStatus> {
    CaseStatus::from_name(text).ok_or_else(|| CaseStoreError::Unreadable {
        what: "a case status",
        value: text.to_owned(),
    })
}

fn audit(
    tx: &Transaction<'_>,
    id: CaseId,
    actor: &str,
    action: AuditAction,
    detail: &str,
) -> Result<()> {
    tx.execute(
        "INSERT INTO audit (case_id, at_ms, actor, action, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            id.to_string(),
            UnixMillis::now().0,
            actor,
            action.as_str(),
            detail
        ],
    )?;
    Ok(())
}

fn touch(tx: &Transaction<'_>, id: CaseId) -> Result<()> {
    tx.execute(
        &format!(
            "UPDATE cases SET updated_at_ms = ?2, revision = revision + 1,
                change_seq = {NEXT_CHANGE} WHERE id = ?1"
        ),
        params![id.to_string(), UnixMillis::now().0],
    )?;
    Ok(())
}

fn set_status_in(tx: &Transaction<'_>, id: CaseId, to: CaseStatus) -> Result<()> {
    tx.execute(
        &format!(
            "UPDATE cases SET status = ?2, updated_at_ms = ?3, revision = revision + 1,
                change_seq = {NEXT_CHANGE} WHERE id = ?1"
        ),
        params![id.to_string(), to.as_str(), UnixMillis::now().0],
    )?;
    Ok(())
}

fn case_in(connection: &Connection, id: CaseId) -> Result<Case> {
    let row = connection
        .query_row(
            "SELECT status, patient_name, patient_id, patient_age_years, patient_sex,
                clinical_question, specimen, requesting_site, consulting_site,
                created_at_ms, updated_at_ms, revision, patient_name_reading, patient_age_months
             FROM cases WHERE id = ?1",
            params![id.to_string()],
            |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    (row.get::<_, String>(1)?, row.get::<_, String>(2)?),
                    row.get::<_, Option<u16>>(3)?,
                    row.get::<_, String>(4)?,
                    (row.get::<_, String>(5)?, row.get::<_, String>(6)?),
                    (row.get::<_, String>(7)?, row.get::<_, String>(8)?),
                    (row.get::<_, i64>(9)?, row.get::<_, i64>(10)?),
                    row.get::<_, i64>(11)?,
                    (row.get::<_, String>(12)?, row.get::<_, Option<u8>>(13)?),
                ))
            },
        )
        .optional()?
        .ok_or(CaseStoreError::NoSuchCase(id))?;
    let (
        status,
        (name, patient_id),
        age,
        sex,
        (question, specimen),
        (requesting, consulting),
        (created, updated),
        revision,
        (reading, months),
    ) = row;
    Ok(Case {
        id,
        status: parse_status(&status)?,
        details: CaseDetails {
            patient: Patient {
                name: PatientName::new(name),
                name_reading: PatientNameReading::new(reading),
                id: PatientId::new(patient_id),
                age_years: age,
                age_months: months,
                sex: Sex::from_name(&sex).ok_or(CaseStoreError::Unreadable {
                    what: "a patient sex",
                    value: sex,
                })?,
            },
            clinical_question: question,
            specimen,
            requesting_site: requesting,
            consulting_site: consulting,
        },
        created_at: UnixMillis(created),
        updated_at: UnixMillis(updated),
        revision,
    })
}

fn report_in(connection: &Connection, id: CaseId) -> Result<Option<Report>> {
    let row = connection
        .query_row(
            "SELECT text, updated_at_ms, signed_by, signed_at_ms FROM reports WHERE case_id = ?1",
            params![id.to_string()],
            |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, Option<String>>(2)?,
                    row.get::<_, Option<i64>>(3)?,
                ))
            },
        )
        .optional()?;
    Ok(row.map(|(text, updated, signed_by, signed_at)| Report {
        case_id: id,
        text,
        updated_at: UnixMillis(updated),
        signed: signed_by.zip(signed_at).map(|(by, at)| SignOff {
            by,
            at: UnixMillis(at),
        }),
    }))
}
