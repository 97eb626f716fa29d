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

## アノテーションの書き出しで近似したもの、省いたもの
common-annotations-loss-asap-holes = 多角形の穴 { $count } 件を省きました（ASAP の多角形には穴がありません）
common-annotations-loss-asap-polylines = 折れ線 { $count } 件を点の集まりとして書きました（ASAP には折れ線がありません）
common-annotations-loss-asap-ellipses = 楕円 { $count } 件を多角形として書きました（ASAP には楕円がありません）
common-annotations-loss-asap-nuclei = 細胞核 { $count } 件を省きました（ASAP には細胞がありません）
common-annotations-loss-asap-measurements = オブジェクト { $count } 件の測定値を省きました（ASAP には測定値がありません）
common-annotations-loss-dicom-holes = 多角形の穴 { $count } 件を省きました（DICOM ANN の多角形には穴がありません）
common-annotations-loss-dicom-split = 複数の部分からなるオブジェクト { $count } 件を、部分ごとに 1 つのアノテーションとして書きました
common-annotations-loss-dicom-nuclei = 細胞核 { $count } 件を省きました（1 つの多角形からなる細胞では 1 つの多角形としてのみ残ります）
common-annotations-loss-dicom-own-style = オブジェクト { $count } 件の個別の名前、色、ロックを省きました（DICOM ANN ではグループごとに保持します）
common-annotations-loss-dicom-degenerate = 点が少なすぎる図形 { $count } 件を飛ばしました
common-annotations-loss-dicom-names-cut = クラス名または測定名 { $count } 件を 64 文字に切り詰めました
common-annotations-loss-dicom-creators = 最初の 1 人以外の作成者 { $count } 人を記録していません（DICOM ANN の作成者は 1 人です）
