"""What every decoder (causal LM) backend shares: prompts, answer options, answer reading.

A backend (``hf-causal:`` through transformers, ``vllm:`` through vLLM) subclasses
:class:`DecoderLM` and implements the engine calls only:

- :meth:`DecoderLM.score_single_token_options`: log P(option token | context) for one-token
  options after each context (classification with one-token verbalisers);
- :meth:`DecoderLM.score_requests`: summed log P(continuation | context) per request;
- :meth:`DecoderLM.generate`: greedy continuations cut at stop strings, optionally held to
  a grammar (a JSON schema or a regular expression; vLLM's structured outputs).

Everything else (which requests an example makes, how scores become a prediction, how
generated text becomes tags or a word) lives here, so two backends given the same model
send the same token ids and read answers the same way.
"""
from __future__ import annotations

import hashlib
import json
import math
import re
import time
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Sequence

from harness.core.example import Prediction
from harness.core.model import Model
from harness.core.options import Option, declared_options
from harness.core.requests import Formatter, GenerationRequest, Request
from harness.data.hub import load_config
from harness.errors import HarnessError
from harness.kinds import DecoderAdapter, get_kinds, kind_decoder_options, kind_of
from harness.kinds.prompting import chat_messages, plain, render_prompt


def request_key(*parts: Any) -> str:
    """Digest of one engine request (its kind, text and settings)."""
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False, sort_keys=True).encode()).hexdigest()[:32]


class RequestCache:
    """A decoder engine's outputs per request, kept in the results store under the engine's
    identity, so answers are read afresh on every run without asking the engine again."""

    def __init__(self, store, engine: dict[str, Any]):
        self.store = store
        self.engine_key = hashlib.sha256(json.dumps(engine, sort_keys=True, default=str).encode()).hexdigest()[:32]

    def get(self, keys: Sequence[str]) -> dict[str, tuple[Any, float]]:
        """(output, seconds) of the requests already answered."""
        return self.store.cached_requests(self.engine_key, keys)

    def put(self, outputs: dict[str, tuple[Any, float]]) -> None:
        """Keep fresh outputs (committed at once)."""
        self.store.put_requests(self.engine_key, outputs)


@dataclass(frozen=True)
class Capabilities:
    """What a decoder engine can do."""

    #: scores an arbitrary continuation after a context (log-likelihood kinds need it)
    scores_continuations: bool = False
    #: returns the log-probabilities of the prompt's own tokens (vLLM's prompt_logprobs)
    prompt_logprobs: bool = False
    #: holds generation to a JSON schema or regular expression
    structured_output: bool = False
    #: renders prompts through the model's chat template
    chat_template: bool = False
    #: the model's tokenizer is available (context-window checks, per-token normalisation)
    tokenizer: bool = False


class PartialFailure(Exception):
    """Raised by an engine call that failed (or was interrupted) after answering some of its
    examples: ``done`` maps the position of each answered example in the call to its outputs,
    which are cached before ``error`` is raised again, so a rerun sends only what is missing."""

    def __init__(self, done: dict[int, list[Any]], error: BaseException):
        super().__init__(str(error))
        self.done = done
        self.error = error


#: What a model is told when a task's options are asked as generation (``-o scoring=off``, or an
#: engine that cannot score): the options, one per line of the prompt's answer cue. Versioned:
#: it is part of every such request.
OPTIONS_INSTRUCTION = "Answer with exactly one of: {options}."


def options_prompt(prompt: str, options: Sequence[str]) -> str:
    """``prompt`` with a line listing the ``options`` put before its last line (the answer cue,
    such as "Answer:"), or after it when the prompt is one line."""
    line = OPTIONS_INSTRUCTION.format(options="; ".join(options))
    head, sep, cue = prompt.rpartition("\n")
    return f"{head}\n{line}\n{cue}" if sep else f"{prompt}\n{line}\nAnswer:"


def _folded(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s'-]", " ", text.casefold()).split())


def match_option(text: str, options: Sequence[str]) -> int | None:
    """The option a generated answer names, or None when it names none or several.

    The first non-empty line is read, case and punctuation ignored: an answer equal to an
    option, then one that contains exactly one option as whole words ("Positive, because..."),
    then one that is part of exactly one option ("trophy" for "the trophy"). An answer naming
    several options ("positive or negative") names none.
    """
    line = _folded(next((line for line in text.splitlines() if line.strip()), ""))
    folded = [_folded(option) for option in options]
    if not line:
        return None
    for test in (lambda o: line == o, lambda o: f" {o} " in f" {line} ", lambda o: f" {line} " in f" {o} "):
        hits = [i for i, option in enumerate(folded) if option and test(option)]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            return None
    return None


class _DecoderKinds:
    """``DecoderLM.kinds``: every registered kind that decoders can answer (read when asked,
    so a kind a plugin adds is answered too)."""

    def __get__(self, obj, owner=None) -> frozenset[str]:
        return frozenset(reg.obj.name for reg in get_kinds().values() if reg.obj.decoding is not None)


class DecoderLM(Model):
    """Base class of decoder (causal LM) backends, engine-agnostic: the kinds' requests as
    text, the request cache, and answer reading. An engine implements :meth:`loglikelihoods`
    (for kinds answered by scoring options) and :meth:`generate`, and says what else it can
    do in :attr:`capabilities`; :class:`TokenizedDecoderLM` adds what a local tokenizer gives."""

    kinds = _DecoderKinds()  # type: ignore[assignment]
    family = "decoder"
    few_shot = True
    reads_prompts = True
    options = {
        # auto: apply the tokenizer's chat template when it has one (instruction-tuned models)
        "chat_template": ("auto", "on", "off"),
        # log-likelihood of an option: summed over its tokens, or divided by its tokens / characters
        "normalisation": ("sum", "token", "char"),
    }

    #: what the engine can do, for the kinds and for listings (see :class:`Capabilities`)
    capabilities: Capabilities = Capabilities()
    #: log-likelihood kinds (classification, choice) may be asked as generation when the engine
    #: cannot score continuations (the options listed in the prompt, the answer matched back)
    answers_options_by_generation: bool = False

    def declared_options(self) -> dict[str, Option]:
        """The engine's own options, then every option a kind's decoder adapter declares
        (:attr:`harness.DecoderAdapter.decoder_options`: ``-o coref=question`` is the choice
        kind's), read when asked, so a kind a plugin adds brings its options to every decoder."""
        return {**declared_options(self.options, self.engine_options), **kind_decoder_options()}

    def kind_options(self, task) -> dict[str, Any]:
        """The value of each option the task's kind declares for decoders."""
        return {name: self.option(name) for name in self.adapter(task).decoder_options}

    def asks_options_by_generation(self) -> bool:
        """Whether log-likelihood kinds are asked as generation by this engine as configured."""
        return self.answers_options_by_generation and not self.capabilities.scores_continuations

    def uses_chat_template(self) -> bool:
        """Whether prompts go through a chat template (engines with one override this)."""
        return False

    def chat_formatter(self) -> Formatter | None:
        """A :data:`~harness.core.requests.Formatter` through the chat template, or None for plain prompts."""
        return None

    def count_tokens(self, text: str) -> int:
        """Tokens in ``text`` (per-token normalisation needs it)."""
        raise HarnessError(f"{self.name}: -o normalisation=token needs the model's tokenizer, which this engine lacks")

    def adapter(self, task) -> DecoderAdapter:
        """How the task's kind is asked and read (a one-line error for a kind decoders do not answer)."""
        adapter = kind_of(task).decoding
        if adapter is None:
            raise HarnessError(f"{self.name} answers {', '.join(sorted(self.kinds))} tasks, not {task.kind}")
        return adapter

    def check_task(self, task) -> None:
        """A decoder is asked through the task's prompt: a task without one fails before the
        weights load (or convert)."""
        if not task.prompt_template:
            raise HarnessError(f"Task {task.name!r} has no prompt_template, which decoder models such as {self.name} "
                               "need (set Task.prompt_template: a jinja2 template of the input)")
        if (self.adapter(task).method == "loglikelihood" and not self.capabilities.scores_continuations
                and not self.answers_options_by_generation):
            raise HarnessError(f"{self.name} cannot score continuations, which {task.kind} tasks such as {task.name!r} "
                               "are answered by")

    def task_settings(self, task) -> dict[str, Any]:
        """The prompt, verbalisers and answering method this task gives decoders (edits invalidate the cache)."""
        settings: dict[str, Any] = {"prompt_template": task.prompt_template, "chat_template": self.uses_chat_template()}
        settings.update(self.adapter(task).settings(self, task))
        if self.adapter(task).method == "loglikelihood" and self.asks_options_by_generation():
            settings["options_by_generation"] = OPTIONS_INSTRUCTION
        return settings

    # -- engine calls (backends implement these) ---------------------------------------

    def generate(self, prompts: Sequence[str], *, max_new_tokens: Sequence[int], stops: Sequence[str] = (),
                 batch_size: int = 16, structured: dict[str, Any] | None = None) -> list[str]:
        """Greedy continuations of ``prompts``, each cut at the first of ``stops`` (and, where the
        engine has structured outputs, held to ``structured``: see :class:`GenerationRequest`)."""
        raise NotImplementedError

    def constraint_form(self, task) -> str | None:
        """The form in which this engine, as configured, holds generation to a grammar: "json" (a
        schema of the whole answer, which the model then opens itself), "regex" or "gbnf" (a
        regular expression or a llama.cpp grammar of the rest of the answer after its written
        opening), or None where it generates freely. The task's kind writes its constraint in
        that form (:meth:`harness.DecoderAdapter.constraint`); the engine passes it on unread."""
        return None

    def constraint(self, task) -> dict[str, Any] | None:
        """What the task's answers are held to on this engine: its kind's grammar in the
        engine's :meth:`constraint_form` (None: free generation, stopped at stop strings)."""
        form = self.constraint_form(task)
        return None if form is None else self.adapter(task).constraint(task, form)

    # -- answering ---------------------------------------------------------------------

    def loglikelihoods(self, per_example: Sequence[Sequence[Request]], *, batch_size: int = 16) -> list[list[float]]:
        """Summed log-likelihood of every (context, continuation) option of every example (the
        engine call of log-likelihood kinds; engines batch and speed them up as they can)."""
        raise NotImplementedError

    def normalise(self, loglikelihood: float, continuation: str) -> float:
        """An option's score under the ``normalisation`` option (sum, per token or per character)."""
        rule = self.option("normalisation")
        if rule == "token":
            return loglikelihood / self.count_tokens(continuation)
        if rule == "char":
            return loglikelihood / max(1, len(continuation))
        return loglikelihood

    def predict(self, task, examples, *, batch_size=16, shots=()):
        """Answer by log-likelihood (classification, choice) or greedy generation (tagging, correction)."""
        if self.adapter(task).method == "generation":
            return self.predict_by_generation(task, examples, batch_size=batch_size, shots=shots)
        if self.asks_options_by_generation():
            return self.predict_options_by_generation(task, examples, batch_size=batch_size, shots=shots)
        return self.predict_by_loglikelihood(task, examples, batch_size=batch_size, shots=shots)

    # -- the request cache -------------------------------------------------------------

    #: model options that change what the engine returns for the same request (vLLM's dtype);
    #: the others change the requests themselves (prompts) or only how answers are read
    engine_affecting_options: tuple[str, ...] = ()
    caches_requests = True

    @property
    def request_cache(self) -> RequestCache | None:
        """Where engine outputs are kept per request in this run (None: every request is computed)."""
        return self.context.request_cache

    def engine_identity(self, identity: dict[str, Any] | None = None) -> dict[str, Any]:
        """What an engine's answer to a request depends on: the model (its :meth:`identity`,
        passed in when already computed: it may digest the weights) and its engine settings."""
        identity = self.identity() if identity is None else identity
        return {**identity, "engine_options": {name: self.option(name) for name in self.engine_affecting_options}}

    def _answered(self, keys: Sequence[Sequence[str]], compute) -> list[list[Any]]:
        """Engine outputs for each example's request keys: from the cache where every request of
        an example is there, else from ``compute(indices)`` (one list of outputs per example),
        which are then cached. Counts the examples served from the cache in :attr:`usage`."""
        cache = self.request_cache
        known = cache.get([k for ks in keys for k in ks]) if cache is not None else {}
        missing = [i for i, ks in enumerate(keys) if not all(k in known for k in ks)]
        if missing:
            started = time.perf_counter()
            self.prepare()  # weights load (or the engine starts) only once a request needs them
            self.usage.load_seconds += time.perf_counter() - started
            started = time.perf_counter()

            def timed_outputs(answered: dict[int, list[Any]]) -> dict[str, tuple[Any, float]]:
                # (output, seconds) per request key of the answered positions in ``missing``,
                # the elapsed time shared equally among their requests
                share = (time.perf_counter() - started) / max(1, sum(len(keys[missing[j]]) for j in answered))
                return {k: (output, share) for j, outputs in answered.items() for k, output in zip(keys[missing[j]], outputs)}

            try:
                computed = compute(missing)
            except PartialFailure as failure:  # keep what was answered before the failure
                if cache is not None and failure.done:
                    cache.put(timed_outputs(failure.done))
                raise failure.error from None
            fresh = timed_outputs(dict(enumerate(computed)))
            known.update(fresh)
            if cache is not None:
                cache.put(fresh)
        needed = set(missing)
        served = [i for i in range(len(keys)) if i not in needed]
        self.usage.cached_examples += len(served)
        self.usage.cached_seconds += sum(known[k][1] for i in served for k in keys[i])
        return [[known[k][0] for k in ks] for ks in keys]

    def predict_by_loglikelihood(self, task, examples, *, batch_size: int = 16, shots=()) -> list[Prediction]:
        """Score every option of every example; the best (normalised) option is the answer."""
        chat = self.chat_formatter()
        adapter, options = self.adapter(task), self.kind_options(task)
        per_example = [adapter.lm_requests(task, example, shots, chat=chat, options=options) for example in examples]
        keys = [[request_key("loglikelihood", context, continuation) for context, continuation in requests]
                for requests in per_example]
        sums = self._answered(keys, lambda todo: self.loglikelihoods([per_example[i] for i in todo], batch_size=batch_size))
        return [self.option_prediction(task, requests, loglikelihoods) for requests, loglikelihoods in zip(per_example, sums)]

    def option_prediction(self, task, requests: Sequence[Request], loglikelihoods: Sequence[float]) -> Prediction:
        """The prediction for one example from its options' summed log-likelihoods: the best
        normalised option, per-option probabilities (scores renormalised) and the raw sums."""
        scored = [self.normalise(s, continuation) for s, (_, continuation) in zip(loglikelihoods, requests)]
        best = max(range(len(scored)), key=scored.__getitem__)
        probs = [math.exp(s - scored[best]) for s in scored]
        total = sum(probs)
        output, scores, raw = self.adapter(task).option_prediction(task, requests, best, [p / total for p in probs],
                                                                   options=self.kind_options(task))
        return Prediction(
            output, scores, raw=raw, prompt=requests[best][0],
            details={"loglikelihoods": list(loglikelihoods), "normalisation": self.option("normalisation")},
        )

    def predict_options_by_generation(self, task, examples, *, batch_size: int = 16, shots=()) -> list[Prediction]:
        """Ask a log-likelihood kind's question as generation: the prompt lists the options, the
        model writes one, and the answer is matched back to an option (:func:`match_option`);
        an answer that names no option (or several) is a parse failure, counted in the kind's
        ``parse_failure_rate`` and scored as wrong."""
        kind = self.adapter(task)
        chat = self.chat_formatter()
        shown = [shot for shot in shots if kind.shows_as_shot(shot)]
        turns = [(options_prompt(question, kind.option_names(task, shot)), answer)
                 for (question, answer), shot in zip(kind.shot_turns(task, shown), shown)]
        names = [kind.option_names(task, example) for example in examples]
        questions = [options_prompt(render_prompt(task, example), options) for example, options in zip(examples, names)]
        if chat is not None:
            prompts = [chat([(q, a.strip()) for q, a in turns], question) for question in questions]
        else:
            prompts = [plain(turns, question) for question in questions]
        # a plain prompt's answer may start on the next line ("Answer:\n positive"): generation
        # stops at a blank line, and the first non-empty line is read
        stops = [] if chat else ["\n\n"]
        texts = self.generated_texts(prompts, [16] * len(prompts), stops, None, batch_size=batch_size)
        predictions = []
        for example, prompt, options, text in zip(examples, prompts, names, texts):
            chosen = match_option(text, options)
            output = kind.unanswered_output(task, example) if chosen is None else kind.option_output(task, example, chosen)
            predictions.append(Prediction(output, raw=text, prompt=prompt,
                                          details={"parse_failed": chosen is None, "options": options}))
        return predictions

    def generated_texts(self, prompts: Sequence[str], budgets: Sequence[int], stops: Sequence[str],
                        structured: dict[str, Any] | None, *, batch_size: int = 16) -> list[str]:
        """Greedy continuations of ``prompts`` (one token budget each), from the request cache
        where it has them, else from :meth:`generate`."""
        keys = [[request_key("generate", prompt, tokens, list(stops), structured)] for prompt, tokens in zip(prompts, budgets)]

        def compute(todo: list[int]) -> list[list[str]]:
            texts = self.generate([prompts[i] for i in todo], max_new_tokens=[budgets[i] for i in todo], stops=stops,
                                  batch_size=batch_size, structured=structured)
            return [[text] for text in texts]

        return [outputs[0] for outputs in self._answered(keys, compute)]

    def generation_requests(self, task, examples, shots=()) -> tuple[list[str], list[int], GenerationRequest, str]:
        """Prompts, token budgets and engine settings for tagging or correction examples, and
        the answer opening written for the model (``[`` for a free-form entity list)."""
        chat = self.chat_formatter()
        adapter = self.adapter(task)
        budget, settings, opening = adapter.generation(self, task, examples, chat)
        prompts = [adapter.generation_prompt(task, example, shots, chat=chat) + opening for example in examples]
        return prompts, budget, settings, opening

    def predict_by_generation(self, task, examples, *, batch_size: int = 16, shots=()) -> list[Prediction]:
        """Generate every answer, then read it: entity lists are grounded onto the tokens; a
        correction is read as one word."""
        prompts, budget, settings, opening = self.generation_requests(task, examples, shots)
        texts = self.generated_texts(prompts, budget, settings.stops, settings.structured, batch_size=batch_size)
        return [self.read_generation(task, example, prompt, text, opening)
                for example, prompt, text in zip(examples, prompts, texts)]

    def read_generation(self, task, example, prompt: str, text: str, opening: str = "") -> Prediction:
        """One generated answer as a prediction (``opening`` is what the prompt wrote for the model)."""
        return self.adapter(task).read_generation(task, example, prompt, text, opening)


class TokenizedDecoderLM(DecoderLM):
    """A decoder engine with the model's transformers tokenizer and config at hand (the
    transformers and vLLM backends): context-window checks, chat templates, and the
    token-level speed-up for options that are single tokens after one shared context.
    Subclasses implement :meth:`score_single_token_options`, :meth:`score_requests` and
    :meth:`generate`."""

    capabilities = Capabilities(scores_continuations=True, chat_template=True, tokenizer=True)

    source: str = ""
    _tokenizer = None

    # -- tokenizer and context window --------------------------------------------------

    @property
    def tokenizer(self):
        """The transformers tokenizer of :attr:`source` (loaded once, without the weights)."""
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(self.source)
        return self._tokenizer

    @cached_property
    def config(self):
        """The model's transformers config."""
        return load_config(self.name, self.source)

    @property
    def context_window(self) -> int | None:
        """The most tokens the model takes (``max_position_embeddings``), if its config says."""
        return getattr(self.config, "max_position_embeddings", None)

    def check_fits(self, tokens: int, what: str) -> None:
        """A one-line error when ``tokens`` exceed the model's context window (never a silent cut)."""
        if self.context_window and tokens > self.context_window:
            raise HarnessError(f"{self.name}: {what} is {tokens} tokens but the model takes at most {self.context_window}; "
                               "use fewer --shots or a model with a longer context")

    def fit_budgets(self, prompt_ids: Sequence[Sequence[int]], max_new_tokens: Sequence[int]) -> list[int]:
        """Generation budgets clipped so prompt plus answer fit the context window (a prompt that
        leaves no room is an error)."""
        budgets = []
        for ids, budget in zip(prompt_ids, max_new_tokens):
            self.check_fits(len(ids) + 1, "a prompt")
            budgets.append(min(budget, self.context_window - len(ids)) if self.context_window else budget)
        return budgets

    def encode(self, text: str) -> list[int]:
        """Token ids without special tokens."""
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def context_ids(self, context: str) -> list[int]:
        """A context's token ids; an empty context becomes the BOS (else EOS) token, which the
        first continuation token is predicted from."""
        ids = self.encode(context)
        if ids:
            return ids
        bos = self.tokenizer.bos_token_id if self.tokenizer.bos_token_id is not None else self.tokenizer.eos_token_id
        if bos is None:
            raise HarnessError(f"{self.name}: empty context and no BOS token to score a continuation after")
        return [bos]

    def continuation_ids(self, continuation: str) -> list[int]:
        """A continuation's token ids (never empty: an option must have something to score)."""
        ids = self.encode(continuation)
        if not ids:
            raise HarnessError(f"{self.name}: continuation {continuation!r} encodes to no tokens")
        return ids

    def uses_chat_template(self) -> bool:
        """Whether prompts go through the tokenizer's chat template (option ``chat_template``)."""
        choice = self.option("chat_template")
        if choice == "off":
            return False
        has_template = bool(getattr(self.tokenizer, "chat_template", None))
        if choice == "on" and not has_template:
            raise HarnessError(f"{self.name}: -o chat_template=on but its tokenizer has no chat template")
        return has_template

    def chat_formatter(self):
        """A :data:`~harness.core.requests.Formatter` through the chat template, or None for plain prompts."""
        if not self.uses_chat_template():
            return None

        def render(turns, prompt):
            return self.tokenizer.apply_chat_template(chat_messages(turns, prompt), tokenize=False, add_generation_prompt=True)

        return render

    def count_tokens(self, text: str) -> int:
        """Tokens of a continuation."""
        return len(self.continuation_ids(text))

    def score_single_token_options(
        self, contexts: Sequence[str], option_tokens: Sequence[int], *, batch_size: int = 16
    ) -> list[list[float]]:
        """log P(option token | context) for each context and each one-token option."""
        raise NotImplementedError

    def score_requests(self, requests: Sequence[Request], *, batch_size: int = 16) -> list[float]:
        """Sum of log P(continuation tokens | context) for each (context, continuation) pair."""
        raise NotImplementedError

    def loglikelihoods(self, per_example: Sequence[Sequence[Request]], *, batch_size: int = 16) -> list[list[float]]:
        """Summed log-likelihood of every (context, continuation) option of every example.

        Examples whose options are single tokens after one shared context are scored all at
        once (:meth:`score_single_token_options`); the rest go through :meth:`score_requests`.
        """
        results: list[list[float]] = [[] for _ in per_example]
        single: dict[tuple[int, ...], list[int]] = {}  # option tokens -> examples answered in one pass
        pending: list[tuple[int, Request]] = []
        for i, requests in enumerate(per_example):
            tokens = [self.encode(continuation) for _, continuation in requests]
            if len({context for context, _ in requests}) == 1 and all(len(t) == 1 for t in tokens):
                single.setdefault(tuple(t[0] for t in tokens), []).append(i)
            else:
                pending.extend((i, request) for request in requests)
        for option_tokens, members in single.items():
            scored = self.score_single_token_options([per_example[i][0][0] for i in members], option_tokens, batch_size=batch_size)
            for i, scores in zip(members, scored):
                results[i] = scores
        if pending:
            flat = self.score_requests([request for _, request in pending], batch_size=batch_size)
            for (i, _), score in zip(pending, flat):
                results[i].append(score)
        return results


#: A token prefix shared by every sequence of a call (few-shot examples) this long is
#: evaluated once, not per sequence.
SHARED_PREFIX_MIN_TOKENS = 32


def common_prefix_length(sequences: Sequence[Sequence[int]]) -> int:
    """How many leading tokens all ``sequences`` have in common."""
    first = sequences[0]
    length = min(map(len, sequences))
    for i in range(length):
        if any(seq[i] != first[i] for seq in sequences):
            return i
    return length


def reusable_prefix_length(sequences: Sequence[Sequence[int]]) -> int:
    """The leading tokens all ``sequences`` share, leaving each at least its last token (whose
    logits are read), when that is at least :data:`SHARED_PREFIX_MIN_TOKENS`; else 0."""
    shared = min(common_prefix_length(sequences), min(map(len, sequences)) - 1)
    return shared if shared >= SHARED_PREFIX_MIN_TOKENS else 0


def cut_at_stops(text: str, stops: Sequence[str]) -> str:
    """``text`` up to the earliest of ``stops`` (all of it if none occurs)."""
    end = min((text.find(stop) for stop in stops if stop in text), default=len(text))
    return text[:end]
