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

## ファイルやシステムが断ったことを言葉で。ライブラリの詳細が後に続く
common-file-problem = { $path }：{ $kind }（詳細：{ $detail }）
common-file-in-object = オブジェクト { $index }：{ $reason }
common-file-io = 読み書きできません
common-file-not-a-slide = 読める形式のスライドではありません
common-file-not-annotations = 読める形式のアノテーションではありません
common-file-corrupt = ファイルが壊れています
common-file-limit = 扱える上限を超える大きさを求めています
common-file-no-such-part = そのレベル、タイル、画像はスライドにありません
common-io-not-found = ファイルまたはフォルダーがありません
common-io-permission = アクセスが拒否されました
common-io-exists = すでに存在します
common-io-full = ディスクがいっぱいです
