# 症例から書き出すコンサルテーション報告書（保存・印刷用の HTML）

report-title = コンサルテーション報告書
report-patient = 患者
report-name = 氏名
report-reading = フリガナ
report-patient-id = 患者ID
report-age = 年齢
report-sex = 性別
report-specimen = 検体
report-requesting-site = 依頼施設
report-consulting-site = コンサルト先施設
report-question = 依頼内容
report-findings = 所見
report-signed = 署名：{ $name }　{ $date }
report-signed-era = 署名：{ $name }　{ $date }（{ $era }）
report-draft = 下書き（未署名）
report-exported = { $product } から出力　{ $date }
report-unknown = —
