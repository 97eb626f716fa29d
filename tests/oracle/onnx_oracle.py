#!/usr/bin/env python3
"""Models for `kh analyze --model onnx:PATH`, built with the `onnx`
package, and the check of its findings against onnxruntime's Python API.

    onnx_oracle.py make DIR
        writes DIR/classifier.onnx (float32 [N, 3, 32, 32] → softmax
        [N, 3]: mean colour through a linear layer; metadata mean, std,
        classes) and DIR/segmenter.onnx ([N, 3, 32, 32] → [N, 2, 16, 16]:
        2 × 2 average pooling, then "haematoxylin-ish" (blue above red)
        against the rest).
    onnx_oracle.py check SLIDE LEVEL MODEL RESULT.geojson [X,Y,W,H]
        reads each patch the findings name with OpenSlide, prepares it by
        the documented conventions (RGB / 255, (x − mean) / std, NCHW),
        runs onnxruntime.InferenceSession on it, and compares: the scores
        of each tile (classifier), or the arg-max class of every output
        pixel against the polygons Kakehashi drew there (segmentation).

Prints {"patches", "max_abs_err", "class_mismatch"} (classifier) or
{"patches", "pixels", "agree"} (segmentation).
"""

import json
import sys

import numpy as np


def make(out):
    import onnx
    from onnx import TensorProto, helper
    from pathlib import Path
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, 32, 32])
    # Classifier: global average → [N, 3] → linear → softmax.
    # Columns: Tumor (blue over green: haematoxylin), Stroma (red over
    # green: eosin), Background (bright green: glass).
    w = np.array([[0.0, 3.0, 0.0], [-3.0, -3.0, 3.0], [3.0, 0.0, 0.0]], np.float32)
    b = np.array([0.0, 0.0, -4.0], np.float32)
    nodes = [
        helper.make_node("GlobalAveragePool", ["image"], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["flat"]),
        helper.make_node("Gemm", ["flat", "w", "b"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["scores"], axis=1),
    ]
    graph = helper.make_graph(
        nodes, "patch classifier", [x],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", 3])],
        [helper.make_tensor("w", TensorProto.FLOAT, [3, 3], w.ravel()),
         helper.make_tensor("b", TensorProto.FLOAT, [3], b)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    model.model_version = 3
    for k, v in {"mean": "0.5, 0.4, 0.6", "std": "0.2,0.25,0.3",
                 "classes": "Tumor,Stroma,Background"}.items():
        model.metadata_props.append(onnx.StringStringEntryProto(key=k, value=v))
    onnx.checker.check_model(model)
    onnx.save(model, out / "classifier.onnx")
    # Segmenter: 2 × 2 average pool, then a 1 × 1 convolution giving class
    # 1 where blue exceeds red by a margin.
    conv_w = np.array([[[[0.0]], [[0.0]], [[0.0]]], [[[-1.0]], [[0.0]], [[1.0]]]], np.float32)
    conv_b = np.array([0.0, -0.15], np.float32)
    nodes = [
        helper.make_node("AveragePool", ["image"], ["half"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["half", "cw", "cb"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes, "segmenter", [x],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 2, 16, 16])],
        [helper.make_tensor("cw", TensorProto.FLOAT, [2, 3, 1, 1], conv_w.ravel()),
         helper.make_tensor("cb", TensorProto.FLOAT, [2], conv_b)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    model.metadata_props.append(onnx.StringStringEntryProto(key="classes", value="background,nucleus"))
    onnx.checker.check_model(model)
    onnx.save(model, out / "segmenter.onnx")


def check(slide_path, level, model_path, result, region=None):
    import onnxruntime
    import openslide
    import shapely
    from shapely.geometry import shape
    slide = openslide.OpenSlide(slide_path)
    ds = slide.level_downsamples[level]
    session = onnxruntime.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    mean = np.array([float(v) for v in meta.get("mean", "0,0,0").split(",")], np.float32)
    std = np.array([float(v) for v in meta.get("std", "1,1,1").split(",")], np.float32)
    classes = meta.get("classes", "").split(",")
    inp = session.get_inputs()[0]
    ph, pw = inp.shape[2], inp.shape[3]
    with open(result) as f:
        features = json.load(f)["features"]

    def run(x, y):
        rgba = np.asarray(slide.read_region((int(round(x * ds)), int(round(y * ds))), level, (pw, ph)))
        img = (rgba[..., :3].astype(np.float32) / 255.0 - mean) / std
        return session.run(None, {inp.name: img.transpose(2, 0, 1)[None]})[0][0]

    tiles = [f for f in features if f["properties"].get("objectType") == "tile"]
    if tiles:
        worst, mismatch = 0.0, 0
        for f in tiles:
            ring = np.array(f["geometry"]["coordinates"][0])
            x0, y0 = ring.min(axis=0) / ds
            scores = run(x0, y0)
            ours = f["properties"]["measurements"]
            worst = max(worst, max(abs(ours[classes[k]] - float(scores[k])) for k in range(len(scores))))
            c = f["properties"]["classification"]
            name = c["name"] if isinstance(c, dict) else c
            mismatch += name != classes[int(np.argmax(scores))]
        print(json.dumps({"patches": len(tiles), "max_abs_err": worst, "class_mismatch": mismatch}))
        return
    # Segmentation: patches from the findings' own grid are unknown, so
    # every patch the polygons touch is checked (polygons are per patch).
    polys = [shape(f["geometry"]) for f in features]
    union = shapely.union_all(polys)
    starts = set()
    for p in polys:
        x0, y0, _, _ = p.bounds
        starts.add((int(x0 / ds // pw * pw), int(y0 / ds // ph * ph)))
    if region:
        rx, ry, rw, rh = (float(v) for v in region.split(","))
        lw, lh = slide.level_dimensions[level]
        for y in range(0, lh - ph + 1, ph):
            for x in range(0, lw - pw + 1, pw):
                if x * ds < rx + rw and (x + pw) * ds > rx and y * ds < ry + rh and (y + ph) * ds > ry:
                    starts.add((x, y))
    pixels = agree = 0
    for (x, y) in sorted(starts):
        logits = run(x, y)
        labels = np.argmax(logits, axis=0)
        oh, ow = labels.shape
        sy, sx = ph / oh * ds, pw / ow * ds
        ys, xs = np.mgrid[0:oh, 0:ow]
        cx = x * ds + (xs + 0.5) * sx
        cy = y * ds + (ys + 0.5) * sy
        ours = shapely.contains_xy(union, cx.ravel(), cy.ravel()).reshape(oh, ow)
        pixels += labels.size
        agree += int(((labels == 1) == ours).sum())
    print(json.dumps({"patches": len(starts), "pixels": pixels, "agree": agree / max(pixels, 1)}))


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2])
    else:
        check(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], *sys.argv[6:7])
