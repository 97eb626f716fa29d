#!/usr/bin/env python3
"""Independent reference reader for the parity suite.

    slide_oracle.py REQUEST.json OUT_PREFIX

REQUEST: {"path": ..., "oracle": "openslide" | "tifffile",
          "regions": [[x, y, level, w, h], ...], "associated": true}
Writes OUT_PREFIX.json (info, and byte ranges of each answer in
OUT_PREFIX.bin) and OUT_PREFIX.bin (RGBA8 pixels, not premultiplied).

"openslide" answers with OpenSlide 4 (openslide-bin); "tifffile" with
tifffile + imagecodecs, for files OpenSlide does not read the way we do
(stripped TIFF, OME-TIFF SubIFD pyramids).
"""

import glob
import json
import os
import sys

import numpy as np


def openslide_answer(req, out):
    import openslide

    path = req["path"]
    if os.path.isdir(path):
        path = sorted(glob.glob(os.path.join(path, "*.dcm")))[0]
    s = openslide.OpenSlide(path)
    info = {
        "vendor": s.properties.get("openslide.vendor"),
        "levels": [
            {"width": w, "height": h, "downsample": ds,
             "tile_width": int(s.properties.get(f"openslide.level[{i}].tile-width", 0)),
             "tile_height": int(s.properties.get(f"openslide.level[{i}].tile-height", 0))}
            for i, ((w, h), ds) in enumerate(zip(s.level_dimensions, s.level_downsamples))
        ],
        "properties": dict(s.properties),
        "associated": {k: list(v.size) for k, v in s.associated_images.items()},
    }
    regions = []
    for x, y, level, w, h in req["regions"]:
        img = s.read_region((x, y), level, (w, h))
        regions.append(out.put(np.asarray(img, dtype=np.uint8)))
    associated = {}
    if req.get("associated"):
        for name, img in s.associated_images.items():
            associated[name] = out.put(np.asarray(img, dtype=np.uint8))
    return info, regions, associated


def tifffile_answer(req, out):
    import tifffile

    with tifffile.TiffFile(req["path"]) as t:
        series = t.series[0]
        levels = list(series.levels)
        arrays = []
        for lv in levels:
            a = lv.asarray()
            if a.ndim == 2:
                a = np.stack([a] * 3, -1)
            rgba = np.full(a.shape[:2] + (4,), 255, np.uint8)
            rgba[..., :3] = a[..., :3]
            arrays.append(rgba)
        w0, h0 = arrays[0].shape[1], arrays[0].shape[0]
        info = {
            "vendor": None,
            "levels": [
                {"width": a.shape[1], "height": a.shape[0],
                 "downsample": (h0 / a.shape[0] + w0 / a.shape[1]) / 2,
                 "tile_width": lv.keyframe.tilewidth or a.shape[1],
                 "tile_height": lv.keyframe.tilelength or lv.keyframe.rowsperstrip}
                for a, lv in zip(arrays, levels)
            ],
            "properties": {},
            "associated": {},
        }
        regions = []
        for x, y, level, w, h in req["regions"]:
            a = arrays[level]
            ds = info["levels"][level]["downsample"]
            # OpenSlide's rule for negative origins; callers send aligned
            # positive origins only.
            ox = int(-x / ds) if x < 0 else 0
            oy = int(-y / ds) if y < 0 else 0
            lx = 0 if x < 0 else int(x / ds)
            ly = 0 if y < 0 else int(y / ds)
            region = np.zeros((h, w, 4), np.uint8)
            part = a[ly:ly + h - oy, lx:lx + w - ox]
            region[oy:oy + part.shape[0], ox:ox + part.shape[1]] = part
            regions.append(out.put(region))
    return info, regions, {}


class Blob:
    def __init__(self, path):
        self.f = open(path, "wb")
        self.pos = 0

    def put(self, array):
        data = np.ascontiguousarray(array).tobytes()
        self.f.write(data)
        start = self.pos
        self.pos += len(data)
        return [start, len(data), int(array.shape[1]), int(array.shape[0])]


def main():
    req = json.load(open(sys.argv[1]))
    prefix = sys.argv[2]
    out = Blob(prefix + ".bin")
    try:
        answer = openslide_answer if req["oracle"] == "openslide" else tifffile_answer
        info, regions, associated = answer(req, out)
        result = {"error": None, "info": info, "regions": regions, "associated": associated}
    except Exception as e:  # reported to the test, which decides
        result = {"error": f"{type(e).__name__}: {e}"}
    out.f.close()
    with open(prefix + ".json", "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
