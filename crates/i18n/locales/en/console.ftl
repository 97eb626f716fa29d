# The console page: worklist, case, attachments, call, report, settings.

console-title = Kakehashi
console-new-case = New case
console-settings = Settings
console-skip-to-worklist = Skip to the worklist

## Start-up problem
console-startup-problem =
    .aria-label = Startup problem
console-cannot-start = Kakehashi cannot start
console-startup-fix = Correct the file named above (IT manages /etc/kakehashi/config.toml; your own settings are in the user file), then start Kakehashi again. `kh doctor` lists every setting and where it came from.
console-not-started = Not started

## Worklist
console-worklist =
    .aria-label = Worklist
console-search =
    .placeholder = Search patient, reading, ID, question, site
    .aria-label = Search
console-status-filter =
    .aria-label = Status
console-all-statuses = All statuses
console-sort =
    .aria-label = Sort
console-sort-updated = Recently changed
console-sort-created = Recently created
console-sort-status = Status
console-sort-patient-name = Patient name
console-column-patient = Patient
console-column-question = Question
console-column-status = Status
console-column-changed = Changed
console-no-match = No cases match.
console-no-cases = No cases yet — create one with “New case”.

## Case statuses and moves
console-status-draft = Draft
console-status-requested = Requested
console-status-in-consultation = In consultation
console-status-reported = Reported
console-status-closed = Closed
console-move-request = Request consultation
console-move-withdraw = Withdraw request
console-move-take = Take the case
console-move-close = Close the case
console-move-to = Move to { $status ->
    [draft] draft
    [requested] requested
    [in_consultation] in consultation
    [reported] reported
   *[closed] closed
}

## Case form
console-case =
    .aria-label = Case
console-no-case-open = Choose a case from the worklist, or create one with “New case”.
console-case-untitled = Case
console-patient = Patient
console-patient-name = Name
console-patient-reading = Reading (kana)
console-patient-name-field =
    .placeholder = Family name, given name
console-patient-reading-field =
    .placeholder = In katakana, as said
console-patient-id = ID
console-patient-age = Age (years)
console-patient-age-months = Months
console-patient-sex = Sex
console-question = Clinical question
console-specimen = Specimen
console-requesting-site = Requesting site
console-consulting-site = Consulting site
console-save = Save
console-saved = Saved
console-problem-age = Age must be a whole number of years from 0 to 150.
console-problem-months = Months must be a whole number from 0 to 11.
console-problem-patient = Give the patient's name or ID.
console-problem-too-long = At most 1024 bytes.

## Attachments
console-attachments-heading = Attachments
console-attachments =
    .aria-label = Attachments
console-analyses-running =
    .aria-label = Analyses running
console-drop-zone = Drop slides, photos, videos or annotation files here, or
console-choose-files = choose files…
console-attach-title = Attach files
console-attachment-kind = { $kind ->
    [slide] Slide
    [photo] Photo
    [video] Video
   *[annotations] Annotations
}
console-attachment-line = { $kind }: { $name } ({ $size })
console-open-in-viewer = Open in viewer
console-opening-in-viewer = Opening { $name } in the viewer
console-export-geojson = Export GeoJSON
console-export-dicom = Export DICOM
console-remove = Remove
console-open-case-first = Open a case before attaching files.
console-exported = Exported { $objects } objects to { $path }
console-exported-with-notes = Exported { $objects } objects to { $path } ({ $notes })

## Analyses
console-analysis-of =
    .aria-label = Analysis of { $name }
console-analyze = Analyze
console-analysis-on = { $model } on { $name }
console-cancel = Cancel
console-analysis-tissue = Tissue
console-analysis-nuclei = Nuclei (H&E)
console-analysis-focus = Focus QC
console-analysis-model = Model: { $name }
console-analysis-percent = { $percent }%
console-analysis-finished = { $objects ->
    [one] { $objects } object in { $file }
   *[other] { $objects } objects in { $file }
}
console-analysis-cancelled = Cancelled: nothing was saved
console-analysis-failed = Failed: { $error }

## Call
console-call = Consultation call
console-call-region =
    .aria-label = Call
console-room = Room
console-room-token = Room token
console-microphone = Microphone
console-speaker = Speaker
console-camera = Camera
console-test-pattern = Test pattern
console-none = None
console-system-default = System default
console-default-camera = Default camera ({ $name })
console-default-no-camera = Default (no camera: test pattern)
console-join-call = Join call
console-joining = Joining the call…
console-joined = Joined { $room }
console-mute = Mute
console-unmute = Unmute
console-camera-off = Turn camera off
console-camera-on = Turn camera on
console-hang-up = Hang up
console-call-ended = Call ended
console-call-state = { $state ->
    [joining] Joining…
    [waiting] Waiting for the other site
    [connecting] Connecting…
    [connected] In call
    [reconnecting] Reconnecting…
    [failed] Call failed
   *[ended] Call ended
}
console-reconnecting-banner = Connection lost — reconnecting… (media resumes by itself)
console-call-failed = The call failed.
console-call-connection-lost = The connection failed and could not be restored.
console-camera-lost = Camera lost — the other site sees black; looking for it again… ({ $problem })
console-quality = { $level ->
    [good] Good connection
    [fair] Fair connection
   *[poor] Poor connection
}
console-quality-rtt = { $ms } ms
console-quality-loss = { $percent } % loss
console-quality-bitrate = { $kbps } kbit/s in
console-token-missing = Paste the room token from the hospital.
console-token-malformed = That is not a room token (expected v1.…).
console-remote-video = Remote video in the viewer: { $width } × { $height }, { $frames } frames shown
console-remote-video-received = of { $received } received
console-remote-video-late = { $late } late
console-remote-video-dropped = { $dropped } dropped

## Viewer
console-viewer-starting = Viewer starting…
console-viewer-ready = Viewer ready (pid { $pid })
console-viewer-restarted = Viewer restarted (pid { $pid })
console-viewer-stopped = Viewer stopped ({ $status }); restarting…
console-viewer-closed = Viewer closed
console-viewer-not-running = Viewer not running: { $reason }
console-viewer-not-started = Viewer not started
console-viewer-showing = Showing { $name }
console-viewer-problem = Viewer: { $message }

## Report
console-report = Report
console-report-region =
    .aria-label = Report
console-report-text =
    .aria-label = Report text
console-cite = Cite analyses and reviews
console-save-draft = Save draft
console-sign = Sign report
console-sign-confirm = Sign the report? It cannot be changed afterwards.
console-report-saved = Report saved
console-report-signed = Report signed
console-signed-by = Signed by { $name }, { $when }
console-export-report = Export report
console-report-exported = Report written to { $path }
console-cited = Cited; save the draft to keep it
console-citations-analyses = Analyses:
console-citations-reviews = Findings reviewed:
console-citation-review = - { $file }: { $confirmed } confirmed, { $rejected } rejected; { $progress } ({ $actors })

## Audit trail
console-audit = Audit trail
console-audit-action = { $action ->
    [create] created the case
    [open] opened
    [edit] changed the details
    [status] changed the status
    [attach] attached
    [detach] removed
    [report_edit] edited the report
    [sign_off] signed the report
    [analysis] analysed
    [review] reviewed
   *[export] exported
}

## Settings
console-settings-dialog = Settings
console-settings-files = System: { $system } · Yours: { $user }
console-setting = Setting
console-setting-value = Value
console-setting-from = From
console-setting-locked = Locked by your IT department
console-setting-environment = Set by the environment variable { $variable }
console-setting-saved = { $key } saved
console-source = { $kind ->
    [default] default
    [system] system ({ $path })
    [user] you
   *[environment] environment { $variable }
}
console-close = Close
console-language = Language
console-language-system = System ({ $language })
console-theme = Theme
console-theme-system = Follow the system
console-theme-light = Light
console-theme-dark = Dark


## Refusals and errors, as the page shows them
console-error-no-case = There is no case { $id } (it may have been removed on another workstation).
console-error-not-allowed = The case is { $status }: { $what } is not possible.
console-error-transition = The case cannot go from { $from } to { $to }.
console-error-conflict = The case was changed elsewhere while you edited it. Reload it and edit again.
console-error-missing = Fill in { $field } before { $what }.
console-error-too-long = Too long: { $field } ({ $len } bytes; at most { $max }).
console-error-out-of-range = { $field } cannot be { $value } (at most { $max }).
console-error-newer = The case database was written by a newer Kakehashi. Update this workstation.
console-error-attachment = { $path }: { $reason }
console-error-database = The case database could not be used: { $detail }
console-error-settings-file = The settings file { $path } cannot be used: { $reason }
console-error-setting-locked = { $key } is locked by your IT department.
console-error-setting-unknown = { $key } is not a setting.
console-error-setting-invalid = { $key }: { $reason }
console-error-setting-invalid-in = { $source }: { $key }: { $reason }
console-doing-edit = editing the case
console-doing-attach = attaching files
console-doing-detach = removing attachments
console-doing-write-report = writing the report
console-doing-sign-report = signing the report
console-doing-request = requesting a consultation
console-field-question = the clinical question
console-field-report = the report
console-field-name = the patient's name
console-field-reading = the name's reading
console-field-patient-id = the patient ID
console-field-specimen = the specimen
console-field-requesting-site = the requesting site
console-field-consulting-site = the consulting site
console-field-search = the search
console-field-age = the age in years
console-field-months = the months beyond the years
console-field-export-name = the export's name
console-field-viewed-file = the viewed file's name
console-field-review-note = the review's note
console-field-analysis-note = the analysis's note

## The demo case (made in the reader's language)
console-demo-name = Demo Patient
console-demo-reading =
    .value = { "" }
console-demo-question = Demo: H&E section (CMU-1 region, OpenSlide test data). Assess the tissue and report.
console-demo-specimen = Demo H&E section
console-demo-requesting-site = Demo island clinic
console-demo-consulting-site = Demo university hospital
console-refused-busy = { $count } analyses are running: wait for one or cancel it.
console-refused-not-slide = { $name } is not a slide ({ $kind ->
    [photo] a photo
    [video] a video
   *[annotations] annotations
}).
console-refused-no-report = The case has no report yet.
console-call-error-no-server = No signalling server is set (Settings → signalling.url; IT usually sets it).
console-call-error-wrong-room = This token is for room { $token_room }, not this case's room { $case_room }.
console-call-error-busy = A call is already running (room { $room }): hang up first.
console-call-error-camera = Camera: { $problem }
console-call-error-audio = Sound: { $problem }
console-call-error-no-call = No call is running.
console-call-error-join = Could not join { $room }: { $problem }

## Each setting, named (the page builds the id from the key)
console-setting-name-analysis-models = AI models IT approved (.onnx paths)
console-setting-name-cache-gpu-budget-mib = GPU memory for slide tiles (MiB; 0: as the GPU allows)
console-setting-name-cache-tile-cache-mib = Decoded tiles kept in memory (MiB)
console-setting-name-cases-database = Case database (empty: the user's data folder)
console-setting-name-devices-audio-in = Microphone
console-setting-name-devices-audio-out = Speaker
console-setting-name-devices-camera = Camera
console-setting-name-devices-echo-cancellation = Echo cancellation
console-setting-name-gpu-backend = The viewer's graphics API
console-setting-name-signalling-allow-plain-ws-for-development = Allow unencrypted ws:// (development only)
console-setting-name-signalling-url = Signalling server (wss://…)
console-setting-name-turn-urls = More STUN/TURN servers
console-setting-name-ui-japanese-era = The era beside the year in Japanese reports
console-setting-name-ui-language = Language
console-setting-name-ui-theme = Theme
console-setting-name-user-display-name = Your name (shown to the other site; signs reports)
console-setting-name-video-max-picture-height = Largest remote picture: height (pixels)
console-setting-name-video-max-picture-width = Largest remote picture: width (pixels)

## What loading the settings says without failing (the settings dialog, kh doctor)
console-settings-warning-unknown-key = { $file }: { $key } is not a setting this version knows (ignored).
console-settings-warning-lock-names-nothing = { $file }: the locked entry "{ $entry }" names no setting.
console-settings-warning-user-value-locked = { $file }: { $key } is locked by { $locked_by }; the user's value is not used.
console-settings-warning-environment-locked = { $variable } is set, but { $key } is locked; it is not used.
console-settings-warning-plain-ws = signalling.url { $url } is plain ws:// to another machine, allowed by signalling.allow_plain_ws_for_development: tokens and signalling travel unencrypted (for development only).

## The console's refusals of files and attachments
console-file-refused = { $path }: { $problem }
console-no-such-attachment = The case has no attachment { $attachment }.
console-export-format-unknown = Annotations cannot be exported as "{ $format }": choose QuPath GeoJSON or DICOM ANN.
console-analysis-not-started = The analysis could not be started: { $problem }
console-analysis-run-problem = { $model } on { $slide }: { $problem }
console-call-runtime-stopped = the call's background service stopped
