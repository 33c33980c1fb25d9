"""``llamacpp:<packaged model or GGUF file>``: decoder LMs through llama.cpp, in this process.

The prompts, answer options and answer reading are :class:`harness.engines.decoder.DecoderLM`'s,
shared with ``hf-causal:``; prompts go to llama.cpp as the token ids of the same tokenizer
calls, so both backends score identical tokens (the packaged models' GGUF files were made
from those tokenizers). On a CPU this runs the quantised weights as llama.cpp, Ollama and LM
Studio do, instead of de-quantising them to float32 for torch.

- Log-likelihoods come from llama.cpp's own logits at every position of the continuation
  (never from a server's echoed prompt log-probabilities, which llama-cpp-python gets wrong
  for models without a BOS token, SmolLM2 among them). An example's context is evaluated
  once for all its options, and a prefix every prompt shares (few-shot examples) once per
  run (:mod:`plugins.llamacpp.batches`).
- Several sequences per llama.cpp call (``-o parallel=16``): a high-level ``Llama`` object
  evaluates one sequence per context, so the engine drives llama.cpp's batch API (tokens
  tagged with their sequences, one unified KV cache) as its server does.
- llama.cpp comes from the prebuilt xllamacpp wheel, or from llama-cpp-python built from
  source (``-o binding=``; :mod:`plugins.llamacpp.binding`); the row's identity names the
  one that ran.
- Generation is greedy (temperature 0, no repeat penalty) with the kinds' stop strings and
  budgets; NER answers are held to the entity-list format by a GBNF grammar after the
  written ``[`` (``-o structured=off`` lets the model write freely).
"""
from __future__ import annotations

import hashlib
import os
import shutil
from functools import cached_property
from pathlib import Path
from typing import Any, Sequence

from harness import HarnessError, Model, ModelFamily, hookimpl
from harness import Option
from harness.engine import (
    DecoderLM,
    PackagedWeights,
    Request,
    TokenizedDecoderLM,
    cache_dir,
    cut_at_stops,
    gguf_parameter_count,
    installed_version,
    number_in,
    packaged_weights,
)
from plugins.llamacpp.batches import DEFAULT_CELLS, DEFAULT_SEQUENCES, LlamaBatches
from plugins.llamacpp.binding import BINDINGS, LlamaBinding, llama_binding, resolve_binding
from plugins.llamacpp.gguf_convert import WEIGHT_TYPES, convert_gguf

def require_llama_cpp(name: str) -> None:
    """A one-line error when no llama.cpp binding is installed."""
    resolve_binding("auto", name)


_threads = number_in(int, 1, 1024)
_n_ctx = number_in(int, 1, 1 << 20)  # a context llama.cpp can allocate
_sequences = number_in(int, 1, 1024)


#: the fixed part of a GGUF header: magic, version, tensor count, metadata count
GGUF_HEADER_BYTES = 24


def check_gguf(path: Path, name: str) -> None:
    """A one-line error naming ``path`` unless it reads as a GGUF file: its header, metadata
    and tensor table whole (an empty, truncated or foreign file would otherwise fail deep in
    the tokenizer or llama.cpp)."""
    size = path.stat().st_size
    if size < GGUF_HEADER_BYTES:
        raise HarnessError(f"{name}: {path} is not a GGUF file ({'it is empty' if size == 0 else f'only {size} bytes'})")
    with open(path, "rb") as handle:
        magic = handle.read(4)
    if magic != b"GGUF":
        raise HarnessError(f"{name}: {path} is not a GGUF file (it does not start with the bytes GGUF)")
    try:
        from gguf import GGUFReader

        GGUFReader(str(path))
    except Exception as exc:  # the reader raises struct, value and index errors on a cut file
        reason = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else type(exc).__name__
        raise HarnessError(f"{name}: {path} is not a whole GGUF file (cut short or damaged: {reason})") from None


class LlamaCppCausal(TokenizedDecoderLM):
    """A causal LM run by llama.cpp in this process on GGUF weights."""

    answers_version = 1  # bump with any change that changes an answer (Model.answers_version)

    description = "llama.cpp in process on GGUF weights (CPU): exact log-likelihood scoring from its logits, greedy generation with GBNF"
    options = {
        **DecoderLM.options,
        # NER answers: the rest of the entity list after a written "[" held to a GBNF grammar (auto), or free (off)
        "structured": ("auto", "off"),
    }
    engine_options = {
        "threads": Option("threads", None, parse=_threads, changes_predictions=False, help="every core"),
        "n_ctx": Option("n_ctx", 4096, parse=_n_ctx, changes_predictions=False),
        # sequences decoded together (requests and prompts batched across examples)
        "parallel": Option("parallel", DEFAULT_SEQUENCES, parse=_sequences, changes_predictions=False),
        # the packaged GGUF as it is, or its weights converted once (gguf's de-quantiser, the one
        # transformers uses: f32/f16 are the weights hf-causal runs; q8_0: requantised)
        "weights": Option("weights", "packaged", choices=("packaged", *WEIGHT_TYPES)),
        # which package's llama.cpp runs (auto: xllamacpp, prebuilt, when installed); the identity names it
        "binding": Option("binding", "auto", choices=("auto", *BINDINGS), changes_predictions=False,
                          help="xllamacpp if installed, else llama-cpp-python"),
    }

    #: the weights, and how many sequences share a decode call: llama.cpp cuts batches into
    #: micro-batches by it and its kernels' results depend on the cut (measured on SmolLM2 Q4_1,
    #: parallel=1 against 16: 116 of 120 SST-2 token log-probabilities differ, up to 0.57 nats),
    #: so each setting keeps its own cache entries
    engine_affecting_options = ("weights", "parallel")

    def __init__(self, source: str, packaged: PackagedWeights | None = None):
        self._source = source
        self.packaged = packaged
        self.name = f"llamacpp:{source}"
        self._llm = None
        self._tokenizer = None
        self._checked = False  # the GGUF file read whole once (check_gguf)

    # -- weights and tokenizer ---------------------------------------------------------------

    @property
    def source(self) -> str:
        """Where the tokenizer and config come from: a packaged model's converted folder, else
        the GGUF file's folder (transformers reads both from the GGUF)."""
        if self.packaged is not None:
            return self.packaged.ensure_converted()
        return str(self.source_gguf().parent)

    def gguf_path(self) -> Path:
        """The GGUF file llama.cpp loads: :meth:`source_gguf`, or its conversion (``-o weights=``)
        made once in the cache."""
        source = self.source_gguf()
        target = self.option("weights")
        if target == "packaged":
            return source
        converted = cache_dir() / f"{source.stem}.{_short_digest(source)}.{target}.gguf"
        if not converted.is_file():
            convert_gguf(source, converted, target)
        return converted

    def source_gguf(self) -> Path:
        """The GGUF file as packaged or named (a packaged model's chunks joined once in the cache)."""
        if self.packaged is None:
            path = Path(self._source).expanduser()
            if path.is_dir():
                raise HarnessError(f"{self.name}: {path} is a folder, not a GGUF file (name the .gguf file in it)")
            if not path.is_file():
                raise HarnessError(f"{self.name}: no GGUF file at {path} (expected a packaged model, see `harness models`, "
                                   "or a .gguf file)")
            if not self._checked:
                check_gguf(path, self.name)
                self._checked = True
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
                path = self.source_gguf()
                self._tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
        return self._tokenizer

    @cached_property
    def config(self):
        """The model's transformers config."""
        if self.packaged is not None:
            return self.packaged.config()
        from transformers import AutoConfig

        path = self.source_gguf()
        return AutoConfig.from_pretrained(str(path.parent), gguf_file=path.name)

    @property
    def context_window(self) -> int | None:
        """The model's window, or ``n_ctx`` when that is smaller (longer prompts are an error, never cut)."""
        limits = (getattr(self.config, "max_position_embeddings", None), self.option("n_ctx"))
        return min(limit for limit in limits if limit)

    def identity(self) -> dict[str, Any]:
        """The weights (packages and versions, or the GGUF's digest), the llama.cpp binding and
        its version (kernels differ in their last bits between builds) and this plugin's code;
        threads and ``n_ctx`` change speed only and stay out."""
        if self.packaged is not None:
            weights = self.packaged.identity()
        else:
            weights = {"gguf_sha256": _digest(self.source_gguf())}
        if self.option("weights") != "packaged":
            weights["converted_to"] = self.option("weights")
        return {"name": self.name, **weights, "backend": "llama.cpp", "llama_cpp": self.binding_label(),
                **self.code_identity()}

    def binding_name(self) -> str:
        """The binding ``-o binding=`` stands for here (a one-line error when it is not installed)."""
        return resolve_binding(self.option("binding"), self.name)

    def binding_label(self) -> str:
        """``package version`` of the binding that runs (known without loading llama.cpp)."""
        name = self.binding_name()
        return f"{name} {installed_version('xllamacpp' if name == 'xllamacpp' else 'llama_cpp_python')}"

    def binding(self) -> LlamaBinding:
        """The loaded llama.cpp library this model runs on."""
        return llama_binding(self.binding_name())

    def parameter_count(self) -> int | None:
        """The GGUF's tensor elements (its parameters, whatever their quantisation), read from
        the file's header: known without loading the weights, so a run served from the cache
        records it too (None where the file cannot be read)."""
        try:
            return gguf_parameter_count(self.source_gguf())
        except (OSError, ValueError, HarnessError):
            return None

    # -- the engine --------------------------------------------------------------------------

    def engine(self) -> LlamaBatches:
        """The one llama.cpp model and context of this model in this run (created on first use)."""
        if self._llm is None:
            binding = self.binding()
            threads = self.option("threads") or len(os.sched_getaffinity(0))
            self._llm = LlamaBatches(str(self.gguf_path()), binding=binding, threads=threads,
                                     cells=max(DEFAULT_CELLS, self.option("n_ctx")), sequences=self.option("parallel") + 1)
        return self._llm

    def prepare(self) -> None:
        """Load the weights (outside the throughput clock)."""
        self.engine()

    def close(self) -> None:
        """Free the model at the end of a run."""
        if self._llm is not None:
            self._llm.close()
            self._llm = None

    def _scored_groups(self, groups: list[tuple[list[int], list[list[int]]]]) -> list[list[float]]:
        """Summed log-likelihoods of each group's continuations after its context, counted in usage."""
        for context, continuations in groups:
            self.check_fits(len(context) + max(map(len, continuations)), "a request")
        llm = self.engine()
        before, reused = llm.evaluated_tokens, llm.reused_tokens
        llm.progress = self.report_progress
        try:
            return llm.score(groups)
        finally:
            llm.progress = None
            self.usage.prompt_tokens += llm.evaluated_tokens - before
            self.usage.cached_prompt_tokens = (self.usage.cached_prompt_tokens or 0) + llm.reused_tokens - reused

    def score_requests(self, requests: Sequence[Request], *, batch_size: int = 16) -> list[float]:
        """Sum of log P(continuation tokens | context) for each (context, continuation), from
        llama.cpp's logits; the options of one context are one group (its tokens evaluated once)."""
        groups: dict[tuple[int, ...], list[tuple[int, list[int]]]] = {}
        for i, (context, continuation) in enumerate(requests):
            groups.setdefault(tuple(self.context_ids(context)), []).append((i, self.continuation_ids(continuation)))
        contexts = sorted(groups)  # neighbours share the most (few-shot examples, long common openings)
        scored = self._scored_groups([(list(c), [cont for _, cont in groups[c]]) for c in contexts])
        results = [0.0] * len(requests)
        for context, sums in zip(contexts, scored):
            for (i, _), value in zip(groups[context], sums):
                results[i] = value
        return results

    def score_single_token_options(self, contexts: Sequence[str], option_tokens: Sequence[int], *,
                                   batch_size: int = 16) -> list[list[float]]:
        """log P(option token | context) for one-token options: one output per context."""
        options = [[token] for token in option_tokens]
        return self._scored_groups([(self.context_ids(context), options) for context in contexts])

    # -- generation --------------------------------------------------------------------------

    def constraint_form(self, task) -> str | None:
        """Answers held to the kind's GBNF grammar of what follows the written opening (NER's
        entity list after ``[``), unless ``-o structured=off``."""
        return "gbnf" if self.option("structured") == "auto" else None

    def generate(self, prompts: Sequence[str], *, max_new_tokens: Sequence[int], stops: Sequence[str] = (),
                 batch_size: int = 16, structured: dict[str, Any] | None = None) -> list[str]:
        """Greedy continuations of ``prompts`` (up to ``parallel`` decoded together), each cut at
        the first of ``stops`` (and held to the kind's GBNF grammar where ``structured`` has one)."""
        grammar = structured.get("gbnf") if structured is not None else None
        encoded = [self.context_ids(p) for p in prompts]
        budgets = self.fit_budgets(encoded, max_new_tokens)
        decode = self.tokenizer.decode

        def finished(i: int, tokens: list[int]) -> bool:
            return bool(stops) and any(stop in decode(tokens) for stop in stops)

        llm = self.engine()
        before = llm.evaluated_tokens
        llm.progress = self.report_progress
        try:
            generated = llm.generate(encoded, budgets, finished=finished, grammar=grammar)
        finally:
            llm.progress = None
        produced = sum(map(len, generated))
        self.usage.generated_tokens += produced
        self.usage.prompt_tokens += llm.evaluated_tokens - before - produced
        return [cut_at_stops(decode(tokens, skip_special_tokens=True), stops) for tokens in generated]


def _short_digest(path: Path) -> str:
    """Name, size and modification time of ``path``, digested (tells conversions of different files apart)."""
    stat = path.stat()
    return hashlib.sha256(f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:8]


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
