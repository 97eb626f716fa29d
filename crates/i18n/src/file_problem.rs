//! The sentence for a file that failed, as every part of Kakehashi says
//! it: which file, what kind of failure in the reader's words, and the
//! library's own detail (English, for support) after it. The crates that
//! read files map their error kinds onto [`FileProblem`]; the words stay
//! here, once.

use crate::Catalogue;
use std::path::Path;

/// What kind of failure, as people are told it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileProblem {
    /// The system refused or failed a read or a write.
    Unreadable,
    NotASlide,
    NotAnnotations,
    Damaged,
    /// The file asks for more than the program will hold.
    TooLarge,
    /// A level, tile or image the slide does not have.
    NoSuchPart,
}

impl FileProblem {
    fn id(self) -> &'static str {
        match self {
            FileProblem::Unreadable => "common-file-io",
            FileProblem::NotASlide => "common-file-not-a-slide",
            FileProblem::NotAnnotations => "common-file-not-annotations",
            FileProblem::Damaged => "common-file-corrupt",
            FileProblem::TooLarge => "common-file-limit",
            FileProblem::NoSuchPart => "common-file-no-such-part",
        }
    }
}

impl Catalogue {
    /// "{path}: {what kind of failure} ({detail})" in this language.
    pub fn file_problem(&self, path: &Path, problem: FileProblem, detail: &str) -> String {
        self.text_with(
            "common-file-problem",
            [
                ("path", path.display().to_string().into()),
                ("kind", self.text(problem.id()).into()),
                ("detail", detail.into()),
            ],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Language;

    #[test]
    fn a_file_problem_reads_in_both_languages_with_its_detail() {
        let path = Path::new("/data/胃生検.svs");
        let detail = "IFD 3: tile offsets beyond the file";
        assert_eq!(
            Catalogue::new(Language::Japanese).file_problem(path, FileProblem::Damaged, detail),
            "/data/胃生検.svs：ファイルが壊れています（詳細：IFD 3: tile offsets beyond the file）"
        );
        assert_eq!(
            Catalogue::new(Language::English).file_problem(path, FileProblem::Damaged, detail),
            "/data/胃生検.svs: the file is damaged (IFD 3: tile offsets beyond the file)"
        );
    }
}
