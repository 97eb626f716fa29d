# コンソール画面：ワークリスト、症例、添付、通話、報告書、設定

console-title = 架け橋
console-new-case = 新規症例
console-settings = 設定
console-skip-to-worklist = ワークリストへ移動

## 起動時の問題
console-startup-problem =
    .aria-label = 起動時の問題
console-cannot-start = 架け橋を起動できません
console-startup-fix = 上に示したファイルを修正してから、架け橋をもう一度起動してください（/etc/kakehashi/config.toml は情報システム部門が管理しています。ご自身の設定はユーザーファイルにあります）。`kh doctor` で各設定とその出どころを確認できます。
console-not-started = 起動していません

## ワークリスト
console-worklist =
    .aria-label = ワークリスト
console-search =
    .placeholder = 患者名、フリガナ、ID、依頼内容、施設で検索
    .aria-label = 検索
console-status-filter =
    .aria-label = 状態
console-all-statuses = すべての状態
console-sort =
    .aria-label = 並べ替え
console-sort-updated = 更新日時の新しい順
console-sort-created = 作成日時の新しい順
console-sort-status = 状態
console-sort-patient-name = 患者名
console-column-patient = 患者
console-column-question = 依頼内容
console-column-status = 状態
console-column-changed = 更新日時
console-no-match = 条件に合う症例はありません。
console-no-cases = 症例はまだありません。「新規症例」で作成してください。

## 症例の状態と遷移
console-status-draft = 下書き
console-status-requested = 依頼済み
console-status-in-consultation = コンサルテーション中
console-status-reported = 報告済み
console-status-closed = 完了
console-move-request = コンサルテーションを依頼
console-move-withdraw = 依頼を取り下げる
console-move-take = 症例を引き受ける
console-move-close = 症例を完了する
console-move-to = 「{ $status ->
    [draft] 下書き
    [requested] 依頼済み
    [in_consultation] コンサルテーション中
    [reported] 報告済み
   *[closed] 完了
}」にする

## 症例の入力欄
console-case =
    .aria-label = 症例
console-no-case-open = ワークリストから症例を選ぶか、「新規症例」で作成してください。
console-case-untitled = 症例
console-patient = 患者
console-patient-name = 氏名
console-patient-reading = フリガナ
console-patient-name-field =
    .placeholder = 姓 名（例：山田 太郎）
console-patient-reading-field =
    .placeholder = カタカナ（例：ヤマダ タロウ）
console-patient-id = 患者ID
console-patient-age = 年齢（歳）
console-patient-age-months = か月
console-patient-sex = 性別
console-question = 依頼内容（臨床的な問い）
console-specimen = 検体
console-requesting-site = 依頼施設
console-consulting-site = コンサルト先施設
console-save = 保存
console-saved = 保存しました
console-problem-age = 年齢は 0〜150 の整数（歳）で入力してください。
console-problem-months = 月齢は 0〜11 の整数で入力してください。
console-problem-patient = 患者の氏名か ID を入力してください。
console-problem-too-long = 1024 バイト以内で入力してください。

## 添付
console-attachments-heading = 添付ファイル
console-attachments =
    .aria-label = 添付ファイル
console-analyses-running =
    .aria-label = 実行中の解析
console-drop-zone = スライド、写真、動画、注釈ファイルをここにドロップするか、
console-choose-files = ファイルを選択…
console-attach-title = ファイルを添付
console-attachment-kind = { $kind ->
    [slide] スライド
    [photo] 写真
    [video] 動画
   *[annotations] 注釈
}
console-attachment-line = { $kind }：{ $name }（{ $size }）
console-open-in-viewer = ビューアで開く
console-opening-in-viewer = { $name } をビューアで開いています
console-export-geojson = GeoJSON で書き出す
console-export-dicom = DICOM で書き出す
console-remove = 削除
console-open-case-first = ファイルを添付する前に症例を開いてください。
console-exported = { $objects } 件を { $path } に書き出しました
console-exported-with-notes = { $objects } 件を { $path } に書き出しました（{ $notes }）

## 解析
console-analysis-of =
    .aria-label = { $name } の解析
console-analyze = 解析
console-analysis-on = { $name } の{ $model }
console-cancel = 中止
console-analysis-tissue = 組織検出
console-analysis-nuclei = 核検出（HE 染色）
console-analysis-focus = ピント品質
console-analysis-model = モデル：{ $name }
console-analysis-percent = { $percent }%
console-analysis-finished = { $file } に { $objects } 件
console-analysis-cancelled = 中止しました：何も保存されていません
console-analysis-failed = 失敗しました：{ $error }

## 通話
console-call = コンサルテーション通話
console-call-region =
    .aria-label = 通話
console-room = ルーム
console-room-token = ルームトークン
console-microphone = マイク
console-speaker = スピーカー
console-camera = カメラ
console-test-pattern = テストパターン
console-none = なし
console-system-default = システムの既定
console-default-camera = 既定のカメラ（{ $name }）
console-default-no-camera = 既定（カメラなし：テストパターン）
console-join-call = 通話に参加
console-joining = 通話に参加しています…
console-joined = { $room } に参加しました
console-mute = ミュート
console-unmute = ミュート解除
console-camera-off = カメラをオフ
console-camera-on = カメラをオン
console-hang-up = 通話を終了
console-call-ended = 通話が終了しました
console-call-state = { $state ->
    [joining] 参加中…
    [waiting] 相手施設の参加を待っています
    [connecting] 接続中…
    [connected] 通話中
    [reconnecting] 再接続中…
    [failed] 通話に失敗しました
   *[ended] 通話が終了しました
}
console-reconnecting-banner = 接続が切れました。再接続しています…（映像と音声は自動で再開します）
console-call-failed = 通話に失敗しました。
console-call-connection-lost = 接続が切れ、回復できませんでした。
console-camera-lost = カメラが見つかりません。相手には黒い画面が映っています。探しています…（{ $problem }）
console-quality = { $level ->
    [good] 接続良好
    [fair] 接続やや不安定
   *[poor] 接続不良
}
console-quality-rtt = { $ms } ms
console-quality-loss = 損失 { $percent } %
console-quality-bitrate = 受信 { $kbps } kbit/s
console-token-missing = 病院から受け取ったルームトークンを貼り付けてください。
console-token-malformed = ルームトークンの形式ではありません（v1.… で始まります）。
console-remote-video = ビューアの遠隔映像：{ $width } × { $height }、{ $frames } フレーム表示
console-remote-video-received = （受信 { $received }）
console-remote-video-late = 遅延 { $late }
console-remote-video-dropped = 破棄 { $dropped }

## ビューア
console-viewer-starting = ビューアを起動しています…
console-viewer-ready = ビューア準備完了（pid { $pid }）
console-viewer-restarted = ビューアを再起動しました（pid { $pid }）
console-viewer-stopped = ビューアが停止しました（{ $status }）。再起動しています…
console-viewer-closed = ビューアを閉じました
console-viewer-not-running = ビューアが動いていません：{ $reason }
console-viewer-not-started = ビューアは起動していません
console-viewer-showing = { $name } を表示中
console-viewer-problem = ビューア：{ $message }

## 報告書
console-report = 報告書
console-report-region =
    .aria-label = 報告書
console-report-text =
    .aria-label = 報告書の本文
console-cite = 解析と確認結果を引用
console-save-draft = 下書き保存
console-sign = 署名する
console-sign-confirm = 報告書に署名しますか？署名後は変更できません。
console-report-saved = 報告書を保存しました
console-report-signed = 報告書に署名しました
console-signed-by = 署名：{ $name }（{ $when }）
console-export-report = 報告書を書き出す
console-report-exported = 報告書を { $path } に書き出しました
console-cited = 引用しました。下書き保存で残してください
console-citations-analyses = 解析：
console-citations-reviews = 所見の確認：
console-citation-review = - { $file }：確定 { $confirmed }、却下 { $rejected }；{ $progress }（{ $actors }）

## 監査証跡
console-audit = 監査証跡
console-audit-action = { $action ->
    [create] 症例を作成
    [open] 閲覧
    [edit] 内容を変更
    [status] 状態を変更
    [attach] 添付
    [detach] 削除
    [report_edit] 報告書を編集
    [sign_off] 報告書に署名
    [analysis] 解析
    [review] 所見を確認
   *[export] 書き出し
}

## 設定
console-settings-dialog = 設定
console-settings-files = システム：{ $system } · ユーザー：{ $user }
console-setting = 設定項目
console-setting-value = 値
console-setting-from = 出どころ
console-setting-locked = 情報システム部門により固定されています
console-setting-environment = 環境変数 { $variable } で設定されています
console-setting-saved = { $key } を保存しました
console-source = { $kind ->
    [default] 既定値
    [system] システム（{ $path }）
    [user] ユーザー
   *[environment] 環境変数 { $variable }
}
console-close = 閉じる
console-language = 表示言語
console-language-system = システムに従う（{ $language }）
console-theme = テーマ
console-theme-system = システムに従う
console-theme-light = ライト
console-theme-dark = ダーク


## 拒否とエラー（画面に表示する文）
console-error-no-case = 症例 { $id } がありません（別の端末で削除された可能性があります）。
console-error-not-allowed = 症例は「{ $status }」のため、{ $what }はできません。
console-error-transition = 症例を「{ $from }」から「{ $to }」にはできません。
console-error-conflict = 編集中に別の場所で症例が変更されました。読み込み直してから編集してください。
console-error-missing = { $what }の前に{ $field }を入力してください。
console-error-too-long = { $field }が長すぎます（{ $len } バイト、上限 { $max } バイト）。
console-error-out-of-range = { $field }は { $max } 以下にしてください（{ $value }）。
console-error-newer = 症例データベースは新しい架け橋で作られています。この端末を更新してください。
console-error-attachment = { $path }：{ $reason }
console-error-database = 症例データベースを使えません：{ $detail }
console-error-settings-file = 設定ファイル { $path } を使えません：{ $reason }
console-error-setting-locked = { $key } は情報システム部門により固定されています。
console-error-setting-unknown = { $key } という設定はありません。
console-error-setting-invalid = { $key }：{ $reason }
console-error-setting-invalid-in = { $source } の { $key }：{ $reason }
console-doing-edit = 症例の編集
console-doing-attach = ファイルの添付
console-doing-detach = 添付の削除
console-doing-write-report = 報告書の作成
console-doing-sign-report = 報告書への署名
console-doing-request = コンサルテーションの依頼
console-field-question = 依頼内容
console-field-report = 報告書の本文
console-field-name = 氏名
console-field-reading = フリガナ
console-field-patient-id = 患者ID
console-field-specimen = 検体
console-field-requesting-site = 依頼施設
console-field-consulting-site = コンサルト先施設
console-field-search = 検索語
console-field-age = 年齢
console-field-months = 月齢
console-field-export-name = 書き出しの名前
console-field-viewed-file = 表示したファイルの名前
console-field-review-note = レビューの記録
console-field-analysis-note = 解析の記録

## デモ症例（読み手の言語で作成）
console-demo-name = デモ 患者
console-demo-reading =
    .value = デモ カンジャ
console-demo-question = デモ：HE 染色切片（CMU-1 の一部、OpenSlide のテストデータ）。組織を評価して報告してください。
console-demo-specimen = デモ HE 染色切片
console-demo-requesting-site = デモ 離島診療所
console-demo-consulting-site = デモ 大学病院
console-refused-busy = 解析が { $count } 件実行中です。終わるのを待つか、どれかを中止してください。
console-refused-not-slide = { $name } はスライドではありません（{ $kind ->
    [photo] 写真
    [video] 動画
   *[annotations] 注釈
}）。
console-refused-no-report = この症例にはまだ報告書がありません。
console-call-error-no-server = シグナリングサーバーが設定されていません（設定 → signalling.url。通常は情報システム部門が設定します）。
console-call-error-wrong-room = このトークンはルーム { $token_room } のもので、この症例のルーム { $case_room } のものではありません。
console-call-error-busy = 通話がすでに進行中です（ルーム { $room }）。先に通話を終了してください。
console-call-error-camera = カメラ：{ $problem }
console-call-error-audio = 音声：{ $problem }
console-call-error-no-call = 進行中の通話はありません。
console-call-error-join = { $room } に参加できませんでした：{ $problem }

## 各設定項目の名前（画面は設定キーから ID を作ります）
console-setting-name-analysis-models = 情報システム部門が承認した AI モデル（.onnx のパス）
console-setting-name-cache-gpu-budget-mib = スライドタイル用の GPU メモリ（MiB、0 は GPU に合わせる）
console-setting-name-cache-tile-cache-mib = メモリに保持する復号済みタイル（MiB）
console-setting-name-cases-database = 症例データベース（空欄はユーザーのデータフォルダー）
console-setting-name-devices-audio-in = マイク
console-setting-name-devices-audio-out = スピーカー
console-setting-name-devices-camera = カメラ
console-setting-name-devices-echo-cancellation = エコーキャンセル
console-setting-name-gpu-backend = ビューアのグラフィックス API
console-setting-name-signalling-allow-plain-ws-for-development = 暗号化なしの ws:// を許可（開発用のみ）
console-setting-name-signalling-url = シグナリングサーバー（wss://…）
console-setting-name-turn-urls = 追加の STUN/TURN サーバー
console-setting-name-ui-japanese-era = 日本語の報告書で西暦に和暦を併記
console-setting-name-ui-language = 表示言語
console-setting-name-ui-theme = テーマ
console-setting-name-user-display-name = あなたの名前（相手施設に表示され、報告書の署名になります）
console-setting-name-video-max-picture-height = 受信映像の最大サイズ：高さ（ピクセル）
console-setting-name-video-max-picture-width = 受信映像の最大サイズ：幅（ピクセル）

## 設定の読み込みで、失敗ではないが伝えること（設定ダイアログ、kh doctor）
console-settings-warning-unknown-key = { $file } の { $key } は、この版にない設定です（無視します）。
console-settings-warning-lock-names-nothing = { $file } の固定項目「{ $entry }」に当たる設定がありません。
console-settings-warning-user-value-locked = { $file } の { $key } は { $locked_by } で固定されているため、ユーザーの値は使われません。
console-settings-warning-environment-locked = { $variable } が設定されていますが、{ $key } は固定されているため使われません。
console-settings-warning-plain-ws = signalling.url { $url } は別のマシンへの暗号化されない ws:// で、signalling.allow_plain_ws_for_development により許可されています。トークンとシグナリングが暗号化されずに流れます（開発用のみ）。

## ファイルと添付についてコンソールが断ること
console-file-refused = { $path }：{ $problem }
console-no-such-attachment = この症例に添付 { $attachment } はありません。
console-export-format-unknown = アノテーションを「{ $format }」で書き出すことはできません。QuPath GeoJSON か DICOM ANN を選んでください。
console-analysis-not-started = 解析を開始できませんでした：{ $problem }
console-analysis-run-problem = { $slide } の { $model }：{ $problem }
console-call-runtime-stopped = 通話のバックグラウンド処理が停止しました
