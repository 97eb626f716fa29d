//! Where the settings files and the case database live on each platform.
//! The rules are few and documented by each OS, so they are written here
//! rather than pulled in from a crate.

use std::path::PathBuf;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettingsPaths {
    /// The managed, system-wide file IT deploys.
    pub system: PathBuf,
    /// The user's own settings.
    pub user: PathBuf,
}

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

fn home() -> PathBuf {
    env_path("HOME")
        .or_else(|| env_path("USERPROFILE"))
        .unwrap_or_else(|| PathBuf::from("."))
}

impl SettingsPaths {
    /// The platform's locations; `KAKEHASHI_SYSTEM_CONFIG` and
    /// `KAKEHASHI_USER_CONFIG` replace them (tests, unusual deployments).
    pub fn platform() -> SettingsPaths {
        SettingsPaths {
            system: env_path("KAKEHASHI_SYSTEM_CONFIG").unwrap_or_else(system_config),
            user: env_path("KAKEHASHI_USER_CONFIG")
                .unwrap_or_else(|| user_config_dir().join("settings.toml")),
        }
    }
}

fn system_config() -> PathBuf {
    if cfg!(windows) {
        env_path("ProgramData")
            .unwrap_or_else(|| PathBuf::from(r"C:\ProgramData"))
            .join("Kakehashi")
            .join("config.toml")
    } else if cfg!(target_os = "macos") {
        PathBuf::from("/Library/Application Support/Kakehashi/config.toml")
    } else {
        PathBuf::from("/etc/kakehashi/config.toml")
    }
}

fn user_config_dir() -> PathBuf {
    if cfg!(windows) {
        env_path("APPDATA")
            .unwrap_or_else(|| home().join("AppData").join("Roaming"))
            .join("Kakehashi")
    } else if cfg!(target_os = "macos") {
        home().join("Library/Application Support/Kakehashi")
    } else {
        env_path("XDG_CONFIG_HOME")
            .unwrap_or_else(|| home().join(".config"))
            .join("kakehashi")
    }
}

/// The case database when the settings name none: the user's data
/// directory (`$XDG_DATA_HOME/kakehashi`, `%LOCALAPPDATA%\Kakehashi`,
/// `~/Library/Application Support/Kakehashi`).
pub fn default_cases_database() -> PathBuf {
    let dir = if cfg!(windows) {
        env_path("LOCALAPPDATA")
            .unwrap_or_else(|| home().join("AppData").join("Local"))
            .join("Kakehashi")
    } else if cfg!(target_os = "macos") {
        home().join("Library/Application Support/Kakehashi")
    } else {
        env_path("XDG_DATA_HOME")
            .unwrap_or_else(|| home().join(".local/share"))
            .join("kakehashi")
    };
    dir.join("cases.sqlite")
}
