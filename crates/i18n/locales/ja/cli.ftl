# kh（コマンドライン）が人に向けて表示する言葉

cli-error = kh：エラー：{ $problem }

## kh doctor：この端末の状態（人向け。--json はツール向け）
cli-doctor-title = 架け橋 { $version } — 診断
cli-doctor-gpu = GPU
cli-doctor-no-adapter = アダプターが見つかりません
cli-doctor-viewer-uses = ビューアが使うもの：{ $adapter }
cli-doctor-settings = 設定
cli-doctor-present = あり
cli-doctor-absent = なし
cli-doctor-system-file = システム設定ファイル { $path }（{ $presence }）
cli-doctor-user-file = ユーザー設定ファイル { $path }（{ $presence }）
cli-doctor-locked = （固定）
cli-doctor-signalling = シグナリング
cli-doctor-not-configured = 未設定
cli-doctor-ice = STUN/TURN
cli-doctor-no-ice = ここでは未設定（中継サーバーは通話ごとにシグナリングサーバーから届きます）
cli-doctor-audio = 音声デバイス
cli-doctor-none-found = 見つかりません
cli-doctor-cameras = カメラ
cli-doctor-more-modes = … ほか { $count } 件（`kh camera list`）
cli-doctor-codecs = 映像コーデック
cli-doctor-render-nodes = GPU レンダーノード：{ $nodes }
cli-doctor-render-nodes-none = GPU レンダーノード：なし
cli-doctor-encode = 符号化
cli-doctor-decode = 復号
cli-doctor-hardware = ハードウェア
cli-doctor-software = ソフトウェア
cli-doctor-onnx = AI モデル（ONNX Runtime）
cli-doctor-providers = 実行プロバイダー：{ $providers }
cli-doctor-yes = あり
cli-doctor-no = なし
cli-doctor-not-found = 見つかりません
cli-doctor-database = 症例データベース
cli-doctor-database-line = { $path }：スキーマ { $schema }（このビルドは { $known }）、症例 { $cases } 件、整合性 { $integrity }
cli-doctor-database-not-created = { $path }（未作成）
cli-doctor-warnings = 注意
cli-doctor-no-problems = 問題は見つかりませんでした。
cli-doctor-problems = 問題が { $count } 件あります：
cli-doctor-check-ok = 正常  { $url }（{ $ms } ms）
cli-doctor-check-address = （{ $address }）
cli-doctor-check-mapped = 、相手からは { $mapped } に見えます
cli-doctor-check-fail = 失敗  { $url }：{ $problem }

## kh doctor の所見
cli-doctor-onnx-missing = AI モデルを実行できません：{ $problem }
cli-doctor-settings-problem = 設定：{ $problem }
cli-doctor-no-signalling = signalling.url が未設定のため通話を開始できません（システム設定ファイルで設定してください）
cli-doctor-signalling-problem = シグナリング { $url }：{ $problem }
cli-doctor-no-microphone = 音声入力デバイスがありません：通話では無音が送られます
cli-doctor-camera-problem = devices.camera = { $camera }：{ $problem }
cli-doctor-no-camera = 架け橋が読めるカメラがありません：通話ではテストパターンが送られます
cli-doctor-no-hardware-encoder = ハードウェア映像エンコーダーがありません：通話はソフトウェアで符号化します（小さな CPU では 1080p まで）
cli-doctor-no-hevc-8k = 8K 用のハードウェア HEVC エンコーダーがありません：8K は録画として送られ、ライブでは送られません
cli-doctor-software-gpu = ソフトウェアレンダラーしか見つかりません：スライドは正しく描画されますが遅くなります。GPU のドライバーを入れてください
cli-doctor-database-damaged = 症例データベース { $path }：{ $problem }
cli-doctor-database-newer = 症例データベース { $path } は新しい架け橋で作られています（スキーマ { $schema }、このビルドは { $known } まで）

## そのほかのコマンド
cli-objects-written = kh：{ $count } 件を { $path } に書き出しました
cli-beyond-slide = kh：注意：{ $count } 件がスライドの { $width }×{ $height } ピクセルの外にはみ出しています。このスライドの注釈ですか？
cli-not-dicom-slide = kh：補足：スライドが DICOM ではないため、注釈はレベル 0 のピクセル座標で、独自の検査（study）として書き出されます
cli-warning = kh：注意：{ $problem }
cli-note = kh：補足：{ $note }
cli-no-cameras = カメラがありません（撮影できる /dev/video* がありません）
cli-camera-opened = kh camera：{ $name }（{ $path }）{ $mode }
cli-camera-captured = kh camera：{ $seconds } 秒で { $frames } フレーム（{ $fps } fps）→ { $path }；取り込み { $captured }、未読のまま置き換え { $replaced }
cli-doctor-source = { $kind ->
    [default] 既定値
    [system] システム { $path }
    [user] ユーザー { $path }
   *[environment] 環境変数 { $variable }
}

## kh が断ったこと、失敗したときにしていたこと（ライブラリの詳細は
## コロンの後に、言われたまま続く）
cli-analyze-out-not-geojson = { $path }：--out には .geojson ファイルを指定してください
cli-analyze-model = --model { $problem }
cli-annotations-output-format = { $path }：出力形式は拡張子で決まります。.geojson か .json（QuPath GeoJSON）、.xml（ASAP XML）、.dcm（DICOM ANN）を指定してください
cli-converting = { $path } を変換中
cli-writing = { $path } を書き込み中
cli-drawing = { $path } を描画中
cli-creating-file-in = { $dir } にファイルを作成中
cli-starting-runtime = 非同期ランタイムを起動中
cli-send-not-readable = --send { $file }：testsrc、none、または読める動画ファイルを指定してください
cli-codec-receive-only = --codec { $codec }：受信とデコードはできますが、送信はできません（実時間のエンコーダーがありません）。vp8、vp9、h264、h265 のいずれかで送ってください
cli-codec-unknown = --codec { $codec }：vp8、vp9、h264、h265 のいずれかを指定してください
cli-fps-range = --fps { $fps }：1 から 120 までの値にしてください
cli-ice-failed-after = --ice-failed-after：正の秒数を指定してください
cli-echo-cancellation = エコー除去
cli-joining-call = 通話に参加中
cli-wrong-room = --room { $room }：このトークンはルーム「{ $token_room }」のものです
cli-frames-zero = --frames 0：1 フレーム以上を指定してください
cli-camera-no-picture = { $path }：{ $seconds } 秒間映像が届きません（ここまでに { $captured } フレーム）
cli-size-expected = { $flag } 「{ $size }」：幅x高さ の形で指定してください
cli-size-at-least-one = --width と --height は 1 以上にしてください
cli-tile-missing = レベル { $level } のタイル（{ $col }, { $row }）がありません
cli-rotation = --rotation { $degrees } は 90 の倍数ではありません
cli-outside = { $flag } { $value } は { $low } から { $high } の範囲外です
cli-heatmap-range-alone = --heatmap-range には --heatmap が必要です
cli-heatmap-nothing = --heatmap 「{ $name }」：この測定値を持つオブジェクトがアノテーションファイルにありません
cli-gpu-errors = GPU がエラーを報告しました：{ $errors }
cli-waiting-for-gpu = GPU を待っている間に失敗しました：{ $problem }

