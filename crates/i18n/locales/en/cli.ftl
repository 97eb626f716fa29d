# kh, the command line: what it prints for people.

cli-error = kh: error: { $problem }

## kh doctor: what this workstation has, for people (--json is for tools)
cli-doctor-title = Kakehashi { $version } — doctor
cli-doctor-gpu = GPU
cli-doctor-no-adapter = no adapter found
cli-doctor-viewer-uses = the viewer uses: { $adapter }
cli-doctor-settings = Settings
cli-doctor-present = present
cli-doctor-absent = absent
cli-doctor-system-file = system file { $path } ({ $presence })
cli-doctor-user-file = user file   { $path } ({ $presence })
cli-doctor-locked = (locked)
cli-doctor-signalling = Signalling
cli-doctor-not-configured = not configured
cli-doctor-ice = STUN/TURN
cli-doctor-no-ice = none configured here (relays come from the signalling server per call)
cli-doctor-audio = Audio devices
cli-doctor-none-found = none found
cli-doctor-cameras = Cameras
cli-doctor-more-modes = … { $count } more (`kh camera list`)
cli-doctor-codecs = Video codecs
cli-doctor-render-nodes = GPU render nodes: { $nodes }
cli-doctor-render-nodes-none = GPU render nodes: none
cli-doctor-encode = encode
cli-doctor-decode = decode
cli-doctor-hardware = hardware
cli-doctor-software = software
cli-doctor-onnx = AI models (ONNX Runtime)
cli-doctor-providers = execution providers: { $providers }
cli-doctor-yes = yes
cli-doctor-no = no
cli-doctor-not-found = not found
cli-doctor-database = Case database
cli-doctor-database-line = { $path }: schema { $schema } (this build writes { $known }), { $cases } cases, integrity { $integrity }
cli-doctor-database-not-created = { $path } (not created yet)
cli-doctor-warnings = Warnings
cli-doctor-no-problems = No problems found.
cli-doctor-problems = { $count ->
    [one] 1 problem:
   *[other] { $count } problems:
}
cli-doctor-check-ok = ok    { $url } in { $ms } ms
cli-doctor-check-address = ({ $address })
cli-doctor-check-mapped = ; it sees us as { $mapped }
cli-doctor-check-fail = FAIL  { $url }: { $problem }

## kh doctor's findings
cli-doctor-onnx-missing = AI models cannot run: { $problem }
cli-doctor-settings-problem = settings: { $problem }
cli-doctor-no-signalling = signalling.url is not set: calls cannot start (set it in the system config file)
cli-doctor-signalling-problem = signalling { $url }: { $problem }
cli-doctor-no-microphone = no audio input device: calls will send silence
cli-doctor-camera-problem = devices.camera = { $camera }: { $problem }
cli-doctor-no-camera = no camera Kakehashi can read: calls send the test pattern instead
cli-doctor-no-hardware-encoder = no hardware video encoder: calls encode in software (1080p at most on a small CPU)
cli-doctor-no-hevc-8k = no hardware HEVC encoder for 8K: 8K is sent as recorded, not live
cli-doctor-software-gpu = only a software renderer was found: slides draw correctly but slowly; install the GPU's driver
cli-doctor-database-damaged = case database { $path }: { $problem }
cli-doctor-database-newer = case database { $path } is from a newer Kakehashi (schema { $schema }, this build knows { $known })

## Other commands
cli-objects-written = kh: { $count } objects written to { $path }
cli-beyond-slide = kh: warning: { $count } objects reach beyond the slide's { $width }×{ $height } pixels: are these the slide's annotations?
cli-not-dicom-slide = kh: note: the slide is not DICOM: the annotations are written in its level-0 pixels, in a study of their own
cli-warning = kh: warning: { $problem }
cli-note = kh: note: { $note }
cli-no-cameras = no cameras (no /dev/video* that can capture)
cli-camera-opened = kh camera: { $name } ({ $path }) at { $mode }
cli-camera-captured = kh camera: { $frames } frames in { $seconds } s ({ $fps } fps) -> { $path }; { $captured } captured, { $replaced } replaced unread
cli-doctor-source = { $kind ->
    [default] default
    [system] system { $path }
    [user] user { $path }
   *[environment] environment { $variable }
}

## What kh refuses or was doing when it failed (library details follow
## after a colon, as they were said)
cli-analyze-out-not-geojson = { $path }: --out must be a .geojson file
cli-analyze-model = --model { $problem }
cli-annotations-output-format = { $path }: the output format comes from the extension: .geojson or .json (QuPath GeoJSON), .xml (ASAP XML), .dcm (DICOM ANN)
cli-converting = converting { $path }
cli-writing = writing { $path }
cli-drawing = drawing { $path }
cli-creating-file-in = creating a file in { $dir }
cli-starting-runtime = starting the async runtime
cli-send-not-readable = --send { $file }: not testsrc, none, or a readable video file
cli-codec-receive-only = --codec { $codec }: received and decoded, but not sent (no real-time encoder); send vp8, vp9, h264 or h265
cli-codec-unknown = --codec { $codec }: vp8, vp9, h264 or h265
cli-fps-range = --fps { $fps }: 1 to 120
cli-ice-failed-after = --ice-failed-after: a positive number of seconds
cli-echo-cancellation = echo cancellation
cli-joining-call = joining the call
cli-wrong-room = --room { $room }: the token is for room "{ $token_room }"
cli-frames-zero = --frames 0: capture at least one
cli-camera-no-picture = { $path }: no picture in { $seconds } s ({ $captured } captured so far)
cli-size-expected = { $flag } "{ $size }": expected WIDTHxHEIGHT
cli-size-at-least-one = --width and --height must be at least 1
cli-tile-missing = level { $level } tile ({ $col }, { $row }) is missing
cli-rotation = --rotation { $degrees } is not a multiple of 90
cli-outside = { $flag } { $value } is outside { $low }..={ $high }
cli-heatmap-range-alone = --heatmap-range needs --heatmap
cli-heatmap-nothing = --heatmap "{ $name }": no object in the annotation files has it
cli-gpu-errors = the GPU reported errors: { $errors }
cli-waiting-for-gpu = waiting for the GPU: { $problem }

