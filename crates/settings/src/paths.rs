//! Where the settings files and the case database live on each platform.
//! The rules are few and documented by each OS, so they are written here
//! rather than pulled in from a crate.

use std::path::{Path, PathBuf};

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
    /// The platform's locations; `KAKEHASHI_USER_CONFIG` replaces the
    /// user's file, and `KAKEHASHI_SYSTEM_CONFIG` the managed one as
    /// [`managed_config`] allows.
    pub fn platform() -> SettingsPaths {
        let (system, refused) = managed_config(
            env_path("KAKEHASHI_SYSTEM_CONFIG"),
            system_config(),
            cfg!(debug_assertions),
            Path::exists,
        );
        if let Some(why) = refused {
            tracing::warn!("{why}");
        }
        SettingsPaths {
            system,
            user: env_path("KAKEHASHI_USER_CONFIG")
                .unwrap_or_else(|| user_config_dir().join("settings.toml")),
        }
    }
}

/// The managed file to read: `from_env` (`KAKEHASHI_SYSTEM_CONFIG`) or the
/// platform's `deployed` path. A release build never lets the environment
/// replace a file IT has deployed — its locks would be gone with it — and
/// says so; with none deployed there is nothing to bypass, and the
/// environment may name one (the demo, benchmarks). Debug builds (tests)
/// follow the environment.
pub fn managed_config(
    from_env: Option<PathBuf>,
    deployed: PathBuf,
    debug_build: bool,
    exists: impl Fn(&Path) -> bool,
) -> (PathBuf, Option<String>) {
    match from_env {
        Some(chosen) if chosen == deployed => (deployed, None),
        Some(chosen) if !debug_build && exists(&deployed) => {
            let why = format!(
                "KAKEHASHI_SYSTEM_CONFIG={} is ignored: the managed settings {} apply",
                chosen.display(),
                deployed.display()
            );
            (deployed, Some(why))
        }
        Some(chosen) => (chosen, None),
        None => (deployed, None),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_release_build_keeps_the_deployed_managed_file_whatever_the_environment_says() {
        let deployed = PathBuf::from("/etc/kakehashi/config.toml");
        let mine = Some(PathBuf::from("/home/dr/my-system.toml"));
        let (path, why) = managed_config(mine.clone(), deployed.clone(), false, |_| true);
        assert_eq!(path, deployed);
        assert!(why.is_some_and(|w| w.contains("ignored")));
        // Nothing deployed: nothing to bypass.
        let (path, why) = managed_config(mine.clone(), deployed.clone(), false, |_| false);
        assert_eq!(Some(path), mine);
        assert!(why.is_none());
        // Tests (debug builds) point it anywhere.
        let (path, _) = managed_config(mine.clone(), deployed.clone(), true, |_| true);
        assert_eq!(Some(path), mine);
        let (path, why) = managed_config(None, deployed.clone(), false, |_| true);
        assert_eq!((path, why), (deployed, None));
    }
}
