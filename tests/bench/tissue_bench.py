#!/usr/bin/env python3
"""Tissue detection on a 100k × 100k slide: `kh analyze --model tissue`
against the same steps in Python (OpenSlide's read of the same level,
scikit-image's saturation, Otsu, closing/opening, small objects and holes
removed, contours), in one run.

    tissue_bench.py --kh KH --source TISSUE_PNG_OR_SLIDE --work DIR [--rounds 3]

The slide is made once (libvips: the tissue fixture scaled up to 100,000
pixels wide, glass below to 100,000 high, a JPEG pyramid of 256-pixel tiles, 0.25 µm per pixel) and
kept in DIR. Best of the rounds each; prints one JSON line with both
times and the ratio kh / Python.
"""

import argparse
import json
import os
import subprocess
import time

import numpy as np


def make(source, out):
    import pyvips
    image = pyvips.Image.new_from_file(source, access="sequential")
    if image.hasalpha():
        image = image.flatten(background=[255, 255, 255])
    image = image.resize(100_000 / image.width, kernel="linear")
    image = image.crop(0, 0, 100_000, min(image.height, 100_000))
    # Square: glass below the tissue.
    image = image.embed(0, 0, 100_000, 100_000, extend="background", background=[243, 243, 243])
    image.tiffsave(out, tile=True, pyramid=True, compression="jpeg", Q=85,
                   tile_width=256, tile_height=256, bigtiff=True,
                   xres=4000, yres=4000, resunit="cm")


def python_tissue(path):
    # OpenSlide's C API through openslide-python's low level: its
    # OpenSlide class asks for an ICC profile, which OpenSlide 4.0.1
    # answers with -1 for this libvips file.
    from openslide import lowlevel
    from skimage import color, filters, measure, morphology
    start = time.perf_counter()
    slide = lowlevel.open(path)
    count = lowlevel.get_level_count(slide)
    dims = [lowlevel.get_level_dimensions(slide, i) for i in range(count)]
    level = next((i for i, (w, h) in enumerate(dims) if w * h <= 4 << 20), count - 1)
    w, h = dims[level]
    rgba = np.asarray(lowlevel.read_region(slide, 0, 0, level, w, h))
    saturation = color.rgb2hsv(rgba[..., :3])[..., 1]
    opaque = rgba[..., 3] >= 128
    t = min(max(filters.threshold_otsu(saturation[opaque]), 0.05), 0.3)
    mask = (saturation > t) & opaque
    square = np.ones((3, 3), bool)
    mask = morphology.opening(morphology.closing(mask, square), square)
    mpp = float(lowlevel.get_property_value(slide, "openslide.mpp-x") or 0.25)
    ds = lowlevel.get_level_downsample(slide, level)
    speck = max(int(10_000 / (mpp * mpp) / (ds * ds)), 4)
    # Pieces and holes under a speck go (max_size: at most that many).
    mask = morphology.remove_small_holes(morphology.remove_small_objects(mask, max_size=speck - 1),
                                         max_size=speck - 1)
    contours = measure.find_contours(mask.astype(np.uint8), 0.5)
    return time.perf_counter() - start, len(contours), (w, h)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kh", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    slide = os.path.join(args.work, "tissue_100k.tiff")
    made = None
    if not os.path.exists(slide):
        start = time.perf_counter()
        make(args.source, slide + ".part")
        os.replace(slide + ".part", slide)
        made = round(time.perf_counter() - start, 1)
    out = os.path.join(args.work, "tissue_100k.geojson")
    kh_times, py_times = [], []
    for _ in range(args.rounds):
        start = time.perf_counter()
        subprocess.run([args.kh, "analyze", slide, "--model", "tissue", "--out", out], check=True,
                       stderr=subprocess.DEVNULL)
        kh_times.append(time.perf_counter() - start)
        seconds, contours, level = python_tissue(slide)
        py_times.append(seconds)
    with open(out) as f:
        objects = len(json.load(f)["features"])
    kh_s, py_s = min(kh_times), min(py_times)
    print(json.dumps({"slide": "100000 px wide", "level_read": level, "made_s": made,
                      "kh_s": round(kh_s, 3), "python_s": round(py_s, 3), "ratio": round(kh_s / py_s, 3),
                      "kh_objects": objects, "python_contours": contours}))


if __name__ == "__main__":
    main()
