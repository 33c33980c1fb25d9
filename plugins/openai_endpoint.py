"""``openai:<model>``: a decoder LM behind any server that speaks the OpenAI API.

``vllm serve``, llama.cpp's servers, TGI, Ollama, SGLang and hosted APIs all do. The prompts,
answer options and answer reading are :class:`harness.engines.decoder.DecoderLM`'s; this module only
sends requests (through the ``openai`` client, which also retries them) and reads responses.

- ``-o api=completions`` (default): plain-text prompts to ``/v1/completions``. Options are
  scored from the prompt's own log-probabilities (``echo`` + ``logprobs``, ``max_tokens=1``):
  the request is the context and the continuation as one text, and the continuation's tokens
  are those whose ``text_offset`` falls inside it. Whether the server can do this is probed
  once (:meth:`OpenAIEndpoint.server`) and recorded in provenance.
- ``-o api=chat``: ``/v1/chat/completions`` with the prompt (and any solved shots) as
  messages. Chat APIs return no prompt log-probabilities, so classification and choice are
  asked as generation (the options listed, the answer matched back; see
  :meth:`harness.engines.decoder.DecoderLM.predict_options_by_generation`), as they are with
  ``-o scoring=off`` on either API.
- NER answers are held to the entity-list format where the server can: vLLM's
  ``structured_outputs`` (a regular expression after a written ``[``; a JSON schema in chat),
  llama.cpp's and llama-cpp-python's GBNF ``grammar``; elsewhere, and with ``-o structured=off``, the model
  generates freely and the answer is parsed as ``hf-causal:``'s is.

Requests run ``max_concurrency`` at a time; the client retries 429, 5xx, connection errors
and timeouts ``max_retries`` times with exponential back-off and jitter (honouring
``Retry-After``), then the run stops with one line naming the server and the last status.
Every answered request is kept in the request cache at once, so a rerun sends only what is
missing. The API key is read from the environment when requests are sent and is never part
of the model's identity, options, provenance or an error message.
"""
from __future__ import annotations

import json
import math
import os
import re
import threading
import time
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable, Sequence
from urllib.parse import urlsplit

from harness import HarnessError, Model, ModelFamily, hookimpl
from harness import Option
from harness.engine import (
    AnswerTooLarge,
    Capabilities,
    DecoderLM,
    PartialFailure,
    Request,
    chat_messages,
    cut_at_stops,
    deadline_client,
    installed_version,
    number_in,
    redact,
    register_secret,
    register_url,
)

DEFAULT_BASE_URL = "http://localhost:8000/v1"
#: the text whose log-probabilities probe whether the server scores prompts correctly (and
#: fingerprint its weights): its last token is near-certain, so it is among the top
#: log-probabilities of a plain completion of the text before it, which checks the echo's value;
#: what follows it is not (",", "." or a new line), so values one token off differ from it
#: (SmolLM2-135M: -0.005 for the "0" of "10", -0.55 for the "," after it; after "…, 8" both
#: are near-certain, -0.008 and -0.053, and a shifted echo passed the check)
PROBE_TEXT = "1, 2, 3, 4, 5, 6, 7, 8, 9, 10"
#: echoed and generated log-probabilities of the same token may differ by this much (arithmetic)
ALIGNMENT_TOLERANCE = 0.1
#: marks a prompt that is a list of chat messages (JSON) rather than plain text
CHAT_MARK = "\x00chat:"
#: the most bytes one answer may have (an echoed long prompt with log-probabilities is well under 1 MiB)
MAX_ANSWER_BYTES = 16 * 2**20
#: a generated answer is cut to this many characters per token of its budget (no tokenizer
#: has longer tokens), so a server cannot answer more than it was asked for
MAX_CHARS_PER_TOKEN = 32
#: a log-probability above 0 by more than rounding is not one
LOGPROB_SLACK = 1e-4


#: bounds of the engine options: a retry count or a timeout without one would retry or wait
#: practically forever (``max_retries=99999999999999999999``, ``timeout=inf``)
_concurrency = number_in(int, 1, 1024)
_retries = number_in(int, 0, 100)
_seconds = number_in(float, 0, 86400, above=True, unit="seconds")


def _url(value: str) -> str:
    if not re.match(r"https?://[^/\s]+", value):
        raise ValueError(value)
    return value


_url.__name__ = "URL"


def _env_name(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
        raise ValueError(value)
    return value


_env_name.__name__ = "environment variable name"


def _count(value: Any) -> str:
    return f"{len(value)} values" if isinstance(value, list) else "missing" if value is None else type(value).__name__


def _clip(values: list) -> str:
    text = repr(values)
    return text if len(text) <= 60 else text[:57] + "..."


def host_of(base_url: str) -> str:
    """The host (and port) of a base URL: what identifies the server, without any credentials."""
    parts = urlsplit(base_url)
    host = parts.hostname or base_url
    return f"{host}:{parts.port}" if parts.port else host


def _version_tuple(version: str | None) -> tuple[int, ...]:
    """(major, minor) of a version string; an unknown version counts as the newest."""
    numbers = re.findall(r"\d+", version or "")
    return tuple(int(n) for n in numbers[:2]) if len(numbers) >= 2 else (999, 0)


def _no_path(value: Any) -> Any:
    """A served model's weights path (vLLM's ``root``) as its last part and a digest of the whole:
    it still tells weights apart in the cache key, and pages never show a path of a machine."""
    import hashlib

    if isinstance(value, str) and re.match(r"(/|~|[A-Za-z]:[\\/])", value):
        name = re.split(r"[\\/]", value.rstrip("/\\"))[-1]
        return f"{name} (path digest {hashlib.sha256(value.encode()).hexdigest()[:12]})"
    return value


# -- request statistics ------------------------------------------------------------------------

@dataclass
class RequestStats:
    """What the server was asked and how long it took, since the runner last reset usage."""

    latencies: list[float] = field(default_factory=list)
    #: responses with an error status and failed connections (the client retried them)
    failed_attempts: int = 0
    first_sent: float | None = None
    last_done: float | None = None

    def summary(self, usage) -> dict[str, Any]:
        """Counts, the tokens ``usage`` counted, latency percentiles (ms) and requests per second of wall time."""
        import numpy as np

        facts: dict[str, Any] = {"requests": len(self.latencies), "prompt_tokens": usage.prompt_tokens,
                                 "completion_tokens": usage.generated_tokens, "failed_attempts": self.failed_attempts}
        if self.latencies:
            p50, p90, p99 = np.percentile(np.array(self.latencies) * 1000, [50, 90, 99])
            facts.update(latency_ms_p50=float(p50), latency_ms_p90=float(p90), latency_ms_p99=float(p99))
            span = (self.last_done or 0) - (self.first_sent or 0)
            facts["requests_per_s"] = len(self.latencies) / span if span > 0 else None
        return facts


@dataclass
class ServerFacts:
    """What the probe found out about the server (recorded in provenance; part of the identity)."""

    host: str
    #: the served model's entry in ``/v1/models`` (fields that change on every restart dropped)
    model: dict[str, Any]
    #: "vllm", "llama-cpp-python", "llama.cpp" or "unknown" (which structured-output fields it takes)
    flavour: str
    #: the server's own version, where it exposes one
    version: str | None
    #: whether ``/v1/completions`` with ``echo`` returns the prompt's log-probabilities:
    #: "aligned" (checked against a plain completion), "unverified" (returned, not checkable),
    #: "misaligned" (each token's value is not log P(token | the tokens before it): llama-cpp-python
    #: reports log P(token | tokens up to and including it) for models without a BOS token) or
    #: "unsupported"
    prompt_scoring: str
    #: a digest of the probe text's log-probabilities (differs when the served weights do)
    fingerprint: str | None

    @property
    def scores_prompts(self) -> bool:
        """Whether prompt log-probabilities can be used to score options."""
        return self.prompt_scoring in ("aligned", "unverified")


class OpenAIEndpoint(DecoderLM):
    """A model behind an OpenAI-compatible server."""

    family = "endpoint"

    answers_version = 1  # bump with any change that changes an answer (Model.answers_version)

    description = ("any OpenAI-compatible server (vLLM, llama.cpp, TGI, Ollama, hosted APIs): prompt-logprob scoring, "
                   "generation with stop strings and structured output where the server has them")
    options = {
        "normalisation": ("sum", "char"),  # per-token normalisation needs a tokenizer the client lacks
        # which endpoint prompts go to: /v1/completions (plain text) or /v1/chat/completions (messages)
        "api": ("completions", "chat"),
        # auto: classification and choice by prompt log-probabilities where the server gives them;
        # off: always asked as generation (the options listed, the answer matched back)
        "scoring": ("auto", "off"),
        # auto: NER answers held to the entity-list format where the server supports it; off: free
        "structured": ("auto", "off"),
    }
    engine_options = {
        "base_url": Option("base_url", None, parse=_url, changes_predictions=False,
                           help=f"$OPENAI_BASE_URL, else {DEFAULT_BASE_URL}"),
        "api_key_env": (_env_name, "OPENAI_API_KEY"),
        "max_concurrency": (_concurrency, 8),
        "timeout": (_seconds, 120.0),
        "max_retries": (_retries, 5),
    }
    answers_options_by_generation = True
    engine_affecting_options = ("api",)  # the same prompt text is a different request to the chat API

    def __init__(self, served: str):
        self.served = served
        self.name = f"openai:{served}"
        self._client = None
        self._http = None  # the httpx client under it (also probes the server's own paths)
        self._lock = threading.Lock()

    # -- the server ------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """Where the server is: ``-o base_url``, else ``$OPENAI_BASE_URL``, else localhost:8000."""
        url = (self.option("base_url") or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        register_url(url)  # credentials in it are masked in the store, the report and errors
        return url

    def api_key(self) -> str:
        """The key from the environment variable named by ``api_key_env`` (local servers need
        none: a placeholder is sent)."""
        key = os.environ.get(self.option("api_key_env"))
        register_secret(key)  # masked, whatever its length, in answers, provenance and errors
        return key or "none"

    def client(self):
        """The ``openai.OpenAI`` client (its own retries and timeout; one per model and run)."""
        if self._client is None:
            try:
                import openai
            except ImportError:
                raise HarnessError(f"{self.name}: the endpoint backend needs the openai package: pip install openai") from None

            def count_failures(response):
                if response.status_code >= 400:
                    with self._lock:
                        self._stats.failed_attempts += 1

            self._http = deadline_client(self.base_url, total=self.option("timeout"), max_bytes=MAX_ANSWER_BYTES,
                                         max_connections=self.option("max_concurrency") + 2,
                                         event_hooks={"response": [count_failures]})
            self._client = openai.OpenAI(base_url=self.base_url, api_key=self.api_key(), timeout=self.option("timeout"),
                                         max_retries=self.option("max_retries"), http_client=self._http)
        return self._client

    def failure(self, exc: Exception) -> HarnessError:
        """A one-line error naming the server and the last status (never the key)."""
        import openai

        where = f"{self.name}: the server at {self.base_url}"
        retries = self.option("max_retries")
        retried = f" after {retries} retr{'y' if retries == 1 else 'ies'}" if retries else ""
        if isinstance(exc, openai.APIStatusError):
            detail = exc.message.splitlines()[0] if exc.message else ""
            text = f"{where} answered {exc.status_code}{retried}: {detail}"
        elif isinstance(exc, openai.APITimeoutError):
            text = f"{where} did not answer within {self.option('timeout')} s{retried} (-o timeout=SECONDS)"
        elif isinstance(exc.__cause__, AnswerTooLarge):
            text = f"{where} sent a malformed answer: {exc.__cause__}"
        elif isinstance(exc, openai.APIConnectionError):
            cause = exc.__cause__ or exc
            text = (f"{where} cannot be reached{retried}: {str(cause).splitlines()[0] if str(cause) else type(cause).__name__}; "
                    "start it, or point -o base_url= (or $OPENAI_BASE_URL) at it")
        else:
            text = f"{where} failed: {type(exc).__name__}: {exc}"
        self.api_key()
        return HarnessError(redact(text))

    def call(self, send: Callable[[], Any]) -> Any:
        """One request, timed and counted; a failure (after the client's retries) as a one-line error."""
        import openai

        started = time.perf_counter()
        try:
            response = send()
        except openai.OpenAIError as exc:
            raise self.failure(exc) from None
        except AnswerTooLarge as exc:
            raise self.malformed(str(exc)) from None
        except ValueError as exc:  # a body that is not JSON
            raise self.malformed(f"not JSON ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
        done = time.perf_counter()
        usage = getattr(response, "usage", None)
        with self._lock:
            stats = self._stats
            stats.latencies.append(done - started)
            stats.first_sent = started if stats.first_sent is None else min(stats.first_sent, started)
            stats.last_done = done if stats.last_done is None else max(stats.last_done, done)
            if usage is not None:
                self.usage.prompt_tokens += usage.prompt_tokens or 0
                self.usage.generated_tokens += usage.completion_tokens or 0
        return response

    def malformed(self, what: str) -> HarnessError:
        """A one-line error naming the server and what was wrong with its answer."""
        return HarnessError(redact(f"{self.name}: the server at {self.base_url} sent a malformed answer: {what}"))

    def first_choice(self, response: Any) -> Any:
        """The first of a response's ``choices`` (a one-line error where there is none)."""
        choices = getattr(response, "choices", None)
        if not isinstance(choices, list) or not choices:
            shown = repr(response)
            raise self.malformed(f"no choices in {shown[:80] + '...' if len(shown) > 80 else shown}")
        return choices[0]

    def _get_json(self, path: str) -> Any:
        """GET a path under the server's root (``/version``, ``/openapi.json``, ``/props``), with the
        API key where there is one (llama.cpp's server guards every path with it); None on any failure."""
        root = self.base_url[: -len("/v1")] if self.base_url.endswith("/v1") else self.base_url
        try:
            key = self.client().api_key
            headers = {"Authorization": f"Bearer {key}"} if key and key != "none" else {}
            response = self._http.get(root + path, timeout=10, headers=headers)
            return response.json() if response.status_code == 200 else None
        except Exception:  # noqa: BLE001 - a server without the path simply does not say
            return None

    @cached_property
    def server_facts(self) -> ServerFacts:
        """Probe the server once: the served model, the server's kind and version, and whether
        completions return prompt log-probabilities (a one-line error if it cannot be reached
        or does not serve the model)."""
        import openai

        try:
            served = list(self.client().models.list())
        except openai.OpenAIError as exc:
            raise self.failure(exc) from None
        entries = {entry.id: entry.model_dump() for entry in served}
        if self.served not in entries:
            raise HarnessError(f"{self.name}: the server at {self.base_url} serves {', '.join(sorted(entries)) or 'no model'}, "
                               f"not {self.served!r}")
        model = {k: _no_path(v) for k, v in entries[self.served].items() if k not in ("created", "permission", "permissions")}
        flavour, version = "unknown", None
        vllm = self._get_json("/version")
        if isinstance(vllm, dict) and "version" in vllm and model.get("owned_by") == "vllm":
            flavour, version = "vllm", str(vllm["version"])
        else:
            schema = self._get_json("/openapi.json")
            info = schema.get("info", {}) if isinstance(schema, dict) else {}
            if "llama.cpp Python" in str(info.get("title", "")):
                flavour, version = "llama-cpp-python", str(info.get("version"))
            elif isinstance(self._get_json("/props"), dict):
                flavour = "llama.cpp"
        scoring, fingerprint = self._probe_scoring(flavour)
        return ServerFacts(host=host_of(self.base_url), model=model, flavour=flavour, version=version,
                           prompt_scoring=scoring, fingerprint=fingerprint)

    def _probe_scoring(self, flavour: str) -> tuple[str, str | None]:
        """How the server returns prompt log-probabilities (see :attr:`ServerFacts.prompt_scoring`),
        and a digest of them. The echoed value of the probe's last token is compared with its
        log-probability as the next token of a plain completion of the text before it."""
        import hashlib

        try:
            echo = self.call(lambda: self.client().completions.create(
                model=self.served, prompt=PROBE_TEXT, **self.scoring_params(flavour)))
        except HarnessError:
            return "unsupported", None
        logprobs = echo.choices[0].logprobs if echo.choices else None
        tokens = getattr(logprobs, "tokens", None) or []
        offsets = getattr(logprobs, "text_offset", None) or []
        values = getattr(logprobs, "token_logprobs", None) or []
        inside = [j for j, offset in enumerate(offsets) if offset < len(PROBE_TEXT) and j < len(values)]
        if len(inside) < 2 or any(values[j] is None for j in inside[1:]):
            return "unsupported", None
        fingerprint = hashlib.sha256(json.dumps([round(values[j], 2) for j in inside[1:]]).encode()).hexdigest()[:16]
        last = inside[-1]
        try:
            plain = self.call(lambda: self.client().completions.create(
                model=self.served, prompt=PROBE_TEXT[: offsets[last]], max_tokens=1, logprobs=5, **self.greedy(flavour)))
            top = plain.choices[0].logprobs.top_logprobs[0] or {}
        except (HarnessError, AttributeError, IndexError, TypeError):
            return "unverified", fingerprint
        expected = top.get(tokens[last]) if last < len(tokens) else None
        if expected is None:
            return "unverified", fingerprint
        return ("aligned" if abs(values[last] - expected) <= ALIGNMENT_TOLERANCE else "misaligned"), fingerprint

    @property
    def capabilities(self) -> Capabilities:  # type: ignore[override]
        """Scoring with the completions API and ``scoring=auto`` (:meth:`check_task` refuses a
        server whose prompt log-probabilities cannot be used); structured output on the
        servers whose fields are known."""
        facts = self.server_facts
        return Capabilities(
            scores_continuations=self.option("api") == "completions" and self.option("scoring") == "auto",
            prompt_logprobs=facts.scores_prompts,
            structured_output=facts.flavour in ("vllm", "llama-cpp-python", "llama.cpp"),
        )

    def check_task(self, task) -> None:
        """Besides a prompt: a task answered by scoring options needs a server whose prompt
        log-probabilities are right, unless it is asked as generation (``-o scoring=off``,
        ``-o api=chat``)."""
        super().check_task(task)
        if self.adapter(task).method != "loglikelihood" or not self.capabilities.scores_continuations:
            return
        scoring = self.server_facts.prompt_scoring
        if scoring == "misaligned":
            raise HarnessError(
                f"{self.name}: the server at {self.base_url} returns wrong prompt log-probabilities (each token's is "
                "log P(token | itself and the tokens before it), a known llama-cpp-python bug for models without a BOS "
                f"token), so {task.name} cannot be scored on it; use a server that scores prompts right (vLLM), or "
                "-o scoring=off to ask it as generation")
        if scoring == "unsupported":
            raise HarnessError(
                f"{self.name}: the server at {self.base_url} returns no prompt log-probabilities (echo + logprobs on "
                f"/v1/completions), which scoring {task.name}'s options needs; use -o scoring=off to ask it as generation")

    def identity(self) -> dict[str, Any]:
        """The served model as the server reports it, the server's host (not the key) and
        version, the weights' fingerprint, and this plugin's code."""
        facts = self.server_facts
        return {"name": self.name, "backend": "openai", "host": facts.host, "served_model": facts.model,
                "server": facts.flavour, "server_version": facts.version, "fingerprint": facts.fingerprint,
                "openai": installed_version("openai"), **self.code_identity()}

    def provenance(self) -> dict[str, Any]:
        """Identity, engine settings, what the probe found and the requests of this task."""
        facts = {**super().provenance(), "capabilities": self.capabilities.__dict__, "requests": self.request_summary()}
        return facts

    def request_summary(self) -> dict[str, Any]:
        """Requests, tokens, latency percentiles and requests/s since the runner last reset usage."""
        return self._stats.summary(self.usage)

    @property
    def _stats(self) -> RequestStats:
        """The requests of the cell being answered."""
        return self.context.state.setdefault("request_stats", RequestStats())

    def prepare(self) -> None:
        """Probe the server (outside the throughput clock)."""
        self.server_facts  # noqa: B018 - the probe

    def close(self) -> None:
        """Close the client's connections."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def with_options(self, values):
        """A configured copy with its own client, probe and counters."""
        configured = super().with_options(values)
        configured._client = None
        configured._lock = threading.Lock()
        configured.__dict__.pop("server_facts", None)
        return configured

    # -- requests ------------------------------------------------------------------------

    def greedy(self, flavour: str | None = None) -> dict[str, Any]:
        """Sampling fields for greedy decoding (llama.cpp's servers also get their repeat penalty off)."""
        params: dict[str, Any] = {"temperature": 0.0}
        if (flavour or self.server_facts.flavour) in ("llama-cpp-python", "llama.cpp"):
            params["extra_body"] = {"repeat_penalty": 1.0, "top_k": 1}
        return params

    def scoring_params(self, flavour: str | None = None) -> dict[str, Any]:
        """A completion that returns the prompt's log-probabilities (one token is generated and dropped)."""
        return {"max_tokens": 1, "echo": True, "logprobs": 1, **self.greedy(flavour)}

    def run_all(self, jobs: Sequence[Callable[[], Any]], groups: Sequence[int]) -> list[Any]:
        """Run ``jobs`` ``max_concurrency`` at a time. ``groups[j]`` is the example (position in
        the call) job ``j`` belongs to; when a job fails or the run is interrupted, the examples
        whose every job finished are handed back in a :class:`PartialFailure`."""
        results: list[Any] = [None] * len(jobs)
        finished = [False] * len(jobs)
        pool = ThreadPoolExecutor(max_workers=self.option("max_concurrency"), thread_name_prefix="openai")
        futures = {pool.submit(job): j for j, job in enumerate(jobs)}
        try:
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_EXCEPTION)
                errors = [future.exception() for future in done if future.exception() is not None]
                for future in done:  # record every answer before raising the first error
                    if future.exception() is None:
                        results[futures[future]] = future.result()
                        finished[futures[future]] = True
                if errors:
                    raise errors[0]
        except BaseException as error:  # a failed request or Ctrl-C: keep the examples answered
            pool.shutdown(wait=False, cancel_futures=True)
            by_example: dict[int, list[Any]] = {}
            complete: dict[int, bool] = {}
            for j, group in enumerate(groups):
                by_example.setdefault(group, []).append(results[j])
                complete[group] = complete.get(group, True) and finished[j]
            raise PartialFailure({g: outputs for g, outputs in by_example.items() if complete[g]}, error) from None
        pool.shutdown()
        return results

    def loglikelihoods(self, per_example: Sequence[Sequence[Request]], *, batch_size: int = 16) -> list[list[float]]:
        """Each option scored by one echoed completion of context + continuation."""
        jobs, groups = [], []
        for i, requests in enumerate(per_example):
            for context, continuation in requests:
                jobs.append(lambda c=context, k=continuation: self.score_one(c, k))
                groups.append(i)
        flat = iter(self.run_all(jobs, groups))
        return [[next(flat) for _ in requests] for requests in per_example]

    def score_one(self, context: str, continuation: str) -> float:
        """Summed log-probability of the tokens of ``continuation`` after ``context``: the
        tokens whose text offset falls in the continuation (a token straddling the boundary
        belongs to the continuation)."""
        if not continuation:
            raise HarnessError(f"{self.name}: an empty continuation cannot be scored")
        prompt = context + continuation
        response = self.call(lambda: self.client().completions.create(model=self.served, prompt=prompt,
                                                                       **self.scoring_params()))
        offsets, values = self.prompt_logprobs(response, len(prompt))
        start, end = len(context), len(prompt)
        ends = list(offsets[1:]) + [end + 1]
        picked = [values[j] for j in range(len(offsets)) if offsets[j] < end and ends[j] > start]
        if not picked or any(v is None for v in picked):
            raise HarnessError(f"{self.name}: the server at {self.base_url} returned no log-probability for the "
                               f"continuation {continuation!r}")
        return float(sum(picked))

    def prompt_logprobs(self, response: Any, length: int) -> tuple[list[int], list[float | None]]:
        """The ``text_offset`` and ``token_logprobs`` of an echoed completion of a prompt of
        ``length`` characters, checked: as many offsets as values, offsets that advance through
        the prompt, and every value a finite number <= 0 (or None, for the first token)."""
        logprobs = getattr(self.first_choice(response), "logprobs", None)
        offsets, values = getattr(logprobs, "text_offset", None), getattr(logprobs, "token_logprobs", None)
        if not isinstance(offsets, list) or not isinstance(values, list) or not offsets or len(offsets) != len(values):
            raise self.malformed(f"logprobs.text_offset ({_count(offsets)}) and logprobs.token_logprobs ({_count(values)}) "
                                 "are not two lists of the same length")
        if (not all(isinstance(o, int) and not isinstance(o, bool) and 0 <= o <= length + MAX_ANSWER_BYTES for o in offsets)
                or any(b < a for a, b in zip(offsets, offsets[1:])) or (len(offsets) > 1 and offsets[-1] == 0)):
            raise self.malformed(f"logprobs.text_offset {_clip(offsets)} does not advance through the prompt")
        for offset, value in zip(offsets, values):
            if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool)
                                      or not math.isfinite(value) or value > LOGPROB_SLACK):
                raise self.malformed(f"log-probability {value!r} for the token at offset {offset} (expected a finite number <= 0)")
        return offsets, values

    # -- generation ------------------------------------------------------------------------

    def chat_formatter(self):
        """With ``api=chat``: turns and prompt as a list of messages (sent as they are)."""
        if self.option("api") != "chat":
            return None

        def render(turns, prompt):
            return CHAT_MARK + json.dumps(chat_messages(turns, prompt), ensure_ascii=False)

        return render

    def uses_chat_template(self) -> bool:
        """Prompts go to the chat API as messages (the server applies the model's template)."""
        return self.option("api") == "chat"

    def constraint_form(self, task) -> str | None:
        """Chat answers write their own list (no opening can be written for the model): a JSON
        schema; completions: the rest of the answer after its written opening, as a regular
        expression (vLLM) or a GBNF grammar (llama.cpp's servers), where the server can hold
        answers to a format."""
        if self.option("api") == "chat":
            return "json"
        if self.option("structured") == "auto" and self.capabilities.structured_output:
            return "regex" if self.server_facts.flavour == "vllm" else "gbnf"
        return None

    def structured_fields(self, structured: dict[str, Any] | None) -> dict[str, Any]:
        """The request fields that hold generation to ``structured`` (the kind's constraint, in
        this server's form) on this server (none where it has no known way, or with
        ``-o structured=off``)."""
        if structured is None or self.option("structured") == "off":
            return {}
        flavour = self.server_facts.flavour
        if flavour == "vllm":
            form = {key: structured[key] for key in ("json", "regex") if key in structured}
            if _version_tuple(self.server_facts.version) < (0, 10):  # before structured_outputs: guided_json / guided_regex
                return {f"guided_{key}": value for key, value in form.items()}
            return {"structured_outputs": form}
        if flavour in ("llama-cpp-python", "llama.cpp"):  # both take llama.cpp's GBNF grammar, and a schema in chat
            if "json" in structured and self.option("api") == "chat":
                return {"response_format": {"type": "json_object", "schema": structured["json"]}}
            if "gbnf" in structured:
                return {"grammar": structured["gbnf"]}
        return {}

    def generate(self, prompts, *, max_new_tokens, stops=(), batch_size: int = 16, structured=None) -> list[str]:
        """Greedy continuations, ``max_concurrency`` requests at a time."""
        greedy = self.greedy()
        extra = {**greedy.pop("extra_body", {}), **self.structured_fields(structured)}
        stop = list(stops)[:4] or None  # the OpenAI API takes up to 4 stop strings

        def one(prompt: str, budget: int) -> str:
            if prompt.startswith(CHAT_MARK):
                messages = json.loads(prompt[len(CHAT_MARK):])
                response = self.call(lambda: self.client().chat.completions.create(
                    model=self.served, messages=messages, max_tokens=budget, stop=stop, extra_body=extra or None,
                    **greedy))
                text = getattr(getattr(self.first_choice(response), "message", None), "content", None)
            else:
                response = self.call(lambda: self.client().completions.create(
                    model=self.served, prompt=prompt, max_tokens=budget, stop=stop, extra_body=extra or None, **greedy))
                text = getattr(self.first_choice(response), "text", None)
            if not isinstance(text, str):
                shown = "null" if text is None else f"{_clip([text])[1:-1]} ({type(text).__name__})"
                raise self.malformed(f"the answer's text is {shown}, not a string")
            text = redact(text, sent=prompt)  # a key the server echoes is kept nowhere (unless the prompt held it)
            return cut_at_stops(text, stops)[: budget * MAX_CHARS_PER_TOKEN]  # never more than was asked for

        for prompt in prompts:
            if prompt.startswith(CHAT_MARK) and not prompt.endswith("]"):
                raise HarnessError(f"{self.name}: -o api=chat cannot write the start of the model's answer "
                                   f"({prompt[prompt.rindex(']') + 1:]!r}); use -o api=completions")
        return self.run_all([lambda p=p, b=b: one(p, b) for p, b in zip(prompts, max_new_tokens)], range(len(prompts)))


class OpenAIFamily(ModelFamily):
    """Claims ``openai:<model>``: the model id the server serves (``-o base_url=`` says where)."""

    prefix = "openai"
    argument = "served-model-id"
    model_class = OpenAIEndpoint

    def create(self, argument: str) -> Model:
        """The model (the server is probed only when a run needs it)."""
        return OpenAIEndpoint(argument)


@hookimpl
def harness_register_models(register):
    register(OpenAIFamily())
