#!/usr/bin/env bash
# The GPU checks in one command, for a machine with an NVIDIA GPU whose python3 has torch with CUDA and
# sketchgen importable (its dependencies installed). Logs and small results go to OUT, work to WORK:
#   1. the GL renderer pyrender gets over EGL (the NVIDIA driver, not Mesa's llvmpipe), and drawings of
#      bundled and PSB meshes (OUT/draw.tar) to compare with Mesa's: bench/draw_reference.py --compare;
#   2. in parallel:
#      - bench/bench_value.py on cuda with the full-size networks (SketchZooms' ResNet-18 at 224 px, PSC's
#        estimator at 256 px) at the demo's budget and 4x (OUT/value-full-1x.json, -4x.json);
#      - the demo's descriptor trained on cuda on variants of the demo's triplet set, each evaluated as the
#        demo evaluates it (OUT/trials.txt);
#      - the test suite, its rendering on that driver (tests/train/test_cuda.py runs only where CUDA is).
# Everything stops at SECONDS (default 540) after the start.
#   usage: bench/gpu.sh OUT [SECONDS] [PSB_DIR] [WORK]
set -u
out=${1:?usage: bench/gpu.sh OUT [SECONDS] [PSB_DIR] [WORK]}
limit=${2:-540}
psb=${3:-../shared/fixtures/realworld/psb}
work=${4:-/tmp/sketchgen-gpu}
mkdir -p "$out" "$work"
# headless EGL for OpenGL and pyglet before anything imports them (the check below imports pyrender first)
export PYOPENGL_PLATFORM=egl PYGLET_HEADLESS=1 PYTHONUNBUFFERED=1
export work out psb  # read by the parts run in their own bash below
start=$SECONDS
left() { echo $((limit - (SECONDS - start))); }
budget() { local t=$(($(left) - $1)); echo $((t > 1 ? t : 1)); }  # seconds left less a margin, at least 1
sk() { python3 -c 'import sys; from sketchgen.cli import main; sys.exit(main(sys.argv[1:]))' "$@"; }

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
python3 - <<'EOF' || exit 1
import os
os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
import torch
import pyrender
from OpenGL import GL
import sketchgen.train.loop  # noqa: F401  (the whole package imports)
r = pyrender.OffscreenRenderer(64, 64)
print("torch", torch.__version__, "cuda", torch.cuda.is_available(),
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")
print("GL_RENDERER", GL.glGetString(GL.GL_RENDERER).decode(), "| GL_VERSION", GL.glGetString(GL.GL_VERSION).decode())
r.delete()
EOF
timeout 90 python3 bench/draw_reference.py "$work/draw" "$psb" >"$out/draw.log" 2>&1
echo "== draw: rc $? in $((SECONDS - start)) s"; tail -n 3 "$out/draw.log"
tar -C "$work" -cf "$out/draw.tar" draw

# --- the full-size learning curve (GPU) ------------------------------------------------------------
full_curve() {  # one budget per command, so the 1x figures come back even if 4x runs out of time
    for b in 1 4; do
        python3 bench/bench_value.py --device cuda --full-size --budgets $b --train-workers 6 --workers 6 --threads 4 \
            --out "$work/value-full" --psb "$psb" || return 1
        cp "$work/value-full/value.json" "$out/value-full-${b}x.json"
    done
}
timeout "$(budget 15)" bash -c "$(declare -f full_curve); full_curve" \
    >"$out/full.log" 2>&1 &
full=$!

# --- descriptor trials: the demo's recipe on variants of its triplet set --------------------------
trials() {
    local common=(--shapes 12 --workers 2 --seed 0 --style clean --no-progress)
    sk pairs --out "$work/trials/pairs" --pairs 6 "${common[@]}" >"$work/trials-pairs.log" 2>&1 || return 1
    local demo=(--views 6 --points 12 --size 64 --width 0.428571 --max-angle 60 --zoom-jitter 0
                --positive-px 4 --other-same-view)
    one() {  # one NAME "BUILDER OPTIONS" "TRAINING OPTIONS"
        local d=$work/trials/$1
        sk triplets --out "$d/data" "${demo[@]}" $2 "${common[@]}" >"$d.log" 2>&1 &&
        sk train descriptor --data "$d/data" --out "$d/run" --backbone small --size 64 --batch-size 16 \
            --lr 1e-3 --schedule cosine --loss triplet --margin 1.0 --no-augment --steps 500 --workers 1 \
            --device cuda --threads 1 $3 >>"$d.log" 2>&1 &&
        sk eval descriptor --run "$d/run" --data "$work/trials/pairs" --pairs 20 --triplets "$d/data" \
            --out "$d/eval" --device cuda --threads 2 >>"$d.log" 2>&1
        echo "== trial $1 ($2 | $3): rc $? at $((SECONDS - start)) s"
        python3 -c 'import json,sys; m=json.load(open(sys.argv[1]))["descriptor"]
for k, v in m.items(): print(f"  {k:<15}" + " ".join(f"{v[t]:.3f}" for t in ("acc@5px", "acc@10px", "acc@20px")))' \
            "$d/eval/metrics.json" 2>/dev/null
    }
    mkdir -p "$work/trials"
    one demo "" "" &
    one near8 "--near-px 8 96" "" &
    one near10-40 "--near-px 10 40" "" &
    one demo-seed1 "" "--seed 1" &
    one near8x6 "--near-px 8 96 --extra-negatives near:6,other-shape:1" "" &
    wait
}
# SECONDS starts again at 0 in the new bash: its start is set back by the seconds already spent
timeout "$(budget 10)" bash -c "$(declare -f trials sk); start=$((start - SECONDS)); trials" >"$out/trials.txt" 2>&1 &
tri=$!

# with a non-editable install, sketchgen must come from the install, not from the source folder of the same
# name: no current folder on the path (PYTHONSAFEPATH), the repository after the install for the tests'
# own helpers (tests.*); three processes where pytest-xdist is there
xdist=$(python3 -c 'import xdist' 2>/dev/null && echo "-n 3")
PYTHONSAFEPATH=1 PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}$PWD" timeout 200 python3 -m pytest tests -q -x \
    -p no:cacheprovider $xdist >"$out/tests.log" 2>&1
echo "== tests: rc $? at $((SECONDS - start)) s"; tail -n 4 "$out/tests.log"

wait $tri; echo "== trials: rc $? at $((SECONDS - start)) s"; cat "$out/trials.txt"
wait $full; echo "== full-size bench: rc $? at $((SECONDS - start)) s"; grep -v "^value: \|it/s\]" "$out/full.log" | tail -n 60
echo "== done in $((SECONDS - start)) s"
