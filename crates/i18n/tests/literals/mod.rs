//! Words shown to users that bypass the catalogue: literal text handed to
//! the viewer's widgets, text in the page's HTML without a `data-l10n-id`,
//! and prose in the page's TypeScript. Each finder is tried on code that
//! must fail, so the check can fail.

use regex::Regex;
use std::sync::LazyLock;

/// Whether a literal carries words: letters of any script, beyond a key
/// name ("K", "Ctrl+Z", "F11"), a unit, or a command-line flag and its
/// value ("--send camera").
fn is_words(text: &str) -> bool {
    static KEY: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^(((Ctrl|Shift|Alt)\+)?([A-Z]|F[0-9]{1,2})|--[a-z-]+( [a-z]+)?)$").unwrap()
    });
    let letters = text
        .chars()
        .filter(|c| c.is_alphabetic() && !"×µ°".contains(*c))
        .count();
    letters > 0 && !KEY.is_match(text.trim()) && !text.trim().is_empty()
}

/// Literal text given to an egui widget, a window title or the viewer's
/// messages in Rust `code`: (line, text).
pub fn rust_widget_literals(code: &str) -> Vec<(usize, String)> {
    static CALL: LazyLock<Regex> = LazyLock::new(|| {
        let one = r"\.(?:label|button|text|on_hover_text|hint_text|heading|strong|weak|small|selected_text|colored_label|with_title|set_title|report|selectable_label)\(";
        let constructors = r"(?:Button|Window|RichText|Label|Checkbox|SelectableLabel)::new\(|ComboBox::from_label\(";
        let after_args = r"\.(?:checkbox|toggle_value|selectable_label)\([^,()]+,\s*|\.selectable_value\([^,()]+,[^,()]+,\s*|ComboBox::new\([^,()]+,\s*";
        Regex::new(&format!(
            r#"(?:{one}|{constructors}|{after_args})\s*(?:&?format!\(\s*)?"((?:[^"\\]|\\.)*)""#
        ))
        .unwrap()
    });
    let mut found = Vec::new();
    let mut in_tests = false;
    for (n, line) in code.lines().enumerate() {
        if line.trim_start().starts_with("#[cfg(test)]") {
            in_tests = true;
        }
        if in_tests || line.trim_start().starts_with("//") {
            continue;
        }
        for capture in CALL.captures_iter(line) {
            if is_words(&capture[1]) {
                found.push((n + 1, capture[1].to_owned()));
            }
        }
    }
    found
}

/// Words `kh` shows people — printed (`println!`/`eprintln!`) or as the
/// error it exits with (`bail!`, `anyhow!`, `.context`, `.with_context`) —
/// as literal text beyond placeholders, outside tests: (line, text).
pub fn rust_print_literals(code: &str) -> Vec<(usize, String)> {
    static PRINT: LazyLock<Regex> = LazyLock::new(|| {
        let shown =
            r"e?println!\(|bail!\(|anyhow!\(|\.context\(|\.with_context\(\s*\|\|\s*(?:format!\()?";
        Regex::new(&format!(r#"(?:{shown})\s*"((?:[^"\\]|\\.)*)""#)).unwrap()
    });
    // Placeholders and escapes (`\n`) are not words.
    static PLACEHOLDER: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\{[^}]*\}|\\.").unwrap());
    let product = code.split("#[cfg(test)]").next().unwrap_or(code);
    PRINT
        .captures_iter(product)
        .filter(|c| is_words(&PLACEHOLDER.replace_all(&c[1], " ")))
        .map(|c| {
            let line = product[..c.get(0).map_or(0, |m| m.start())].lines().count();
            (line, c[1].to_owned())
        })
        .collect()
}

/// Text in `html` that no `data-l10n-id` covers: text nodes whose element
/// has none, and `placeholder`/`aria-label`/`title`/`alt` attributes on
/// elements without one.
pub fn html_literals(html: &str) -> Vec<String> {
    static TAG: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"<(/?)([a-zA-Z0-9]+)([^>]*)>").unwrap());
    static ATTRIBUTE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"(?:placeholder|aria-label|title|alt)\s*=\s*"([^"]*)""#).unwrap()
    });
    const VOID: [&str; 8] = ["input", "meta", "link", "br", "hr", "img", "source", "col"];
    // From the root element's content on (the doctype is not text).
    let html = html
        .find("<html")
        .and_then(|at| html[at..].find('>').map(|end| &html[at + end + 1..]))
        .unwrap_or(html);
    let body = html
        .split("<!--")
        .map(|part| part.split_once("-->").map_or(part, |(_, rest)| rest))
        .collect::<String>();
    let mut found = Vec::new();
    // (tag, translated) of the open elements.
    let mut open: Vec<(String, bool)> = Vec::new();
    let mut at = 0;
    for tag in TAG.captures_iter(&body) {
        let whole = tag.get(0).unwrap();
        let text = body[at..whole.start()].trim();
        at = whole.end();
        let covered = open.last().is_some_and(|(name, translated)| {
            *translated || name == "script" || name == "style" || name == "code" || name == "pre"
        });
        if !text.is_empty() && is_words(text) && !covered {
            found.push(format!("text {text:?}"));
        }
        let name = tag[2].to_ascii_lowercase();
        let attributes = &tag[3];
        let translated = attributes.contains("data-l10n-id=");
        if !translated {
            for attribute in ATTRIBUTE.captures_iter(attributes) {
                if is_words(&attribute[1]) {
                    found.push(format!("<{name}> attribute {:?}", &attribute[0]));
                }
            }
        }
        if &tag[1] == "/" {
            if let Some(i) = open.iter().rposition(|(n, _)| *n == name) {
                open.truncate(i);
            }
        } else if !VOID.contains(&name.as_str()) && !attributes.trim_end().ends_with('/') {
            open.push((name, translated));
        }
    }
    found
}

/// Prose in TypeScript `code`: string or template literals holding a
/// sentence or any Japanese (`(line, text)`); a line ending
/// `// not shown` is exempt (messages for developers only).
pub fn typescript_literals(code: &str) -> Vec<(usize, String)> {
    static LITERAL: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#""((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|`((?:[^`\\]|\\.)*)`"#).unwrap()
    });
    // A sentence (starting with a capital: lower-case lists are selectors
    // and class names), a capitalised word (a label: "Draft", "Tissue"; DOM key
    // names excepted), or any Japanese.
    static PROSE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^[^A-Za-z]*[A-Z][A-Za-z']*[,.:;!?]? [A-Za-z]{2,}|^[A-Z][a-z]+[.:…]?$|[\p{Hiragana}\p{Katakana}\p{Han}]")
            .unwrap()
    });
    const DOM_WORDS: [&str; 8] = [
        "Enter",
        "Escape",
        "Tab",
        "Backspace",
        "Delete",
        "Space",
        "Home",
        "End",
    ];
    let mut found = Vec::new();
    for (n, line) in code.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("//")
            || trimmed.starts_with('*')
            || line.trim_end().ends_with("// not shown")
        {
            continue;
        }
        let code_part = line.split(" // ").next().unwrap_or(line);
        for capture in LITERAL.captures_iter(code_part) {
            let text = capture
                .get(1)
                .or(capture.get(2))
                .or(capture.get(3))
                .unwrap()
                .as_str();
            // Interpolations are code, not words.
            let words: String = text
                .split("${")
                .map(|p| p.split_once('}').map_or(p, |(_, rest)| rest))
                .collect::<Vec<_>>()
                .join(" ");
            if PROSE.is_match(&words) && !DOM_WORDS.contains(&words.as_str()) {
                found.push((n + 1, text.to_owned()));
            }
        }
    }
    found
}

/// The texts a finder reported, without their lines.
fn texts(found: Vec<(usize, String)>) -> Vec<String> {
    found.into_iter().map(|(_, text)| text).collect()
}

#[test]
fn each_finder_finds_what_it_looks_for() {
    let rust = r#"
        ui.label("Classes");
        ui.button(format!("Open {name}"));
        ui.checkbox(&mut shown, "Hide label");
        ui.selectable_value(&mut chosen, None, "every object");
        egui::Window::new("Findings");
        ui.button(tr!("viewer-fit")).on_hover_text("K");
        ui.button("1:1").on_hover_text("Ctrl+Z");
        // ui.label("a comment");
    "#;
    let found = texts(rust_widget_literals(rust));
    assert_eq!(
        found,
        [
            "Classes",
            "Open {name}",
            "Hide label",
            "every object",
            "Findings"
        ]
    );

    let printed = r#"
        println!("{}", tr!("cli-doctor-gpu"));
        println!("  {role:<6} {}", device.name);
        println!("\n{}", heading);
        eprintln!(
            "kh: wrote {} objects to {}",
            n, path
        );
        bail!("--fps {}: 1 to 120", fps);
        bail!(tr!("cli-fps-range", fps = fps));
        let x = run().context("joining the call")?;
        let y = f().with_context(|| format!("writing {}", path.display()))?;
        let z = f().context("--audio-in")?;
    "#;
    let found = texts(rust_print_literals(printed));
    assert_eq!(
        found,
        [
            "kh: wrote {} objects to {}",
            "--fps {}: 1 to 120",
            "joining the call",
            "writing {}"
        ]
    );

    let html = r#"<header><h1 data-l10n-id="a">Kakehashi</h1><button>New case</button>
        <input placeholder="Search here"><label><span data-l10n-id="b">Name</span> <input></label>
        <code>kh doctor</code><!-- a comment --></header>"#;
    assert_eq!(
        html_literals(html),
        [
            r#"text "New case""#,
            r#"<input> attribute "placeholder=\"Search here\"""#
        ]
    );

    let ts = r#"
        say("Report saved");
        button.textContent = `Signed by ${name}`;
        li.className = "open-in-viewer";
        row.querySelectorAll("input, textarea, select, button");
        tr.dataset.caseId = row.id;
        say(t("console-saved"));
        throw new Error(`the page has no #${id}`); // not shown
        const label = "未分類";
        if (event.key === "Enter") return;
        const status = { draft: "Draft" };
    "#;
    let found = texts(typescript_literals(ts));
    assert_eq!(
        found,
        ["Report saved", "Signed by ${name}", "未分類", "Draft"]
    );
}

#[test]
fn nothing_shown_to_users_bypasses_the_catalogue() {
    let root = super::repository();
    let mut problems = Vec::new();
    for path in super::product_sources() {
        let relative = path
            .strip_prefix(&root)
            .unwrap_or(&path)
            .display()
            .to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        let at_lines = |found: Vec<(usize, String)>| -> Vec<String> {
            found
                .into_iter()
                .map(|(line, t)| format!("{relative}:{line}: {t:?}"))
                .collect()
        };
        let found: Vec<String> = if relative.starts_with("crates/viewer/") {
            at_lines(rust_widget_literals(&text))
        } else if relative.starts_with("crates/kh/src/") {
            at_lines(rust_print_literals(&text))
        } else if relative.ends_with(".html") {
            html_literals(&text)
                .into_iter()
                .map(|t| format!("{relative}: {t}"))
                .collect()
        } else if relative.ends_with(".ts") {
            at_lines(typescript_literals(&text))
        } else {
            Vec::new()
        };
        problems.extend(found);
    }
    assert!(
        problems.is_empty(),
        "shown to users without the catalogue (put them in crates/i18n/locales):\n{}",
        problems.join("\n")
    );
}
