#!/usr/bin/env python3
"""An independent reading of annotation files, for the annotation tests.

    annotation_oracle.py info SOURCE
        objects, bounds and classes of SOURCE (QuPath GeoJSON or ASAP XML),
        read with Python's json / ElementTree and shapely, as JSON;
    annotation_oracle.py compare SOURCE OURS.geojson
        whether the GeoJSON Kakehashi wrote holds SOURCE's objects: valid
        where the source is valid, equal geometry (shapely), properties
        kept. Prints {"ok": bool, "objects": n, "problems": [...]}.

Python's json reads QuPath's bare NaN; shapely is the geometry library
QGIS and GeoPandas stand on (GEOS).
"""

import json
import math
import sys
import xml.etree.ElementTree as ET

import shapely
from shapely.geometry import LineString, MultiPoint, Point, Polygon, shape

TOLERANCE = 1e-9


def features(path):
    """(geometry, nucleus, properties) per object, in file order."""
    if path.endswith(".xml"):
        return asap_features(path)
    with open(path) as f:
        doc = json.load(f)
    if isinstance(doc, list):
        items = doc
    elif doc.get("type") == "FeatureCollection":
        items = doc.get("features", [])
    elif doc.get("type") == "Feature" or "geometry" in doc:
        items = [doc]
    else:
        items = [{"type": "Feature", "geometry": doc}]
    out = []
    for item in items:
        nucleus = item.get("nucleusGeometry")
        out.append((shape(item["geometry"]), shape(nucleus) if nucleus else None,
                    item.get("properties") or {}, item.get("id")))
    return out


def asap_features(path):
    root = ET.parse(path).getroot()
    colours = {g.get("Name"): g.get("Color") for g in root.iter("Group")}
    out = []
    for a in root.iter("Annotation"):
        coords = sorted(a.iter("Coordinate"), key=lambda c: float(c.get("Order", 0)))
        pts = [(float(c.get("X")), float(c.get("Y"))) for c in coords]
        kind = a.get("Type")
        if kind == "Dot":
            g = Point(pts[0])
        elif kind == "PointSet":
            g = MultiPoint(pts)
        elif kind == "Measurement":
            g = LineString(pts)
        else:
            g = Polygon(pts)
        group = a.get("PartOfGroup")
        props = {"name": a.get("Name")}
        if group and group != "None":
            props["classification"] = {"name": group}
            if colours.get(group):
                props["_group_colour"] = colours[group]
        out.append((g, None, props, None))
    return out


def class_name(props):
    c = props.get("classification")
    if c is None:
        return None
    if isinstance(c, str):
        return c
    name = c.get("name")
    if name is None and c.get("names"):
        name = ": ".join(c["names"])
    parent = c.get("parentClass")
    if parent:
        parent_name = class_name({"classification": parent})
        if parent_name and name:
            return f"{parent_name}: {name}"
    return name


def object_type(props, fid):
    legacy = {"PathCellObject": "cell", "PathDetectionObject": "detection",
              "PathTileObject": "tile"}
    t = props.get("objectType") or props.get("object_type") or props.get("type")
    if t is None and fid in legacy:
        return legacy[fid]
    return {"cell": "cell", "detection": "detection", "tile": "tile"}.get(
        legacy.get(t, t), "annotation")


def measurements(props):
    m = props.get("measurements") or {}
    if isinstance(m, list):
        m = {e["name"]: e.get("value") for e in m}
    return {k: v for k, v in m.items() if v is not None and not math.isnan(v)}


def same_geometry(a, b):
    return shapely.equals_exact(shapely.normalize(a), shapely.normalize(b), tolerance=TOLERANCE)


def compare(source, ours):
    want = features(source)
    got = features(ours)
    problems = []
    if len(want) != len(got):
        problems.append(f"{len(want)} objects in the source, {len(got)} written")
    for i, ((g1, n1, p1, id1), (g2, n2, p2, _)) in enumerate(zip(want, got)):
        if g1.is_valid and not g2.is_valid:
            problems.append(f"object {i}: written geometry invalid: {shapely.is_valid_reason(g2)}")
        if not same_geometry(g1, g2):
            problems.append(f"object {i}: geometry differs: {g1.wkt[:120]} vs {g2.wkt[:120]}")
        if (n1 is None) != (n2 is None) or (n1 is not None and not same_geometry(n1, n2)):
            problems.append(f"object {i}: nucleus differs")
        checks = [
            ("name", p1.get("name"), p2.get("name")),
            ("class", class_name(p1), class_name(p2)),
            ("objectType", object_type(p1, id1), p2.get("objectType")),
            ("measurements", measurements(p1), measurements(p2)),
            ("isLocked", bool(p1.get("isLocked")), bool(p2.get("isLocked"))),
        ]
        if isinstance(p1.get("color"), list):
            checks.append(("color", p1["color"][:3], (p2.get("color") or [])[:3]))
        if "_group_colour" in p1:
            c = p2.get("classification") or {}
            rgb = [int(p1["_group_colour"][k:k + 2], 16) for k in (1, 3, 5)]
            checks.append(("class colour", rgb, (c.get("color") or [])[:3]
                           if isinstance(c, dict) else None))
        for what, a, b in checks:
            if a != b:
                problems.append(f"object {i}: {what} {a!r} became {b!r}")
    return {"ok": not problems, "objects": len(got), "problems": problems[:50]}


def info(source):
    fs = features(source)
    bounds = shapely.GeometryCollection([f[0] for f in fs]).bounds if fs else None
    by_class = {}
    for _, _, p, _ in fs:
        name = class_name(p)
        if name:
            by_class[name] = by_class.get(name, 0) + 1
    return {"objects": len(fs), "bounds": list(bounds) if bounds else None, "by_class": by_class,
            "by_type": {t: sum(1 for f in fs if object_type(f[2], f[3]) == t)
                        for t in ("annotation", "cell", "detection", "tile")}}


def main():
    if sys.argv[1] == "info":
        print(json.dumps(info(sys.argv[2])))
    elif sys.argv[1] == "compare":
        print(json.dumps(compare(sys.argv[2], sys.argv[3])))
    else:
        sys.exit(f"unknown request {sys.argv[1]}")


if __name__ == "__main__":
    main()
