# Words every part of Kakehashi shares.

common-product = Kakehashi
common-age-years = { $years } y
common-age-years-months = { $years } y { $months } m
common-sex-female = Female
common-sex-male = Male
common-sex-other = Other
common-sex-unknown = Unknown
# Languages are named in themselves, in every language.
common-language-ja = 日本語
common-language-en = English

## Dates: { $month2 } and { $day2 } are two digits, { $month } and { $day } as they are
common-date-time = { $year }-{ $month2 }-{ $day2 } { $time }
