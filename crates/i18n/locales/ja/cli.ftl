# kh（コマンドライン）が人に向けて表示する言葉

cli-error = kh：エラー：{ $problem }
