#!/usr/bin/env python3
"""An independent rasterisation of an annotation overlay, for the overlay
tests: where `kh render --annotations` must have drawn each object's
colour, and where it must have left the slide alone.

    overlay_oracle.py ANNOTATIONS.geojson SLIDE_ONLY.png OVERLAY.png \
        --center X Y --zoom Z --rotation R --fill-opacity F --outline-px W \
        [--marker-px M] [--hide-class NAME]... [--heatmap NAME --heatmap-range LO HI]

Geometry goes to the screen by this script's own transform (the view's
definition: the slide point at the centre, zoom level-0 pixels per screen
pixel, clockwise quarter turns) and is rasterised by shapely at pixel
centres (the GPU's own sampling rule); PIL reads the PNGs:

  - well inside each shown polygon (inset past the outline), the pixel is
    the class colour blended over the slide at the fill opacity (exactly
    the colour at opacity 1);
  - on each shown line and at each shown point, the class colour;
  - far from every object (and everywhere for hidden classes), the slide
    exactly as drawn without annotations;
  - with a heatmap, the colour is viridis at (value − LO) / (HI − LO),
    clamped, from its five anchors (matplotlib's viridis at 0, ¼, ½, ¾, 1)
    by linear interpolation rounded to the nearest integer; objects
    without the measurement are not drawn.

Prints {"ok": bool, "checked": {...}, "problems": [...]}.
"""

import argparse
import json

import numpy as np
import shapely
from PIL import Image
from shapely.geometry import shape


def screen_from_slide(args, width, height):
    cx, cy = args.center
    z = args.zoom

    def f(x, y):
        dx, dy = (x - cx) / z, (y - cy) / z
        # Clockwise quarter turns of the slide on screen.
        sx, sy = {0: (dx, dy), 90: (-dy, dx), 180: (-dx, -dy), 270: (dy, -dx)}[args.rotation]
        return sx + width / 2.0, sy + height / 2.0
    return f


def to_screen(geom, f):
    return shapely.transform(geom, lambda c: np.array([f(x, y) for x, y in c]).reshape(-1, 2))


def mask(geom, width, height):
    """Pixels whose centre lies inside `geom` (a polygonal geometry)."""
    if geom.is_empty:
        return np.zeros((height, width), bool)
    ys, xs = np.mgrid[0:height, 0:width]
    # Exact point-in-polygon at pixel centres (shapely, vectorised).
    inside = shapely.contains_xy(geom, xs.ravel() + 0.5, ys.ravel() + 0.5)
    return inside.reshape(height, width)


def class_of(props):
    c = props.get("classification")
    if isinstance(c, dict):
        return c.get("name") or ": ".join(c.get("names", [])), c.get("color")
    return c, None


VIRIDIS = np.array([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]],
                   dtype=np.float64)


def heat(value, lo, hi):
    t = (value - lo) / (hi - lo) if hi > lo else 1.0
    t = min(max(t, 0.0), 1.0)
    stops = [0.0, 0.25, 0.5, 0.75, 1.0]
    return [float(np.floor(np.interp(t, stops, VIRIDIS[:, k]) + 0.5)) for k in range(3)]


def srgb_decode(c):
    c = c / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def srgb_encode(lin):
    lin = np.clip(lin, 0, 1)
    c = np.where(lin <= 0.0031308, lin * 12.92, 1.055 * lin ** (1 / 2.4) - 0.055)
    return c * 255.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("annotations")
    ap.add_argument("slide_only")
    ap.add_argument("overlay")
    ap.add_argument("--center", nargs=2, type=float, required=True)
    ap.add_argument("--zoom", type=float, required=True)
    ap.add_argument("--rotation", type=int, default=0)
    ap.add_argument("--fill-opacity", type=float, default=0.25)
    ap.add_argument("--outline-px", type=float, default=1.5)
    ap.add_argument("--marker-px", type=float, default=5.0)
    ap.add_argument("--hide-class", action="append", default=[])
    ap.add_argument("--heatmap")
    ap.add_argument("--heatmap-range", nargs=2, type=float)
    args = ap.parse_args()

    base = np.asarray(Image.open(args.slide_only).convert("RGB")).astype(np.int32)
    drawn = np.asarray(Image.open(args.overlay).convert("RGB")).astype(np.int32)
    height, width = base.shape[:2]
    f = screen_from_slide(args, width, height)
    with open(args.annotations) as fh:
        doc = json.load(fh)
    reach = args.outline_px / 2 + args.marker_px / 2 + 2.0
    near_any = []
    hidden_shapes = []
    problems = []
    checked = {"fill": 0, "line": 0, "point": 0, "untouched": 0, "hidden": 0}
    for i, feat in enumerate(doc["features"]):
        geom = to_screen(shape(feat["geometry"]), f)
        props = feat.get("properties") or {}
        name, colour = class_of(props)
        hidden = name in args.hide_class
        if args.heatmap:
            value = (props.get("measurements") or {}).get(args.heatmap)
            if value is None:
                hidden = True
            else:
                colour = heat(value, *args.heatmap_range)
        if hidden:
            # Nothing of it drawn: its area is the slide (checked below,
            # away from shown objects that touch it).
            hidden_shapes.append((i, name, geom.buffer(reach)))
            continue
        near_any.append(geom.buffer(reach))
        want = np.array(colour[:3], dtype=np.float64)
        if geom.geom_type in ("Polygon", "MultiPolygon"):
            inner = geom.buffer(-(args.outline_px / 2 + 1.5))
            where = mask(inner, width, height)
            if args.fill_opacity >= 1.0:
                expect = np.broadcast_to(want, base[where].shape)
                tolerance = 0
            else:
                lin = args.fill_opacity * srgb_decode(want) + (1 - args.fill_opacity) * srgb_decode(
                    base[where].astype(np.float64))
                expect = srgb_encode(lin)
                tolerance = 1.5
            bad = np.any(np.abs(drawn[where] - expect) > tolerance, axis=1)
            checked["fill"] += int(where.sum())
            if bad.any():
                ys, xs = np.nonzero(where)
                k = int(np.argmax(bad))
                problems.append(
                    f"object {i} ({name}): {int(bad.sum())} of {int(where.sum())} interior pixels "
                    f"wrong, e.g. ({xs[k]}, {ys[k]}) = {drawn[where][k].tolist()}, "
                    f"expected {np.round(expect[k]).tolist()}")
            outline = geom.boundary
        elif geom.geom_type in ("LineString", "MultiLineString"):
            outline = geom
        else:
            outline = None
        if outline is not None and args.outline_px >= 2:
            # Pixels whose centre is within a quarter of the width of the
            # line (clear of the fill's blend and of anti-aliasing).
            band = outline.buffer(args.outline_px / 4, cap_style="flat")
            where = mask(band, width, height)
            bad = np.any(drawn[where] != want, axis=1)
            checked["line"] += int(where.sum())
            # Corners of the band may reach where the quad's edge is; allow
            # a sliver, not a missing line.
            if bad.sum() > max(2, 0.02 * where.sum()):
                problems.append(f"object {i} ({name}): {int(bad.sum())} of {int(where.sum())} "
                                "outline pixels wrong")
        if geom.geom_type in ("Point", "MultiPoint"):
            points = [geom] if geom.geom_type == "Point" else list(geom.geoms)
            for p in points:
                x, y = int(np.floor(p.x)), int(np.floor(p.y))
                if 1 <= x < width - 1 and 1 <= y < height - 1:
                    checked["point"] += 1
                    if np.any(drawn[y, x] != want):
                        problems.append(f"object {i} ({name}): marker at ({x}, {y}) is "
                                        f"{drawn[y, x].tolist()}, expected {want.tolist()}")
    far = ~mask(shapely.union_all(near_any), width, height) if near_any else np.ones(
        (height, width), bool)
    for i, name, area in hidden_shapes:
        where = mask(area, width, height) & far
        bad = np.any(drawn[where] != base[where], axis=1)
        checked["hidden"] += int(where.sum())
        if bad.any():
            problems.append(f"object {i} ({name}, hidden): {int(bad.sum())} pixels drawn")
    bad = np.any(drawn[far] != base[far], axis=1)
    checked["untouched"] = int(far.sum())
    if bad.any():
        problems.append(f"{int(bad.sum())} pixels far from every object changed")
    print(json.dumps({"ok": not problems, "checked": checked, "problems": problems[:20]}))


if __name__ == "__main__":
    main()
