//! Which language a user reads: the system's locale, or the one settings
//! fix (`ui.language`, which IT may lock).

use serde::{Deserialize, Serialize};
use unic_langid::LanguageIdentifier;

/// The languages the catalogue is complete in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Language {
    #[serde(rename = "en")]
    English,
    #[serde(rename = "ja")]
    Japanese,
}

impl Language {
    pub const ALL: [Language; 2] = [Language::Japanese, Language::English];

    /// The BCP 47 tag: `en`, `ja`.
    pub fn tag(self) -> &'static str {
        match self {
            Language::English => "en",
            Language::Japanese => "ja",
        }
    }

    pub fn from_tag(tag: &str) -> Option<Language> {
        match tag {
            "en" => Some(Language::English),
            "ja" => Some(Language::Japanese),
            _ => None,
        }
    }

    pub(crate) fn identifier(self) -> LanguageIdentifier {
        LanguageIdentifier::from_bytes(self.tag().as_bytes()).unwrap_or_default()
    }
}

/// The `ui.language` setting: follow the system, or always one language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LanguageChoice {
    System,
    Fixed(Language),
}

impl LanguageChoice {
    /// From the setting's text: `system`, `ja` or `en`.
    pub fn parse(text: &str) -> Option<LanguageChoice> {
        match text {
            "system" => Some(LanguageChoice::System),
            other => Language::from_tag(other).map(LanguageChoice::Fixed),
        }
    }

    /// The language this choice speaks on this machine now.
    pub fn resolve(self) -> Language {
        match self {
            LanguageChoice::System => system_language(),
            LanguageChoice::Fixed(language) => language,
        }
    }
}

/// The language of a POSIX locale name or BCP 47 tag (`ja_JP.UTF-8`,
/// `ja-JP`, `en_US`, `C`): Japanese for Japanese, English for the rest,
/// since English is the other language the catalogue is complete in.
pub fn language_from_locale(locale: Option<&str>) -> Language {
    let primary = locale
        .unwrap_or("")
        .split(['_', '-', '.', '@'])
        .next()
        .unwrap_or("");
    if primary.eq_ignore_ascii_case("ja") {
        Language::Japanese
    } else {
        Language::English
    }
}

/// The system's language: on Unix the first of `LC_ALL`, `LC_MESSAGES`
/// and `LANG` that is set (as `sys-locale` reads them); the user's UI
/// language on Windows and macOS.
pub fn system_language() -> Language {
    language_from_locale(sys_locale::get_locale().as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locales_map_to_the_languages_we_speak() {
        for (locale, language) in [
            (Some("ja_JP.UTF-8"), Language::Japanese),
            (Some("ja-JP"), Language::Japanese),
            (Some("ja"), Language::Japanese),
            (Some("JA_jp.eucJP"), Language::Japanese),
            (Some("en_US.UTF-8"), Language::English),
            (Some("C"), Language::English),
            (Some("C.UTF-8"), Language::English),
            (Some("fr_FR"), Language::English),
            (Some("jam"), Language::English),
            (None, Language::English),
        ] {
            assert_eq!(language_from_locale(locale), language, "{locale:?}");
        }
    }

    #[test]
    fn the_setting_reads_system_or_a_tag() {
        assert_eq!(
            LanguageChoice::parse("system"),
            Some(LanguageChoice::System)
        );
        assert_eq!(
            LanguageChoice::parse("ja"),
            Some(LanguageChoice::Fixed(Language::Japanese))
        );
        assert_eq!(LanguageChoice::parse("日本語"), None);
    }
}
