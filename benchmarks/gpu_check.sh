#!/usr/bin/env bash
# The prepared GPU check: one command, at most 7 minutes, a JSON report rewritten after every step.
#
#   benchmarks/gpu_check.sh --prepare              # here, where ../shared and a package index exist: golden
#                                                  # reference data, the test plate, the cp312 OpenImageIO and
#                                                  # OpenColorIO wheels, pure-Python test deps and the commit,
#                                                  # into benchmarks/gpu_check_data/ (git-ignored, ~30 MiB)
#   benchmarks/gpu_check.sh                        # on the GPU machine (carry benchmarks/gpu_check_data there);
#                                                  # report in benchmarks/results/ (and $OUT when set)
#   benchmarks/gpu_check.sh --tiny --device cpu --out report.json   # CI: every step on tiny models
#
# Steps and their limits: see benchmarks/gpu_check.py. PYTHON picks the interpreter (default: python3);
# GPU_CHECK_BUDGET_S the hard limit of the whole run (default 420).
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=${PYTHON:-python3}
DATA="$ROOT/benchmarks/gpu_check_data"
cd "$ROOT" || exit 2

export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
if [ -z "${FLASHDEPTH_SHARED:-}" ] && [ ! -d "$ROOT/../shared/reference/golden" ] && [ -d "$DATA/shared/reference" ]; then
    export FLASHDEPTH_SHARED="$DATA/shared"
fi
FALLBACK=$(mktemp -d)
trap 'rm -rf "$FALLBACK"' EXIT
# OpenImageIO and OpenColorIO, when this machine lacks them: the prepared wheels, unpacked into a throwaway folder
# (a wheel is a zip archive; manylinux wheels carry their own libraries), never into the machine's Python.
if ! "$PY" -c "import OpenImageIO, PyOpenColorIO" >/dev/null 2>&1 && ls "$DATA"/wheels/*.whl >/dev/null 2>&1; then
    for wheel in "$DATA"/wheels/*.whl; do
        "$PY" -m zipfile -e "$wheel" "$FALLBACK/wheels" || echo "gpu_check: ERROR: cannot unpack $wheel" >&2
    done
    export PYTHONPATH="$PYTHONPATH:$FALLBACK/wheels"
    "$PY" -c "import OpenImageIO, PyOpenColorIO" && echo "gpu_check: OpenImageIO and OpenColorIO from the prepared wheels"
fi
# Pure-Python dependencies this machine lacks come from the prepared copy, each alone (what it has stays first).
if [ -d "$DATA/site" ]; then
    for module in einops pytest pluggy iniconfig packaging pytest_timeout; do
        if ! "$PY" -c "import $module" >/dev/null 2>&1; then
            companions="$module"
            [ "$module" = pytest ] && companions="pytest _pytest py"
            for name in $companions; do
                for path in "$DATA/site/$name" "$DATA/site/$name.py"; do
                    [ -e "$path" ] && ln -s "$path" "$FALLBACK/"
                done
            done
            echo "gpu_check: $module is missing here: using the prepared copy"
        fi
    done
    export PYTHONPATH="$PYTHONPATH:$FALLBACK"
fi
timeout --kill-after=10 "${GPU_CHECK_BUDGET_S:-420}" "$PY" "$ROOT/benchmarks/gpu_check.py" "$@"
