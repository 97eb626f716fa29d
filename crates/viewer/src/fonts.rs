//! Japanese in the viewer: egui's built-in fonts have no CJK glyphs (a
//! Japanese slide, class or patient name would show as boxes), so a CJK
//! font of the system is added behind them — Latin text keeps egui's look,
//! kanji and kana come from the CJK font. Shipping none keeps the package
//! small; the .deb recommends one (fonts-noto-cjk or IPA Gothic), and
//! `KH_CJK_FONT` names another file (or `none`).

use std::path::{Path, PathBuf};

/// Where systems keep a Japanese font, most preferred first (a TrueType
/// collection's first face is its Japanese one for Noto Sans CJK).
const CANDIDATES: &[&str] = &[
    // Debian/Ubuntu fonts-noto-cjk; Fedora; Arch
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    // Debian/Ubuntu fonts-ipafont-gothic
    "/usr/share/fonts/opentype/ipafont-gothic/ipagp.ttf",
    "/usr/share/fonts/truetype/fonts-japanese-gothic.ttf",
    // Windows: Yu Gothic UI, Meiryo
    "C:\\Windows\\Fonts\\YuGothM.ttc",
    "C:\\Windows\\Fonts\\meiryo.ttc",
    // macOS: Hiragino Sans
    "/System/Library/Fonts/ヒラギノ角ゴシック W3.ttc",
    "/System/Library/Fonts/Hiragino Sans GB.ttc",
];

/// The CJK font to use: `KH_CJK_FONT` when set (`none`: no font), else
/// the first of [`CANDIDATES`] present.
pub fn cjk_font_path() -> Option<PathBuf> {
    match std::env::var_os("KH_CJK_FONT") {
        Some(v) if v == "none" => None,
        Some(v) => Some(PathBuf::from(v)),
        None => CANDIDATES
            .iter()
            .map(Path::new)
            .find(|p| p.is_file())
            .map(Path::to_path_buf),
    }
}

/// Add the CJK font to `ctx` as the last fallback of both families; says
/// which (or why none) in the log.
pub fn add_cjk_fallback(ctx: &egui::Context) {
    let Some(path) = cjk_font_path() else {
        tracing::info!("no Japanese font found: kanji and kana will show as boxes");
        return;
    };
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(
                "the Japanese font {} could not be read: {e}",
                path.display()
            );
            return;
        }
    };
    let families = [egui::FontFamily::Proportional, egui::FontFamily::Monospace]
        .into_iter()
        .map(|family| egui::epaint::text::InsertFontFamily {
            family,
            priority: egui::epaint::text::FontPriority::Lowest,
        })
        .collect();
    ctx.add_font(egui::epaint::text::FontInsert::new(
        "cjk",
        egui::FontData::from_owned(bytes),
        families,
    ));
    tracing::info!("Japanese text drawn with {}", path.display());
}
