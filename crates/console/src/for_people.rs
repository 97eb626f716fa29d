//! Errors as the page shows them: in the reader's language, saying what
//! was refused and what to do. The errors' own `Display` stays English,
//! for logs and support; this is the text for people.

use crate::call::CallDeskError;
use crate::desk::DeskError;
use kh_cases::{CaseAction, CaseField, CaseStatus, CaseStoreError};
use kh_i18n::{Catalogue, FileProblem};
use kh_settings::{SettingsError, SettingsWarning};

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

/// A field of a case as the page names it.
fn field_words(words: &Catalogue, field: CaseField) -> String {
    words.text(&format!("console-field-{}", field.name()))
}

/// An action on a case as the page names it.
fn action_words(words: &Catalogue, action: CaseAction) -> String {
    words.text(&format!("console-doing-{}", action.name()))
}

impl ForPeople for CaseStoreError {
    fn in_words(&self, words: &Catalogue) -> String {
        let field = |f: CaseField| field_words(words, f);
        let action = |a: CaseAction| action_words(words, a);
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
                &[("status", status(*s)), ("what", action(*what))],
            ),
            CaseStoreError::InvalidTransition { from, to, .. } => say(
                words,
                "console-error-transition",
                &[("from", status(*from)), ("to", status(*to))],
            ),
            CaseStoreError::Conflict { .. } => words.text("console-error-conflict"),
            CaseStoreError::Missing { field: f, what, .. } => say(
                words,
                "console-error-missing",
                &[("field", field(*f)), ("what", action(*what))],
            ),
            CaseStoreError::TooLong { field: f, len, max } => say(
                words,
                "console-error-too-long",
                &[
                    ("field", field(*f)),
                    ("len", len.to_string()),
                    ("max", max.to_string()),
                ],
            ),
            CaseStoreError::OutOfRange {
                field: f,
                value,
                max,
            } => say(
                words,
                "console-error-out-of-range",
                &[
                    ("field", field(*f)),
                    ("value", value.to_string()),
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
            SettingsError::Invalid { from, key, reason } => {
                // Where IT or the environment set the value, the reader
                // must know where to fix it; their own change needs no
                // address.
                let fix_in = match from {
                    kh_settings::Source::System { path } => Some(path.display().to_string()),
                    kh_settings::Source::Environment { variable } => Some(variable.clone()),
                    kh_settings::Source::User { .. } | kh_settings::Source::Default => None,
                };
                match fix_in {
                    Some(source) => say(
                        words,
                        "console-error-setting-invalid-in",
                        &[
                            ("source", source),
                            ("key", key.clone()),
                            ("reason", reason.clone()),
                        ],
                    ),
                    None => say(
                        words,
                        "console-error-setting-invalid",
                        &[("key", key.clone()), ("reason", reason.clone())],
                    ),
                }
            }
            SettingsError::File { path, reason } => say(
                words,
                "console-error-settings-file",
                &[
                    ("path", path.display().to_string()),
                    ("reason", reason.clone()),
                ],
            ),
        }
    }
}

impl ForPeople for SettingsWarning {
    fn in_words(&self, words: &Catalogue) -> String {
        match self {
            SettingsWarning::UnknownKey { file, key } => say(
                words,
                "console-settings-warning-unknown-key",
                &[("file", file.display().to_string()), ("key", key.clone())],
            ),
            SettingsWarning::LockNamesNothing { file, entry } => say(
                words,
                "console-settings-warning-lock-names-nothing",
                &[
                    ("file", file.display().to_string()),
                    ("entry", entry.clone()),
                ],
            ),
            SettingsWarning::UserValueLocked {
                file,
                key,
                locked_by,
            } => say(
                words,
                "console-settings-warning-user-value-locked",
                &[
                    ("file", file.display().to_string()),
                    ("key", key.clone()),
                    ("locked_by", locked_by.display().to_string()),
                ],
            ),
            SettingsWarning::EnvironmentLocked { variable, key } => say(
                words,
                "console-settings-warning-environment-locked",
                &[("variable", variable.clone()), ("key", key.clone())],
            ),
            SettingsWarning::PlainWebSocket { url } => say(
                words,
                "console-settings-warning-plain-ws",
                &[("url", url.clone())],
            ),
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

impl ForPeople for kh_slide::SlideError {
    fn in_words(&self, words: &Catalogue) -> String {
        let detail = if self.part.is_empty() {
            self.reason.clone()
        } else {
            format!("{}: {}", self.part, self.reason)
        };
        let problem = match self.kind {
            kh_slide::ErrorKind::Io => FileProblem::Unreadable,
            kh_slide::ErrorKind::Unsupported => FileProblem::NotASlide,
            kh_slide::ErrorKind::Corrupt => FileProblem::Damaged,
            kh_slide::ErrorKind::Limit => FileProblem::TooLarge,
            kh_slide::ErrorKind::Argument => FileProblem::NoSuchPart,
        };
        words.file_problem(&self.path, problem, &detail)
    }
}

impl ForPeople for kh_annotations::Error {
    fn in_words(&self, words: &Catalogue) -> String {
        let detail = match self.object {
            Some(index) => say(
                words,
                "common-file-in-object",
                &[
                    ("index", index.to_string()),
                    ("reason", self.reason.clone()),
                ],
            ),
            None => self.reason.clone(),
        };
        let problem = match self.kind {
            kh_annotations::ErrorKind::Io => FileProblem::Unreadable,
            kh_annotations::ErrorKind::Unsupported => FileProblem::NotAnnotations,
            kh_annotations::ErrorKind::Corrupt => FileProblem::Damaged,
            kh_annotations::ErrorKind::Limit => FileProblem::TooLarge,
        };
        words.file_problem(&self.path, problem, &detail)
    }
}

/// What an export had to approximate or leave out, counted.
impl ForPeople for kh_annotations::WriteNote {
    fn in_words(&self, words: &Catalogue) -> String {
        say(
            words,
            &format!("common-annotations-loss-{}", self.loss.name()),
            &[("count", self.count.to_string())],
        )
    }
}

/// The operating system's common refusals in words; any other as the
/// system said it.
impl ForPeople for std::io::Error {
    fn in_words(&self, words: &Catalogue) -> String {
        let id = match self.kind() {
            std::io::ErrorKind::NotFound => "common-io-not-found",
            std::io::ErrorKind::PermissionDenied => "common-io-permission",
            std::io::ErrorKind::AlreadyExists => "common-io-exists",
            std::io::ErrorKind::StorageFull => "common-io-full",
            _ => return self.to_string(),
        };
        words.text(id)
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
            what: CaseAction::Edit,
        };
        let missing = CaseStoreError::Missing {
            id: CaseId::new_random(),
            field: CaseField::ClinicalQuestion,
            what: CaseAction::RequestConsultation,
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
            "コンサルテーションの依頼の前に依頼内容を入力してください。"
        );
        assert_eq!(
            english.0,
            "The case is Reported: editing the case is not possible."
        );
        assert_eq!(
            english.1,
            "Fill in the clinical question before requesting a consultation."
        );
        let wrong = CallDeskError::WrongRoom {
            token_room: "case-a".into(),
            case_room: "case-b".into(),
        };
        assert_eq!(
            wrong.in_words(&ja),
            "このトークンはルーム case-a のもので、この症例のルーム case-b のものではありません。"
        );
        // Every field and action the store can name has words in both
        // languages.
        for language in Language::ALL {
            let words = Catalogue::new(language);
            let fields = CaseField::ALL.map(|f| format!("console-field-{}", f.name()));
            let actions = CaseAction::ALL.map(|a| format!("console-doing-{}", a.name()));
            for id in fields.iter().chain(&actions) {
                assert!(words.has(id), "{id} in {language:?}");
            }
        }
        let locked = SettingsWarning::UserValueLocked {
            file: "/home/a/.config/kakehashi/settings.toml".into(),
            key: "signalling.url".into(),
            locked_by: "/etc/kakehashi/config.toml".into(),
        };
        assert_eq!(
            locked.in_words(&ja),
            "/home/a/.config/kakehashi/settings.toml の signalling.url は /etc/kakehashi/config.toml で固定されているため、ユーザーの値は使われません。"
        );
        // Every loss an annotation export can report has words.
        for language in Language::ALL {
            let words = Catalogue::new(language);
            for loss in kh_annotations::Loss::ALL {
                let id = format!("common-annotations-loss-{}", loss.name());
                assert!(words.has(&id), "{id} in {language:?}");
            }
        }
        let holes = kh_annotations::WriteNote {
            count: 3,
            loss: kh_annotations::Loss::AsapHoles,
        };
        assert_eq!(
            holes.in_words(&ja),
            "多角形の穴 3 件を省きました（ASAP の多角形には穴がありません）"
        );
        let infant = CaseStoreError::OutOfRange {
            field: CaseField::AgeMonths,
            value: 14,
            max: 11,
        };
        assert_eq!(infant.in_words(&ja), "月齢は 11 以下にしてください（14）。");
    }
}
