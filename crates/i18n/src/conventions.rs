//! How Japanese forms write dates, eras (和暦) and ages, and the English
//! forms beside them. Words come from the catalogue; the order and the
//! numbers from here.

use crate::Catalogue;
#[cfg(test)]
use crate::Language;
use jiff::civil::Date;

/// The eras since the Meiji restoration, newest first: name and first day.
const ERAS: &[(&str, i16, i8, i8)] = &[
    ("令和", 2019, 5, 1),
    ("平成", 1989, 1, 8),
    ("昭和", 1926, 12, 25),
    ("大正", 1912, 7, 30),
    ("明治", 1868, 10, 23),
];

/// The date in the Japanese calendar, "令和8年12月7日" (the first year of
/// an era is 元年), or `None` before Meiji.
pub fn wareki(date: Date) -> Option<String> {
    let (name, first_year, ..) = ERAS
        .iter()
        .find(|(_, y, m, d)| Date::new(*y, *m, *d).is_ok_and(|start| date >= start))?;
    let year = date.year() - first_year + 1;
    let year = if year == 1 {
        "元".to_owned()
    } else {
        year.to_string()
    };
    Some(format!("{name}{year}年{}月{}日", date.month(), date.day()))
}

/// "2026年12月7日 17:42" or "2026-12-07 17:42": the catalogue's
/// `common-date-time`, which the console's page writes dates with too
/// (24-hour in both, as clinical records are).
pub fn date_time_text(words: &Catalogue, at: jiff::civil::DateTime) -> String {
    let two = |n: i8| format!("{n:02}");
    words.text_with(
        "common-date-time",
        [
            ("year", at.year().to_string().into()),
            ("month", at.month().to_string().into()),
            ("month2", two(at.month()).into()),
            ("day", at.day().to_string().into()),
            ("day2", two(at.day()).into()),
            (
                "time",
                format!("{:02}:{:02}", at.hour(), at.minute()).into(),
            ),
        ],
    )
}

/// A moment (milliseconds since the Unix epoch) on this machine's clock.
pub fn local_date_time(unix_ms: i64) -> Option<jiff::civil::DateTime> {
    let at = jiff::Timestamp::from_millisecond(unix_ms).ok()?;
    Some(at.to_zoned(jiff::tz::TimeZone::system()).datetime())
}

/// An RFC 3339 moment ("2026-12-07T09:05:00Z", as annotation files
/// carry them) on this machine's clock in `words`' way; the text itself
/// when it is not one.
pub fn moment_text(words: &Catalogue, rfc3339: &str) -> String {
    match rfc3339.parse::<jiff::Timestamp>() {
        Ok(at) => date_time_text(words, at.to_zoned(jiff::tz::TimeZone::system()).datetime()),
        Err(_) => rfc3339.to_owned(),
    }
}

/// A patient's age as the forms write it: years, with months below three
/// years (infants' ages are read in months) — "1歳3か月", "1 y 3 m".
pub fn age_text(catalogue: &Catalogue, years: u32, months: Option<u32>) -> String {
    match months {
        Some(months) if years < 3 => catalogue.text_with(
            "common-age-years-months",
            [("years", years.into()), ("months", months.into())],
        ),
        _ => catalogue.text_with("common-age-years", [("years", years.into())]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn eras_begin_on_their_first_day() {
        for (day, expected) in [
            (date(2026, 12, 7), "令和8年12月7日"),
            (date(2019, 5, 1), "令和元年5月1日"),
            (date(2019, 4, 30), "平成31年4月30日"),
            (date(1989, 1, 8), "平成元年1月8日"),
            (date(1989, 1, 7), "昭和64年1月7日"),
            (date(1926, 12, 25), "昭和元年12月25日"),
            (date(1912, 7, 30), "大正元年7月30日"),
        ] {
            assert_eq!(wareki(day).as_deref(), Some(expected), "{day}");
        }
        assert_eq!(wareki(date(1868, 1, 1)), None);
    }

    #[test]
    fn dates_in_each_language() {
        let at = date(2026, 2, 7).at(9, 5, 0, 0);
        let ja = Catalogue::new(Language::Japanese);
        let en = Catalogue::new(Language::English);
        assert_eq!(date_time_text(&ja, at), "2026年2月7日 09:05");
        assert_eq!(date_time_text(&en, at), "2026-02-07 09:05");
    }

    #[test]
    fn moments_from_files_read_as_dates() {
        let text = moment_text(&Catalogue::new(Language::Japanese), "2026-12-07T12:00:00Z");
        // The 7th at noon UTC is the 7th or 8th somewhere: the format, not
        // the zone, is what is checked.
        assert!(text.starts_with("2026年12月"), "{text}");
        assert!(text.ends_with(":00"), "{text}");
        let en = Catalogue::new(Language::English);
        assert_eq!(moment_text(&en, "yesterday"), "yesterday");
    }

    #[test]
    fn infants_ages_carry_months() {
        let ja = Catalogue::new(Language::Japanese);
        let en = Catalogue::new(Language::English);
        assert_eq!(age_text(&ja, 1, Some(3)), "1歳3か月");
        assert_eq!(age_text(&ja, 67, Some(3)), "67歳");
        assert_eq!(age_text(&en, 0, Some(9)), "0 y 9 m");
        assert_eq!(age_text(&en, 42, None), "42 y");
    }
}
