#!/usr/bin/env bash
# Download (here, where PyPI is reachable) the wheels vllm 0.26.0 needs on the lent GPU machine,
# whose image already has torch 2.11.0 (what vllm 0.26.0 pins), transformers, numpy, numba,
# triton and the CUDA 13 libraries (see /work/.library/device/KINDS.md), into .whl-vllm/.
# The list is vllm's own requirements resolved for Python 3.12 on x86-64 (pip install
# --dry-run --report), minus what the image holds. Two deliberate departures:
#   * llguidance: vllm 0.26.0 asks for >=1.7, but this registry's newest is 1.6.1 (xgrammar,
#     vLLM's default structured-output backend, is what the harness uses);
#   * tilelang, nvidia-cutlass-dsl, torchcodec, PyNvVideoCodec, humming-kernels, tokenspeed-*,
#     quack-kernels (optional kernels and video decoding) are left out.
# Then split .whl-vllm into 62 MB pieces and carry one per device call (bench/README.md).
set -euo pipefail
out=${1:-.whl-vllm}
mkdir -p "$out"
pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp --abi cp312 --abi abi3 --abi none \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  --platform manylinux_2_27_x86_64 --platform manylinux_2_34_x86_64 --platform manylinux_2_35_x86_64 --platform any \
  -d "$out" \
  vllm==0.26.0 flashinfer-python==0.6.14 apache-tvm-ffi==0.1.10 nvidia-cudnn-frontend==1.19.1 nvtx==0.2.15 \
  lm-format-enforcer==0.11.3 llguidance==1.6.1 outlines-core==0.2.14 lark==1.2.2 compressed-tensors==0.17.0 \
  depyf==0.20.0 fastapi==0.136.3 xgrammar==0.2.8 model-hosting-container-standards==0.1.16 cachetools==8.0.1 \
  blake3==1.0.11 starlette==1.10.0 openai==3.54.0 pydantic==2.14.3 pydantic-core==2.50.4 jiter==0.19.0 \
  prometheus-fastapi-instrumentator==8.1.0 partial-json-parser==0.2.1.1.post7 jsonschema==4.26.0 pyzmq==27.3.0 \
  msgspec==0.22.0 mistral-common==1.13.1 watchfiles==1.3.0 python-json-logger==4.2.0 pybase64==1.5.1 cbor2==6.3.0 \
  ijson==3.6.0 setproctitle==1.3.8 openai-harmony==0.0.8 anthropic==2.12.0 docstring-parser==0.18.0 sniffio==1.3.1 \
  mcp==2.3.0 mcp-types==2.3.0 opentelemetry-api==1.45.2 opentelemetry-sdk==1.45.2 \
  opentelemetry-semantic-conventions==0.66b2 opentelemetry-exporter-otlp==1.45.2 \
  opentelemetry-exporter-otlp-proto-grpc==1.45.2 opentelemetry-exporter-otlp-common==0.66b2 \
  opentelemetry-exporter-otlp-proto-common==1.45.2 opentelemetry-exporter-otlp-proto-http==1.45.2 \
  opentelemetry-exporter-http-transport==0.66b2 opentelemetry-proto==1.45.2 googleapis-common-protos==1.76.0 \
  opentelemetry-semantic-conventions-ai==0.5.1 fastsafetensors==0.5.0 annotated-types==0.8.0 email-validator==2.4.0 \
  dnspython==2.9.2 interegular==0.3.3 jsonschema-specifications==2025.9.1 pydantic-extra-types==2.11.1 \
  pycountry==26.2.16 pydantic-settings==2.16.3 python-dotenv==1.2.4 python-multipart==0.0.34 referencing==0.37.0 \
  rpds-py==2026.9.1 sse-starlette==3.7.0 typing-inspection==0.4.5 uvicorn==0.54.0 httptools==0.9.0 websockets==17.4 \
  astor==0.8.1 dill==0.4.1 loguru==0.7.3 pyelftools==0.33 torch-c-dlpack-ext==0.1.5 httpx2==2.16.2 httpcore2==2.16.2
du -sh "$out"; ls "$out" | wc -l
