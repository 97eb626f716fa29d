#!/usr/bin/env python3
"""Region-read benchmark: kh vs OpenSlide vs libvips, same regions, one run.

    region_bench.py --kh-bench target/release/kh-bench --work target/bench --source SLIDE

Builds (once) a 49152 x 49152 JPEG pyramid with libvips from real tissue
(the source slide replicated), and a 100k x 100k BigTIFF pyramid for open
time. Reads the same random 512 x 512 level-0 regions with each reader,
interleaving rounds so machine noise hits all three alike, and prints the
medians and the ratios. Results go to WORK/results.json as well.
"""

import argparse
import json
import random
import statistics
import subprocess
import threading
import time
from pathlib import Path

import openslide
import pyvips

SIZE = 49152
REGION = 512


def build_pyramids(work: Path, source: Path):
    work.mkdir(parents=True, exist_ok=True)
    big = work / "pyramid_49152.tiff"
    if not big.exists():
        print(f"building {big} (libvips, JPEG Q85, 256 tiles) ...", flush=True)
        img = pyvips.Image.new_from_file(str(source)).flatten()
        across = SIZE // img.width + 1
        down = SIZE // img.height + 1
        img = img.replicate(across, down).crop(0, 0, SIZE, SIZE)
        tmp = big.with_suffix(".partial")
        img.tiffsave(str(tmp), tile=True, tile_width=256, tile_height=256, pyramid=True,
                     compression="jpeg", Q=85, xres=4000, yres=4000, resunit="cm", bigtiff=True)
        tmp.rename(big)
    huge = work / "pyramid_100k.tiff"
    if not huge.exists():
        print(f"building {huge} (100000 x 100000 BigTIFF) ...", flush=True)
        tile = pyvips.Image.new_from_file(str(source)).flatten().crop(0, 0, 2000, 2000)
        img = tile.replicate(50, 50)
        tmp = huge.with_suffix(".partial")
        img.tiffsave(str(tmp), tile=True, tile_width=256, tile_height=256, pyramid=True,
                     compression="jpeg", Q=60, bigtiff=True)
        tmp.rename(huge)
    return big, huge


def regions_file(work: Path, n: int, seed: int) -> Path:
    rng = random.Random(seed)
    path = work / f"regions_{n}_{seed}.txt"
    path.write_text("".join(f"{rng.randrange(0, SIZE - REGION)} {rng.randrange(0, SIZE - REGION)}\n"
                            for _ in range(n)))
    return path


def read_regions(path: Path):
    return [tuple(map(int, line.split())) for line in path.read_text().splitlines() if line.strip()]


def split(items, parts):
    k = (len(items) + parts - 1) // parts
    return [items[i:i + k] for i in range(0, len(items), k)]


def run_threads(work_fn, chunks):
    threads = [threading.Thread(target=work_fn, args=(c,)) for c in chunks]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start


def bench_openslide(slide_path, regions, threads):
    s = openslide.OpenSlide(str(slide_path))
    lo = openslide.lowlevel

    def work(chunk):
        for x, y in chunk:
            lo.read_region(s._osr, x, y, 0, REGION, REGION)

    return len(regions) / run_threads(work, split(regions, threads))


def bench_vips(slide_path, regions, threads):
    pyvips.cache_set_max(0)
    image = pyvips.Image.new_from_file(str(slide_path), access="random")

    def work(chunk):
        region = pyvips.Region.new(image)
        for x, y in chunk:
            region.fetch(x, y, REGION, REGION)

    return len(regions) / run_threads(work, split(regions, threads))


def bench_kh(kh_bench, slide_path, regions_path, threads):
    out = subprocess.run([str(kh_bench), "slide", str(slide_path), "--regions-file", str(regions_path),
                          "--threads", str(threads), "--size", str(REGION), "--open-repeats", "3"],
                         check=True, capture_output=True, text=True).stdout
    r = json.loads(out)
    assert r["cache_peak_bytes"] <= r["cache_budget_bytes"], r
    return r["regions_per_s"], r


def open_times(kh_bench, path, repeats=20):
    out = subprocess.run([str(kh_bench), "slide", str(path), "--regions", "1", "--open-repeats",
                          str(repeats)], check=True, capture_output=True, text=True).stdout
    r = json.loads(out)
    os_ms, os_tile_ms = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        s = openslide.OpenSlide(str(path))
        os_ms.append((time.perf_counter() - t) * 1e3)
        w, h = s.dimensions
        s.read_region((w // 2 // 256 * 256, h // 2 // 256 * 256), 0, (256, 256))
        os_tile_ms.append((time.perf_counter() - t) * 1e3)
        s.close()
    return (r["open_ms_median"], statistics.median(os_ms),
            r["open_and_first_tile_ms_median"], statistics.median(os_tile_ms))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kh-bench", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--regions", type=int, default=600)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    work = Path(args.work)
    big, huge = build_pyramids(work, Path(args.source))
    results = {"regions": args.regions, "region_size": REGION, "rounds": args.rounds, "runs": []}
    table = {}
    for rnd in range(args.rounds):
        # fresh regions each round: no reader gets another's warm cache
        path = regions_file(work, args.regions, 1000 + rnd)
        regions = read_regions(path)
        for threads in (1, 2):
            for name, fn in (
                ("kh", lambda: bench_kh(args.kh_bench, big, path, threads)[0]),
                ("openslide", lambda: bench_openslide(big, regions, threads)),
                ("libvips", lambda: bench_vips(big, regions, threads)),
            ):
                rate = fn()
                table.setdefault((name, threads), []).append(rate)
                results["runs"].append({"reader": name, "threads": threads, "round": rnd, "regions_per_s": rate})
                print(f"round {rnd} {name:9s} {threads} thread(s): {rate:8.1f} regions/s", flush=True)
    med = {k: statistics.median(v) for k, v in table.items()}
    kh_open, os_open, kh_tile, os_tile = open_times(args.kh_bench, huge)
    results["median_regions_per_s"] = {f"{n}/{t}": v for (n, t), v in med.items()}
    results["open_ms"] = {"kh": kh_open, "openslide": os_open, "file": str(huge),
                          "kh_with_first_tile": kh_tile, "openslide_with_first_tile": os_tile}
    mp = REGION * REGION / 1e6
    print()
    print(f"| reader (threads) | regions/s | megapixels/s | vs OpenSlide | vs libvips |")
    print(f"|---|---:|---:|---:|---:|")
    for t in (1, 2):
        for n in ("kh", "openslide", "libvips"):
            v = med[(n, t)]
            print(f"| {n} ({t}) | {v:.0f} | {v * mp:.0f} | {v / med[('openslide', t)]:.2f}x | {v / med[('libvips', t)]:.2f}x |")
    print(f"\nkh 2-thread scaling: {med[('kh', 2)] / med[('kh', 1)]:.2f}x the 1-thread rate")
    print(f"open {huge.name}: kh {kh_open:.2f} ms, OpenSlide {os_open:.2f} ms (median)")
    print(f"open + first level-0 tile: kh {kh_tile:.2f} ms, OpenSlide {os_tile:.2f} ms (median)")
    (work / "results.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
