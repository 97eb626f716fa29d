//! What a refusal of the store is about, as types: the field a rule
//! concerns and the action refused. The console puts them into the
//! reader's words by name (`console-field-<name>`, `console-doing-<name>`);
//! `Display` is the English of logs and of the error's own text.

use std::fmt;

/// A field of a case (or of what is recorded about it) a rule concerns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CaseField {
    PatientName,
    NameReading,
    PatientId,
    AgeYears,
    AgeMonths,
    Specimen,
    RequestingSite,
    ConsultingSite,
    ClinicalQuestion,
    Report,
    Search,
    /// What kind of export a record names (`record_export`).
    ExportName,
    /// The file a record of viewing names (`record_viewing`).
    ViewedFile,
    ReviewNote,
    AnalysisNote,
}

impl CaseField {
    pub const ALL: [CaseField; 15] = [
        CaseField::PatientName,
        CaseField::NameReading,
        CaseField::PatientId,
        CaseField::AgeYears,
        CaseField::AgeMonths,
        CaseField::Specimen,
        CaseField::RequestingSite,
        CaseField::ConsultingSite,
        CaseField::ClinicalQuestion,
        CaseField::Report,
        CaseField::Search,
        CaseField::ExportName,
        CaseField::ViewedFile,
        CaseField::ReviewNote,
        CaseField::AnalysisNote,
    ];

    /// The name the catalogue knows it by.
    pub fn name(self) -> &'static str {
        match self {
            CaseField::PatientName => "name",
            CaseField::NameReading => "reading",
            CaseField::PatientId => "patient-id",
            CaseField::AgeYears => "age",
            CaseField::AgeMonths => "months",
            CaseField::Specimen => "specimen",
            CaseField::RequestingSite => "requesting-site",
            CaseField::ConsultingSite => "consulting-site",
            CaseField::ClinicalQuestion => "question",
            CaseField::Report => "report",
            CaseField::Search => "search",
            CaseField::ExportName => "export-name",
            CaseField::ViewedFile => "viewed-file",
            CaseField::ReviewNote => "review-note",
            CaseField::AnalysisNote => "analysis-note",
        }
    }
}

impl fmt::Display for CaseField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CaseField::PatientName => "the patient's name",
            CaseField::NameReading => "the patient's name reading",
            CaseField::PatientId => "the patient ID",
            CaseField::AgeYears => "the patient's age in years",
            CaseField::AgeMonths => "the patient's age in months beyond the years",
            CaseField::Specimen => "the specimen",
            CaseField::RequestingSite => "the requesting site",
            CaseField::ConsultingSite => "the consulting site",
            CaseField::ClinicalQuestion => "the clinical question",
            CaseField::Report => "the report",
            CaseField::Search => "the search",
            CaseField::ExportName => "the export's name",
            CaseField::ViewedFile => "the viewed file's name",
            CaseField::ReviewNote => "the review's note",
            CaseField::AnalysisNote => "the analysis's note",
        })
    }
}

/// What someone tried to do to a case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CaseAction {
    Edit,
    Attach,
    Detach,
    WriteReport,
    SignReport,
    RequestConsultation,
}

impl CaseAction {
    pub const ALL: [CaseAction; 6] = [
        CaseAction::Edit,
        CaseAction::Attach,
        CaseAction::Detach,
        CaseAction::WriteReport,
        CaseAction::SignReport,
        CaseAction::RequestConsultation,
    ];

    /// The name the catalogue knows it by.
    pub fn name(self) -> &'static str {
        match self {
            CaseAction::Edit => "edit",
            CaseAction::Attach => "attach",
            CaseAction::Detach => "detach",
            CaseAction::WriteReport => "write-report",
            CaseAction::SignReport => "sign-report",
            CaseAction::RequestConsultation => "request",
        }
    }
}

impl fmt::Display for CaseAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CaseAction::Edit => "editing the case",
            CaseAction::Attach => "attaching files",
            CaseAction::Detach => "removing attachments",
            CaseAction::WriteReport => "writing the report",
            CaseAction::SignReport => "signing the report",
            CaseAction::RequestConsultation => "requesting a consultation",
        })
    }
}
