# kh --help の言葉。ID はコマンドの木から作られる
# (crates/kh/src/cli_words.rs): コマンドは cli-about-<経路>、
# 引数は cli-arg-<経路>-<引数>。

## clap が英語で言うところ
cli-heading-usage = 使い方:
cli-heading-commands = コマンド
cli-heading-arguments = 引数
cli-heading-options = オプション
cli-arg-help = ヘルプを表示する
cli-arg-version = バージョンを表示する
cli-help-default = [既定値：{ $value }]
cli-help-values = [指定できる値：{ $values }]

## 使い方の誤り
cli-parse-invalid-value = '{ $value }' は { $arg } に指定できる値ではありません
cli-parse-value-missing = { $arg } には値が必要です
cli-parse-value-refused = '{ $value }' は { $arg } に指定できる値ではありません：{ $reason }
cli-parse-unknown-argument = ここに '{ $arg }' という引数はありません
cli-parse-unknown-command = '{ $command }' というコマンドはありません
cli-parse-missing-command = コマンドを指定してください
cli-parse-missing-argument = 次の指定が必要です：{ $arg }
cli-parse-conflict = { $arg } は { $other } と同時には使えません
cli-parse-no-equals = { $arg } の値は '=' の後に書きます
cli-parse-value-count = { $arg } の値の数が正しくありません
cli-parse-not-utf8 = UTF-8 として読めない引数があります
cli-parse-not-a-whole-number = 整数ではありません
cli-parse-not-a-number = 数値ではありません
cli-parse-too-large = 大きすぎます
cli-parse-too-small = 小さすぎます
cli-parse-out-of-range = { $low } から { $high } までの値にしてください
cli-parse-did-you-mean = 。'{ $suggestion }' のことですか？
cli-parse-valid-values = 。指定できる値：{ $values }
cli-parse-more = 詳しくは --help を付けて実行してください。

## kh
cli-about-kh = 架け橋のコマンドラインツール
cli-arg-kh-language = kh とビューアーが話す言語（既定：設定の `ui.language`、なければシステムのロケール）

## kh slide
cli-about-slide = ホールスライド画像：メタデータ、領域、タイル、付属画像
cli-about-slide-info = 形式、レベル、解像度、付属画像、プロパティを JSON で表示する
cli-arg-slide-info-file = スライドのファイル（または DICOM シリーズのフォルダー）
cli-about-slide-region = 領域（x, y はレベル 0 のピクセル、幅 × 高さは LEVEL のピクセル）を RGBA の PNG に書き出す
cli-arg-slide-region-file = スライドのファイル（または DICOM シリーズのフォルダー）
cli-arg-slide-region-level = 読むレベル（0：最高解像度）
cli-arg-slide-region-x = 左端、レベル 0 のピクセル（負でもよい）
cli-arg-slide-region-y = 上端、レベル 0 のピクセル（負でもよい）
cli-arg-slide-region-width = 幅、そのレベルのピクセル
cli-arg-slide-region-height = 高さ、そのレベルのピクセル
cli-arg-slide-region-out = 書き出す PNG ファイル
cli-about-slide-tile = タイルを 1 枚書き出す：デコードして PNG で、または --encoded で保存されたまま（JSON のヘッダー行 + バイト列）
cli-arg-slide-tile-file = スライドのファイル（または DICOM シリーズのフォルダー）
cli-arg-slide-tile-level = タイルのあるレベル（0：最高解像度）
cli-arg-slide-tile-col = タイルの列、左端が 0
cli-arg-slide-tile-row = タイルの行、上端が 0
cli-arg-slide-tile-encoded = デコードせず、保存されたまま書き出す（JSON のヘッダー行に続けてバイト列）
cli-arg-slide-tile-out = 書き出すファイル
cli-about-slide-associated = 付属画像（ラベル、マクロ、サムネイル）を PNG で書き出す
cli-arg-slide-associated-file = スライドのファイル（または DICOM シリーズのフォルダー）
cli-arg-slide-associated-name = どの画像か：label、macro、thumbnail（`kh slide info` に一覧があります）
cli-arg-slide-associated-out = 書き出す PNG ファイル

## kh annotations
cli-about-annotations = アノテーションファイル（QuPath GeoJSON、ASAP XML、DICOM ANN）：中身の確認と形式の変換
cli-about-annotations-info = 形式、オブジェクト数、種類別・クラス別の数、範囲（レベル 0 のピクセル）を JSON で表示する。3D スライド座標の DICOM ANN と確率ラスター（.npy、グレースケールの .png）は、配置するためにスライド（--slide）が必要
cli-arg-annotations-info-file = アノテーションファイル
cli-arg-annotations-info-slide = アノテーションが属するスライド
cli-about-annotations-convert = QuPath GeoJSON（.geojson、.json）、ASAP XML（.xml）、DICOM ANN（.dcm）の間で変換する。出力形式は OUT の拡張子で決まる。--slide を付けると、スライドのレベル 0 の範囲を超えるオブジェクトを報告し、DICOM スライド用に書く DICOM ANN はそのスタディ、シリーズ、座標系を参照する（座標はそのスライドのもの）
cli-arg-annotations-convert-input = 読むアノテーションファイル
cli-arg-annotations-convert-output = 書き出すファイル。拡張子で形式が決まる
cli-arg-annotations-convert-slide = アノテーションが属するスライド

## kh analyze
cli-about-analyze = スライドに解析（組織検出など）を実行し、見つかったものを QuPath GeoJSON で書き出す。進み具合は標準エラーへ
cli-arg-analyze-slide = 解析するスライド
cli-arg-analyze-model = tissue | nuclei | focus | onnx:パス
cli-arg-analyze-level = 読むレベル（既定：解析が選ぶ）
cli-arg-analyze-region = X,Y,W,H、レベル 0 のピクセル（nuclei、focus、ONNX モデル。既定：組織全体）
cli-arg-analyze-stride = パッチの間隔、そのレベルのピクセル（ONNX モデル）
cli-arg-analyze-all-patches = 組織の外のパッチも残す（ONNX モデル）
cli-arg-analyze-out = 結果の書き出し先（.geojson）

## kh render
cli-about-render = ビューアーの GPU レンダラーでスライドの表示を画面外に描き（ディスプレイ不要）、PNG で書き出す
cli-arg-render-file = スライドのファイル（または DICOM シリーズのフォルダー）
cli-arg-render-width = 画像の幅（ピクセル）
cli-arg-render-height = 画像の高さ（ピクセル）
cli-arg-render-center-x = 表示の中心、レベル 0 のピクセル（既定：スライドの中心）
cli-arg-render-center-y = 表示の中心、レベル 0 のピクセル（既定：スライドの中心）
cli-arg-render-zoom = 画面 1 ピクセルあたりのレベル 0 のピクセル数（既定：スライド全体が収まる倍率）
cli-arg-render-rotation = 時計回りの回転角（度）：0、90、180、270
cli-arg-render-brightness = 加える明るさ、-1 から 1（0：スキャンしたまま）
cli-arg-render-contrast = コントラストの倍率（1：スキャンしたまま）
cli-arg-render-gamma = ガンマ（1：スキャンしたまま）
cli-arg-render-budget-mib = タイルに使う GPU メモリ、MiB（既定：アダプターから決める）
cli-arg-render-out = 書き出す PNG ファイル
cli-arg-render-frames = 表示が揃った後さらに N 回描き、1 フレームあたりのレンダラーの CPU 時間（準備 + エンコード + 送信）と GPU が各フレームを終えるまでの時間を報告する
cli-arg-render-annotations = アノテーションファイル（QuPath GeoJSON、ASAP XML、DICOM ANN）をビューアーと同じようにスライドに重ねて描く。繰り返すと層が増え、順に描かれる
cli-arg-render-fill-opacity = アノテーションの塗りの不透明度、0 から 1（1 ではオブジェクトの内側がその色そのもの）
cli-arg-render-outline-px = アノテーションの輪郭の太さ、画面のピクセル（0：なし）
cli-arg-render-hide-class = このクラスのオブジェクトを描かない（繰り返し指定可）
cli-arg-render-heatmap = クラスではなくこの測定値でオブジェクトを色分けする（ヒートマップ、viridis で低い方から高い方へ）。測定値のないオブジェクトは描かない
cli-arg-render-overlay-budget-mib = アノテーションの層全体で使える GPU メモリ、MiB（既定 1024、ビューアーと同じ）
cli-arg-render-heatmap-range = LOW,HIGH：ヒートマップの両端（既定：アノテーションファイル全体での測定値の範囲、ビューアーと同じ）

## kh call
cli-about-call = 画面なしの参加者として通話に入る：カウンターを刻んだテストパターン（または Y4M ファイル）とトーンを送り、届いたものを測って JSON で報告する
cli-arg-call-server = シグナリングサーバーの WebSocket URL（ws://ホスト:ポート/ws、または wss://）
cli-arg-call-room = ルーム。トークンを発行したルームと同じであること
cli-arg-call-token = `kakehashi-signal token` またはトークン API で発行したルームトークン
cli-arg-call-send = 送るもの：`testsrc`（カウンターを刻んだ動くパターン）、動画ファイル（Y4M、または FFmpeg が読めるもの。繰り返し）、録画したストリーム（IVF：VP8/VP9/AV1 を符号化されたまま送る。繰り返し）、`camera`、`none`
cli-arg-call-camera = `--send camera` のとき、どのカメラか（`default`、/dev/video* のパス、または `kh camera list` に出る名前）。--size と --fps に最も近いモードで開く
cli-arg-call-size = 画像の大きさ、幅x高さ：テストパターンの大きさ、またはカメラのモードを選ぶ目安
cli-arg-call-fps = 1 秒あたりに送るフレーム数
cli-arg-call-grain = テストパターンに ± この輝度レベルのセンサー風ノイズを加え、カメラの映像と同じくらいビットを使わせる（0〜64）
cli-arg-call-codec = 送る形式：vp8、vp9、h264、h265（hevc）。av1 は受信のみ。H.264 と HEVC はハードウェアエンコーダーがあればそれを使う
cli-arg-call-bitrate = 映像の開始ビットレート、kbit/s（輻輳制御が動かす）
cli-arg-call-max-bitrate = 回線にどれだけ余裕があっても映像が使う上限、kbit/s
cli-arg-call-no-congestion-control = `--bitrate` を固定し、webrtc-rs の既定のまま動かす（GCC なし、ペーサーなし、その NACK 応答、カーネル既定の UDP バッファー）：比較用
cli-arg-call-stats-every = この秒数ごとに統計も JSON のイベントとして表示する
cli-arg-call-tone = 音声として送るテストトーンの周波数、Hz（0：無音）
cli-arg-call-audio-in = トーンの代わりにこのマイクを送る：`default` またはデバイス名（Linux では `pulse` で PulseAudio/PipeWire に届く）
cli-arg-call-audio-out = 聞こえる音をこのオーディオデバイスで鳴らす：`default` または名前
cli-arg-call-no-echo-cancellation = スピーカーのエコーを取り除かず、マイクの音をそのまま送る
cli-arg-call-record = 受信した映像を DIR/received-WxH.y4m に書く
cli-arg-call-echo = 自分のメディアの代わりに、届いたものを送り返す
cli-arg-call-duration = この秒数で通話を終える（既定：相手が退出したとき、または Ctrl-C）
cli-arg-call-stats-json = 通話が終わったとき、その統計を JSON でここに書く
cli-arg-call-bind = 候補を集めるローカルアドレス（既定：すべてのインターフェース）
cli-arg-call-relay-only = リレー（TURN）の候補だけを使う
cli-arg-call-software-codecs = プラットフォームにハードウェアコーデック（NVENC/NVDEC、VideoToolbox、Media Foundation。既定で使う）があってもソフトウェアコーデックだけを使う
cli-arg-call-no-decode = 受信した映像フレームをデコードせず、揃って届いた数を数える（コンソールがビューアーに渡すときと同じ）：このマシンが実時間でデコードできないストリームの伝送を測る
cli-arg-call-ice-failed-after = ICE が「切断」のまま何秒で経路を失敗とみなし、ICE を再開するか（間隔を延ばしながら最長 3 分）
cli-arg-call-bulk = `bulk` データチャネルを送れるだけ満たす（スループット）
cli-arg-call-name = ルームに表示する名前

## kh camera
cli-about-camera = このワークステーションのカメラ（V4L2）：それぞれが出せるもの、通話の送信と同じ経路で Y4M ファイルへ撮る
cli-about-camera-list = 各カメラと、出せるすべての形式、大きさ、フレームレート
cli-arg-camera-list-json = JSON で
cli-about-camera-capture = 通話で送るのと同じ形でフレームを撮り、Y4M ファイルに書く
cli-arg-camera-capture-device = `default`、/dev/video* のパス、またはカメラの名前
cli-arg-camera-capture-size = 欲しい大きさ。カメラの最も近いモードを使う
cli-arg-camera-capture-fps = 欲しいフレームレート。カメラの最も近いモードを使う
cli-arg-camera-capture-frames = 書くフレーム数
cli-arg-camera-capture-out = 書き出す Y4M ファイル

## kh doctor
cli-about-doctor = このワークステーションにあるものと設定の出どころ：GPU、設定（出どころとロック）、シグナリングと STUN/TURN への到達性、オーディオデバイス、カメラ、症例データベース。問題が見つかれば終了コード 1
cli-arg-doctor-json = テキストの代わりに JSON 文書を 1 つ表示する
cli-arg-doctor-timeout = ネットワークの確認ごとに待つ秒数

## kh view
cli-about-view = ビューアーのウィンドウを開く（スライドを開くことも、--ipc で待つコンソールから操作されることもできる）
cli-arg-view-file = 開くスライド（または DICOM シリーズのフォルダー）
cli-arg-view-ipc = 接続するコンソールのローカルソケット
cli-arg-view-screenshots = スクリーンショットを書くフォルダー（コンソールの要求はその中のファイルを指す。指定がなければ断る）
cli-arg-view-size = ウィンドウの大きさ、物理ピクセルで 幅x高さ
cli-arg-view-budget-mib = タイルに使う GPU メモリ、MiB（既定：アダプターから決める）
cli-arg-view-overlay-budget-mib = アノテーションの層全体で使う GPU メモリ、MiB（既定：1024）
cli-arg-view-tile-cache-mib = メモリに保持するデコード済みタイル、MiB（既定：256）
cli-arg-view-max-picture = デコードする相手の映像の最大の大きさ、幅x高さ（既定 8192x8192、画素数で 8192x4608 まで）
cli-arg-view-no-vsync = 垂直同期なしで表示する（フレームレートの測定用）
cli-arg-view-annotations = アノテーションファイル（QuPath GeoJSON、ASAP XML、DICOM ANN）をスライドに重ねて描く。繰り返すと層が増える
cli-arg-view-own-annotations = 専門医自身のアノテーション：ファイルがあれば読み、描画ツール（P 多角形、B 矩形、E 楕円、D フリーハンド、T 点。Ctrl+Z / Ctrl+Y で取り消しとやり直し）で変更するたびに（アトミックに、QuPath GeoJSON で）書く
cli-arg-view-author = 描く人：アノテーションに出どころとして残す名前（既定：ログイン名）
