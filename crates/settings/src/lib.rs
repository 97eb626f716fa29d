//! Settings in layers — defaults, the managed system file, the user's file,
//! the environment — with locks and the source of every value. See README.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

mod paths;
mod warning;
pub use paths::{SettingsPaths, default_cases_database};
/// The TOML values `set_user` takes.
pub use toml;
pub use warning::SettingsWarning;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub signalling: Signalling,
    pub turn: Turn,
    pub devices: Devices,
    pub gpu: Gpu,
    pub cache: Cache,
    pub video: Video,
    pub user: User,
    pub cases: Cases,
    pub analysis: Analysis,
    pub ui: Ui,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Signalling {
    /// `wss://host/ws` of the hospital's kakehashi-signal; empty until set.
    /// `ws://` only to this machine (loopback) unless
    /// `allow_plain_ws_for_development`.
    pub url: String,
    /// Lets `url` be plain `ws://` to another host: room tokens and the
    /// call's signalling then cross the network unencrypted. For a
    /// developer's test network only; logged whenever it takes effect.
    pub allow_plain_ws_for_development: bool,
}

/// Whether `url` is `ws://` to a host other than this machine.
pub fn is_plain_ws_off_loopback(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("ws://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or("");
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host_port.split(':').next().unwrap_or(""),
    };
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    !loopback
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Turn {
    /// Extra STUN/TURN servers (`stun:`/`turn:`/`turns:` URLs). TURN
    /// credentials come from the signalling server per call; these are for
    /// reachability checks and for sites that list their relays here.
    pub urls: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Devices {
    /// Audio device names as the system lists them; "default" is the
    /// system's choice.
    pub audio_in: String,
    pub audio_out: String,
    /// "default" (the first camera, else the test pattern), a camera's
    /// name or /dev/video* path, "test-pattern" or "none".
    pub camera: String,
    pub echo_cancellation: bool,
}

impl Default for Devices {
    fn default() -> Self {
        Devices {
            audio_in: "default".into(),
            audio_out: "default".into(),
            camera: "default".into(),
            echo_cancellation: true,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GpuBackend {
    /// The platform's native API (Vulkan, Metal, DirectX 12), else GL.
    #[default]
    Auto,
    Vulkan,
    Metal,
    Dx12,
    Gl,
}

impl GpuBackend {
    /// The value wgpu reads from `WGPU_BACKEND`, for a process that
    /// should use this backend (the viewer is started with it).
    pub fn wgpu_env_name(self) -> Option<&'static str> {
        match self {
            GpuBackend::Auto => None,
            GpuBackend::Vulkan => Some("vulkan"),
            GpuBackend::Metal => Some("metal"),
            GpuBackend::Dx12 => Some("dx12"),
            GpuBackend::Gl => Some("gl"),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Gpu {
    pub backend: GpuBackend,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Cache {
    /// Decoded tiles kept in memory by the viewer.
    pub tile_cache_mib: u32,
    /// GPU memory for resident tiles; 0 sizes it from the adapter's limits.
    pub gpu_budget_mib: u32,
}

impl Default for Cache {
    fn default() -> Self {
        Cache {
            tile_cache_mib: 1024,
            gpu_budget_mib: 0,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Video {
    /// The largest picture a call's far side may send, in pixels a side
    /// (8K by default, either orientation); larger frames are refused
    /// before a decoder allocates for them.
    pub max_picture_width: u32,
    pub max_picture_height: u32,
}

impl Default for Video {
    fn default() -> Self {
        Video {
            max_picture_width: 8192,
            max_picture_height: 8192,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct User {
    /// How this workstation's user appears to the other site, and signs.
    pub display_name: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Cases {
    /// The case database; empty for the user's data directory.
    pub database: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Analysis {
    /// ONNX models the case page offers beside the built-in analyses
    /// (absolute paths to `.onnx` files), as IT approves them.
    pub models: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Ui {
    /// The language of every screen, message and report: "system" (the
    /// system's locale: Japanese where it is Japanese, else English), "ja"
    /// or "en". IT may fix it for a site by locking it.
    pub language: String,
    /// The console's colours: "system" (the desktop's light or dark
    /// preference), "light" or "dark".
    pub theme: String,
    /// Japanese reports write the era's date (和暦, 令和8年12月7日) beside
    /// the Western one.
    pub japanese_era: bool,
}

impl Default for Ui {
    fn default() -> Self {
        Ui {
            language: "system".into(),
            theme: "system".into(),
            japanese_era: true,
        }
    }
}

/// The values `ui.language` takes.
pub const LANGUAGES: [&str; 3] = ["system", "ja", "en"];
/// The values `ui.theme` takes.
pub const THEMES: [&str; 3] = ["system", "light", "dark"];

impl Settings {
    /// Checks beyond types: what a value must look like to be usable.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        let url = &self.signalling.url;
        if !(url.is_empty() || url.starts_with("wss://") || url.starts_with("ws://")) {
            return Err((
                "signalling.url",
                format!("{url:?} is not a ws:// or wss:// URL"),
            ));
        }
        if is_plain_ws_off_loopback(url) && !self.signalling.allow_plain_ws_for_development {
            return Err((
                "signalling.url",
                format!(
                    "{url:?} is plain ws:// to another machine: room tokens and the call's \
                     signalling would cross the network unencrypted; use wss:// (or, on a \
                     development network only, signalling.allow_plain_ws_for_development = true)"
                ),
            ));
        }
        if let Some(bad) = self.turn.urls.iter().find(|u| {
            !["stun:", "turn:", "turns:"]
                .iter()
                .any(|scheme| u.starts_with(scheme))
        }) {
            return Err((
                "turn.urls",
                format!("{bad:?} is not a stun:, turn: or turns: URL"),
            ));
        }
        if !(64..=262_144).contains(&self.cache.tile_cache_mib) {
            return Err((
                "cache.tile_cache_mib",
                format!("{} is outside 64..=262144", self.cache.tile_cache_mib),
            ));
        }
        for (key, side) in [
            ("video.max_picture_width", self.video.max_picture_width),
            ("video.max_picture_height", self.video.max_picture_height),
        ] {
            if !(64..=16_384).contains(&side) {
                return Err((key, format!("{side} is outside 64..=16384")));
            }
        }
        if let Some(bad) = self
            .analysis
            .models
            .iter()
            .find(|m| !(Path::new(m).is_absolute() && m.ends_with(".onnx")))
        {
            return Err((
                "analysis.models",
                format!("{bad:?} is not an absolute path to a .onnx file"),
            ));
        }
        for (key, value, allowed) in [
            ("ui.language", &self.ui.language, &LANGUAGES),
            ("ui.theme", &self.ui.theme, &THEMES),
        ] {
            if !allowed.contains(&value.as_str()) {
                return Err((
                    key,
                    format!("{value:?} is not one of {}", allowed.join(", ")),
                ));
            }
        }
        if self.cache.gpu_budget_mib > 262_144 {
            return Err((
                "cache.gpu_budget_mib",
                format!("{} is above 262144", self.cache.gpu_budget_mib),
            ));
        }
        Ok(())
    }
}

/// Where a value came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Source {
    Default,
    System { path: PathBuf },
    User { path: PathBuf },
    Environment { variable: String },
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::System { path } => write!(f, "system {}", path.display()),
            Source::User { path } => write!(f, "user {}", path.display()),
            Source::Environment { variable } => write!(f, "environment {variable}"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("settings file {path}: {reason}")]
    File { path: PathBuf, reason: String },
    #[error("{from}: {key}: {reason}")]
    Invalid {
        from: Source,
        key: String,
        reason: String,
    },
    #[error("{key} is not a setting")]
    UnknownKey { key: String },
    #[error("{key} is locked by {by}")]
    Locked { key: String, by: PathBuf },
}

/// Settings with their provenance, as loaded from `paths`.
#[derive(Clone, Debug)]
pub struct LoadedSettings {
    pub settings: Settings,
    pub paths: SettingsPaths,
    sources: BTreeMap<String, Source>,
    locked: BTreeSet<String>,
    /// Keys the files hold that this build does not know, and lock entries
    /// naming nothing: said, not fatal, since a newer config may meet an
    /// older build.
    pub warnings: Vec<SettingsWarning>,
    user_layer: BTreeMap<String, toml::Value>,
    /// The `KAKEHASHI_*` variables read at load: a value the user sets
    /// reloads the files under the same environment.
    environment: BTreeMap<String, String>,
}

/// One row of `kh doctor`'s settings table.
#[derive(Clone, Debug, Serialize)]
pub struct SettingReport {
    pub key: String,
    pub value: serde_json::Value,
    pub source: Source,
    pub locked: bool,
}

type Flat = BTreeMap<String, toml::Value>;

fn flatten(table: &toml::Table, prefix: &str, out: &mut Flat) {
    for (name, value) in table {
        let key = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        match value {
            toml::Value::Table(inner) => flatten(inner, &key, out),
            leaf => {
                out.insert(key, leaf.clone());
            }
        }
    }
}

fn unflatten(flat: &Flat) -> toml::Table {
    let mut root = toml::Table::new();
    for (key, value) in flat {
        let mut table = &mut root;
        let mut parts = key.split('.').peekable();
        while let Some(part) = parts.next() {
            if parts.peek().is_none() {
                table.insert(part.to_owned(), value.clone());
            } else {
                let entry = table
                    .entry(part.to_owned())
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()));
                let toml::Value::Table(inner) = entry else {
                    break;
                };
                table = inner;
            }
        }
    }
    root
}

fn defaults_flat() -> Flat {
    let mut flat = Flat::new();
    if let Ok(toml::Value::Table(table)) = toml::Value::try_from(Settings::default()) {
        flatten(&table, "", &mut flat);
    }
    flat
}

/// The environment variable that overrides `key`.
pub fn env_variable(key: &str) -> String {
    format!("KAKEHASHI_{}", key.replace('.', "_").to_ascii_uppercase())
}

/// A value typed like `default`, from text (an environment variable, a
/// form field). Lists are comma-separated, optionally in `[...]`.
fn value_from_text(text: &str, default: &toml::Value) -> Result<toml::Value, String> {
    Ok(match default {
        toml::Value::String(_) => toml::Value::String(text.to_owned()),
        toml::Value::Integer(_) => toml::Value::Integer(
            text.trim()
                .parse()
                .map_err(|_| format!("{text:?} is not an integer"))?,
        ),
        toml::Value::Boolean(_) => toml::Value::Boolean(
            text.trim()
                .parse()
                .map_err(|_| format!("{text:?} is not true or false"))?,
        ),
        toml::Value::Array(_) => toml::Value::Array(
            text.trim()
                .trim_start_matches('[')
                .trim_end_matches(']')
                .split(',')
                .map(|item| item.trim().trim_matches('"').trim())
                .filter(|s| !s.is_empty())
                .map(|s| toml::Value::String(s.to_owned()))
                .collect(),
        ),
        other => return Err(format!("cannot be set from the environment ({other:?})")),
    })
}

/// `Settings` from the defaults with `layer` on top, or why not.
fn settings_with(defaults: &Flat, layer: &Flat) -> Result<Settings, (String, String)> {
    let mut merged = defaults.clone();
    merged.extend(layer.iter().map(|(k, v)| (k.clone(), v.clone())));
    let settings: Settings =
        toml::Value::Table(unflatten(&merged))
            .try_into()
            .map_err(|e: toml::de::Error| {
                // Name the key whose value did not fit, when one alone does not.
                let key = layer
                    .iter()
                    .find(|(k, v)| {
                        let mut alone = defaults.clone();
                        alone.insert((*k).clone(), (*v).clone());
                        toml::Value::Table(unflatten(&alone))
                            .try_into::<Settings>()
                            .is_err()
                    })
                    .map(|(k, _)| k.clone())
                    .unwrap_or_default();
                (key, e.message().to_owned())
            })?;
    settings
        .check()
        .map_err(|(key, reason)| (key.to_owned(), reason))?;
    Ok(settings)
}

fn read_layer(path: &Path) -> Result<Option<toml::Table>, SettingsError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(SettingsError::File {
                path: path.to_owned(),
                reason: e.to_string(),
            });
        }
    };
    text.parse::<toml::Table>()
        .map(Some)
        .map_err(|e| SettingsError::File {
            path: path.to_owned(),
            reason: e.to_string(),
        })
}

impl LoadedSettings {
    /// Loads from the platform's paths and the process environment.
    pub fn load() -> Result<LoadedSettings, SettingsError> {
        LoadedSettings::load_from(SettingsPaths::platform(), |name| std::env::var(name).ok())
    }

    /// Loads from `paths`, with `env` standing for the environment.
    pub fn load_from(
        paths: SettingsPaths,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<LoadedSettings, SettingsError> {
        let defaults = defaults_flat();
        let mut warnings = Vec::new();
        let mut sources: BTreeMap<String, Source> = defaults
            .keys()
            .map(|k| (k.clone(), Source::Default))
            .collect();
        let mut merged = defaults.clone();

        // The system layer: its values, then its locks.
        let mut locked = BTreeSet::new();
        let mut system = Flat::new();
        if let Some(mut table) = read_layer(&paths.system)? {
            let lock_list = table.remove("locked");
            system = known_keys(&table, &defaults, &paths.system, &mut warnings);
            for entry in lock_entries(lock_list, &paths.system)? {
                let matched: Vec<&String> = defaults
                    .keys()
                    .filter(|k| **k == entry || k.starts_with(&format!("{entry}.")))
                    .collect();
                if matched.is_empty() {
                    warnings.push(SettingsWarning::LockNamesNothing {
                        file: paths.system.clone(),
                        entry: entry.clone(),
                    });
                }
                locked.extend(matched.into_iter().cloned());
            }
        }
        let system_source = Source::System {
            path: paths.system.clone(),
        };
        settings_with(&defaults, &system).map_err(|(key, reason)| SettingsError::Invalid {
            from: system_source.clone(),
            key,
            reason,
        })?;
        for (key, value) in system {
            sources.insert(key.clone(), system_source.clone());
            merged.insert(key, value);
        }

        // The user's layer, where not locked.
        let mut user_layer = Flat::new();
        if let Some(table) = read_layer(&paths.user)? {
            user_layer = known_keys(&table, &defaults, &paths.user, &mut warnings);
        }
        let user_source = Source::User {
            path: paths.user.clone(),
        };
        settings_with(&defaults, &user_layer).map_err(|(key, reason)| SettingsError::Invalid {
            from: user_source.clone(),
            key,
            reason,
        })?;
        for (key, value) in &user_layer {
            if locked.contains(key) {
                warnings.push(SettingsWarning::UserValueLocked {
                    file: paths.user.clone(),
                    key: key.clone(),
                    locked_by: paths.system.clone(),
                });
                continue;
            }
            sources.insert(key.clone(), user_source.clone());
            merged.insert(key.clone(), value.clone());
        }

        // The environment, where not locked.
        let mut environment = BTreeMap::new();
        for (key, default) in &defaults {
            let variable = env_variable(key);
            let Some(text) = env(&variable) else { continue };
            environment.insert(variable.clone(), text.clone());
            let source = Source::Environment {
                variable: variable.clone(),
            };
            if locked.contains(key) {
                warnings.push(SettingsWarning::EnvironmentLocked {
                    variable: variable.clone(),
                    key: key.clone(),
                });
                continue;
            }
            let value =
                value_from_text(&text, default).map_err(|reason| SettingsError::Invalid {
                    from: source.clone(),
                    key: key.clone(),
                    reason,
                })?;
            sources.insert(key.clone(), source);
            merged.insert(key.clone(), value);
        }

        let settings =
            settings_with(&defaults, &merged).map_err(|(key, reason)| SettingsError::Invalid {
                from: sources.get(&key).cloned().unwrap_or(Source::Default),
                key,
                reason,
            })?;
        if settings.signalling.allow_plain_ws_for_development
            && is_plain_ws_off_loopback(&settings.signalling.url)
        {
            warnings.push(SettingsWarning::PlainWebSocket {
                url: settings.signalling.url.clone(),
            });
        }
        for warning in &warnings {
            tracing::warn!("{warning}");
        }
        Ok(LoadedSettings {
            settings,
            paths,
            sources,
            locked,
            warnings,
            user_layer,
            environment,
        })
    }

    pub fn source(&self, key: &str) -> Option<&Source> {
        self.sources.get(key)
    }

    pub fn is_locked(&self, key: &str) -> bool {
        self.locked.contains(key)
    }

    /// Every setting with its value, source and lock, in key order.
    pub fn report(&self) -> Vec<SettingReport> {
        let mut flat = Flat::new();
        if let Ok(toml::Value::Table(table)) = toml::Value::try_from(&self.settings) {
            flatten(&table, "", &mut flat);
        }
        flat.into_iter()
            .map(|(key, value)| SettingReport {
                value: serde_json::to_value(&value).unwrap_or(serde_json::Value::Null),
                source: self.sources.get(&key).cloned().unwrap_or(Source::Default),
                locked: self.locked.contains(&key),
                key,
            })
            .collect()
    }

    /// `set_user` from text as a form holds it, typed like the setting
    /// (so a name of digits stays a name).
    pub fn set_user_text(&mut self, key: &str, text: &str) -> Result<(), SettingsError> {
        let defaults = defaults_flat();
        let default = defaults
            .get(key)
            .ok_or_else(|| SettingsError::UnknownKey { key: key.into() })?;
        let value = value_from_text(text, default).map_err(|reason| SettingsError::Invalid {
            from: Source::User {
                path: self.paths.user.clone(),
            },
            key: key.into(),
            reason,
        })?;
        self.set_user(key, value)
    }

    /// Sets `key` in the user's file (written atomically) and applies it.
    /// Refused when IT locked the key or the value does not fit.
    pub fn set_user(&mut self, key: &str, value: toml::Value) -> Result<(), SettingsError> {
        let defaults = defaults_flat();
        if !defaults.contains_key(key) {
            return Err(SettingsError::UnknownKey { key: key.into() });
        }
        if self.locked.contains(key) {
            return Err(SettingsError::Locked {
                key: key.into(),
                by: self.paths.system.clone(),
            });
        }
        let mut layer = self.user_layer.clone();
        layer.insert(key.to_owned(), value);
        let user_source = Source::User {
            path: self.paths.user.clone(),
        };
        settings_with(&defaults, &layer).map_err(|(key, reason)| SettingsError::Invalid {
            from: user_source,
            key,
            reason,
        })?;
        let text = toml::to_string_pretty(&unflatten(&layer)).map_err(|e| SettingsError::File {
            path: self.paths.user.clone(),
            reason: e.to_string(),
        })?;
        write_atomically(&self.paths.user, text.as_bytes()).map_err(|e| SettingsError::File {
            path: self.paths.user.clone(),
            reason: e.to_string(),
        })?;
        let environment = std::mem::take(&mut self.environment);
        *self =
            LoadedSettings::load_from(self.paths.clone(), |name| environment.get(name).cloned())?;
        Ok(())
    }
}

fn known_keys(
    table: &toml::Table,
    defaults: &Flat,
    path: &Path,
    warnings: &mut Vec<SettingsWarning>,
) -> Flat {
    let mut flat = Flat::new();
    flatten(table, "", &mut flat);
    flat.retain(|key, _| {
        let known = defaults.contains_key(key);
        if !known {
            warnings.push(SettingsWarning::UnknownKey {
                file: path.to_owned(),
                key: key.clone(),
            });
        }
        known
    });
    flat
}

fn lock_entries(list: Option<toml::Value>, path: &Path) -> Result<Vec<String>, SettingsError> {
    let invalid = || SettingsError::File {
        path: path.to_owned(),
        reason:
            "locked must be a list of setting or section names, like [\"signalling.url\", \"turn\"]"
                .into(),
    };
    match list {
        None => Ok(Vec::new()),
        Some(toml::Value::Array(items)) => items
            .into_iter()
            .map(|item| match item {
                toml::Value::String(name) => Ok(name),
                _ => Err(invalid()),
            })
            .collect(),
        Some(_) => Err(invalid()),
    }
}

/// Replaces `path` with `bytes` so that a reader (or a crash) sees the old
/// file or the new one, never part of either.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)?;
        // The rename itself is durable once the directory is synced.
        #[cfg(unix)]
        std::fs::File::open(dir)?.sync_all()?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result
}
