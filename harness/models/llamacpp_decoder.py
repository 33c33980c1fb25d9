"""``llamacpp:<packaged model or GGUF file>``: decoder LMs through llama.cpp, in this process.

The prompts, answer options and answer reading are :class:`harness.engines.decoder.DecoderLM`'s,
shared with ``hf-causal:``; prompts go to llama.cpp as the token ids of the same tokenizer
calls, so both backends score identical tokens (the packaged models' GGUF files were made
from those tokenizers). On a CPU this runs the quantised weights as llama.cpp, Ollama and LM
Studio do, instead of de-quantising them to float32 for torch.

- Log-likelihoods come from llama.cpp's own logits at every position of the continuation
  (never from a server's echoed prompt log-probabilities, which llama-cpp-python gets wrong
  for models without a BOS token, SmolLM2 among them). Requests are sorted so those sharing
  a context (an example's options, few-shot examples) follow each other, and the tokens the
  context shares with what was evaluated last stay in llama.cpp's KV cache: only the rest is
  evaluated.
- Generation is greedy (temperature 0, no repeat penalty) with the kinds' stop strings and
  budgets; NER answers are held to the entity-list format by a GBNF grammar after the
  written ``[`` (``-o structured=off`` lets the model write freely).
- One sequence at a time: llama-cpp-python's high-level API evaluates one sequence per
  context, so requests run one after another (the KV-cache reuse above is where the time goes).
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
from functools import cached_property
from pathlib import Path
from typing import Any, Sequence

from harness import HarnessError, Model, ModelFamily, hookimpl
from harness.core.distributions import installed_version, source_digest
from harness.core.options import Option
from harness.core.requests import Request
from harness.engines.decoder import DecoderLM, TokenizedDecoderLM, cut_at_stops
from harness.engines.packaged import PackagedWeights, cache_dir, packaged_weights
from harness.kinds.tagging.grammar import entity_list_gbnf

INSTALL = "pip install 'harness[llamacpp]' (llama-cpp-python)"


def require_llama_cpp(name: str) -> None:
    """A one-line error when llama-cpp-python is not installed."""
    if importlib.util.find_spec("llama_cpp") is None:
        raise HarnessError(f"{name} needs llama-cpp-python: {INSTALL}")


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError(value)
    return number


_positive.__name__ = "whole number >= 1"


class LlamaCppCausal(TokenizedDecoderLM):
    """A causal LM run by llama.cpp in this process on GGUF weights."""

    description = "llama.cpp in process on GGUF weights (CPU): exact log-likelihood scoring from its logits, greedy generation with GBNF"
    options = {
        **DecoderLM.options,
        # NER answers: the rest of the entity list after a written "[" held to a GBNF grammar (auto), or free (off)
        "structured": ("auto", "off"),
    }
    engine_options = {
        "threads": Option("threads", None, parse=_positive, changes_predictions=False, help="every core"),
        "n_ctx": Option("n_ctx", 4096, parse=_positive, changes_predictions=False),
    }

    def __init__(self, source: str, packaged: PackagedWeights | None = None):
        self._source = source
        self.packaged = packaged
        self.name = f"llamacpp:{source}"
        self._llm = None
        self._tokenizer = None

    # -- weights and tokenizer ---------------------------------------------------------------

    @property
    def source(self) -> str:
        """Where the tokenizer and config come from: a packaged model's converted folder, else
        the GGUF file's folder (transformers reads both from the GGUF)."""
        if self.packaged is not None:
            return self.packaged.ensure_converted()
        return str(self.gguf_path().parent)

    def gguf_path(self) -> Path:
        """The one GGUF file llama.cpp loads (a packaged model's chunks joined once in the cache)."""
        if self.packaged is None:
            path = Path(self._source).expanduser()
            if not path.is_file():
                raise HarnessError(f"{self.name}: no GGUF file at {path} (expected a packaged model, see `harness models`, "
                                   "or a .gguf file)")
            return path
        files = self.packaged.gguf_files()
        if len(files) == 1:
            return files[0]
        joined = cache_dir() / f"{self.packaged.name}.llamacpp.gguf"
        if not joined.is_file() or joined.stat().st_size != sum(f.stat().st_size for f in files):
            partial = joined.with_suffix(".partial")
            partial.parent.mkdir(parents=True, exist_ok=True)
            with open(partial, "wb") as out:
                for chunk in files:
                    with open(chunk, "rb") as handle:
                        shutil.copyfileobj(handle, out, 16 << 20)
            partial.replace(joined)
        return joined

    @property
    def tokenizer(self):
        """The model's transformers tokenizer (from the converted folder, or from the GGUF)."""
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            if self.packaged is not None:
                self._tokenizer = AutoTokenizer.from_pretrained(self.source)
            else:
                path = self.gguf_path()
                self._tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
        return self._tokenizer

    @cached_property
    def config(self):
        """The model's transformers config."""
        if self.packaged is not None:
            return self.packaged.config()
        from transformers import AutoConfig

        path = self.gguf_path()
        return AutoConfig.from_pretrained(str(path.parent), gguf_file=path.name)

    @property
    def context_window(self) -> int | None:
        """The model's window, or ``n_ctx`` when that is smaller (longer prompts are an error, never cut)."""
        limits = (getattr(self.config, "max_position_embeddings", None), self.option("n_ctx"))
        return min(limit for limit in limits if limit)

    def identity(self) -> dict[str, Any]:
        """The weights (packages and versions, or the GGUF's digest), llama-cpp-python's version
        and this plugin's code; threads and ``n_ctx`` change speed only and stay out."""
        if self.packaged is not None:
            weights = self.packaged.identity()
        else:
            weights = {"gguf_sha256": _digest(self.gguf_path())}
        return {"name": self.name, **weights, "backend": "llama.cpp", "llama_cpp_python": installed_version("llama_cpp_python"),
                "engine_code": source_digest(self)}

    # -- the engine --------------------------------------------------------------------------

    def engine(self):
        """The one ``llama_cpp.Llama`` of this model in this run (created on first use)."""
        if self._llm is None:
            require_llama_cpp(self.name)
            import llama_cpp

            threads = self.option("threads") or len(os.sched_getaffinity(0))
            self._llm = llama_cpp.Llama(model_path=str(self.gguf_path()), n_ctx=self.option("n_ctx"), n_threads=threads,
                                        n_threads_batch=threads, n_batch=512, logits_all=False, verbose=False, seed=0)
        return self._llm

    def prepare(self) -> None:
        """Load the weights (outside the throughput clock)."""
        self.engine()

    def close(self) -> None:
        """Free the model at the end of a run."""
        if self._llm is not None:
            self._llm.close()
            self._llm = None

    def _evaluate(self, ids: Sequence[int]) -> None:
        """Make llama.cpp's state the tokens ``ids``: the longest prefix it already holds stays
        in the KV cache, the rest is evaluated (at least the last token, whose logits are read)."""
        llm = self.engine()
        held = llm.n_tokens
        keep = 0
        limit = min(held, len(ids) - 1)
        current = llm.input_ids
        while keep < limit and current[keep] == ids[keep]:
            keep += 1
        llm.n_tokens = keep
        llm.eval(list(ids[keep:]))
        self.usage.prompt_tokens += len(ids) - keep
        self.usage.cached_prompt_tokens = (self.usage.cached_prompt_tokens or 0) + keep

    def _last_logprobs(self):
        """log-softmax of the logits after the last evaluated token (float64)."""
        import llama_cpp
        import numpy as np

        llm = self.engine()
        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm.ctx, -1), shape=(llm.n_vocab(),)).astype(np.float64)
        top = logits.max()
        return logits - top - np.log(np.exp(logits - top).sum())

    def _continuation_logprob(self, context: list[int], continuation: list[int]) -> float:
        self.check_fits(len(context) + len(continuation), "a request")
        self._evaluate(context)
        total = 0.0
        for position, token in enumerate(continuation):
            if position:
                self._evaluate([*context, *continuation[:position]])
            total += float(self._last_logprobs()[token])
        return total

    def score_requests(self, requests: Sequence[Request], *, batch_size: int = 16) -> list[float]:
        """Sum of log P(continuation tokens | context) for each (context, continuation), from
        llama.cpp's logits; requests sharing a context run one after another on its cached state."""
        encoded = [(self.context_ids(context), self.continuation_ids(continuation)) for context, continuation in requests]
        order = sorted(range(len(encoded)), key=lambda i: (encoded[i][0], encoded[i][1]))
        results = [0.0] * len(encoded)
        for i in order:
            results[i] = self._continuation_logprob(*encoded[i])
        return results

    def score_single_token_options(self, contexts: Sequence[str], option_tokens: Sequence[int], *,
                                   batch_size: int = 16) -> list[list[float]]:
        """log P(option token | context) for one-token options: one evaluation per context."""
        results = []
        for context in contexts:
            ids = self.context_ids(context)
            self.check_fits(len(ids), "a prompt")
            self._evaluate(ids)
            logprobs = self._last_logprobs()
            results.append([float(logprobs[token]) for token in option_tokens])
        return results

    # -- generation --------------------------------------------------------------------------

    def constraint_form(self, task) -> str | None:
        """NER answers held to the list after a written ``[`` (a GBNF grammar), unless ``-o structured=off``."""
        return "regex" if self.option("structured") == "auto" else None

    def constraint(self, task) -> dict[str, Any] | None:
        """The kind's constraint, with the entity types the grammar is built from."""
        constraint = super().constraint(task)
        if constraint is not None and "regex" in constraint:
            constraint = {**constraint, "types": list(task.labels)}
        return constraint

    def generate(self, prompts: Sequence[str], *, max_new_tokens: Sequence[int], stops: Sequence[str] = (),
                 batch_size: int = 16, structured: dict[str, Any] | None = None) -> list[str]:
        """Greedy continuations of ``prompts``, each cut at the first of ``stops`` (and held to
        the entity-list grammar where ``structured`` asks)."""
        import llama_cpp

        llm = self.engine()
        grammar = None
        if structured is not None and "types" in structured:
            grammar = llama_cpp.LlamaGrammar.from_string(entity_list_gbnf(structured["types"], opened=True), verbose=False)
        encoded = [self.context_ids(p) for p in prompts]
        budgets = self.fit_budgets(encoded, max_new_tokens)
        outputs = []
        for ids, budget in zip(encoded, budgets):
            answer = llm.create_completion(prompt=list(ids), max_tokens=budget, temperature=0.0, top_k=1, top_p=1.0,
                                           min_p=0.0, repeat_penalty=1.0, stop=list(stops) or None, grammar=grammar)
            self.usage.prompt_tokens += answer["usage"]["prompt_tokens"]
            self.usage.generated_tokens += answer["usage"]["completion_tokens"]
            outputs.append(cut_at_stops(answer["choices"][0]["text"], stops))
        return outputs


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(16 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


class LlamaCppFamily(ModelFamily):
    """Claims ``llamacpp:<packaged model or GGUF file>``; ``llamacpp:smollm2-135m`` runs the packaged GGUF."""

    prefix = "llamacpp"
    argument = "packaged-model-or-gguf-file"
    model_class = LlamaCppCausal

    def create(self, argument: str) -> Model:
        """The model, once llama-cpp-python is known to be installed (a one-line error otherwise)."""
        require_llama_cpp(f"llamacpp:{argument}")
        return LlamaCppCausal(argument, packaged=packaged_weights(argument))


@hookimpl
def harness_register_models(register):
    register(LlamaCppFamily())
