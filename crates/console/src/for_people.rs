//! Errors as the page shows them: in the reader's language, saying what
//! was refused and what to do. The errors' own `Display` stays English,
//! for logs and support; this is the text for people.

use crate::call::CallDeskError;
use crate::desk::DeskError;
use kh_cases::{CaseStatus, CaseStoreError};
use kh_i18n::Catalogue;
use kh_settings::SettingsError;

/// The message a person reads for an error.
pub trait ForPeople {
    /// In `words`' language.
    fn in_words(&self, words: &Catalogue) -> String;

    /// In the language the process speaks now.
    fn for_people(&self) -> String {
        self.in_words(&kh_i18n::current())
    }
}

/// Message `id` with `args` (name, value as text).
fn say(words: &Catalogue, id: &str, args: &[(&str, String)]) -> String {
    words.text_with(
        id,
        args.iter()
            .map(|(name, value)| (*name, value.as_str().into())),
    )
}

/// A status as the page names it.
fn status_words(words: &Catalogue, status: CaseStatus) -> String {
    words.text(&format!(
        "console-status-{}",
        status.as_str().replace('_', "-")
    ))
}

/// The catalogue's words for what the store names in English (an action
/// refused, a field missing or too long); the English itself when the
/// store grows a phrase the catalogue does not know yet.
fn phrase_words(words: &Catalogue, phrase: &str) -> String {
    let id = match phrase {
        "editing the case" => "console-doing-edit",
        "attaching files" => "console-doing-attach",
        "removing attachments" => "console-doing-detach",
        "writing the report" => "console-doing-write-report",
        "signing the report" => "console-doing-sign-report",
        "signing" => "console-doing-sign",
        "requesting a consultation" => "console-doing-request",
        "a clinical question" | "the clinical question" => "console-field-question",
        "a written report" | "the report" => "console-field-report",
        "the patient's name" => "console-field-name",
        "the patient's name reading" => "console-field-reading",
        "the patient ID" => "console-field-patient-id",
        "the specimen" => "console-field-specimen",
        "the requesting site" => "console-field-requesting-site",
        "the consulting site" => "console-field-consulting-site",
        "the search" => "console-field-search",
        "the patient's age in years" => "console-field-age",
        "the patient's age in months beyond the years" => "console-field-months",
        other => return other.to_owned(),
    };
    words.text(id)
}

impl ForPeople for CaseStoreError {
    fn in_words(&self, words: &Catalogue) -> String {
        let phrase = |p: &str| phrase_words(words, p);
        let status = |s: CaseStatus| status_words(words, s);
        match self {
            CaseStoreError::NoSuchCase(id) => {
                say(words, "console-error-no-case", &[("id", id.to_string())])
            }
            CaseStoreError::NotAllowed {
                status: s, what, ..
            } => say(
                words,
                "console-error-not-allowed",
                &[("status", status(*s)), ("what", phrase(what))],
            ),
            CaseStoreError::InvalidTransition { from, to, .. } => say(
                words,
                "console-error-transition",
                &[("from", status(*from)), ("to", status(*to))],
            ),
            CaseStoreError::Conflict { .. } => words.text("console-error-conflict"),
            CaseStoreError::Missing { field, what, .. } => say(
                words,
                "console-error-missing",
                &[("field", phrase(field)), ("what", phrase(what))],
            ),
            CaseStoreError::TooLong { field, len, max } => say(
                words,
                "console-error-too-long",
                &[
                    ("field", phrase(field)),
                    ("len", len.to_string()),
                    ("max", max.to_string()),
                ],
            ),
            CaseStoreError::NewerSchema { .. } => words.text("console-error-newer"),
            CaseStoreError::Attachment { path, reason } => say(
                words,
                "console-error-attachment",
                &[
                    ("path", path.display().to_string()),
                    ("reason", reason.clone()),
                ],
            ),
            other => say(
                words,
                "console-error-database",
                &[("detail", other.to_string())],
            ),
        }
    }
}

impl ForPeople for SettingsError {
    fn in_words(&self, words: &Catalogue) -> String {
        match self {
            SettingsError::Locked { key, .. } => say(
                words,
                "console-error-setting-locked",
                &[("key", key.clone())],
            ),
            SettingsError::UnknownKey { key } => say(
                words,
                "console-error-setting-unknown",
                &[("key", key.clone())],
            ),
            SettingsError::Invalid { key, reason, .. } => say(
                words,
                "console-error-setting-invalid",
                &[("key", key.clone()), ("reason", reason.clone())],
            ),
            SettingsError::File { .. } => self.to_string(),
        }
    }
}

impl ForPeople for DeskError {
    fn in_words(&self, words: &Catalogue) -> String {
        match self {
            DeskError::Cases(e) => e.in_words(words),
            DeskError::Settings(e) => e.in_words(words),
            DeskError::Refused(why) => why.clone(),
        }
    }
}

impl ForPeople for CallDeskError {
    fn in_words(&self, words: &Catalogue) -> String {
        match self {
            CallDeskError::NoServer => words.text("console-call-error-no-server"),
            CallDeskError::BadToken => words.text("console-token-malformed"),
            CallDeskError::WrongRoom {
                token_room,
                case_room,
            } => say(
                words,
                "console-call-error-wrong-room",
                &[
                    ("token_room", token_room.clone()),
                    ("case_room", case_room.clone()),
                ],
            ),
            CallDeskError::Busy(room) => {
                say(words, "console-call-error-busy", &[("room", room.clone())])
            }
            CallDeskError::Camera(why) => say(
                words,
                "console-call-error-camera",
                &[("problem", why.clone())],
            ),
            CallDeskError::Audio(why) => say(
                words,
                "console-call-error-audio",
                &[("problem", why.clone())],
            ),
            CallDeskError::NoCall => words.text("console-call-error-no-call"),
            CallDeskError::Join { room, reason } => say(
                words,
                "console-call-error-join",
                &[("room", room.clone()), ("problem", reason.clone())],
            ),
            CallDeskError::Runtime(e) => say(
                words,
                "console-call-error-join",
                &[("room", String::new()), ("problem", e.to_string())],
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kh_cases::CaseId;
    use kh_i18n::{Catalogue, Language};

    #[test]
    fn a_refusal_reads_in_the_readers_language() {
        let refused = CaseStoreError::NotAllowed {
            id: CaseId::new_random(),
            status: CaseStatus::Reported,
            what: "editing the case",
        };
        let missing = CaseStoreError::Missing {
            id: CaseId::new_random(),
            field: "a clinical question",
            what: "requesting a consultation",
        };
        let ja = Catalogue::new(Language::Japanese);
        let en = Catalogue::new(Language::English);
        let japanese = (refused.in_words(&ja), missing.in_words(&ja));
        let english = (refused.in_words(&en), missing.in_words(&en));
        assert_eq!(
            japanese.0,
            "症例は「報告済み」のため、症例の編集はできません。"
        );
        assert_eq!(
            japanese.1,
            "コンサルテーションの依頼には依頼内容の入力が必要です。"
        );
        assert_eq!(
            english.0,
            "The case is Reported: editing the case is not possible."
        );
        assert_eq!(
            english.1,
            "Requesting a consultation needs a clinical question first."
        );
        let wrong = CallDeskError::WrongRoom {
            token_room: "case-a".into(),
            case_room: "case-b".into(),
        };
        assert_eq!(
            wrong.in_words(&ja),
            "このトークンはルーム case-a のもので、この症例のルーム case-b のものではありません。"
        );
        // Every phrase the store uses has words in both languages.
        for language in Language::ALL {
            let words = Catalogue::new(language);
            for id in ["console-doing-edit", "console-field-months"] {
                assert!(words.has(id), "{id} in {language:?}");
            }
        }
    }
}
