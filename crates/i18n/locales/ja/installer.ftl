# インストールしたパッケージがデスクトップのメニューに表示する言葉
# （src-tauri/kakehashi.desktop.hbs に同じものを書き、テストで一致を確かめます）

installer-name = 架け橋
installer-generic-name = 遠隔コンサルテーション端末
installer-comment = 遠隔病理・映像コンサルテーション端末
installer-keywords = 病理;遠隔病理;コンサルテーション;バーチャルスライド;WSI;映像;
