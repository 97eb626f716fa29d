# The consultation report as exported from a case (an HTML page to file or
# print).

report-title = Consultation report
report-patient = Patient
report-name = Name
report-reading = Reading
report-patient-id = Patient ID
report-age = Age
report-sex = Sex
report-specimen = Specimen
report-requesting-site = Requesting site
report-consulting-site = Consulting site
report-question = Clinical question
report-findings = Findings
report-signed = Signed by { $name }, { $date }
report-signed-era = Signed by { $name }, { $date } ({ $era })
report-draft = Draft: not signed
report-exported = Exported from { $product } on { $date }
report-unknown = —
