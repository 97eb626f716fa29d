#!/usr/bin/env python3
"""How well `kh analyze --model tissue` found the tissue the fixture drew:
the intersection over union of its polygons (shapely, at pixel centres on
a grid) with the true mask, whether any dust speck or the grey smudge was
taken for tissue, and whether every polygon is valid.

    tissue_oracle.py TRUTH.png DUST.json RESULT.geojson [--step N]

Prints {"iou": …, "dust_inside": n, "smudge_inside": bool, "invalid": n,
"objects": n}.
"""

import argparse
import json

import numpy as np
import shapely
from PIL import Image
from shapely.geometry import Point, shape

Image.MAX_IMAGE_PIXELS = None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("truth")
    ap.add_argument("dust")
    ap.add_argument("result")
    ap.add_argument("--step", type=int, default=8)
    args = ap.parse_args()
    truth = np.asarray(Image.open(args.truth)) > 0
    with open(args.result) as f:
        features = json.load(f)["features"]
    polygons = [shape(feat["geometry"]) for feat in features]
    invalid = sum(1 for p in polygons if not p.is_valid)
    found = shapely.union_all([p.buffer(0) for p in polygons]) if polygons else shapely.Polygon()
    h, w = truth.shape
    ys, xs = np.mgrid[0:h:args.step, 0:w:args.step]
    ours = shapely.contains_xy(found, xs.ravel() + 0.5, ys.ravel() + 0.5).reshape(xs.shape)
    theirs = truth[ys, xs]
    union = np.logical_or(ours, theirs).sum()
    iou = float(np.logical_and(ours, theirs).sum() / union) if union else 1.0
    with open(args.dust) as f:
        dust = json.load(f)
    dust_inside = sum(1 for x, y in dust if found.intersects(Point(x, y)))
    print(json.dumps({"iou": iou, "dust_inside": dust_inside,
                      "smudge_inside": bool(found.intersects(Point(600, 5600))),
                      "invalid": invalid, "objects": len(polygons)}))


if __name__ == "__main__":
    main()
