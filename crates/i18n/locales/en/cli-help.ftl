# kh --help: every command's and argument's words. Ids come from the
# command tree (crates/kh/src/cli_words.rs): cli-about-<path> for a
# command, cli-arg-<path>-<argument> for an argument.

## What clap would say in English
cli-heading-usage = Usage:
cli-heading-commands = Commands
cli-heading-arguments = Arguments
cli-heading-options = Options
cli-arg-help = Print help
cli-arg-version = Print version
cli-help-default = [default: { $value }]
cli-help-values = [values: { $values }]

## Usage errors
cli-parse-invalid-value = '{ $value }' is not a value { $arg } takes
cli-parse-value-missing = { $arg } needs a value
cli-parse-value-refused = '{ $value }' is not a value { $arg } takes: { $reason }
cli-parse-unknown-argument = there is no argument '{ $arg }' here
cli-parse-unknown-command = there is no command '{ $command }'
cli-parse-missing-command = a command is needed
cli-parse-missing-argument = these are needed: { $arg }
cli-parse-conflict = { $arg } cannot be used with { $other }
cli-parse-no-equals = { $arg } takes its value after '='
cli-parse-value-count = { $arg } got the wrong number of values
cli-parse-not-utf8 = an argument is not valid UTF-8
cli-parse-not-a-whole-number = not a whole number
cli-parse-not-a-number = not a number
cli-parse-too-large = too large
cli-parse-too-small = too small
cli-parse-out-of-range = it must lie from { $low } to { $high }
cli-parse-did-you-mean = ; did you mean '{ $suggestion }'?
cli-parse-valid-values = ; it takes: { $values }
cli-parse-more = For more, add --help.

## kh
cli-about-kh = Kakehashi command-line tool
cli-arg-kh-language = The language kh and its viewer speak (default: the `ui.language` setting, else the system's locale)

## kh slide
cli-about-slide = Whole-slide images: metadata, regions, tiles, associated images
cli-about-slide-info = Print format, levels, resolution, associated images and properties as JSON
cli-arg-slide-info-file = The slide file (or a DICOM series' folder)
cli-about-slide-region = Write a region (x, y in level-0 pixels; width x height of LEVEL) as an RGBA PNG
cli-arg-slide-region-file = The slide file (or a DICOM series' folder)
cli-arg-slide-region-level = The level to read (0: full resolution)
cli-arg-slide-region-x = Left edge in level-0 pixels (may be negative)
cli-arg-slide-region-y = Top edge in level-0 pixels (may be negative)
cli-arg-slide-region-width = Width in pixels of the level
cli-arg-slide-region-height = Height in pixels of the level
cli-arg-slide-region-out = The PNG file to write
cli-about-slide-tile = Write one tile: decoded as PNG, or with --encoded as stored (JSON header line + bytes)
cli-arg-slide-tile-file = The slide file (or a DICOM series' folder)
cli-arg-slide-tile-level = The level the tile is on (0: full resolution)
cli-arg-slide-tile-col = The tile's column, from 0 at the left
cli-arg-slide-tile-row = The tile's row, from 0 at the top
cli-arg-slide-tile-encoded = Write the tile as stored (a JSON header line, then the bytes) instead of decoding it
cli-arg-slide-tile-out = The file to write
cli-about-slide-associated = Write an associated image (label, macro, thumbnail) as PNG
cli-arg-slide-associated-file = The slide file (or a DICOM series' folder)
cli-arg-slide-associated-name = Which image: label, macro, thumbnail (`kh slide info` lists them)
cli-arg-slide-associated-out = The PNG file to write

## kh annotations
cli-about-annotations = Annotation files (QuPath GeoJSON, ASAP XML, DICOM ANN): what they hold, and converting between them
cli-about-annotations-info = Print format, object count, counts by type and by class, and the bounds (level-0 pixels) as JSON. DICOM ANN in 3D slide coordinates and probability rasters (.npy, grayscale .png) need the slide (--slide) to be placed on it
cli-arg-annotations-info-file = The annotation file
cli-arg-annotations-info-slide = The slide the annotations belong to
cli-about-annotations-convert = Convert between QuPath GeoJSON (.geojson, .json), ASAP XML (.xml) and DICOM ANN (.dcm); the output format comes from OUT's extension. With --slide, objects beyond the slide's level-0 size are reported, and DICOM ANN written for a DICOM slide refers to its study, series and frame of reference (in its slide coordinates)
cli-arg-annotations-convert-input = The annotation file to read
cli-arg-annotations-convert-output = The file to write; its extension says the format
cli-arg-annotations-convert-slide = The slide the annotations belong to

## kh analyze
cli-about-analyze = Run an analysis on a slide (tissue detection) and write what it finds as QuPath GeoJSON; progress on stderr
cli-arg-analyze-slide = The slide to analyse
cli-arg-analyze-model = tissue | nuclei | focus | onnx:PATH
cli-arg-analyze-level = The level to read (default: chosen by the analysis)
cli-arg-analyze-region = X,Y,W,H in level-0 pixels (nuclei, focus and ONNX models; default: all tissue)
cli-arg-analyze-stride = Patch stride in pixels of the level (ONNX models)
cli-arg-analyze-all-patches = Keep patches outside tissue (ONNX models)
cli-arg-analyze-out = Where the findings go (.geojson)

## kh render
cli-about-render = Draw a view of a slide offscreen with the viewer's GPU renderer (no display needed) and write it as PNG
cli-arg-render-file = The slide file (or a DICOM series' folder)
cli-arg-render-width = Width of the picture in pixels
cli-arg-render-height = Height of the picture in pixels
cli-arg-render-center-x = View centre in level-0 pixels (default: the slide's centre)
cli-arg-render-center-y = View centre in level-0 pixels (default: the slide's centre)
cli-arg-render-zoom = Level-0 pixels per screen pixel (default: fit the slide)
cli-arg-render-rotation = Clockwise rotation in degrees: 0, 90, 180 or 270
cli-arg-render-brightness = Brightness added, -1 to 1 (0: as scanned)
cli-arg-render-contrast = Contrast factor (1: as scanned)
cli-arg-render-gamma = Gamma (1: as scanned)
cli-arg-render-budget-mib = GPU memory for tiles in MiB (default: sized from the adapter)
cli-arg-render-out = The PNG file to write
cli-arg-render-frames = After the view is complete, draw it N more times and report the renderer's CPU time per frame (prepare + encode + submit) and the time until the GPU has finished each frame
cli-arg-render-annotations = Draw an annotation file (QuPath GeoJSON, ASAP XML, DICOM ANN) over the slide as the viewer does; repeat for more layers, drawn in order
cli-arg-render-fill-opacity = Fill opacity of annotations, 0 to 1 (at 1 an object's interior is exactly its colour)
cli-arg-render-outline-px = Outline width of annotations in screen pixels (0: none)
cli-arg-render-hide-class = Leave out the objects of this class (repeatable)
cli-arg-render-heatmap = Colour objects by this measurement (a heatmap, viridis from the low end to the high) instead of by class; objects without it are not drawn
cli-arg-render-overlay-budget-mib = GPU memory the annotation layers may hold together, in MiB (default 1024, as the viewer)
cli-arg-render-heatmap-range = LOW,HIGH: the heatmap's ends (default: the measurement's range over the annotation files, as the viewer takes it)

## kh call
cli-about-call = Join a call as a headless peer: send a stamped test pattern (or a Y4M file) and a tone, measure what arrives, report JSON
cli-arg-call-server = The signalling server's WebSocket URL (ws://HOST:PORT/ws, or wss://)
cli-arg-call-room = The room; must be the one the token was issued for
cli-arg-call-token = A room token from `kakehashi-signal token` or the token API
cli-arg-call-send = What to send: `testsrc` (moving pattern with a stamped counter), a video file (Y4M, or what FFmpeg reads; looped), a recorded stream (IVF: VP8/VP9/AV1 sent as coded, looped), `camera`, or `none`
cli-arg-call-camera = With `--send camera`: which (`default`, a /dev/video* path, or a name `kh camera list` shows); opened at the mode nearest --size and --fps
cli-arg-call-size = Picture size, WIDTHxHEIGHT: the test pattern's, or the one the camera's nearest mode is chosen for
cli-arg-call-fps = Frames per second sent
cli-arg-call-grain = Add sensor-like noise of ± this many luma levels to the test pattern, so it costs bits as a camera picture does (0–64)
cli-arg-call-codec = What to send: vp8, vp9, h264 or h265 (hevc); av1 is received only. H.264 and HEVC go to the hardware encoder where there is one
cli-arg-call-bitrate = Video bitrate to start at, kbit/s (congestion control moves it)
cli-arg-call-max-bitrate = The most the video may take, however much the link offers, kbit/s
cli-arg-call-no-congestion-control = Hold `--bitrate` and use webrtc-rs's defaults (no GCC, no pacer, its NACK responder, the kernel's default UDP buffers): for comparison
cli-arg-call-stats-every = Also print the statistics as a JSON event every this many seconds
cli-arg-call-tone = Frequency of the test tone sent as audio, in Hz (0: silence)
cli-arg-call-audio-in = Send this microphone instead of the tone: `default`, or a device name (`pulse` reaches PulseAudio/PipeWire on Linux)
cli-arg-call-audio-out = Play what is heard on this audio device: `default` or a name
cli-arg-call-no-echo-cancellation = Send the microphone as it is, without removing the speakers' echo
cli-arg-call-record = Write received video to DIR/received-WxH.y4m
cli-arg-call-echo = Send back what arrives instead of our own media
cli-arg-call-duration = End the call after this many seconds (default: when the other side leaves, or on Ctrl-C)
cli-arg-call-stats-json = Write the call's statistics here as JSON when it ends
cli-arg-call-bind = Local address to gather candidates on (default: all interfaces)
cli-arg-call-relay-only = Only relay (TURN) candidates
cli-arg-call-software-codecs = Software codecs only, even where the platform has hardware ones (NVENC/NVDEC, VideoToolbox, Media Foundation; used by default)
cli-arg-call-no-decode = Count received video frames as they arrive whole, without decoding them (as the console does, handing them to the viewer): measures the transport of streams this machine cannot decode in real time
cli-arg-call-ice-failed-after = Seconds ICE stays "disconnected" before it calls the path failed and the call restarts ICE (with backoff, for up to 3 minutes)
cli-arg-call-bulk = Fill the `bulk` data channel as fast as it drains (throughput)
cli-arg-call-name = Name shown to the room

## kh camera
cli-about-camera = The workstation's cameras (V4L2): what each offers, and a capture to a Y4M file through the path a call sends from
cli-about-camera-list = Each camera with every layout, size and rate it offers
cli-arg-camera-list-json = As JSON
cli-about-camera-capture = Capture frames as the call would send them, into a Y4M file
cli-arg-camera-capture-device = `default`, a /dev/video* path, or a camera's name
cli-arg-camera-capture-size = The size wanted; the camera's nearest mode is used
cli-arg-camera-capture-fps = The frame rate wanted; the camera's nearest mode is used
cli-arg-camera-capture-frames = Frames to write
cli-arg-camera-capture-out = The Y4M file to write

## kh doctor
cli-about-doctor = What this workstation has and where its settings came from: GPU, settings with their sources and locks, signalling and STUN/TURN reachability, audio devices, cameras, the case database. Exits 1 when a check finds a problem
cli-arg-doctor-json = Print one JSON document instead of text
cli-arg-doctor-timeout = Seconds to wait for each network check

## kh view
cli-about-view = Open the viewer window (optionally on a slide, driven by a console listening at --ipc)
cli-arg-view-file = The slide to open (or a DICOM series' folder)
cli-arg-view-ipc = The console's local socket to connect to
cli-arg-view-screenshots = The folder screenshots are written to (the console's requests name a file in it; without it they are refused)
cli-arg-view-size = Window size in physical pixels, WIDTHxHEIGHT
cli-arg-view-budget-mib = GPU memory for tiles in MiB (default: from the adapter)
cli-arg-view-overlay-budget-mib = GPU memory for annotation layers together, in MiB (default: 1024)
cli-arg-view-tile-cache-mib = Decoded tiles kept in memory, in MiB (default: 256)
cli-arg-view-max-picture = The largest remote-video picture decoded, WIDTHxHEIGHT (default 8192x8192, 8192x4608 pixels in all)
cli-arg-view-no-vsync = Present without vsync (frame-rate measurements)
cli-arg-view-annotations = Draw an annotation file (QuPath GeoJSON, ASAP XML, DICOM ANN) over the slide; repeat for more layers
cli-arg-view-own-annotations = The specialist's own annotations: read if the file exists, and written (atomically, as QuPath GeoJSON) after every change made with the drawing tools (P polygon, B rectangle, E ellipse, D freehand, T point; Ctrl+Z / Ctrl+Y undo and redo)
cli-arg-view-author = Who draws: the name their annotations carry as provenance (default: the login name)
