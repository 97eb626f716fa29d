#!/usr/bin/env python3
"""DICOM ANN through highdicom (Supplement 222's reference implementation),
for the DICOM annotation tests.

    dicom_ann_oracle.py write SLIDE_DIR OUT_DIR
        writes with highdicom, for the level-0 instance of the DICOM slide
        in SLIDE_DIR: OUT_DIR/hd2d.dcm (2D image coordinates, float32),
        OUT_DIR/hd3d.dcm (3D slide coordinates, float64, placed by
        highdicom's ImageToReferenceTransformer) and OUT_DIR/expected.json
        (each annotation's class, kind, level-0 pixel coordinates and
        measurements). Every graphic type, a sparse measurement (NaN for
        some annotations), an algorithm's name and version, a colour.
    dicom_ann_oracle.py compare EXPECTED.json OURS.geojson
        whether the QuPath GeoJSON Kakehashi converted from a highdicom
        file holds each expected annotation at the same pixels (shapely
        geometry; rectangles and ellipses by their defining points).
    dicom_ann_oracle.py check DCM SOURCE.geojson [SLIDE_DIR]
        reads DCM (written by Kakehashi from SOURCE) with highdicom and
        checks it holds SOURCE's objects: class, exterior ring (placed back
        to pixels with ReferenceToImageTransformer when 3D), measurements
        (as float32), nuclei (a group of their own), and, with SLIDE_DIR, the slide's study, series,
        level-0 instance and frame of reference.

    dicom_ann_oracle.py hostile HD2D.dcm OUT_DIR
        broken copies of a highdicom file, each with one lie: a billion
        annotations declared, point indices past the end, a NaN
        coordinate, a measurement index out of range, the file cut short.

Each prints {"ok": bool, "problems": [...], ...} as JSON.
"""

import glob
import json
import math
import os
import sys

import highdicom as hd
import numpy as np
import pydicom
from pydicom.sr.codedict import codes
from shapely.geometry import LineString, Point, Polygon, shape

PIXEL_TOLERANCE = 1e-6
FLOAT32_PIXEL_TOLERANCE = 0.01


def level0(slide_dir):
    best = None
    for path in glob.glob(os.path.join(slide_dir, "*.dcm")):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        if "VOLUME" not in ds.ImageType:
            continue
        if best is None or ds.TotalPixelMatrixColumns > best.TotalPixelMatrixColumns:
            best = ds
    return best


def shapes():
    """(class, graphic type, generation, [pixel coordinates ...]) groups."""
    rng = np.random.default_rng(7)
    points = [np.array([[x, y]]) for x, y in rng.uniform(10, 2000, size=(40, 2))]
    polygons = []
    for cx, cy in rng.uniform(200, 1800, size=(6, 2)):
        angles = np.linspace(0, 2 * math.pi, 9)[:-1]
        r = rng.uniform(20, 60, size=8)
        polygons.append(np.stack([cx + r * np.cos(angles), cy + r * np.sin(angles)], 1))
    polylines = [np.array([[100.25, 100.5], [400.0, 180.75], [650.5, 90.0]]),
                 np.array([[10.0, 2000.0], [900.0, 2100.5]])]
    rectangles = [np.array([[300.0, 300.0], [700.0, 300.0], [700.0, 500.0], [300.0, 500.0]])]
    # Major axis ends, then minor axis ends (a turned ellipse).
    ellipses = [np.array([[1000.0, 1000.0], [1200.0, 1200.0],
                          [1135.36, 1064.64], [1064.64, 1135.36]])]
    return [
        ("Lymphocyte", "POINT", "AUTOMATIC", points),
        ("Tumor", "POLYGON", "MANUAL", polygons),
        ("Margin", "POLYLINE", "MANUAL", polylines),
        ("Region", "RECTANGLE", "MANUAL", rectangles),
        ("Necrosis", "ELLIPSE", "SEMIAUTOMATIC", ellipses),
    ]


def write(slide_dir, out_dir):
    src = level0(slide_dir)
    to_slide = hd.spatial.ImageToReferenceTransformer.for_image(src, for_total_pixel_matrix=True)
    algorithm = hd.AlgorithmIdentificationSequence(
        name="kh-test-detector", version="1.2",
        family=codes.cid7162.ArtificialIntelligence)
    expected = []
    for name, coordinate_type in (("hd2d.dcm", "2D"), ("hd3d.dcm", "3D")):
        groups = []
        for number, (label, graphic, generation, data) in enumerate(shapes(), start=1):
            if coordinate_type == "2D":
                graphic_data = [d.astype(np.float32) for d in data]
            else:
                graphic_data = [to_slide(d).astype(np.float64) for d in data]
            measurements = None
            if graphic == "POINT":
                probability = np.linspace(0.05, 0.95, len(data))
                probability[::5] = np.nan
                measurements = [hd.ann.Measurements(
                    name=codes.SCT.Probability if hasattr(codes.SCT, "Probability")
                    else hd.sr.CodedConcept("Probability", "99TEST", "Probability"),
                    values=probability,
                    unit=codes.UCUM.NoUnits)]
            groups.append(hd.ann.AnnotationGroup(
                number=number,
                uid=hd.UID(),
                label=label,
                annotated_property_category=codes.SCT.Tissue,
                annotated_property_type=codes.SCT.Neoplasm,
                graphic_type=graphic,
                graphic_data=graphic_data,
                algorithm_type=generation,
                algorithm_identification=None if generation == "MANUAL" else algorithm,
                measurements=measurements,
                display_color=hd.color.CIELabColor.from_rgb(200, 40, 120)
                if label == "Tumor" else None,
            ))
            if name == "hd2d.dcm":
                for i, d in enumerate(data):
                    m = {}
                    if measurements:
                        v = float(np.float32(probability[i]))
                        if not math.isnan(v):
                            m["Probability"] = v
                    expected.append({
                        "class": label, "graphic": graphic,
                        "coordinates": d.tolist(), "measurements": m,
                        "algorithm": generation != "MANUAL",
                    })
        ann = hd.ann.MicroscopyBulkSimpleAnnotations(
            source_images=[src],
            annotation_coordinate_type=coordinate_type,
            annotation_groups=groups,
            series_instance_uid=hd.UID(),
            series_number=10,
            sop_instance_uid=hd.UID(),
            instance_number=1,
            manufacturer="highdicom oracle",
            manufacturer_model_name="dicom_ann_oracle.py",
            software_versions=hd.__version__,
            device_serial_number="1",
            content_creator_name="Oracle^Test",
        )
        ann.save_as(os.path.join(out_dir, name))
    with open(os.path.join(out_dir, "expected.json"), "w") as f:
        json.dump(expected, f)
    print(json.dumps({"ok": True, "annotations": len(expected)}))


def class_name(props, default=None):
    """QuPath's classification: {"name": …, "color": …}, a derived class's
    {"names": [...]} or a bare name."""
    c = props.get("classification")
    if isinstance(c, str):
        return c
    c = c or {}
    if "names" in c:
        return ": ".join(c["names"])
    return c.get("name", default)


def geojson_features(path):
    with open(path) as f:
        doc = json.load(f)
    items = doc["features"] if isinstance(doc, dict) else doc
    return items


def ellipse_points_fit(axes, ring):
    """Every vertex of `ring` lies on the ellipse with these axis ends."""
    a0, a1, b0, b1 = (np.array(p) for p in axes)
    centre = (a0 + a1) / 2
    u, v = (a1 - centre), (b1 - b0) / 2
    basis = np.stack([u, v], 1)
    for p in ring:
        s, t = np.linalg.solve(basis, np.array(p) - centre)
        if abs(s * s + t * t - 1) > 1e-3:
            return False
    return True


def compare(expected_path, ours_path):
    with open(expected_path) as f:
        expected = json.load(f)
    ours = geojson_features(ours_path)
    problems = []
    if len(ours) != len(expected):
        problems.append(f"{len(ours)} objects, {len(expected)} expected")
    unmatched = list(ours)
    for e in expected:
        coords = np.array(e["coordinates"])
        found = None
        for f in unmatched:
            props = f.get("properties") or {}
            if class_name(props) != e["class"]:
                continue
            g = shape(f["geometry"])
            if e["graphic"] == "POINT":
                ok = g.geom_type == "Point" and g.distance(Point(coords[0])) < FLOAT32_PIXEL_TOLERANCE
            elif e["graphic"] == "POLYLINE":
                ok = g.geom_type == "LineString" and g.equals_exact(
                    LineString(coords), FLOAT32_PIXEL_TOLERANCE)
            elif e["graphic"] in ("POLYGON", "RECTANGLE"):
                ok = g.geom_type == "Polygon" and g.normalize().equals_exact(
                    Polygon(coords).normalize(), FLOAT32_PIXEL_TOLERANCE)
            else:
                ok = g.geom_type == "Polygon" and ellipse_points_fit(
                    coords, list(g.exterior.coords)[:-1])
            if ok:
                found = f
                break
        if found is None:
            problems.append(f"no {e['class']} {e['graphic']} at {e['coordinates'][0]}")
            continue
        unmatched.remove(found)
        props = found.get("properties") or {}
        m = props.get("measurements") or {}
        for k, v in e["measurements"].items():
            if k not in m or abs(m[k] - v) > 1e-6:
                problems.append(f"{e['class']}: measurement {k} {m.get(k)} != {v}")
        if e["measurements"] == {} and e["graphic"] == "POINT" and m:
            problems.append(f"{e['class']}: measurements {m} where the file has none")
        want_kind = "detection" if e["algorithm"] else "annotation"
        if props.get("objectType") != want_kind:
            problems.append(f"{e['class']}: objectType {props.get('objectType')}, {want_kind} expected")
    print(json.dumps({"ok": not problems, "objects": len(ours), "problems": problems[:20]}))


def exterior(geometry):
    """The parts DICOM ANN keeps: exterior rings (open), lines, points."""
    g = shape(geometry)
    if g.geom_type == "Polygon":
        return [("POLYGON", list(g.exterior.coords)[:-1])]
    if g.geom_type == "MultiPolygon":
        return [("POLYGON", list(p.exterior.coords)[:-1]) for p in g.geoms]
    if g.geom_type == "LineString":
        return [("POLYLINE", list(g.coords))]
    if g.geom_type == "Point":
        return [("POINT", [(g.x, g.y)])]
    if g.geom_type == "MultiPoint":
        return [("POINT", [(p.x, p.y)]) for p in g.geoms]
    raise ValueError(g.geom_type)


def check(dcm_path, source_path, slide_dir=None):
    problems = []
    ann = hd.ann.annread(dcm_path)
    if ann.SOPClassUID != "1.2.840.10008.5.1.4.1.1.91.1":
        problems.append(f"SOP class {ann.SOPClassUID}")
    coordinate_type = ann.annotation_coordinate_type
    src = level0(slide_dir) if slide_dir else None
    if src is not None:
        if coordinate_type.value != "3D":
            problems.append(f"coordinate type {coordinate_type.value} for a DICOM slide")
        if ann.StudyInstanceUID != src.StudyInstanceUID:
            problems.append("not in the slide's study")
        if ann.FrameOfReferenceUID != src.FrameOfReferenceUID:
            problems.append("not in the slide's frame of reference")
        series = ann.ReferencedSeriesSequence[0]
        if series.SeriesInstanceUID != src.SeriesInstanceUID:
            problems.append("does not refer to the slide's series")
        if series.ReferencedInstanceSequence[0].ReferencedSOPInstanceUID != src.SOPInstanceUID:
            problems.append("does not refer to the slide's level-0 instance")
        if ann.ReferencedImageSequence[0].ReferencedSOPInstanceUID != src.SOPInstanceUID:
            problems.append("Referenced Image Sequence is not the level-0 instance")
        to_pixels = hd.spatial.ReferenceToImageTransformer.for_image(src, for_total_pixel_matrix=True)
    elif coordinate_type.value != "2D":
        problems.append(f"coordinate type {coordinate_type.value} without a DICOM slide")
    ours = []
    for g in ann.get_annotation_groups():
        data = g.get_graphic_data(coordinate_type)
        names, values, _units = g.get_measurements()
        names = [str(n.meaning) for n in names]
        for i, d in enumerate(data):
            d = np.asarray(d, dtype=np.float64)
            if d.shape[1] == 3:
                d = to_pixels(d)[:, :2]
            m = {n: float(values[i, k]) for k, n in enumerate(names) if not math.isnan(values[i, k])}
            ours.append((g.label, g.graphic_type.value, d, m,
                         g.algorithm_type.value, g.algorithm_identification))
    expected = []
    for f in geojson_features(source_path):
        props = f.get("properties") or {}
        label = class_name(props, "Unclassified")
        m = {k: float(np.float32(v)) for k, v in (props.get("measurements") or {}).items()
             if v is not None and not (isinstance(v, float) and math.isnan(v))}
        for graphic, ring in exterior(f["geometry"]):
            expected.append((label, graphic, np.array(ring, dtype=np.float64), m))
        # A one-polygon cell's nucleus: the nuclei group after its cells.
        nucleus = f.get("nucleusGeometry")
        if nucleus and nucleus["type"] == "Polygon" and f["geometry"]["type"] == "Polygon":
            ring = list(shape(nucleus).exterior.coords)[:-1]
            expected.append((f"{label} nuclei", "POLYGON", np.array(ring, dtype=np.float64), {}))
    if len(ours) != len(expected):
        problems.append(f"{len(ours)} annotations, {len(expected)} expected")
    key = lambda item: (item[0], item[1], round(item[2][0][0], 2), round(item[2][0][1], 2))
    by_key = {}
    for item in ours:
        by_key.setdefault(key(item), []).append(item)
    worst = 0.0
    for e in expected:
        candidates = by_key.get(key(e), [])
        if not candidates:
            problems.append(f"no {e[0]} {e[1]} at {e[2][0].tolist()}")
            continue
        o = candidates.pop()
        if o[2].shape != e[2].shape:
            problems.append(f"{e[0]}: {o[2].shape[0]} points, {e[2].shape[0]} expected")
            continue
        worst = max(worst, float(np.abs(o[2] - e[2]).max()))
        if o[3] != e[3]:
            problems.append(f"{e[0]}: measurements {o[3]} != {e[3]}")
    if worst > PIXEL_TOLERANCE:
        problems.append(f"coordinates differ by up to {worst} pixels")
    print(json.dumps({"ok": not problems, "annotations": len(ours),
                      "worst_pixel_error": worst, "problems": problems[:20]}))


def hostile(source, out_dir):
    def variant(name, change):
        ds = pydicom.dcmread(source)
        change(ds)
        ds.save_as(os.path.join(out_dir, name), enforce_file_format=True)

    def huge(ds):
        ds.AnnotationGroupSequence[0].NumberOfAnnotations = 1_000_000_000

    def past_end(ds):
        polygons = next(g for g in ds.AnnotationGroupSequence if g.GraphicType == "POLYGON")
        idx = np.frombuffer(polygons.LongPrimitivePointIndexList, np.int32).copy()
        idx[-1] = 1 << 30
        polygons.LongPrimitivePointIndexList = idx.tobytes()

    def nan(ds):
        g = ds.AnnotationGroupSequence[0]
        c = np.frombuffer(g.PointCoordinatesData, np.float32).copy()
        c[3] = np.nan
        g.PointCoordinatesData = c.tobytes()

    def bad_measurement(ds):
        item = ds.AnnotationGroupSequence[0].MeasurementsSequence[0].MeasurementValuesSequence[0]
        idx = np.frombuffer(item.AnnotationIndexList, np.int32).copy()
        idx[0] = 1 << 20
        item.AnnotationIndexList = idx.tobytes()

    variant("huge_count.dcm", huge)
    variant("past_end.dcm", past_end)
    variant("nan.dcm", nan)
    variant("bad_measurement.dcm", bad_measurement)
    with open(source, "rb") as f:
        data = f.read()
    with open(os.path.join(out_dir, "truncated.dcm"), "wb") as f:
        f.write(data[: len(data) * 2 // 3])
    print(json.dumps({"ok": True}))


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    {"write": write, "compare": compare, "check": check, "hostile": hostile}[command](*args)
