# ビューア（kh view）：ツールバー、ステータス行、パネル、ヘルプ

viewer-window-title = 架け橋 ビューア
viewer-window-title-slide = { $name } — 架け橋 ビューア

## ツールバー
viewer-open = 開く…
    .title = Ctrl+O
viewer-fit = 全体表示
    .title = F
viewer-one-to-one = 等倍
    .title = Z
viewer-rotate = 回転
    .title = 右に90°回転（R）
viewer-ruler = 計測
    .title = M
viewer-screenshot = 画面保存
    .title = S
viewer-slide-images = 標本画像
    .title = I
viewer-adjust = 表示調整
    .title = A
viewer-help-button = ？
    .title = H

## ステータス行
viewer-opening = { $name } を開いています…
viewer-drop-here = ここにスライドをドロップするか、「開く…」（Ctrl+O）
viewer-magnification = { $magnification }倍
viewer-magnification-relative = { $magnification }倍（相対）
viewer-cursor-um = x { $x } µm  y { $y } µm
viewer-cursor-px = x { $x } px  y { $y } px
viewer-level = レベル { $level }（{ $downsample }×）
viewer-tiles = タイル { $resident }/{ $visible }
viewer-annotation-count = 注釈 { $count } 件（N）
viewer-reading-annotations = 注釈を読み込み中…
viewer-fps = { $fps } fps
viewer-tile-failures = { $count } 枚のタイルを読めませんでした：その部分は低倍率のレベルで表示しています
viewer-tile-failures-latest = 最新：{ $problem }
    失敗はすべてログに記録され、コンソールに報告されています。

## 遠隔カメラ
viewer-remote-camera = 遠隔カメラ
viewer-remote-counters = { $width } × { $height } · 受信 { $received } 枚中 { $shown } 枚表示、遅延 { $late }、破棄 { $dropped }
viewer-waiting-picture = 最初の映像を待っています…

## 表示調整
viewer-display = 表示
viewer-brightness = 明るさ
viewer-contrast = コントラスト
viewer-gamma = ガンマ
viewer-reset = 元に戻す

## 標本画像
viewer-hide-label = ラベルを隠す（患者を特定できる情報）
viewer-no-pictures = このスライドにはラベル、マクロ、サムネイル画像がありません。
viewer-picture-hidden = 非表示
viewer-picture-name = { $name ->
    [label] ラベル
    [macro] マクロ
    [thumbnail] サムネイル
   *[other] { $name }
}

## 開くダイアログ
viewer-open-slide = スライドを開く
viewer-open-button = 開く
viewer-up = 上のフォルダーへ

## ヘルプ
viewer-help = キーボードとマウス
viewer-help-pan-keys = ドラッグ、矢印キー
viewer-help-pan = 移動（素早くドラッグすると慣性で流れます）
viewer-help-zoom-keys = ホイール、ピンチ、+ / −
viewer-help-zoom = カーソル位置を中心に拡大・縮小
viewer-help-double-click-keys = ダブルクリック
viewer-help-double-click = その位置を拡大
viewer-help-presets = 1.25倍 2.5倍 5倍 10倍 20倍 40倍
viewer-help-fit = 全体表示 / 等倍（1:1 ピクセル）
viewer-help-rotate = 右に90°回転 / 左に90°回転
viewer-help-ruler = 計測：ドラッグして長さを測る
viewer-help-screenshot = 画面保存（スケールバー付き PNG）
viewer-help-pictures = 標本画像 / ラベルの表示・非表示
viewer-help-adjust = 明るさ、コントラスト、ガンマ
viewer-help-annotations = 注釈：レイヤー、クラス、塗り、しきい値
viewer-help-findings = 所見の確認；次 / 前；確定 / 却下
viewer-help-draw = 描画：多角形（Enter で終了）/ 矩形 / 楕円 / フリーハンド / 点
viewer-help-move-keys = 選択をドラッグ；Del
viewer-help-move = 移動（頂点はハンドルをドラッグ；AI 所見は自分の複製になります）/ 削除
viewer-help-undo = 自分の注釈を元に戻す / やり直す
viewer-help-open-keys = Ctrl+O、ファイルをドロップ
viewer-help-open = スライドを開く
viewer-help-drop-keys = .geojson / .xml / .dcm をドロップ
viewer-help-drop = スライドに注釈を重ねて表示
viewer-help-fullscreen = 全画面 / 全画面解除・閉じる
viewer-help-help = このヘルプ

## 注釈パネル
viewer-annotations = 注釈
viewer-annotations-reading = 注釈を読み込み中…
viewer-annotations-none = 注釈がありません：QuPath GeoJSON、ASAP XML、DICOM ANN ファイルをウィンドウにドロップしてください。
viewer-layer-line = { $name }（{ $count } 件）
viewer-fill = 塗り
viewer-outline = 輪郭 px
viewer-classes = クラス
viewer-at-least = 下限
viewer-every-object = すべて
viewer-colour-by = 色分け
viewer-colour-by-class = クラス
viewer-low-end = 下端
viewer-high-end = 上端
viewer-unclassified = 未分類

## 所見の確認
viewer-findings = 所見
viewer-findings-none = スコア付きの所見がありません：注釈に計測値が含まれていません。
viewer-score = スコア
viewer-reviewed = { $total } 件中 { $reviewed } 件確認済み
viewer-previous = ◀ 前へ
viewer-next = 次へ ▶
viewer-confirm = ✔ 確定
viewer-reject = ✖ 却下
viewer-findings-more = … ほか { $count } 件（J ですべて順に確認）

## オブジェクトの情報
viewer-kind = { $kind ->
    [annotation] 注釈
    [detection] 検出
    [cell] 細胞
   *[tile] タイル
}
viewer-by-ai = AI：{ $name } { $version }
viewer-by-person = 作成：{ $name }
viewer-edited-from = （AI「{ $algorithm }」から編集）
viewer-more-measurements = … ほか { $count } 項目の計測値
viewer-selected = 選択中（Esc で解除）

## 描画
viewer-my-annotations-unsaved = 自分の注釈（未保存）
viewer-tool-polygon = 多角形 P
viewer-tool-rectangle = 矩形 B
viewer-tool-ellipse = 楕円 E
viewer-tool-freehand = 自由 D
viewer-tool-point = 点 T
viewer-tool-polygon-hint = 多角形：頂点を順にクリック。Enter かダブルクリックで終了、Backspace で直前の頂点を取り消し、Esc で中止
viewer-tool-rectangle-hint = 矩形：角から対角へドラッグ
viewer-tool-ellipse-hint = 楕円：外接する矩形をドラッグ
viewer-tool-freehand-hint = フリーハンド：領域を囲むようにドラッグ
viewer-tool-point-hint = 点：クリック
viewer-undo = 元に戻す
    .title = Ctrl+Z
viewer-redo = やり直す
    .title = Ctrl+Y
viewer-new-class = 新しいクラス
viewer-set-on-selected = 選択中に設定

## メッセージ（コンソールにも送られます）
viewer-could-not-open = { $name } を開けませんでした：{ $problem }
viewer-could-not-draw = { $name } を描画できませんでした：{ $problem }
viewer-could-not-show = { $name } を表示できませんでした：{ $problem }
viewer-own-not-read = 自分の注釈を読み込めませんでした：{ $problem }
viewer-own-not-shown = 自分の注釈を表示できませんでした：{ $problem }
viewer-own-not-saved = 自分の注釈を保存できませんでした：{ $problem }
viewer-too-small = 小さすぎるため追加しませんでした
viewer-saved = { $path } に保存しました
viewer-screenshot-failed = 画面保存 { $path }：{ $problem }
viewer-gpu-error = GPU：{ $problem }
viewer-screenshot-error = 画面保存：{ $problem }
viewer-bad-rotation = set_view：回転 { $degrees } は 90 の倍数ではありません
viewer-bad-view = set_view：表示範囲に有限でない値か正でない値があります
viewer-screenshot-bad-name = 画面保存 { $name } を拒否しました：画面保存の名前は .png で終わるファイル名だけです
viewer-screenshot-no-folder = 画面保存を拒否しました：ビューアは保存先フォルダなしで起動されています
viewer-remote-decoder = 遠隔映像：デコーダーを起動できません：{ $problem }
viewer-geometry = { $shape ->
    [point] 点
    [multipoint] 複数の点
    [polyline] 線
    [multipolyline] 複数の線
    [polygon] 多角形
    [multipolygon] 複数の多角形
    [rectangle] 矩形
   *[ellipse] 楕円
}
