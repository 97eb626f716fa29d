#!/usr/bin/env python3
"""A QuPath GeoJSON export of N detections, as a cell-detection run over a
whole slide writes it (the issue's 1M-detection file, ~0.35 GB), and
Python's orjson parse of it, the reference the annotation benchmark is
measured against.

    detections.py make OUT N     write the file (deterministic)
    detections.py parse FILE     seconds orjson.loads takes, best of 3, JSON
"""

import json
import math
import random
import sys
import time


def make(out, n):
    rng = random.Random(7)
    side = int(math.sqrt(n)) + 1
    classes = [("Tumor", [200, 0, 0]), ("Stroma", [150, 200, 150]), ("Immune cells", [160, 90, 160])]
    with open(out, "w") as f:
        f.write('{"type":"FeatureCollection","features":[')
        for i in range(n):
            cx = 200 + (i % side) * 95 + rng.uniform(-20, 20)
            cy = 200 + (i // side) * 95 + rng.uniform(-20, 20)
            r = rng.uniform(4, 9)
            k = 8
            ring = [[round(cx + r * math.cos(2 * math.pi * j / k), 2),
                     round(cy + r * math.sin(2 * math.pi * j / k), 2)] for j in range(k)]
            ring.append(ring[0])
            name, colour = classes[i % 3]
            feat = {"type": "Feature", "id": f"6f1c{i:028x}"[:32],
                    "geometry": {"type": "Polygon", "coordinates": [ring]},
                    "properties": {"objectType": "detection",
                                   "classification": {"name": name, "color": colour},
                                   "measurements": {"Area": round(math.pi * r * r, 3),
                                                    "Probability": round(rng.random(), 4)}}}
            if i:
                f.write(",")
            f.write(json.dumps(feat, separators=(",", ":")))
        f.write("]}")


def parse(path):
    import orjson
    data = open(path, "rb").read()
    best = math.inf
    for _ in range(3):
        t = time.perf_counter()
        doc = orjson.loads(data)
        best = min(best, time.perf_counter() - t)
        del doc
    print(json.dumps({"orjson_seconds": best, "bytes": len(data)}))


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2], int(sys.argv[3]))
    else:
        parse(sys.argv[2])
