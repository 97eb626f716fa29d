//! What loading the settings says without failing: keys a newer config
//! holds that this build does not know, locks naming nothing, values IT's
//! locks overrule, a development switch left on. Typed, so the console
//! and `kh doctor` say them in the reader's words; `Display` is the
//! English of the log.

use std::fmt;
use std::path::PathBuf;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SettingsWarning {
    /// `file` holds `key`, which this build does not know (ignored).
    UnknownKey { file: PathBuf, key: String },
    /// The system file's `locked` list names `entry`, which is no setting
    /// or section.
    LockNamesNothing { file: PathBuf, entry: String },
    /// The user's `file` sets `key`, which the system file locks.
    UserValueLocked {
        file: PathBuf,
        key: String,
        locked_by: PathBuf,
    },
    /// The environment sets `variable`, whose `key` is locked.
    EnvironmentLocked { variable: String, key: String },
    /// `signalling.allow_plain_ws_for_development` lets `url`, plain ws://
    /// to another machine, carry tokens unencrypted.
    PlainWebSocket { url: String },
}

impl fmt::Display for SettingsWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SettingsWarning::UnknownKey { file, key } => {
                write!(f, "{}: {key} is not a setting (ignored)", file.display())
            }
            SettingsWarning::LockNamesNothing { file, entry } => {
                write!(
                    f,
                    "{}: locked entry {entry:?} names no setting",
                    file.display()
                )
            }
            SettingsWarning::UserValueLocked {
                file,
                key,
                locked_by,
            } => write!(
                f,
                "{}: {key} is locked by {}; the user's value is not used",
                file.display(),
                locked_by.display()
            ),
            SettingsWarning::EnvironmentLocked { variable, key } => {
                write!(f, "{variable} is set but {key} is locked")
            }
            SettingsWarning::PlainWebSocket { url } => write!(
                f,
                "signalling.url {url} is plain ws:// to another machine, allowed by \
                 signalling.allow_plain_ws_for_development: tokens and signalling travel \
                 unencrypted (development only)"
            ),
        }
    }
}
