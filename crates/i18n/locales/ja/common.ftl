# 架け橋のすべての部分が使う言葉

common-product = 架け橋
common-age-years = { $years }歳
common-age-years-months = { $years }歳{ $months }か月
common-sex-female = 女
common-sex-male = 男
common-sex-other = その他
common-sex-unknown = 不明
# Languages are named in themselves, in every language.
common-language-ja = 日本語
common-language-en = English

## 日付：{ $month2 } と { $day2 } は2桁、{ $month } と { $day } はそのまま
common-date-time = { $year }年{ $month }月{ $day }日 { $time }
