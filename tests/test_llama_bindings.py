"""``llamacpp:`` on xllamacpp's prebuilt library, through the C API declared in
plugins/llamacpp/binding.py, held to llama-cpp-python 0.3.36 on the packaged SmolLM2-135M.

llama-cpp-python is built from source (a compiler, minutes), so its values are a fixture,
``fixtures/llama_cpp_python_logprobs.json``, recorded by this file run as a script (below) from
two builds of it on this machine:

- **with xllamacpp's CPU flags** (AVX2, FMA, F16C; ``-DGGML_NATIVE=OFF``): the same kernels.
  xllamacpp must give the same values to 1e-4 a token (measured: the same bits), on the
  packaged Q4_1 and on ``-o weights=f32``: a misdeclared structure, a wrong batch or a token
  off by one would be off by whole nats;
- **with ``-march=native``** (what ``pip install llama-cpp-python`` builds; AVX-512 VNNI and
  BF16 on this CPU): other kernels, another summation order. The gap is float arithmetic on
  f32 (measured median 1.8e-4, max 3.7e-3) and the 8-bit activations of the quantised products
  on Q4_1 (median 0.04, max 0.31), the size of either build's gap to transformers on float32.

    python tests/test_llama_bindings.py --record SAME_ISA_BUILD_DIR   # rewrites the fixture
"""
from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

FIXTURE = Path(__file__).parent / "fixtures" / "llama_cpp_python_logprobs.json"
TEXTS = [("Review: a bright, funny and generous film.\nSentiment:", " positive"),
         ("Review: a bright, funny and generous film.\nSentiment:", " negative"),
         ("The trophy does not fit into the brown suitcase because", " the suitcase is too small."),
         ("Sentence: Maria Lopez flew from Lisbon to Oslo for Acme Corp.\nEntities: [",
          "{\"text\": \"Maria Lopez\", \"type\": \"PER\"}]"),
         ("It was a bright cold day in April, and the clocks", " were striking thirteen.")]
WEIGHTS = ("packaged", "f32")

SCRIPT = """
import json, sys
from harness import get_model
binding, weights, texts = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
model = get_model("llamacpp:smollm2-135m").with_options({"binding": binding, "weights": weights})
groups = []
for context, continuation in texts:
    ids, cont = model.context_ids(context), model.continuation_ids(continuation)
    groups += [(ids + cont[:i], [[cont[i]]]) for i in range(len(cont))]
engine = model.engine()
print(json.dumps({"label": engine.binding.label, "system_info": engine.binding.system_info(),
                  "identity": model.identity()["llama_cpp"], "per_token": [s[0] for s in engine.score(groups)]}))
model.close()
"""


def per_token(binding: str, weights: str, pythonpath: str | None = None) -> dict:
    """Every continuation token's log-probability of :data:`TEXTS`, in a process of its own (two
    llama.cpp libraries in one process could bind each other's symbols)."""
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [pythonpath, env.get("PYTHONPATH")]))
    done = subprocess.run([sys.executable, "-c", SCRIPT, binding, weights, json.dumps(TEXTS)], capture_output=True,
                          text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def xllamacpp():
    return {weights: per_token("xllamacpp", weights) for weights in WEIGHTS}


@pytest.fixture(scope="module")
def recorded():
    return json.loads(FIXTURE.read_text())


def test_xllamacpp_runs_and_names_itself(xllamacpp):
    from plugins.llamacpp.binding import XLLAMACPP_VERSION

    run = xllamacpp["packaged"]
    assert run["label"] == f"xllamacpp {XLLAMACPP_VERSION}" == run["identity"]
    assert "AVX2 = 1" in run["system_info"] and "AVX512 = 1" not in run["system_info"]  # the prebuilt CPU build


def test_xllamacpp_equals_llama_cpp_python_built_with_its_kernels(xllamacpp, recorded):
    same = recorded["same_isa"]
    assert "AVX2 = 1" in same["system_info"] and "AVX512" not in same["system_info"]
    assert same["label"].startswith("llama-cpp-python 0.3.")
    for weights in WEIGHTS:
        ours, theirs = np.array(xllamacpp[weights]["per_token"]), np.array(same[weights])
        assert ours.shape == theirs.shape and ours.size > 20 and np.all(ours < 0)
        assert np.abs(ours - theirs).max() <= 1e-4, (weights, np.abs(ours - theirs).max())


def test_against_the_native_build_the_gap_is_kernels_not_the_binding(xllamacpp, recorded):
    native = recorded["native"]
    assert "AVX512 = 1" in native["system_info"]
    exact = np.abs(np.array(xllamacpp["f32"]["per_token"]) - np.array(native["f32"]))
    assert np.median(exact) < 1e-3 and exact.max() < 1e-2, (np.median(exact), exact.max())
    quantised = np.abs(np.array(xllamacpp["packaged"]["per_token"]) - np.array(native["packaged"]))
    assert np.median(quantised) < 0.1 and quantised.max() < 1.0, (np.median(quantised), quantised.max())
    assert np.median(quantised) > np.median(exact)  # the 8-bit activations make the larger gap


class _Defaults:
    """A library whose default context parameters read back with one field off (another
    llama.cpp version's layout would misread several)."""

    def llama_context_default_params(self):
        from plugins.llamacpp import binding as llama_binding

        values = llama_binding.llama_context_params(**{k: v for k, v in llama_binding._CONTEXT_DEFAULTS.items()
                                                       if v is not None})
        values.offload_kqv = False
        return values

    def llama_model_default_params(self):
        from plugins.llamacpp import binding as llama_binding

        return llama_binding.llama_model_params(**{k: v for k, v in llama_binding._MODEL_DEFAULTS.items() if v is not None})


def test_a_library_whose_structures_read_wrong_is_refused_in_one_line():
    from harness import HarnessError
    from plugins.llamacpp import binding as llama_binding

    with pytest.raises(HarnessError) as caught:
        llama_binding._check_layout(_Defaults())
    message = str(caught.value)
    assert "llama_context_params differs" in message and "offload_kqv" in message
    assert message.endswith(f"pip install xllamacpp=={llama_binding.XLLAMACPP_VERSION}") and "\n" not in message


def test_the_declared_structures_read_the_real_librarys_defaults():
    from plugins.llamacpp import binding as llama_binding

    api = llama_binding.llama_binding("xllamacpp").lib
    llama_binding._check_layout(api)  # what loading did; here on purpose
    params = api.llama_context_default_params()
    assert (params.n_ctx, params.n_batch, params.offload_kqv, params.kv_unified) == (512, 2048, True, False)
    assert ctypes.sizeof(llama_binding.llama_context_params) == 168


def record(same_isa_build: str) -> None:
    """Rewrite :data:`FIXTURE` from llama-cpp-python: the build found on ``same_isa_build``
    first, and the one installed (native)."""
    fixture = {"texts": TEXTS}
    for key, path in (("same_isa", same_isa_build), ("native", None)):
        runs = {weights: per_token("llama-cpp-python", weights, path) for weights in WEIGHTS}
        fixture[key] = {"label": runs["packaged"]["label"], "system_info": runs["packaged"]["system_info"],
                        **{weights: runs[weights]["per_token"] for weights in WEIGHTS}}
    FIXTURE.write_text(json.dumps(fixture, indent=1) + "\n")
    print(f"wrote {FIXTURE}")


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "--record":
        sys.exit(__doc__.strip().splitlines()[-1].strip())
    record(sys.argv[2])
