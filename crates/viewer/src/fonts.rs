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

#[cfg(test)]
mod tests {
    /// Every character the viewer's words use that is not Japanese (kanji
    /// and kana come from the system's CJK font, checked under Xvfb in
    /// `viewer_japanese.rs`) has a glyph in egui's own fonts: arrows,
    /// check marks, units. egui 0.37 left its emoji fonts out by default,
    /// and "Next ▶" drew a box.
    #[test]
    fn every_symbol_the_viewer_says_has_a_glyph() {
        let ctx = egui::Context::default();
        let mut output = ctx.run_ui(egui::RawInput::default(), |_| {});
        // No renderer here to take the font atlas.
        output.textures_delta.clear();
        let is_japanese =
            |c: char| matches!(u32::from(c), 0x3000..=0x30ff | 0x3400..=0x9fff | 0xff00..=0xffef);
        let mut missing = Vec::new();
        for file in kh_i18n::FILES
            .iter()
            .filter(|f| f.name == "viewer" || f.name == "common")
        {
            for language in kh_i18n::Language::ALL {
                for line in file.text(language).lines().filter(|l| !l.starts_with('#')) {
                    for c in line.chars().filter(|c| !c.is_ascii() && !is_japanese(*c)) {
                        let font = egui::FontId::proportional(14.0);
                        if !ctx.fonts_mut(|f| f.has_glyph(&font, c)) {
                            missing.push(format!("{c} (U+{:04X}) in {}", u32::from(c), file.name));
                        }
                    }
                }
            }
        }
        // And the symbols the viewer's code writes itself (µm, °, ✔, ✖).
        let mut sources = vec![std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")];
        while let Some(path) = sources.pop() {
            if path.is_dir() {
                sources.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
                continue;
            }
            let code = std::fs::read_to_string(&path).unwrap_or_default();
            let product = code.split("#[cfg(test)]").next().unwrap_or_default();
            for line in product
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
            {
                // Only what is inside string literals.
                for part in line.split('"').skip(1).step_by(2) {
                    for c in part.chars().filter(|c| !c.is_ascii() && !is_japanese(*c)) {
                        let font = egui::FontId::proportional(14.0);
                        if !ctx.fonts_mut(|f| f.has_glyph(&font, c)) {
                            missing.push(format!(
                                "{c} (U+{:04X}) in {}",
                                u32::from(c),
                                path.display()
                            ));
                        }
                    }
                }
            }
        }
        missing.sort();
        missing.dedup();
        assert!(missing.is_empty(), "drawn as boxes: {missing:?}");
    }
}
