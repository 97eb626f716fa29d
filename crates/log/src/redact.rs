//! Patient data kept out of logs, twice over.
//!
//! First, code does not log it: identifying fields have no `Display`
//! (`kh_cases::PatientName`), rooms are logged as a [`tag`]. Second, as a
//! net under that: wherever patient data enters a process (a case page read,
//! a slide path the viewer is asked to open) it is [`remember`]ed, and every
//! log line is [`scrub`]bed of what was remembered before it is written. The
//! net catches what the first rule cannot see: a library's error that quotes
//! the file it failed on (`kh-slide` ties each fault to its path, which the
//! screen needs and the log must not have), a panic message, a line someone
//! adds later.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use std::borrow::Cow;
use std::collections::BTreeSet;
use std::hash::{BuildHasher, Hasher};
use std::path::Path;
use std::sync::{Arc, OnceLock, RwLock};

/// What a remembered text becomes in a log line.
pub const REDACTED: &str = "[redacted]";

/// At most this many texts are remembered. A workstation's day touches tens
/// of cases; a list this long means something registers in a loop, and
/// past it texts are refused (and that said once) rather than growing the
/// matcher without end.
pub const MAX_REMEMBERED: usize = 65_536;

/// Texts shorter than this (in characters) are not remembered: scrubbing
/// "a" or "12" from every line would leave logs unreadable and protect
/// nothing. Japanese names are short: two characters (山田) are kept.
const MIN_CHARS_NON_ASCII: usize = 2;
const MIN_CHARS_ASCII: usize = 3;

#[derive(Default)]
struct Remembered {
    texts: BTreeSet<String>,
    /// Built from `texts` on the first scrub after a change.
    matcher: Option<Arc<AhoCorasick>>,
    full_said: bool,
}

fn remembered() -> &'static RwLock<Remembered> {
    static REMEMBERED: OnceLock<RwLock<Remembered>> = OnceLock::new();
    REMEMBERED.get_or_init(Default::default)
}

fn long_enough(text: &str) -> bool {
    let chars = text.chars().count();
    if text.is_ascii() {
        chars >= MIN_CHARS_ASCII
    } else {
        chars >= MIN_CHARS_NON_ASCII
    }
}

/// Remember `text` as patient data: from now on no log line of this process
/// carries it (matched without regard to ASCII case).
pub fn remember(text: &str) {
    let text = text.trim();
    if !long_enough(text) {
        return;
    }
    // The worklist remembers every row on every refresh: what is known
    // already is found under the read lock, so log lines are not held up.
    if remembered()
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .texts
        .contains(text)
    {
        return;
    }
    let mut all = remembered().write().unwrap_or_else(|e| e.into_inner());
    if all.texts.contains(text) {
        return;
    }
    if all.texts.len() >= MAX_REMEMBERED {
        if !all.full_said {
            all.full_said = true;
            drop(all);
            tracing::warn!(
                "more than {MAX_REMEMBERED} texts to keep out of the log: later ones are not scrubbed"
            );
        }
        return;
    }
    all.texts.insert(text.to_owned());
    all.matcher = None;
}

/// Remember a person's name: whole, and each part of it (family and given
/// names are logged apart as often as together: "YAMADA^TARO" in DICOM,
/// "Yamada Taro", "山田 太郎").
pub fn remember_name(name: &str) {
    remember(name);
    for part in name.split(|c: char| c.is_whitespace() || "^,_.・　".contains(c)) {
        remember(part);
    }
}

/// Remember a file that belongs to a patient: its path as given, its file
/// name and the name without extension — slide files are named after
/// patients often enough (`Yamada_Taro.svs`) that every spelling of it
/// counts. The folders above it are left alone: `/srv/slides` is no secret,
/// and scrubbing it would hide which disk failed.
pub fn remember_path(path: &Path) {
    remember(&path.to_string_lossy());
    if let Some(name) = path.file_name() {
        remember(&name.to_string_lossy());
    }
    if let Some(stem) = path.file_stem() {
        remember_name(&stem.to_string_lossy());
    }
}

/// The matcher for what is remembered now, built if something changed.
fn matcher() -> Option<Arc<AhoCorasick>> {
    if let Some(built) = remembered()
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .matcher
        .clone()
    {
        return Some(built);
    }
    let mut all = remembered().write().unwrap_or_else(|e| e.into_inner());
    if all.texts.is_empty() {
        return None;
    }
    if all.matcher.is_none() {
        // Leftmost-longest: "Yamada_Taro.svs" goes as one, not as "Yamada"
        // with "_Taro.svs" left over.
        let built = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .build(&all.texts)
            .ok()?;
        all.matcher = Some(Arc::new(built));
    }
    all.matcher.clone()
}

/// `line` with every remembered text replaced by [`REDACTED`].
pub fn scrub(line: &str) -> Cow<'_, str> {
    match matcher() {
        Some(m) if m.is_match(line) => {
            let replacements = vec![REDACTED; m.patterns_len()];
            Cow::Owned(m.replace_all(line, &replacements))
        }
        _ => Cow::Borrowed(line),
    }
}

/// A short stand-in for a value a log needs to tell apart but must not
/// show (a room's name, a file's): `#` and 8 hex digits of a keyed hash.
/// The key is this process's own, so the same room has the same tag
/// throughout one log and cannot be guessed back from a list of names.
pub fn tag(value: &str) -> Tag {
    static KEY: OnceLock<std::collections::hash_map::RandomState> = OnceLock::new();
    let mut hasher = KEY.get_or_init(Default::default).build_hasher();
    hasher.write(value.as_bytes());
    Tag(hasher.finish() as u32)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tag(u32);

impl std::fmt::Display for Tag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{:08x}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The registry is per process and tests share it: each test uses texts
    // of its own.
    #[test]
    fn a_remembered_path_is_scrubbed_in_every_spelling() {
        remember_path(Path::new("/srv/slides/Yamada_Taro.svs"));
        let line = "cannot open /srv/slides/Yamada_Taro.svs: Yamada_Taro.svs has no \
                    level 0 (YAMADA_TARO); taro said yamada";
        let scrubbed = scrub(line);
        assert!(!scrubbed.to_lowercase().contains("yamada"), "{scrubbed}");
        assert!(!scrubbed.to_lowercase().contains("taro"), "{scrubbed}");
        assert!(scrubbed.contains("has no level 0"), "{scrubbed}");
        // The path goes whole, not in pieces.
        assert!(
            scrubbed.starts_with("cannot open [redacted]: "),
            "{scrubbed}"
        );
    }

    #[test]
    fn japanese_names_are_scrubbed_by_part() {
        remember_name("鈴木 花子");
        assert_eq!(scrub("患者 鈴木 さん"), "患者 [redacted] さん");
        assert_eq!(scrub("花子"), "[redacted]");
    }

    #[test]
    fn short_texts_are_not_remembered() {
        remember("ab");
        remember(" 7 ");
        assert_eq!(scrub("ab 7 tab"), "ab 7 tab");
    }

    #[test]
    fn a_line_without_secrets_is_not_copied() {
        remember("Watanabe");
        assert!(matches!(scrub("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn tags_are_stable_in_a_process_and_tell_values_apart() {
        assert_eq!(tag("case-1"), tag("case-1"));
        assert_ne!(tag("case-1"), tag("case-2"));
        assert_eq!(tag("case-1").to_string().len(), 9);
    }
}
