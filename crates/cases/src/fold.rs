//! Japanese text as people search and sort it. A name is typed in many
//! forms: its reading in katakana or hiragana (ヤマダ, やまだ), half-width
//! katakana from older hospital systems (ﾔﾏﾀﾞ), Latin letters full-width
//! (ＹＡＭＡＤＡ) or in either case. Japanese patient searches treat them
//! as one; so does the worklist, comparing the search form of both sides:
//! NFKC (half-width kana to full-width with their voiced marks composed,
//! full-width Latin and digits to ASCII), hiragana to katakana, lower case.

use rusqlite::Connection;
use rusqlite::functions::FunctionFlags;
use unicode_normalization::UnicodeNormalization;

/// The form `text` is searched and sorted in.
pub fn search_form(text: &str) -> String {
    text.nfkc()
        .map(katakana_from_hiragana)
        .flat_map(char::to_lowercase)
        .collect()
}

/// ぁ..ゖ and the iteration marks ゝゞ sit 0x60 below their katakana.
fn katakana_from_hiragana(c: char) -> char {
    match c {
        'ぁ'..='ゖ' | 'ゝ' | 'ゞ' => char::from_u32(u32::from(c) + 0x60).unwrap_or(c),
        _ => c,
    }
}

/// Makes `kh_search_form(text)` callable in this connection's SQL.
pub(crate) fn register(connection: &Connection) -> rusqlite::Result<()> {
    connection.create_scalar_function(
        "kh_search_form",
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |context| {
            let text: String = context.get(0)?;
            Ok(search_form(&text))
        },
    )
}

#[cfg(test)]
mod tests {
    use super::search_form;

    #[test]
    fn the_forms_a_name_is_typed_in_search_alike() {
        let reading = search_form("ヤマダ タロウ");
        for typed in ["やまだ たろう", "ﾔﾏﾀﾞ ﾀﾛｳ", "ヤマダ　タロウ"] {
            assert_eq!(search_form(typed), reading, "{typed}");
        }
        assert_eq!(search_form("ＹＡＭＡＤＡ Taro"), "yamada taro");
        assert_eq!(search_form("ＩＤ－００１２"), "id-0012");
        // Kanji stay as they are.
        assert_eq!(search_form("山田 太郎"), "山田 太郎");
    }
}
