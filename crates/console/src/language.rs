//! The language and theme the console speaks and shows: from the
//! `ui.language` and `ui.theme` settings (IT may lock either), handed to
//! the page with the catalogue's text, and to the viewer.

use kh_i18n::{Language, LanguageChoice};
use serde::Serialize;

/// What the page needs to speak and look as the settings say.
#[derive(Clone, Debug, Serialize)]
pub struct PageCatalogue {
    /// "ja" or "en": the language the page speaks now.
    pub language: &'static str,
    /// The Fluent text of the page's catalogue files in that language.
    pub source: String,
    /// The `ui.language` setting: "system", "ja" or "en".
    pub language_setting: String,
    pub language_locked: bool,
    /// The environment variable that sets the language, when one does
    /// (a choice on the page would not win over it).
    pub language_from_environment: Option<String>,
    /// The language "system" means on this machine.
    pub system_language: &'static str,
    /// The `ui.theme` setting: "system", "light" or "dark".
    pub theme: String,
    pub theme_locked: bool,
    pub theme_from_environment: Option<String>,
}

/// The variable behind `key`'s value, when the environment set it.
fn from_environment(settings: Option<&kh_settings::LoadedSettings>, key: &str) -> Option<String> {
    match settings?.source(key)? {
        kh_settings::Source::Environment { variable } => Some(variable.clone()),
        _ => None,
    }
}

/// The language `settings` ask for, on this machine.
pub fn language_of(settings: &kh_settings::Settings) -> Language {
    LanguageChoice::parse(&settings.ui.language)
        .unwrap_or(LanguageChoice::System)
        .resolve()
}

/// From now on this process speaks the language `settings` ask for (its
/// messages, the refusals the page shows).
pub fn speak(settings: &kh_settings::Settings) {
    kh_i18n::set_language(language_of(settings));
}

/// The page's catalogue as `settings` have it; without settings (they
/// could not be read: the start-up problem page) the system's language.
pub fn page_catalogue(settings: Option<&kh_settings::LoadedSettings>) -> PageCatalogue {
    let language = settings.map_or_else(kh_i18n::system_language, |s| language_of(&s.settings));
    PageCatalogue {
        language: language.tag(),
        source: kh_i18n::page_source(language),
        language_setting: settings
            .map_or_else(|| "system".into(), |s| s.settings.ui.language.clone()),
        language_locked: settings.is_some_and(|s| s.is_locked("ui.language")),
        language_from_environment: from_environment(settings, "ui.language"),
        system_language: kh_i18n::system_language().tag(),
        theme: settings.map_or_else(|| "system".into(), |s| s.settings.ui.theme.clone()),
        theme_locked: settings.is_some_and(|s| s.is_locked("ui.theme")),
        theme_from_environment: from_environment(settings, "ui.theme"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The settings dialog names every setting in both languages (the page
    /// builds the message id from the key).
    #[test]
    fn every_setting_has_a_name_in_both_languages() {
        let dir = tempfile::tempdir().unwrap();
        let loaded = kh_settings::LoadedSettings::load_from(
            kh_settings::SettingsPaths {
                system: dir.path().join("none.toml"),
                user: dir.path().join("user.toml"),
            },
            |_| None,
        )
        .unwrap();
        for language in Language::ALL {
            let words = kh_i18n::Catalogue::new(language);
            for row in loaded.report() {
                let id = format!("console-setting-name-{}", row.key.replace(['.', '_'], "-"));
                assert!(
                    words.has(&id),
                    "{} has no name in {language:?} ({id})",
                    row.key
                );
            }
        }
    }

    #[test]
    fn the_page_speaks_the_language_the_settings_fix() {
        let dir = tempfile::tempdir().unwrap();
        let system = dir.path().join("system.toml");
        std::fs::write(
            &system,
            "locked = [\"ui.language\"]\n\n[ui]\nlanguage = \"ja\"\n",
        )
        .unwrap();
        let paths = kh_settings::SettingsPaths {
            system,
            user: dir.path().join("user.toml"),
        };
        let loaded = kh_settings::LoadedSettings::load_from(paths, |_| None).unwrap();
        let page = page_catalogue(Some(&loaded));
        assert_eq!(page.language, "ja");
        assert!(page.language_locked);
        assert!(!page.theme_locked);
        assert!(page.source.contains("console-new-case = 新規症例"));
        assert_eq!(page.language_from_environment, None);
        let from_environment = kh_settings::LoadedSettings::load_from(
            kh_settings::SettingsPaths {
                system: dir.path().join("none.toml"),
                user: dir.path().join("user.toml"),
            },
            |name| (name == "KAKEHASHI_UI_THEME").then(|| "dark".to_owned()),
        )
        .unwrap();
        let page = page_catalogue(Some(&from_environment));
        assert_eq!(
            page.theme_from_environment.as_deref(),
            Some("KAKEHASHI_UI_THEME")
        );
        let fallback = page_catalogue(None);
        assert_eq!(fallback.language_setting, "system");
    }
}
