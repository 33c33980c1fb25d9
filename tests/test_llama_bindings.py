"""The two llama.cpp bindings ``llamacpp:`` runs on (harness/engines/llama_binding.py):
xllamacpp's prebuilt library through the C API declared here, and llama-cpp-python's own
ctypes module, each in a process of its own, on the packaged SmolLM2-135M.

The bindings' kernels are not the same code: xllamacpp's CPU build uses AVX2, the source-built
llama-cpp-python AVX-512 (VNNI, BF16) on this CPU, and they are builds of two llama.cpp commits.
On float32 weights (``-o weights=f32``) what is left is float arithmetic in another order
(measured on this text: median 1.8e-4, max 3.7e-3 nats a token); on the packaged Q4_1 it is
the 8-bit activations of the quantised products (median 0.04, max 0.31), the same size as
either's gap to transformers on float32. A misdeclared structure or a wrong batch would be off
by whole nats. bench/llama_bindings.py measures the same on SST-2, WSC273 and CoNLL++.
"""
from __future__ import annotations

import ctypes
import json
import subprocess
import sys

import numpy as np
import pytest

from harness import HarnessError
from harness.engines import llama_binding

TEXTS = [("Review: a bright, funny and generous film.\nSentiment:", " positive"),
         ("The trophy does not fit into the brown suitcase because", " the suitcase is too small."),
         ("Sentence: EU rejects German call to boycott British lamb.\nEntities: [", "{\"text\": \"EU\", \"type\": \"ORG\"}]")]

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


def per_token(binding: str, weights: str) -> dict:
    done = subprocess.run([sys.executable, "-c", SCRIPT, binding, weights, json.dumps(TEXTS)], capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def bindings():
    return {(b, w): per_token(b, w) for b in ("xllamacpp", "llama-cpp-python") for w in ("f32", "packaged")}


def test_each_binding_runs_and_names_itself(bindings):
    new, old = bindings[("xllamacpp", "packaged")], bindings[("llama-cpp-python", "packaged")]
    assert new["label"] == f"xllamacpp {llama_binding.XLLAMACPP_VERSION}" == new["identity"]
    assert old["label"].startswith("llama-cpp-python 0.3.") and old["identity"] == old["label"]
    assert "AVX2 = 1" in new["system_info"] and "AVX512 = 1" not in new["system_info"]  # the prebuilt CPU build


def test_the_bindings_agree_on_float32_weights_and_within_quantisation_on_q4_1(bindings):
    def gaps(weights):
        a, b = (np.array(bindings[(binding, weights)]["per_token"]) for binding in ("xllamacpp", "llama-cpp-python"))
        assert a.shape == b.shape and a.size > 20 and np.all(a < 0) and np.all(b < 0)
        return np.abs(a - b)

    exact = gaps("f32")
    assert np.median(exact) < 1e-3 and exact.max() < 1e-2, (np.median(exact), exact.max())
    quantised = gaps("packaged")
    assert np.median(quantised) < 0.1 and quantised.max() < 1.0, (np.median(quantised), quantised.max())
    assert np.median(quantised) > np.median(exact)  # the 8-bit activations, not the binding, make the gap


class _Defaults:
    """A library whose default context parameters read back with one field off (another
    llama.cpp version's layout would misread several)."""

    def llama_context_default_params(self):
        values = llama_binding.llama_context_params(**{k: v for k, v in llama_binding._CONTEXT_DEFAULTS.items()
                                                       if v is not None})
        values.offload_kqv = False
        return values

    def llama_model_default_params(self):
        return llama_binding.llama_model_params(**{k: v for k, v in llama_binding._MODEL_DEFAULTS.items() if v is not None})


def test_a_library_whose_structures_read_wrong_is_refused_in_one_line():
    with pytest.raises(HarnessError) as caught:
        llama_binding._check_layout(_Defaults())
    message = str(caught.value)
    assert "llama_context_params differs" in message and "offload_kqv" in message
    assert message.endswith(f"pip install xllamacpp=={llama_binding.XLLAMACPP_VERSION}") and "\n" not in message


def test_the_declared_structures_read_the_real_librarys_defaults():
    api = llama_binding.llama_binding("xllamacpp").lib
    llama_binding._check_layout(api)  # what loading did; here on purpose
    params = api.llama_context_default_params()
    assert (params.n_ctx, params.n_batch, params.offload_kqv, params.kv_unified) == (512, 2048, True, False)
    assert ctypes.sizeof(llama_binding.llama_context_params) == 168
