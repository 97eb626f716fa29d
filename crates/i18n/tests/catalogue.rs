//! The catalogue is complete: every file parses in both languages, both
//! hold the same messages and attributes with the same variables, ids are
//! unique, every id the code names exists and every message is named
//! somewhere. `literals` checks that nothing shown to users bypasses it.

mod literals;

use fluent_syntax::ast;
use kh_i18n::{FILES, Language};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Message (or `message.attribute`) → the variables its text uses.
type Shape = BTreeMap<String, BTreeSet<String>>;

fn variables_of(pattern: &ast::Pattern<&str>, out: &mut BTreeSet<String>) {
    for element in &pattern.elements {
        if let ast::PatternElement::Placeable { expression } = element {
            expression_variables(expression, out);
        }
    }
}

fn expression_variables(expression: &ast::Expression<&str>, out: &mut BTreeSet<String>) {
    match expression {
        ast::Expression::Select { selector, variants } => {
            inline_variables(selector, out);
            for variant in variants {
                variables_of(&variant.value, out);
            }
        }
        ast::Expression::Inline(inline) => inline_variables(inline, out),
    }
}

fn inline_variables(inline: &ast::InlineExpression<&str>, out: &mut BTreeSet<String>) {
    match inline {
        ast::InlineExpression::VariableReference { id } => {
            out.insert(id.name.to_owned());
        }
        ast::InlineExpression::Placeable { expression } => expression_variables(expression, out),
        ast::InlineExpression::FunctionReference { arguments, .. } => {
            for argument in &arguments.positional {
                inline_variables(argument, out);
            }
        }
        _ => {}
    }
}

/// The shape of one file in one language, or its syntax errors.
fn shape(text: &str) -> Result<Shape, String> {
    let resource =
        fluent_syntax::parser::parse(text).map_err(|(_, errors)| format!("{errors:?}"))?;
    let mut shape = Shape::new();
    for entry in &resource.body {
        match entry {
            ast::Entry::Message(message) => {
                let id = message.id.name.to_owned();
                let mut vars = BTreeSet::new();
                if let Some(value) = &message.value {
                    variables_of(value, &mut vars);
                }
                assert!(
                    shape.insert(id.clone(), vars).is_none(),
                    "{id} twice in one file"
                );
                for attribute in &message.attributes {
                    let mut vars = BTreeSet::new();
                    variables_of(&attribute.value, &mut vars);
                    shape.insert(format!("{id}.{}", attribute.id.name), vars);
                }
            }
            ast::Entry::Junk { content } => return Err(format!("junk: {content}")),
            _ => {}
        }
    }
    Ok(shape)
}

/// Variables offered in more than one form, of which each language takes
/// the one its convention writes (a two-digit month in English dates, the
/// plain number in Japanese ones).
const FORMS_TO_CHOOSE_FROM: &[(&str, &[&str])] =
    &[("common-date-time", &["month", "month2", "day", "day2"])];

fn without_forms(id: &str, vars: &BTreeSet<String>) -> BTreeSet<String> {
    let forms = FORMS_TO_CHOOSE_FROM
        .iter()
        .find(|(message, _)| *message == id)
        .map_or(&[][..], |(_, forms)| *forms);
    vars.iter()
        .filter(|v| !forms.contains(&v.as_str()))
        .cloned()
        .collect()
}

#[test]
fn both_languages_hold_the_same_messages_with_the_same_variables() {
    let mut problems = Vec::new();
    for file in FILES {
        let english = shape(file.english);
        let japanese = shape(file.japanese);
        let (english, japanese) = match (english, japanese) {
            (Ok(e), Ok(j)) => (e, j),
            (e, j) => {
                problems.push(format!("{}: en {:?} ja {:?}", file.name, e.err(), j.err()));
                continue;
            }
        };
        for (id, vars) in &english {
            match japanese.get(id) {
                None => problems.push(format!("{}.ftl: {id} has no Japanese", file.name)),
                Some(ja) if without_forms(id, ja) != without_forms(id, vars) => {
                    problems.push(format!(
                        "{}.ftl: {id} uses {vars:?} in English but {ja:?} in Japanese",
                        file.name
                    ))
                }
                Some(_) => {}
            }
        }
        for id in japanese.keys().filter(|id| !english.contains_key(*id)) {
            problems.push(format!("{}.ftl: {id} has no English", file.name));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Every message id of the catalogue (attributes as `id.attribute`).
fn all_ids() -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for file in FILES {
        let shape = shape(file.english).unwrap_or_default();
        for id in shape.keys() {
            assert!(
                ids.insert(id.clone()),
                "{id} is in two files ({} is the second)",
                file.name
            );
        }
    }
    ids
}

#[test]
fn a_message_shows_in_both_languages_without_falling_back() {
    for language in Language::ALL {
        let catalogue = kh_i18n::Catalogue::new(language);
        for id in all_ids().iter().filter(|id| !id.contains('.')) {
            assert!(catalogue.has(id), "{id} missing in {language:?}");
        }
    }
}

pub fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The product's sources that show words: Rust of every crate and the
/// shell (tests excluded), the page's TypeScript and HTML.
pub fn product_sources() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "tests") {
                    walk(&path, out);
                }
            } else if path
                .extension()
                .is_some_and(|e| e == "rs" || e == "ts" || e == "html")
                && !path.to_string_lossy().ends_with(".test.ts")
            {
                out.push(path);
            }
        }
    }
    let root = repository();
    let mut out = Vec::new();
    walk(&root.join("crates"), &mut out);
    walk(&root.join("src-tauri/src"), &mut out);
    walk(&root.join("ui/src"), &mut out);
    out.push(root.join("ui/public/index.html"));
    out.push(root.join("src-tauri/kakehashi.desktop.hbs"));
    out
}

#[test]
fn every_id_the_code_names_exists_and_every_message_is_named() {
    let ids = all_ids();
    // Any literal that is an id counts as a use (tables of ids, select
    // options); where the code asks the catalogue — `tr!`, the page's `t`,
    // `data-l10n-id` — the id must exist.
    let literal = regex::Regex::new(r#"["'`]([a-z][a-z0-9-]*(?:\.[a-z-]+)?)["'`]"#).unwrap();
    let asked = regex::Regex::new(
        r#"(?:tr!\(|\bt\(|\bformat\(|data-l10n-id=|\.text\()\s*["'`]([^"'`]+)["'`]"#,
    )
    .unwrap();
    // An id built in a template literal (`console-setting-name-${…}`) or
    // by Rust's `format!("cli-about-{path}")` names every message under
    // its prefix (kh's own test checks those ids against its commands).
    let built = regex::Regex::new(r#"(?:`|format!\(")([a-z][a-z0-9-]*-)(?:\$\{|\{)"#).unwrap();
    let mut prefixes = Vec::new();
    let mut used = BTreeSet::new();
    let mut unknown = Vec::new();
    for path in product_sources() {
        let text = std::fs::read_to_string(&path).unwrap();
        prefixes.extend(built.captures_iter(&text).map(|c| c[1].to_owned()));
        for capture in literal.captures_iter(&text) {
            if ids.contains(&capture[1]) {
                used.insert(capture[1].to_owned());
                // Naming an attribute uses its message.
                if let Some((message, _)) = capture[1].split_once('.') {
                    used.insert(message.to_owned());
                }
            }
        }
        for capture in asked.captures_iter(&text) {
            let id = &capture[1];
            let is_id = id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-.".contains(c));
            let catalogue_itself = path.starts_with(repository().join("crates/i18n"));
            if is_id && id.contains('-') && !ids.contains(id) && !catalogue_itself {
                unknown.push(format!("{}: {id}", path.display()));
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "named in code, not in the catalogue:\n{}",
        unknown.join("\n")
    );
    let unused: Vec<_> = ids
        .iter()
        .filter(|id| {
            let message = id.split('.').next().unwrap_or(id);
            !used.contains(*id)
                && !used.contains(message)
                && !prefixes.iter().any(|p| message.starts_with(p.as_str()))
        })
        .collect();
    assert!(
        unused.is_empty(),
        "in the catalogue, named nowhere: {unused:?}"
    );
}

/// The installed menu entry says what the catalogue says, in both
/// languages; its English comment is the package's short description.
#[test]
fn the_menu_entry_carries_the_catalogues_words() {
    let root = repository();
    let template = std::fs::read_to_string(root.join("src-tauri/kakehashi.desktop.hbs")).unwrap();
    let line = |key: &str| {
        template
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("no {key}= in the desktop template"))
            .to_owned()
    };
    let en = kh_i18n::Catalogue::new(Language::English);
    let ja = kh_i18n::Catalogue::new(Language::Japanese);
    for (key, id) in [
        ("GenericName", "installer-generic-name"),
        ("Keywords", "installer-keywords"),
    ] {
        assert_eq!(line(key), en.text(id), "{key}");
        assert_eq!(line(&format!("{key}[ja]")), ja.text(id), "{key}[ja]");
    }
    for (key, id) in [("Name", "installer-name"), ("Comment", "installer-comment")] {
        assert_eq!(line(&format!("{key}[ja]")), ja.text(id), "{key}[ja]");
    }
    let config: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("src-tauri/tauri.conf.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        config["bundle"]["shortDescription"],
        en.text("installer-comment")
    );
    assert_eq!(config["productName"], en.text("installer-name"));
}
