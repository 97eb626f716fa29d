//! The database schema as numbered migrations. `PRAGMA user_version` holds
//! how many have been applied; each runs in its own transaction, so a crash
//! during an upgrade leaves the database at the previous version, never
//! between two.

use crate::CaseStoreError;
use rusqlite::Connection;

/// Migration `n` (1-based) is `MIGRATIONS[n - 1]`. Append only: a shipped
/// migration is never edited, since databases in the field already ran it.
const MIGRATIONS: &[&str] = &[
    // 1: cases, attachments, reports, audit.
    r#"
    CREATE TABLE cases (
        id TEXT PRIMARY KEY NOT NULL,
        status TEXT NOT NULL CHECK (status IN
            ('draft', 'requested', 'in_consultation', 'reported', 'closed')),
        patient_name TEXT NOT NULL,
        patient_id TEXT NOT NULL,
        patient_age_years INTEGER CHECK (patient_age_years BETWEEN 0 AND 150),
        patient_sex TEXT NOT NULL CHECK (patient_sex IN ('female', 'male', 'other', 'unknown')),
        clinical_question TEXT NOT NULL,
        specimen TEXT NOT NULL,
        requesting_site TEXT NOT NULL,
        consulting_site TEXT NOT NULL,
        created_at_ms INTEGER NOT NULL,
        updated_at_ms INTEGER NOT NULL,
        revision INTEGER NOT NULL,
        -- The order cases were last changed in: clocks tie (two edits in a
        -- millisecond) and step back; the worklist's "recent first" must not.
        change_seq INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX cases_by_change ON cases (change_seq);
    CREATE INDEX cases_by_status ON cases (status);

    CREATE TABLE attachments (
        id INTEGER PRIMARY KEY,
        case_id TEXT NOT NULL REFERENCES cases (id),
        kind TEXT NOT NULL CHECK (kind IN ('slide', 'photo', 'video', 'annotations')),
        path TEXT NOT NULL,
        file_name TEXT NOT NULL,
        size_bytes INTEGER NOT NULL CHECK (size_bytes >= 0),
        added_at_ms INTEGER NOT NULL,
        added_by TEXT NOT NULL,
        UNIQUE (case_id, path)
    ) STRICT;

    CREATE TABLE reports (
        case_id TEXT PRIMARY KEY NOT NULL REFERENCES cases (id),
        text TEXT NOT NULL,
        updated_at_ms INTEGER NOT NULL,
        signed_by TEXT,
        signed_at_ms INTEGER,
        CHECK ((signed_by IS NULL) = (signed_at_ms IS NULL))
    ) STRICT;
    -- A signed report is what the consultant answered for: the database
    -- itself refuses to change or remove it, whatever the code above does.
    CREATE TRIGGER signed_reports_are_locked BEFORE UPDATE ON reports
        WHEN OLD.signed_at_ms IS NOT NULL
        BEGIN SELECT RAISE(ABORT, 'the report is signed and locked'); END;
    CREATE TRIGGER signed_reports_stay BEFORE DELETE ON reports
        WHEN OLD.signed_at_ms IS NOT NULL
        BEGIN SELECT RAISE(ABORT, 'the report is signed and locked'); END;

    CREATE TABLE audit (
        id INTEGER PRIMARY KEY,
        case_id TEXT NOT NULL,
        at_ms INTEGER NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        detail TEXT NOT NULL
    ) STRICT;
    CREATE INDEX audit_by_case ON audit (case_id, id);
    CREATE TRIGGER audit_is_append_only_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
    CREATE TRIGGER audit_is_append_only_delete BEFORE DELETE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
    "#,
    // 2: the name's reading (フリガナ) and an infant's months.
    r#"
    ALTER TABLE cases ADD COLUMN patient_name_reading TEXT NOT NULL DEFAULT '';
    ALTER TABLE cases ADD COLUMN patient_age_months INTEGER
        CHECK (patient_age_months BETWEEN 0 AND 11);
    "#,
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Brings the database to `SCHEMA_VERSION`. A database from a newer build is
/// refused rather than written with an older idea of its tables.
pub fn migrate(connection: &mut Connection) -> Result<(), CaseStoreError> {
    let found: u32 = connection.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(CaseStoreError::NewerSchema {
            found,
            known: SCHEMA_VERSION,
        });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let version = index as u32 + 1;
        let transaction = connection.transaction()?;
        transaction.execute_batch(sql)?;
        // PRAGMA takes no bound parameters; the version is our own integer.
        transaction.execute_batch(&format!("PRAGMA user_version = {version}"))?;
        transaction.commit()?;
        tracing::info!(version, "case store migrated");
    }
    Ok(())
}
