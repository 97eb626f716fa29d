#!/usr/bin/env python3
"""ONNX patch throughput: `kh analyze --model onnx:…` against
onnxruntime's Python API on the same model and the same patches, reading
included, in one run.

    onnx_bench.py --kh KH --slide SLIDE --work DIR [--patch 128] [--rounds 3]

The model is a small CNN built here with the `onnx` package (two strided
3 × 3 convolutions, ReLU, global pooling, a linear layer, softmax; float32
[N, 3, P, P] → [N, 4]). Python reads every patch of level 0 that lies
wholly inside it with OpenSlide (`read_region`), normalises it as the
conventions say, and runs batches of 16 through an InferenceSession on
every core; kh does the same with `--all-patches`. Best of the rounds
each; prints one JSON line with both times, patches per second, and the
ratio kh / Python (below 1: kh is faster).
"""

import argparse
import json
import os
import subprocess
import time

import numpy as np


def build(path, patch):
    import onnx
    from onnx import TensorProto, helper
    rng = np.random.default_rng(5)

    def t(name, *shape):
        return helper.make_tensor(name, TensorProto.FLOAT, list(shape),
                                  (rng.standard_normal(shape) * 0.2).astype(np.float32).ravel())
    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, patch, patch])
    y = helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", 4])
    nodes = [
        helper.make_node("Conv", ["image", "w1", "b1"], ["c1"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("GlobalAveragePool", ["r2"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"]),
        helper.make_node("Gemm", ["f", "w3", "b3"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["scores"], axis=1),
    ]
    graph = helper.make_graph(nodes, "bench cnn", [x], [y],
                              [t("w1", 16, 3, 3, 3), t("b1", 16), t("w2", 32, 16, 3, 3), t("b2", 32),
                               t("w3", 32, 4), t("b3", 4)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    model.metadata_props.append(onnx.StringStringEntryProto(key="mean", value="0.5,0.5,0.5"))
    model.metadata_props.append(onnx.StringStringEntryProto(key="std", value="0.25,0.25,0.25"))
    onnx.save(model, path)


def python_run(slide_path, model, patch):
    import onnxruntime
    import openslide
    start = time.perf_counter()
    slide = openslide.OpenSlide(slide_path)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = os.cpu_count()
    session = onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    mean, std = np.float32(0.5), np.float32(0.25)
    w, h = slide.dimensions
    spots = [(x, y) for y in range(0, h - patch + 1, patch) for x in range(0, w - patch + 1, patch)]
    results = []
    for i in range(0, len(spots), 16):
        batch = np.stack([
            np.asarray(slide.read_region(s, 0, (patch, patch)))[..., :3] for s in spots[i:i + 16]])
        x = ((batch.astype(np.float32) / 255.0 - mean) / std).transpose(0, 3, 1, 2)
        results.append(session.run(None, {"image": np.ascontiguousarray(x)})[0])
    return time.perf_counter() - start, len(spots), np.concatenate(results)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kh", required=True)
    ap.add_argument("--slide", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--patch", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    model = os.path.join(args.work, "bench_cnn.onnx")
    build(model, args.patch)
    out = os.path.join(args.work, "onnx_bench.geojson")
    kh_times, py_times = [], []
    for _ in range(args.rounds):
        start = time.perf_counter()
        subprocess.run([args.kh, "analyze", args.slide, "--model", f"onnx:{model}", "--all-patches",
                        "--out", out], check=True, stderr=subprocess.DEVNULL)
        kh_times.append(time.perf_counter() - start)
        seconds, patches, scores = python_run(args.slide, model, args.patch)
        py_times.append(seconds)
    with open(out) as f:
        features = json.load(f)["features"]
    ours = np.array([[ft["properties"]["measurements"][f"class {k}"] for k in range(4)] for ft in features])
    kh_s, py_s = min(kh_times), min(py_times)
    print(json.dumps({
        "patches": patches, "patch": args.patch, "kh_s": round(kh_s, 3), "python_s": round(py_s, 3),
        "kh_patches_per_s": round(patches / kh_s, 1), "python_patches_per_s": round(patches / py_s, 1),
        "ratio": round(kh_s / py_s, 3), "same_patches": len(features) == patches,
        "max_abs_diff": float(np.abs(ours - scores).max()) if len(features) == patches else None,
    }))


if __name__ == "__main__":
    main()
