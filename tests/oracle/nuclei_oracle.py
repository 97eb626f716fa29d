#!/usr/bin/env python3
"""How well `kh analyze --model nuclei` found the nuclei the fixture drew,
and whether its stain measurements are scikit-image's.

    nuclei_oracle.py SLIDE TRUTH.json RESULT.geojson [--window X0,Y0,X1,Y1]

Nuclei are judged in the sharp part of the tissue (inside the window when
one is given): each true nucleus (an ellipse, shapely) is paired one to one
with a found polygon, best intersection over union first; a pair counts
from IoU 0.5. The haematoxylin and eosin means of up to 300 found nuclei
are recomputed with skimage.color.rgb2hed (times 6: rgb2hed divides the
natural log by ln 1e-6, Kakehashi reports base-10 optical density) over
the pixels whose centres their polygons hold, read by OpenSlide.

Prints {"truth", "found", "matched", "recall", "precision", "mean_iou",
"pairs", "pairs_split", "invalid", "outside_tissue", "h_median_err",
"h_p95_err", "e_median_err"} (errors relative).
"""

import argparse
import json

import numpy as np
import openslide
import shapely
from shapely import affinity
from shapely.geometry import Point, box, shape
from skimage.color import rgb2hed


def ellipse(cx, cy, a, b, angle):
    return affinity.rotate(affinity.scale(Point(cx, cy).buffer(1.0, 32), a, b), angle)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("slide")
    ap.add_argument("truth")
    ap.add_argument("result")
    ap.add_argument("--window")
    args = ap.parse_args()
    with open(args.truth) as f:
        truth = json.load(f)
    with open(args.result) as f:
        features = json.load(f)["features"]
    tx0, ty0, tx1, ty1 = truth["tissue"]
    # The sharp tissue, away from the blur's edge.
    wx0, wy0, wx1, wy1 = tx0, ty0, truth["blurred"][0] - 20, ty1
    if args.window:
        x0, y0, x1, y1 = (float(v) for v in args.window.split(","))
        wx0, wy0, wx1, wy1 = max(wx0, x0), max(wy0, y0), min(wx1, x1), min(wy1, y1)
    window = box(wx0, wy0, wx1, wy1)
    tissue = box(tx0, ty0, tx1, ty1)

    found = [(shape(f["geometry"]), f["properties"]["measurements"]) for f in features]
    invalid = sum(1 for g, _ in found if not g.is_valid)
    outside = sum(1 for g, _ in found if not tissue.contains(g.centroid))
    found = [(g, m) for g, m in found if window.contains(g.centroid)]
    truths = [(ellipse(*n[:5]), n[5]) for n in truth["nuclei"] if window.contains(Point(n[0], n[1]))]

    tree = shapely.STRtree([g for g, _ in found])
    candidates = []
    for i, (t, _) in enumerate(truths):
        for j in tree.query(t):
            g = found[j][0]
            inter = t.intersection(g).area
            if inter > 0:
                candidates.append((inter / t.union(g).area, i, int(j)))
    candidates.sort(reverse=True)
    used_t, used_f, ious = set(), set(), []
    for iou, i, j in candidates:
        if iou < 0.5:
            break
        if i in used_t or j in used_f:
            continue
        used_t.add(i)
        used_f.add(j)
        ious.append(iou)
    pairs = [i for i, (_, paired) in enumerate(truths) if paired]

    # Stain means against rgb2hed over each polygon's pixel centres.
    slide = openslide.OpenSlide(args.slide)
    h_err, e_err = [], []
    for g, m in found[:300]:
        bx0, by0, bx1, by1 = (int(np.floor(v)) for v in g.bounds)
        bx1, by1 = bx1 + 1, by1 + 1
        rgba = np.asarray(slide.read_region((bx0, by0), 0, (bx1 - bx0, by1 - by0)))
        hed = rgb2hed(rgba[..., :3])
        ys, xs = np.mgrid[by0:by1, bx0:bx1]
        inside = shapely.contains_xy(g, xs + 0.5, ys + 0.5)
        if not inside.any():
            continue
        h = 6 * hed[..., 0][inside].mean()
        e = 6 * hed[..., 1][inside].mean()
        h_err.append(abs(m["Nucleus: Hematoxylin OD mean"] - h) / h)
        e_err.append(abs(m["Nucleus: Eosin OD mean"] - e) / max(e, 1e-6))

    print(json.dumps({
        "truth": len(truths), "found": len(found), "matched": len(ious),
        "recall": len(ious) / max(len(truths), 1),
        "precision": len(ious) / max(len(found), 1),
        "mean_iou": float(np.mean(ious)) if ious else 0.0,
        "pairs": len(pairs), "pairs_split": sum(1 for i in pairs if i in used_t),
        "invalid": invalid, "outside_tissue": outside,
        "h_median_err": float(np.median(h_err)) if h_err else None,
        "h_p95_err": float(np.percentile(h_err, 95)) if h_err else None,
        "e_median_err": float(np.median(e_err)) if e_err else None,
    }))


if __name__ == "__main__":
    main()
