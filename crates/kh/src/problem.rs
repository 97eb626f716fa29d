//! What kh says when a command fails, in the reader's language: each
//! cause of the error in turn, the file parsers' and the operating
//! system's in words (what kind of failure, about which file), with the
//! library's own detail kept after it for support, in English as it was
//! said.

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
        let detail = if slide.part.is_empty() {
            slide.reason.clone()
        } else {
            format!("{}: {}", slide.part, slide.reason)
        };
        let kind = match slide.kind {
            kh_slide::ErrorKind::Io => "cli-file-io",
            kh_slide::ErrorKind::Unsupported => "cli-file-not-a-slide",
            kh_slide::ErrorKind::Corrupt => "cli-file-corrupt",
            kh_slide::ErrorKind::Limit => "cli-file-limit",
            kh_slide::ErrorKind::Argument => "cli-file-no-such-part",
        };
        return file_problem(words, &slide.path, kind, &detail);
    }
    if let Some(annotations) = cause.downcast_ref::<kh_annotations::Error>() {
        let detail = match annotations.object {
            Some(index) => words.text_with(
                "cli-file-in-object",
                [
                    ("index", index.to_string().into()),
                    ("reason", annotations.reason.as_str().into()),
                ],
            ),
            None => annotations.reason.clone(),
        };
        let kind = match annotations.kind {
            kh_annotations::ErrorKind::Io => "cli-file-io",
            kh_annotations::ErrorKind::Unsupported => "cli-file-not-annotations",
            kh_annotations::ErrorKind::Corrupt => "cli-file-corrupt",
            kh_annotations::ErrorKind::Limit => "cli-file-limit",
        };
        return file_problem(words, &annotations.path, kind, &detail);
    }
    if let Some(io) = cause.downcast_ref::<std::io::Error>() {
        let kind = match io.kind() {
            std::io::ErrorKind::NotFound => "cli-io-not-found",
            std::io::ErrorKind::PermissionDenied => "cli-io-permission",
            std::io::ErrorKind::AlreadyExists => "cli-io-exists",
            std::io::ErrorKind::StorageFull => "cli-io-full",
            _ => return io.to_string(),
        };
        return words.text(kind);
    }
    cause.to_string()
}

fn file_problem(words: &Catalogue, path: &std::path::Path, kind: &str, detail: &str) -> String {
    words.text_with(
        "cli-file-problem",
        [
            ("path", path.display().to_string().into()),
            ("kind", words.text(kind).into()),
            ("detail", detail.into()),
        ],
    )
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
