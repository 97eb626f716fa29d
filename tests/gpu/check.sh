#!/bin/bash
# The figures that need an NVIDIA GPU, in one run on a lent GPU machine
# (which has no Rust and no Debian libraries): what `kh doctor` finds
# (adapter, NVENC/NVDEC paths), the renderer's 4K pan frame rate (target
# 120 fps) and open-to-complete time, the annotation overlay's 4K frame
# rate with a million detections (target 120 fps), and live calls through
# the hardware codecs: H.264 1080p30 and HEVC 8K30.
#
# Here:   cargo xtask gpu-bundle            (builds target/gpu-check, < 64 MiB)
# There:  bash tests/gpu/check.sh           (carry: target/gpu-check; ~3-7 min)
# Results land in $OUT (or /tmp/gpu-check-out): at most 8 files, as the
# device tool returns no more.
set -u
bundle=target/gpu-check
out=${OUT:-/tmp/gpu-check-out}
mkdir -p "$out"
exec > >(tee "$out/log.txt") 2>&1

# Smaller figures for a dry run of this script on a machine without a GPU.
frames=${KH_GPU_CHECK_FRAMES:-300}
pan_size=${KH_GPU_CHECK_PAN_SIZE:-3840x2160}
pan_seconds=${KH_GPU_CHECK_PAN_SECONDS:-20}
hevc_size=${KH_GPU_CHECK_HEVC_SIZE:-7680x4320}
overlay_objects=${KH_GPU_CHECK_OVERLAY_OBJECTS:-1000000}
overlay_frames=${KH_GPU_CHECK_OVERLAY_FRAMES:-120}

unpacked=/tmp/kh-gpu-check
rm -rf "$unpacked"; mkdir -p "$unpacked"
tar -xJf "$bundle/bundle.tar.xz" -C "$unpacked" --strip-components=1 || exit 1
libs="$unpacked/libs"
# The bundle's Debian libraries first, then the driver's own (libcuda,
# libnvidia-encode, libnvcuvid, which FFmpeg opens by name).
export LD_LIBRARY_PATH="$libs:/usr/local/nvidia/lib64:/usr/local/nvidia/lib:${LD_LIBRARY_PATH:-}"
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -e "$icd" ] && [ ! -e /usr/share/vulkan/icd.d/nvidia_icd.json ] && [ ! -e /etc/vulkan/icd.d/nvidia_icd.json ]; then
    export VK_DRIVER_FILES="$icd"
fi
kh="$unpacked/kh"
kh_bench="$unpacked/kh-bench"
step() { echo; echo "== $1 ($(date -u +%T))"; }

step "machine"
nvidia-smi -L || true
nproc
echo "libraries not found:"; for b in "$kh" "$kh_bench" "$unpacked/kakehashi-signal"; do ldd "$b" | grep "not found"; done || echo "  none"
echo "libraries from the system:"; ldd "$kh" | grep -v "$libs" || true

step "kh doctor"
timeout 60 "$kh" doctor > "$out/doctor.txt" 2>&1
echo "exit $?"; cat "$out/doctor.txt"

step "kh-bench render: 3840x2160 open-to-complete, CPU per frame, ${pan_seconds} s pan at $pan_size"
timeout 180 "$kh_bench" render "$bundle/slide.tiff" --rounds 3 --frames "$frames" \
    --pan-seconds "$pan_seconds" --pan-size "$pan_size" --pan-budget-mib 256 \
    --pan-log "$out/pan.csv" --json "$out/render.json"
echo "exit $?"

step "kh-bench overlay: $overlay_objects detections at $pan_size, $overlay_frames frames per zoom"
timeout 240 "$kh_bench" overlay "$bundle/slide.tiff" --objects "$overlay_objects" \
    --size "$pan_size" --frames "$overlay_frames" --json "$out/overlay.json"
echo "exit $?"

step "kh-bench call: H.264 1920x1080 at 30 fps"
timeout 90 "$kh_bench" call --codec h264 --size 1920x1080 --seconds 8 \
    --bulk-seconds 0 --json "$out/call_h264_1080p.json"
echo "exit $?"

step "kh-bench call: HEVC $hevc_size at 30 fps"
timeout 150 "$kh_bench" call --codec h265 --size "$hevc_size" --seconds 10 --bitrate 40000 \
    --bulk-seconds 0 --json "$out/call_h265_8k.json"
echo "exit $?"

step "done"
