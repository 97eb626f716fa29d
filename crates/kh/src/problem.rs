//! What kh says when a command fails, in the reader's language: each
//! cause of the error in turn, the file parsers' and the operating
//! system's in words (`ForPeople`, as the console says them: what kind of
//! failure, about which file), with the library's own detail kept after
//! it for support, in English as it was said.

use kh_console::ForPeople;
use kh_i18n::Catalogue;
use std::error::Error;

/// The error and its causes, outermost first, joined as `{e:#}` would.
pub fn problem_text(error: &anyhow::Error, words: &Catalogue) -> String {
    error
        .chain()
        .map(|cause| cause_text(cause, words))
        .collect::<Vec<_>>()
        .join(": ")
}

fn cause_text(cause: &(dyn Error + 'static), words: &Catalogue) -> String {
    if let Some(slide) = cause.downcast_ref::<kh_slide::SlideError>() {
        return slide.in_words(words);
    }
    if let Some(annotations) = cause.downcast_ref::<kh_annotations::Error>() {
        return annotations.in_words(words);
    }
    if let Some(io) = cause.downcast_ref::<std::io::Error>() {
        return io.in_words(words);
    }
    cause.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kh_i18n::Language;

    #[test]
    fn a_slide_that_is_not_one_is_said_in_both_languages_with_its_detail() {
        let fault = kh_slide::Fault::unsupported("file", "unrecognised format");
        let error = anyhow::Error::new(fault.at("/data/検体.txt")).context("opening");
        let ja = problem_text(&error, &Catalogue::new(Language::Japanese));
        assert_eq!(
            ja,
            "opening: /data/検体.txt：読める形式のスライドではありません（詳細：file: unrecognised format）"
        );
        let en = problem_text(&error, &Catalogue::new(Language::English));
        assert_eq!(
            en,
            "opening: /data/検体.txt: not a slide format Kakehashi reads (file: unrecognised format)"
        );
    }

    #[test]
    fn annotation_and_system_errors_are_said_in_words() {
        let fault = kh_annotations::Fault::corrupt("ring not closed").in_object(12);
        let error = anyhow::Error::new(fault.at("a.geojson"));
        let ja = problem_text(&error, &Catalogue::new(Language::Japanese));
        assert_eq!(
            ja,
            "a.geojson：ファイルが壊れています（詳細：オブジェクト 12：ring not closed）"
        );
        let missing = std::io::Error::from(std::io::ErrorKind::NotFound);
        let error = anyhow::Error::new(missing).context("書き込み中");
        let ja = problem_text(&error, &Catalogue::new(Language::Japanese));
        assert_eq!(ja, "書き込み中: ファイルまたはフォルダーがありません");
    }
}
