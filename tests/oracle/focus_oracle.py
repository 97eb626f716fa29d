#!/usr/bin/env python3
"""Whether `kh analyze --model focus` measured each tile's sharpness as
an independent computation does, and found the part the fixture blurred.

    focus_oracle.py SLIDE TRUTH.json RESULT.geojson

For every tile object: the variance of the 4-neighbour Laplacian of the
grey image (BT.601 weights) over the tile's interior, computed with numpy
on OpenSlide's pixels of level 0, against the tile's "Sharpness
(Laplacian variance)"; tiles wholly inside the blurred rectangle (3 σ in
from its edge) must be "Out of focus", tiles wholly outside it "In focus".

Prints {"tiles", "max_rel_err", "blurred", "blurred_missed", "sharp",
"sharp_flagged"}.
"""

import argparse
import json

import numpy as np
import openslide


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("slide")
    ap.add_argument("truth")
    ap.add_argument("result")
    args = ap.parse_args()
    with open(args.truth) as f:
        truth = json.load(f)
    with open(args.result) as f:
        features = json.load(f)["features"]
    slide = openslide.OpenSlide(args.slide)
    bx0 = truth["blurred"][0]
    edge = 12  # 3 σ of the fixture's blur
    worst, blurred, missed, sharp, flagged = 0.0, 0, 0, 0, 0
    for f in features:
        ring = np.array(f["geometry"]["coordinates"][0])
        x0, y0 = ring.min(axis=0)
        x1, y1 = ring.max(axis=0)
        x0, y0, x1, y1 = (int(round(v)) for v in (x0, y0, x1, y1))
        rgb = np.asarray(slide.read_region((x0, y0), 0, (x1 - x0, y1 - y0)))[..., :3].astype(np.float64)
        grey = 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]
        lap = (grey[1:-1, :-2] + grey[1:-1, 2:] + grey[:-2, 1:-1] + grey[2:, 1:-1]
               - 4 * grey[1:-1, 1:-1])
        ours = f["properties"]["measurements"]["Sharpness (Laplacian variance)"]
        worst = max(worst, abs(ours - lap.var()) / max(lap.var(), 1e-9))
        cls = f["properties"]["classification"]["name"]
        if x0 >= bx0 + edge:
            blurred += 1
            missed += cls != "Out of focus"
        elif x1 <= bx0 - edge:
            sharp += 1
            flagged += cls != "In focus"
    print(json.dumps({"tiles": len(features), "max_rel_err": worst, "blurred": blurred,
                      "blurred_missed": missed, "sharp": sharp, "sharp_flagged": flagged}))


if __name__ == "__main__":
    main()
