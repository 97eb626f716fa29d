//! Every word Kakehashi shows, in Japanese and English: the Fluent
//! catalogue (`locales/<language>/*.ftl`, compiled into the binary), the
//! language the user reads (the system's, or the one settings fix), and the
//! Japanese conventions of the forms doctors fill in (`conventions`).
//!
//! The console's web page formats with the same files: `page_source` hands
//! it their text and `@fluent/bundle` reads it there.
//!
//! Messages are looked up by id; a message missing in Japanese falls back
//! to English, and one missing in both shows its id (the catalogue test
//! keeps either from shipping). The current language is process-wide so a
//! window can switch it between two frames: `set_language`, then `tr!`.

use fluent_bundle::FluentResource;
use fluent_bundle::concurrent::FluentBundle;
use std::sync::{Arc, OnceLock, RwLock};

pub mod conventions;
mod file_problem;
mod language;

pub use file_problem::FileProblem;
pub use fluent_bundle::{FluentArgs, FluentValue};
pub use language::{Language, LanguageChoice, language_from_locale, system_language};

/// One catalogue file: which part of the product it serves and its text
/// in each language.
pub struct CatalogueFile {
    pub name: &'static str,
    pub english: &'static str,
    pub japanese: &'static str,
}

macro_rules! catalogue_files {
    ($($name:literal),+ $(,)?) => {
        /// Every file of the catalogue, as compiled in.
        pub const FILES: &[CatalogueFile] = &[$(CatalogueFile {
            name: $name,
            english: include_str!(concat!("../locales/en/", $name, ".ftl")),
            japanese: include_str!(concat!("../locales/ja/", $name, ".ftl")),
        }),+];
    };
}

catalogue_files!(
    "common",
    "console",
    "viewer",
    "cli",
    "cli-help",
    "report",
    "installer"
);

/// The files the console's page formats with.
const PAGE_FILES: &[&str] = &["common", "console"];

impl CatalogueFile {
    pub fn text(&self, language: Language) -> &'static str {
        match language {
            Language::English => self.english,
            Language::Japanese => self.japanese,
        }
    }
}

/// The Fluent text of the files the console's page uses, in `language`,
/// one after the other (ids are unique across files).
pub fn page_source(language: Language) -> String {
    FILES
        .iter()
        .filter(|f| PAGE_FILES.contains(&f.name))
        .map(|f| f.text(language))
        .collect::<Vec<_>>()
        .join("\n")
}

/// All messages of one language, ready to format.
pub struct Catalogue {
    language: Language,
    bundle: FluentBundle<FluentResource>,
    /// English, for a message the language lacks.
    fallback: Option<FluentBundle<FluentResource>>,
}

fn bundle_for(language: Language) -> FluentBundle<FluentResource> {
    let mut bundle = FluentBundle::new_concurrent(vec![language.identifier()]);
    // Unicode isolation marks around arguments are for bidirectional
    // text; egui draws them as boxes and neither language needs them.
    bundle.set_use_isolating(false);
    for file in FILES {
        // A file with a syntax error still yields its good entries; the
        // catalogue test fails on the error itself.
        let resource = FluentResource::try_new(file.text(language).to_owned())
            .unwrap_or_else(|(partial, _)| partial);
        // Duplicate ids keep the first; the test refuses them too.
        let _ = bundle.add_resource(resource);
    }
    bundle
}

impl Catalogue {
    pub fn new(language: Language) -> Catalogue {
        Catalogue {
            language,
            bundle: bundle_for(language),
            fallback: (language != Language::English).then(|| bundle_for(Language::English)),
        }
    }

    pub fn language(&self) -> Language {
        self.language
    }

    /// Whether `id` names a message of this language (not its fallback).
    pub fn has(&self, id: &str) -> bool {
        self.bundle.has_message(id)
    }

    /// Message `id` (or `id.attribute`) formatted with `args`.
    pub fn format(&self, id: &str, args: Option<&FluentArgs>) -> String {
        [Some(&self.bundle), self.fallback.as_ref()]
            .into_iter()
            .flatten()
            .find_map(|bundle| format_in(bundle, id, args))
            .unwrap_or_else(|| id.to_owned())
    }

    pub fn text(&self, id: &str) -> String {
        self.format(id, None)
    }

    /// Message `id` with `args` as (name, value) pairs:
    /// `words.text_with("viewer-opening", [("name", file.into())])`.
    pub fn text_with<'a>(
        &self,
        id: &str,
        args: impl IntoIterator<Item = (&'a str, FluentValue<'a>)>,
    ) -> String {
        let mut fluent = FluentArgs::new();
        for (name, value) in args {
            fluent.set(name, value);
        }
        self.format(id, Some(&fluent))
    }
}

fn format_in(
    bundle: &FluentBundle<FluentResource>,
    id: &str,
    args: Option<&FluentArgs>,
) -> Option<String> {
    let (message_id, attribute) = match id.split_once('.') {
        Some((m, a)) => (m, Some(a)),
        None => (id, None),
    };
    let message = bundle.get_message(message_id)?;
    let pattern = match attribute {
        Some(a) => message.get_attribute(a)?.value(),
        None => message.value()?,
    };
    let mut errors = Vec::new();
    let text = bundle.format_pattern(pattern, args, &mut errors);
    Some(text.into_owned())
}

fn current_slot() -> &'static RwLock<Arc<Catalogue>> {
    static CURRENT: OnceLock<RwLock<Arc<Catalogue>>> = OnceLock::new();
    CURRENT.get_or_init(|| RwLock::new(Arc::new(Catalogue::new(system_language()))))
}

/// The catalogue of the language the process speaks now (the system's
/// until `set_language`).
pub fn current() -> Arc<Catalogue> {
    match current_slot().read() {
        Ok(guard) => guard.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    }
}

/// Speak `language` from now on; texts already on screen change when they
/// are next drawn.
pub fn set_language(language: Language) {
    if current().language() == language {
        return;
    }
    let catalogue = Arc::new(Catalogue::new(language));
    match current_slot().write() {
        Ok(mut guard) => *guard = catalogue,
        Err(poisoned) => *poisoned.into_inner() = catalogue,
    }
}

/// The language the process speaks now.
pub fn language() -> Language {
    current().language()
}

/// A message of the current language: `tr!("viewer-fit")`, or with
/// arguments `tr!("viewer-opening", name = file_name)`.
#[macro_export]
macro_rules! tr {
    ($id:literal) => {
        $crate::current().text($id)
    };
    ($id:literal, $($name:ident = $value:expr),+ $(,)?) => {{
        let mut args = $crate::FluentArgs::new();
        $( args.set(stringify!($name), $crate::FluentValue::from($value)); )+
        $crate::current().format($id, Some(&args))
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_in_both_languages_with_arguments() {
        let en = Catalogue::new(Language::English);
        let ja = Catalogue::new(Language::Japanese);
        let mut args = FluentArgs::new();
        args.set("name", "CMU-1.svs");
        assert_eq!(
            en.format("viewer-opening", Some(&args)),
            "Opening CMU-1.svs…"
        );
        assert_eq!(
            ja.format("viewer-opening", Some(&args)),
            "CMU-1.svs を開いています…"
        );
    }

    #[test]
    fn an_unknown_id_shows_itself() {
        assert_eq!(
            Catalogue::new(Language::Japanese).text("no-such-message"),
            "no-such-message"
        );
    }

    #[test]
    fn attributes_are_addressed_with_a_dot() {
        let ja = Catalogue::new(Language::Japanese);
        assert!(!ja.text("viewer-fit.title").contains("viewer-fit"));
    }

    #[test]
    fn the_page_gets_its_files_only() {
        let page = page_source(Language::Japanese);
        assert!(page.contains("console-new-case"));
        assert!(!page.contains("viewer-fit"));
    }
}
