//! The console in Japanese, driven like a user through WebDriver in a
//! private Xvfb: the empty worklist says what to do, a case typed in
//! kanji and kana (name, フリガナ, an infant's months) is listed with its
//! reading, moved to consultation, reported, signed and exported as a
//! Japanese report with the era beside the year; the audit trail speaks
//! Japanese; switching the language in the settings changes every word at
//! once; axe-core finds no serious accessibility problem in either theme;
//! an input method (IBus with Anthy) types kanji into the page's fields;
//! screenshots at 1366×768, 1920×1080 and 3840×2160 (HiDPI) are kept in
//! target/tmp/console_japanese for review.

mod app;
mod webdriver;

use app::{APP, WAIT, start_driver_with, wait_until_ready};
use kh_testkit::x11::Xvfb;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use webdriver::Session;

fn text_of(css: &str) -> String {
    format!("return document.querySelector('{css}').textContent;")
}

fn shots() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("console_japanese");
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    dir
}

/// A private home for one run of the application, whose user chose
/// Japanese in the settings (the setting, not the environment: the
/// language can then be switched from the page).
fn home() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tmp");
    for sub in ["run", "home"] {
        std::fs::create_dir_all(dir.path().join(sub)).expect("dir");
    }
    std::fs::write(dir.path().join("user.toml"), "[ui]\nlanguage = \"ja\"\n")
        .expect("the user's settings");
    dir
}

/// Types `text` into the field as a user does, and checks it arrived whole
/// (kanji and kana through WebKit's key events).
fn type_into(app: &Session, css: &str, text: &str) {
    app.find(css, WAIT).type_text(text);
    let value = app.script(
        &format!("return document.querySelector('{css}').value;"),
        json!([]),
    )["ok"]
        .clone();
    assert_eq!(value, text, "{css} holds what was typed");
}

/// Clicks the button whose text is `label` (the page's words, not ids:
/// what a Japanese user sees).
fn click_button(app: &Session, label: &str) {
    app.wait_for(
        &format!("a button {label}"),
        &format!(
            "const b = [...document.querySelectorAll('button')].find(b => b.textContent === {label:?} && !b.hidden); \
             if (b) {{ b.click(); return true; }} return false;"
        ),
        WAIT,
        |v| v == true,
    );
}

/// axe-core (the version in ui/package.json) over the page: the serious
/// and critical violations, as "rule: what (n nodes)".
fn accessibility_problems(app: &Session) -> Vec<String> {
    let axe = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/node_modules/axe-core/axe.min.js");
    let source = std::fs::read_to_string(&axe).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (`cargo xtask setup` or `npm ci` in ui/ installs it)",
            axe.display()
        )
    });
    let answer = app.script(
        &format!(
            "{source}\n;const r = await axe.run(document, {{ resultTypes: ['violations'] }});\
             return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')\
               .map(v => `${{v.id}}: ${{v.help}} (${{v.nodes.length}} nodes: ${{v.nodes.map(n => n.target.join(' ')).slice(0, 4).join(', ')}})`);"
        ),
        json!([]),
    );
    assert!(answer.get("error").is_none(), "axe-core: {answer}");
    answer["ok"]
        .as_array()
        .map(|all| {
            all.iter()
                .map(|v| v.as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn set_theme(app: &Session, theme: &str) {
    app.script(
        "const s = document.getElementById('theme-setting'); s.value = arguments[0]; \
         s.dispatchEvent(new Event('change'));",
        json!([theme]),
    );
    app.wait_for(
        "the theme applied",
        "return document.documentElement.dataset.theme;",
        WAIT,
        |v| v == theme,
    );
    // Saving it opened the settings dialog: closed, as a user would.
    app.wait_for(
        "the settings dialog",
        "const d = document.getElementById('settings'); if (!d.open) return false; d.close(); return true;",
        WAIT,
        |v| v == true,
    );
}

/// The window at `width` × `height`, once the page has been laid out and
/// painted at its new size.
fn resize(app: &Session, width: u32, height: u32) {
    let before = app.script("return window.innerWidth;", json!([]))["ok"].clone();
    app.set_window_size(width, height);
    app.wait_for(
        "the page at its new size",
        "return window.innerWidth;",
        WAIT,
        |v| *v != before,
    );
    app.script(
        "await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));",
        json!([]),
    );
}

fn keep_screenshot(app: &Session, name: &str) {
    let png = app.screenshot();
    assert!(png.starts_with(b"\x89PNG"), "{name}: not a PNG");
    std::fs::write(shots().join(format!("{name}.png")), png).expect("screenshot");
}

#[test]
fn the_console_works_in_japanese_from_worklist_to_signed_report() {
    let dir = home();
    let x = Xvfb::start();
    let (driver, port) = start_driver_with(&x, dir.path(), &dir.path().join("app.log"), &[]);
    let app = Session::start(port, Path::new(APP));

    // A first start: the worklist says, in Japanese, what to do.
    app.wait_for(
        "the empty worklist's words",
        &text_of("#worklist-empty"),
        WAIT,
        |v| v == "症例はまだありません。「新規症例」で作成してください。",
    );
    assert_eq!(
        app.script("return document.documentElement.lang;", json!([]))["ok"],
        "ja"
    );
    assert_eq!(
        app.script(&text_of("#new-case"), json!([]))["ok"],
        "新規症例"
    );
    assert_eq!(
        app.script(
            "return document.getElementById('search').placeholder;",
            json!([])
        )["ok"],
        "患者名、フリガナ、ID、依頼内容、施設で検索"
    );
    assert_eq!(
        app.script(&text_of("#no-case"), json!([]))["ok"]
            .as_str()
            .map(str::trim),
        Some("ワークリストから症例を選ぶか、「新規症例」で作成してください。")
    );
    // The window's own title, as the desktop's task bar shows it.
    let titled = x.run("xdotool", &["search", "--sync", "--name", "^架け橋$"]);
    assert!(!titled.trim().is_empty(), "no window titled 架け橋");
    // Japanese is drawn with glyphs, not boxes: 架け橋 in the page's own
    // font, on a canvas, against characters no font has (drawn as the
    // missing-glyph box).
    let glyphs = app.script(
        "const font = getComputedStyle(document.body).font; \
         const draw = (text) => { const c = document.createElement('canvas'); c.width = 160; c.height = 48; \
           const g = c.getContext('2d'); g.font = font.replace(/\\d+px/, '28px'); g.fillStyle = '#000'; \
           g.fillText(text, 4, 36); return g.getImageData(0, 0, 160, 48).data; }; \
         const word = draw('架け橋'), boxes = draw('\\u{10FFFD}\\u{10FFFD}\\u{10FFFD}'); \
         let ink = 0, differ = 0; \
         for (let i = 3; i < word.length; i += 4) { if (word[i] > 0) ink++; if (Math.abs(word[i] - boxes[i]) > 60) differ++; } \
         return { ink, differ, boxes: boxes.filter((v, i) => i % 4 === 3 && v > 0).length };",
        json!([]),
    )["ok"]
        .clone();
    let (ink, differ) = (
        glyphs["ink"].as_u64().unwrap_or(0),
        glyphs["differ"].as_u64().unwrap_or(0),
    );
    assert!(
        ink > 200 && differ * 3 > ink,
        "架け橋 draws like missing glyphs: {glyphs}"
    );
    resize(&app, 1366, 768);
    keep_screenshot(&app, "1366x768-empty");

    // A case typed in Japanese: kanji name, katakana reading, an infant.
    wait_until_ready(&app);
    app.find("#new-case", WAIT).click();
    type_into(&app, "#patient-name", "山田 花子");
    type_into(&app, "#patient-reading", "ヤマダ ハナコ");
    type_into(&app, "#patient-id", "KG-0042");
    type_into(&app, "#patient-age", "1");
    type_into(&app, "#patient-age-months", "3");
    app.script(
        "document.getElementById('patient-sex').value = 'female';",
        json!([]),
    );
    type_into(&app, "#question", "胃生検：腺癌の有無");
    type_into(&app, "#specimen", "胃生検");
    type_into(&app, "#requesting-site", "上五島病院");
    app.find("#save-case", WAIT).click();
    app.wait_for("saved", &text_of("#message"), WAIT, |v| v == "保存しました");
    app.wait_for(
        "the case in the worklist, with its reading",
        &text_of("#cases"),
        WAIT,
        |v| {
            v.as_str().is_some_and(|t| {
                t.contains("山田 花子（ヤマダ ハナコ） (KG-0042)") && t.contains("下書き")
            })
        },
    );
    // The reading finds it.
    type_into(&app, "#search", "ヤマダ");
    app.wait_for("found by its reading", &text_of("#cases"), WAIT, |v| {
        v.as_str().is_some_and(|t| t.contains("山田 花子"))
    });
    assert_eq!(
        app.script(&text_of("#patient-sex option:checked"), json!([]))["ok"],
        "女"
    );

    // Through consultation to a signed report, by the buttons' Japanese.
    click_button(&app, "コンサルテーションを依頼");
    app.wait_for("requested", &text_of("#case-status"), WAIT, |v| {
        v == "依頼済み"
    });
    click_button(&app, "症例を引き受ける");
    app.wait_for("in consultation", &text_of("#case-status"), WAIT, |v| {
        v == "コンサルテーション中"
    });
    type_into(&app, "#report-text", "腺癌を認めない。再検は不要。");
    app.find("#save-report", WAIT).click();
    app.wait_for("the draft saved", &text_of("#message"), WAIT, |v| {
        v == "報告書を保存しました"
    });
    app.script("window.confirm = () => true;", json!([]));
    app.find("#sign-report", WAIT).click();
    app.wait_for("signed", &text_of("#report-signed"), WAIT, |v| {
        v.as_str().is_some_and(|t| t.starts_with("署名："))
    });
    app.wait_for("reported", &text_of("#case-status"), WAIT, |v| {
        v == "報告済み"
    });
    // What the store refuses reads in Japanese too.
    let refused = app.script(
        "const id = document.querySelector('#cases tr.selected').dataset.caseId; \
         try { await window.__TAURI__.core.invoke('set_status', { id, status: 'draft' }); return null; } \
         catch (e) { return String(e); }",
        json!([]),
    )["ok"]
        .clone();
    assert_eq!(refused, "症例を「報告済み」から「下書き」にはできません。");
    resize(&app, 1920, 1080);
    keep_screenshot(&app, "1920x1080-light");

    // The report exported in Japanese, with the era beside the year.
    app.find("#export-report", WAIT).click();
    let said = app.wait_for("exported", &text_of("#message"), WAIT, |v| {
        v.as_str().is_some_and(|t| t.starts_with("報告書を "))
    });
    let path = said
        .as_str()
        .and_then(|t| t.strip_prefix("報告書を "))
        .and_then(|t| t.strip_suffix(" に書き出しました"))
        .expect("the report's path in the message")
        .to_owned();
    let report = std::fs::read_to_string(&path).expect("the exported report");
    for expected in [
        "<html lang=\"ja\">",
        "<h1>コンサルテーション報告書</h1>",
        "<th>フリガナ</th><td>ヤマダ ハナコ</td>",
        "<th>年齢</th><td>1歳3か月</td>",
        "<th>性別</th><td>女</td>",
        "腺癌を認めない。再検は不要。",
        "（令和",
    ] {
        assert!(report.contains(expected), "{expected} is not in {path}");
    }

    // The audit trail in Japanese.
    app.wait_for("the audit trail", &text_of("#audit"), WAIT, |v| {
        v.as_str().is_some_and(|t| {
            t.contains("症例を作成") && t.contains("報告書に署名") && t.contains("書き出し")
        })
    });

    // Accessibility, in both themes.
    for theme in ["light", "dark"] {
        set_theme(&app, theme);
        let problems = accessibility_problems(&app);
        assert!(
            problems.is_empty(),
            "serious accessibility problems in the {theme} theme:\n{}",
            problems.join("\n")
        );
    }
    keep_screenshot(&app, "1920x1080-dark");
    set_theme(&app, "light");

    // Switching the language changes every word at once, no restart.
    app.script(
        "const s = document.getElementById('language-setting'); s.value = 'en'; \
         s.dispatchEvent(new Event('change'));",
        json!([]),
    );
    app.wait_for("English", &text_of("#new-case"), WAIT, |v| v == "New case");
    assert_eq!(
        app.script(&text_of("#case-status"), json!([]))["ok"],
        "Reported"
    );
    assert_eq!(
        app.script("return document.documentElement.lang;", json!([]))["ok"],
        "en"
    );
    app.end();
    drop(driver);
}

/// 3840×2160 at a scale of 2, as a 4K screen is used: the page at
/// 1920×1080 CSS pixels, drawn sharp.
#[test]
fn the_console_on_a_4k_screen() {
    let dir = home();
    let x = Xvfb::start_sized(3840, 2160);
    let (driver, port) = start_driver_with(
        &x,
        dir.path(),
        &dir.path().join("app.log"),
        &[("GDK_SCALE", "2")],
    );
    let app = Session::start(port, Path::new(APP));
    app.wait_for("the worklist", &text_of("#new-case"), WAIT, |v| {
        v == "新規症例"
    });
    resize(&app, 1920, 1080);
    let ratio: Value = app.script("return window.devicePixelRatio;", json!([]))["ok"].clone();
    keep_screenshot(&app, "3840x2160-hidpi");
    assert_eq!(ratio.as_f64(), Some(2.0), "the page is drawn at scale 2");
    app.end();
    drop(driver);
}

/// Japanese typed through an input method — IBus with Anthy, as on a
/// clinic's desktop — reaches the page's fields: the search field takes
/// 日本, converted from the romaji "nihon" (preedit, Space to convert,
/// Enter to commit), through WebKitGTK's GTK input-method module and real
/// X key events. Without the input method it would hold "nihon".
#[test]
fn an_input_method_types_kanji_into_the_console() {
    let dir = home();
    let x = Xvfb::start();
    let ime = kh_testkit::ime::InputMethod::start(&x);
    let env = ime.client_env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (driver, port) = start_driver_with(&x, dir.path(), &dir.path().join("app.log"), &env);
    let app = Session::start(port, Path::new(APP));
    wait_until_ready(&app);
    app.find("#search", WAIT).click();
    // The keyboard goes to the console's window (by its class: its title
    // is in the reader's language), as a user's click gives it.
    let windows = x.run(
        "xdotool",
        &["search", "--onlyvisible", "--class", "^kakehashi$"],
    );
    let window = windows.lines().next().expect("the console's window");
    x.run("xdotool", &["windowfocus", "--sync", window]);
    ime.switch_to_japanese();
    x.run("xdotool", &["type", "--delay", "60", "nihon"]);
    for key in ["space", "Return"] {
        x.run("xdotool", &["key", "--delay", "200", key]);
    }
    app.wait_for(
        "the search field to hold what the input method committed",
        "return document.getElementById('search').value;",
        WAIT,
        |v| v == "日本",
    );
    app.end();
    drop(driver);
}
