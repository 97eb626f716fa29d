# The viewer window (kh view): toolbar, status line, panels, help.

viewer-window-title = Kakehashi viewer
viewer-window-title-slide = { $name } — Kakehashi viewer

## Toolbar
viewer-open = Open…
    .title = Ctrl+O
viewer-fit = Fit
    .title = F
viewer-one-to-one = 1:1
    .title = Z
viewer-rotate = Rotate
    .title = Rotate 90° clockwise (R)
viewer-ruler = Ruler
    .title = M
viewer-screenshot = Screenshot
    .title = S
viewer-slide-images = Slide images
    .title = I
viewer-adjust = Adjust
    .title = A
viewer-help-button = ?
    .title = H

## Status line
viewer-opening = Opening { $name }…
viewer-drop-here = Drop a slide here, or Open… (Ctrl+O)
viewer-magnification = { $magnification }×
viewer-magnification-relative = { $magnification }× (relative)
viewer-cursor-um = x { $x } µm  y { $y } µm
viewer-cursor-px = x { $x } px  y { $y } px
viewer-level = level { $level } ({ $downsample }×)
viewer-tiles = { $resident }/{ $visible } tiles
viewer-annotation-count = { $count } annotations (N)
viewer-reading-annotations = reading annotations…
viewer-fps = { $fps } fps
viewer-tile-failures = { $count ->
    [one] { $count } tile could not be read: a coarser level shows there
   *[other] { $count } tiles could not be read: a coarser level shows there
}
viewer-tile-failures-latest = Latest: { $problem }
    Every failure is in the log and reported to the console.

## Remote camera
viewer-remote-camera = Remote camera
viewer-remote-counters = { $width } × { $height } · { $shown } shown of { $received } received, { $late } late, { $dropped } dropped
viewer-waiting-picture = Waiting for the first picture…

## Display adjustments
viewer-display = Display
viewer-brightness = brightness
viewer-contrast = contrast
viewer-gamma = gamma
viewer-reset = Reset

## Slide images
viewer-hide-label = Hide label (patient identity)
viewer-no-pictures = This slide has no label, macro or thumbnail image.
viewer-picture-hidden = Hidden.
viewer-picture-name = { $name ->
    [label] label
    [macro] macro
    [thumbnail] thumbnail
   *[other] { $name }
}

## Open dialog
viewer-open-slide = Open slide
viewer-open-button = Open
viewer-up = Up one folder

## Help
viewer-help = Keyboard and mouse
viewer-help-pan-keys = drag, arrow keys
viewer-help-pan = pan (a quick drag throws the slide)
viewer-help-zoom-keys = wheel, pinch, + / −
viewer-help-zoom = zoom towards the cursor
viewer-help-double-click-keys = double-click
viewer-help-double-click = zoom in there
viewer-help-presets = 1.25× 2.5× 5× 10× 20× 40×
viewer-help-fit = fit the slide / 1:1 pixels
viewer-help-rotate = rotate 90° clockwise / counter-clockwise
viewer-help-ruler = ruler: drag to measure
viewer-help-screenshot = screenshot (PNG with scale bar)
viewer-help-pictures = slide images / show or hide the label
viewer-help-adjust = brightness, contrast, gamma
viewer-help-annotations = annotations: layers, classes, fill, threshold
viewer-help-findings = findings review; next / previous; confirm / reject
viewer-help-draw = draw: polygon (Enter ends) / box / ellipse / freehand / point
viewer-help-move-keys = drag the selection; Del
viewer-help-move = move it (a vertex: drag its handle; an AI finding: your copy) / delete
viewer-help-undo = undo / redo your annotations
viewer-help-open-keys = Ctrl+O, drop a file
viewer-help-open = open a slide
viewer-help-drop-keys = drop .geojson / .xml / .dcm
viewer-help-drop = draw annotations over the slide
viewer-help-fullscreen = fullscreen / leave, close
viewer-help-help = this help

## Annotations panel
viewer-annotations = Annotations
viewer-annotations-reading = Reading annotations…
viewer-annotations-none = No annotations: drop a QuPath GeoJSON, ASAP XML or DICOM ANN file on the window.
viewer-layer-line = { $name } ({ $count } objects)
viewer-fill = Fill
viewer-outline = Outline px
viewer-classes = Classes
viewer-at-least = at least
viewer-every-object = every object
viewer-colour-by = colour by
viewer-colour-by-class = class
viewer-low-end = low end
viewer-high-end = high end
viewer-unclassified = Unclassified

## Findings review
viewer-findings = Findings
viewer-findings-none = No scored findings: the annotations carry no measurements.
viewer-score = score
viewer-reviewed = { $reviewed } of { $total } reviewed
viewer-previous = ◀ Previous
viewer-next = Next ▶
viewer-confirm = ✔ Confirm
viewer-reject = ✖ Reject
viewer-findings-more = … { $count } more (J steps through all)

## Object card
viewer-kind = { $kind ->
    [annotation] Annotation
    [detection] Detection
    [cell] Cell
   *[tile] Tile
}
viewer-by-ai = AI: { $name } { $version }
viewer-by-person = By { $name }
viewer-edited-from = (edited from AI: { $algorithm })
viewer-more-measurements = … { $count } more measurements
viewer-selected = Selected (Esc to clear)

## Drawing
viewer-my-annotations-unsaved = My annotations (not saved)
viewer-tool-polygon = Polygon P
viewer-tool-rectangle = Box B
viewer-tool-ellipse = Ellipse E
viewer-tool-freehand = Free D
viewer-tool-point = Point T
viewer-tool-polygon-hint = Polygon: click each vertex; Enter or double-click finishes, Backspace takes back the last, Esc cancels
viewer-tool-rectangle-hint = Rectangle: drag from corner to corner
viewer-tool-ellipse-hint = Ellipse: drag the box it fills
viewer-tool-freehand-hint = Freehand: drag around the region
viewer-tool-point-hint = Point: click
viewer-undo = Undo
    .title = Ctrl+Z
viewer-redo = Redo
    .title = Ctrl+Y
viewer-new-class = New class
viewer-set-on-selected = Set on selected

## Messages (also sent to the console)
viewer-could-not-open = could not open { $name }: { $problem }
viewer-could-not-draw = could not draw { $name }: { $problem }
viewer-could-not-show = could not show { $name }: { $problem }
viewer-own-not-read = could not read your annotations: { $problem }
viewer-own-not-shown = could not show your annotations: { $problem }
viewer-own-not-saved = your annotations were not saved: { $problem }
viewer-too-small = too small to keep: nothing was added
viewer-saved = saved { $path }
viewer-screenshot-failed = screenshot { $path }: { $problem }
viewer-gpu-error = GPU: { $problem }
viewer-screenshot-error = screenshot: { $problem }
viewer-bad-rotation = set_view: rotation { $degrees } is not a multiple of 90
viewer-bad-view = set_view: the view has a non-finite or non-positive value
viewer-screenshot-bad-name = screenshot { $name } refused: a screenshot is named by a plain .png file name
viewer-screenshot-no-folder = screenshot refused: the viewer was started without a screenshot folder
viewer-remote-decoder = remote video: starting the decoder: { $problem }
viewer-geometry = { $shape ->
    [point] point
    [multipoint] points
    [polyline] line
    [multipolyline] lines
    [polygon] polygon
    [multipolygon] polygons
    [rectangle] rectangle
   *[ellipse] ellipse
}
