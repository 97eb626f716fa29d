//! A case's report written out as a page to file or print: the patient
//! (name with its reading, ID, age with an infant's months, sex), the
//! request, the findings and the signature, in the reader's language —
//! Japanese dates with the era (和暦) beside the Western year. Into
//! `exports/<case>` beside the case database, atomically; audited.

use crate::analyses::case_folder;
use crate::desk::{CaseDesk, DeskError};
use kh_cases::{Case, CaseId, Report};
use kh_i18n::conventions::{age_text, date_time_text, local_date_time, wareki};
use kh_i18n::{Catalogue, Language};
use serde::Serialize;

/// What exporting the report wrote.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ReportExported {
    pub path: String,
    pub signed: bool,
}

/// Writes case `id`'s report in the language the settings choose.
pub fn export_report(desk: &CaseDesk, id: CaseId) -> Result<ReportExported, DeskError> {
    let settings = desk.settings();
    let language = crate::language::language_of(&settings);
    let era = settings.ui.japanese_era;
    let page = desk.page_of(id)?;
    let report = page
        .report
        .ok_or_else(|| DeskError::Refused(kh_i18n::tr!("console-refused-no-report")))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let html = report_html(&page.case, &report, language, era, now);
    let folder = case_folder(desk, "exports", id);
    std::fs::create_dir_all(&folder).map_err(|e| DeskError::file(&folder, &e))?;
    let state = if report.signed.is_some() {
        "signed"
    } else {
        "draft"
    };
    let file = folder.join(format!("report-{state}-{}.html", language.tag()));
    kh_settings::write_atomically(&file, html.as_bytes())
        .map_err(|e| DeskError::file(&file, &e))?;
    desk.record_export(id, &format!("report ({state}, {})", language.tag()))?;
    Ok(ReportExported {
        path: file.display().to_string(),
        signed: report.signed.is_some(),
    })
}

/// Text for HTML: `&`, `<`, `>` and quotes escaped (quick-xml's escaper,
/// whose rules HTML shares for text and quoted attributes).
fn escaped(text: &str) -> String {
    quick_xml::escape::escape(text).into_owned()
}

/// "2026年12月7日 17:42" for a moment, and (with `era`, in Japanese) the
/// era's date beside it.
fn when(words: &Catalogue, era: bool, unix_ms: i64) -> (String, Option<String>) {
    match local_date_time(unix_ms) {
        Some(at) => (
            date_time_text(words, at),
            (era && words.language() == Language::Japanese)
                .then(|| wareki(at.date()))
                .flatten(),
        ),
        None => (String::new(), None),
    }
}

/// The report page: self-contained (its style inline), in `language`;
/// `era`: the Japanese era's date beside the signature's (和暦).
pub fn report_html(
    case: &Case,
    report: &Report,
    language: Language,
    era: bool,
    now_ms: i64,
) -> String {
    let words = Catalogue::new(language);
    let word = |id: &str| escaped(&words.text(id));
    let patient = &case.details.patient;
    let unknown = word("report-unknown");
    let or_unknown = |text: &str| {
        if text.trim().is_empty() {
            unknown.clone()
        } else {
            escaped(text)
        }
    };
    let age = patient.age_years.map_or_else(
        || unknown.clone(),
        |years| {
            escaped(&age_text(
                &words,
                u32::from(years),
                patient.age_months.map(u32::from),
            ))
        },
    );
    let sex = word(&format!("common-sex-{}", patient.sex.as_str()));
    let rows = [
        ("report-reading", or_unknown(patient.name_reading.reveal())),
        ("report-name", or_unknown(patient.name.reveal())),
        ("report-patient-id", or_unknown(patient.id.reveal())),
        ("report-age", age),
        ("report-sex", sex),
        ("report-specimen", or_unknown(&case.details.specimen)),
        (
            "report-requesting-site",
            or_unknown(&case.details.requesting_site),
        ),
        (
            "report-consulting-site",
            or_unknown(&case.details.consulting_site),
        ),
        (
            "report-question",
            or_unknown(&case.details.clinical_question),
        ),
    ];
    let table: String = rows
        .iter()
        .map(|(id, value)| format!("<tr><th>{}</th><td>{value}</td></tr>\n", word(id)))
        .collect();
    let signature = match &report.signed {
        Some(signed) => {
            let (date, era) = when(&words, era, signed.at.0);
            let said = match era {
                Some(era) => words.text_with(
                    "report-signed-era",
                    [
                        ("name", signed.by.as_str().into()),
                        ("date", date.into()),
                        ("era", era.into()),
                    ],
                ),
                None => words.text_with(
                    "report-signed",
                    [("name", signed.by.as_str().into()), ("date", date.into())],
                ),
            };
            escaped(&said)
        }
        None => word("report-draft"),
    };
    let (exported_at, _) = when(&words, false, now_ms);
    let footer = escaped(&words.text_with(
        "report-exported",
        [
            ("product", words.text("common-product").into()),
            ("date", exported_at.into()),
        ],
    ));
    let title = word("report-title");
    let lang = language.tag();
    let findings = escaped(&report.text);
    let findings_heading = word("report-findings");
    let patient_heading = word("report-patient");
    format!(
        r#"<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-family: "Noto Sans CJK JP", "IPAGothic", "Hiragino Sans", "Yu Gothic", sans-serif;
  max-width: 48em; margin: 2em auto; color: #111; line-height: 1.6; }}
h1 {{ font-size: 1.5em; border-bottom: 2px solid #333; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border: 1px solid #999; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }}
th {{ width: 10em; background: #f2f2f2; font-weight: 600; }}
.findings {{ white-space: pre-wrap; border: 1px solid #999; padding: 0.8em; min-height: 8em; }}
.signature {{ margin-top: 1.5em; font-weight: 600; }}
footer {{ margin-top: 2em; font-size: 0.85em; color: #555; }}
@media print {{ body {{ margin: 0; }} }}
</style>
</head>
<body>
<h1>{title}</h1>
<h2>{patient_heading}</h2>
<table>
{table}</table>
<h2>{findings_heading}</h2>
<div class="findings">{findings}</div>
<p class="signature">{signature}</p>
<footer>{footer}</footer>
</body>
</html>
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use kh_cases::{
        CaseDetails, CaseStatus, Patient, PatientId, PatientName, PatientNameReading, Sex, SignOff,
        UnixMillis,
    };

    fn case() -> Case {
        Case {
            id: CaseId::new_random(),
            status: CaseStatus::Reported,
            details: CaseDetails {
                patient: Patient {
                    name: PatientName::new("山田 花子"),
                    name_reading: PatientNameReading::new("ヤマダ ハナコ"),
                    id: PatientId::new("KG-0042"),
                    age_years: Some(1),
                    age_months: Some(3),
                    sex: Sex::Female,
                },
                clinical_question: "胃生検：腺癌の有無 <確認>".into(),
                specimen: "胃生検".into(),
                requesting_site: "上五島病院".into(),
                consulting_site: "長崎大学病院".into(),
            },
            created_at: UnixMillis(0),
            updated_at: UnixMillis(0),
            revision: 3,
        }
    }

    fn report(signed: bool) -> Report {
        Report {
            case_id: CaseId::new_random(),
            text: "腺癌を認めない。\n& 再検は不要".into(),
            updated_at: UnixMillis(0),
            signed: signed.then(|| SignOff {
                by: "佐藤医師".into(),
                // 2026-12-07 03:00 UTC: the 7th everywhere from UTC−3 to UTC+14.
                at: UnixMillis(1_796_612_400_000),
            }),
        }
    }

    #[test]
    fn a_japanese_report_reads_as_a_japanese_form() {
        let html = report_html(
            &case(),
            &report(true),
            Language::Japanese,
            true,
            1_796_612_400_000,
        );
        for expected in [
            "<html lang=\"ja\">",
            "<h1>コンサルテーション報告書</h1>",
            "<th>フリガナ</th><td>ヤマダ ハナコ</td>",
            "<th>氏名</th><td>山田 花子</td>",
            "<th>年齢</th><td>1歳3か月</td>",
            "<th>性別</th><td>女</td>",
            "署名：佐藤医師　2026年12月7日",
            "（令和8年12月7日）",
            "架け橋 から出力",
        ] {
            assert!(html.contains(expected), "{expected} is not in\n{html}");
        }
        // The era is the site's choice (ui.japanese_era).
        let without = report_html(&case(), &report(true), Language::Japanese, false, 0);
        assert!(!without.contains("令和") && without.contains("署名：佐藤医師　2026年12月7日"));
        // What people typed is text, never markup.
        assert!(html.contains("腺癌の有無 &lt;確認&gt;"));
        assert!(html.contains("&amp; 再検は不要"));
    }

    #[test]
    fn an_english_report_and_a_draft() {
        let html = report_html(&case(), &report(false), Language::English, true, 0);
        for expected in [
            "<html lang=\"en\">",
            "<h1>Consultation report</h1>",
            "<th>Age</th><td>1 y 3 m</td>",
            "<th>Sex</th><td>Female</td>",
            "Draft: not signed",
        ] {
            assert!(html.contains(expected), "{expected} is not in\n{html}");
        }
        assert!(!html.contains("令和"));
    }
}
