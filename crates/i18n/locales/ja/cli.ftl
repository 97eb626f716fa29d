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
