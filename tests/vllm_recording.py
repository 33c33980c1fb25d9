"""Recorded vLLM outputs for the ``vllm:`` backend's CPU tests (no vllm needed to replay them).

A recording holds, for each request the plugin sent (prompt token ids and sampling
parameters), the ``RequestOutput`` that came back, as :func:`record_output` writes it. The
tests replay it: every request the plugin makes must be in the recording, so a change in
request building shows up as a missing request; the plugin's real parsing then reads the
recorded outputs.

Re-record (the tiny model is seeded, so its weights are the same everywhere)::

    python -m tests.vllm_recording --engine vllm       # on a GPU with vllm installed
    python -m tests.vllm_recording --engine reference  # no GPU: see below

``--engine reference`` fills vLLM's output layout (prompt log-probabilities indexed by
prompt position with None first; ``logprob_token_ids`` answers keyed by token id, the
sampled token included) from transformers' full-sequence log-softmax of the same model,
and emulates the prefix cache (16-token blocks; prompt log-probabilities before the cached
tokens are left as garbage, as vLLM leaves them) so the plugin's cache guard is exercised.
Where vllm is importable, the outputs are built with vLLM's own ``RequestOutput``,
``CompletionOutput`` and ``Logprob`` classes. Structured (JSON schema) NER answers cannot be
reproduced without vLLM's grammar engine; the reference engine answers with the gold
entity list plus one entity that is not in the sentence.
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

RECORDING = Path(__file__).parent / "fixtures" / "vllm_tiny_llama.json"
BLOCK = 16  # vLLM's default KV-cache block size: prefix-cache hits come in whole blocks
GARBAGE_LOGPROB = 7.0  # a log-probability no real computation gives (> 0)


def recording_cases(data_dir: Path) -> list[tuple[str, list, dict[str, str]]]:
    """(task name, examples, model options) that the recording covers; ``data_dir`` is
    :func:`tests.conftest.write_data_dir`'s layout."""
    from harness import get_task

    sentiment = get_task("sentiment").load("validation", data_dir=data_dir, source="local").examples[:4]
    wsc = get_task("coref:wsc273").load("test", source="demo").examples[:3]
    spelling = get_task("spelling:norvig1").load(None, source="demo").examples[:3]
    ner = get_task("ner").load("test", data_dir=data_dir, source="local").examples[:3]
    return [
        ("sentiment", sentiment, {}),
        ("coref:wsc273", wsc, {}),  # substitution: multi-token continuations after different contexts
        # multi-token answers sharing a question: some cache hits reach into an answer (the guard re-runs them)
        ("coref:wsc273", wsc[:2], {"coref": "question"}),
        ("spelling:norvig1", spelling, {}),
        ("ner", ner, {}),  # structured outputs (the default)
    ]


class Recorder:
    """Stands in for ``vllm.LLM`` while recording: answers through ``engine`` and keeps every exchange."""

    def __init__(self, answer):
        self.answer = answer
        self.exchanges: list[dict[str, Any]] = []

    def generate(self, prompts, sampling, use_tqdm=False):
        outputs = self.answer(prompts, sampling)
        from harness.models.vllm_decoder import record_output

        for prompt, params, output in zip(prompts, sampling, outputs):
            self.exchanges.append({"prompt_token_ids": list(prompt["prompt_token_ids"]), "params": params,
                                   "output": record_output(output)})
        return outputs


class ReferenceEngine:
    """vLLM's outputs computed with transformers (see the module docstring)."""

    def __init__(self, folder: Path, schema_answers: dict[tuple[int, ...], str]):
        from harness.models.hf_decoder import HFCausal

        self.hf = HFCausal(str(folder))
        self.model = self.hf.load()[0]
        self.schema_answers = schema_answers

    def logprobs(self, ids):
        import torch

        with torch.no_grad():
            return torch.log_softmax(self.model(torch.tensor([ids])).logits[0].float(), -1)

    def __call__(self, prompts, sampling):
        seen: list[list[int]] = []
        outputs = []
        for prompt, params in zip(prompts, sampling):
            ids = list(prompt["prompt_token_ids"])
            cached = 0
            if not params.get("skip_reading_prefix_cache") or "prompt_logprobs" not in params:
                common = max((_common(ids, other) for other in seen), default=0)
                cached = min(common, len(ids) - 1) // BLOCK * BLOCK
            seen.append(ids)
            outputs.append(self.answer(ids, params, cached))
        return outputs

    def answer(self, ids, params, cached):
        lp = self.logprobs(ids)
        prompt_logprobs = None
        if "prompt_logprobs" in params:
            prompt_logprobs = [None] + [
                {ids[i]: GARBAGE_LOGPROB if i - 1 < cached else float(lp[i - 1, ids[i]])} for i in range(1, len(ids))
            ]
        if "structured_outputs" in params:
            text = self.schema_answers[tuple(ids)]
            return _output(ids, prompt_logprobs, text, self.hf.encode(text), None, cached)
        if params.get("max_tokens") == 1:
            sampled = int(lp[-1].argmax())
            logprobs = None
            if "logprob_token_ids" in params:
                logprobs = [{t: float(lp[-1, t]) for t in [sampled, *params["logprob_token_ids"]]}]
            return _output(ids, prompt_logprobs, "", [sampled], logprobs, cached)
        new: list[int] = []  # greedy decoding, one full forward pass per token
        stops = params.get("stop", [])
        text = ""
        while len(new) < params["max_tokens"]:
            token = int(self.logprobs(ids + new)[-1].argmax())
            new.append(token)
            text = self.hf.tokenizer.decode(new, skip_special_tokens=True)
            if token == self.hf.tokenizer.eos_token_id or any(stop in text for stop in stops):
                break
        from harness.decoder import cut_at_stops

        return _output(ids, prompt_logprobs, cut_at_stops(text, stops), new, None, cached)


def _common(a, b) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def _output(ids, prompt_logprobs, text, token_ids, logprobs, cached):
    """A RequestOutput (vLLM's classes when importable, else the same attributes)."""
    try:
        from vllm.logprobs import Logprob
        from vllm.outputs import CompletionOutput, RequestOutput
    except ImportError:
        return SimpleNamespace(
            prompt_token_ids=ids, num_cached_tokens=cached,
            prompt_logprobs=_wrap(prompt_logprobs, lambda v: SimpleNamespace(logprob=v)),
            outputs=[SimpleNamespace(text=text, token_ids=token_ids, finish_reason="stop",
                                     logprobs=_wrap(logprobs, lambda v: SimpleNamespace(logprob=v)))])
    completion = CompletionOutput(index=0, text=text, token_ids=token_ids, cumulative_logprob=None,
                                  logprobs=_wrap(logprobs, lambda v: Logprob(logprob=v, rank=1)), finish_reason="stop")
    return RequestOutput(request_id="0", prompt=None, prompt_token_ids=ids,
                         prompt_logprobs=_wrap(prompt_logprobs, lambda v: Logprob(logprob=v, rank=1)),
                         outputs=[completion], finished=True, num_cached_tokens=cached)


def _wrap(positions, make):
    if positions is None:
        return None
    return [None if p is None else {t: make(v) for t, v in p.items()} for p in positions]


def schema_answers_for(model, task, examples) -> dict[tuple[int, ...], str]:
    """The reference engine's stand-in structured answers: gold entities plus one not in the text."""
    from harness.prompts import entity_list

    prompts, _, _, _ = model.generation_requests(task, examples)
    answers = {}
    for prompt, example in zip(prompts, examples):
        entities = entity_list(example.input, example.reference) + [{"text": "Atlantis", "type": "LOC"}]
        answers[tuple(model.context_ids(prompt))] = json.dumps(entities)
    return answers


def record(engine: str, out: Path) -> None:
    """Run every case through the ``vllm:`` plugin and write the exchanges to ``out``."""
    from harness import get_task
    from harness.models.vllm_decoder import VLLMCausal

    from .conftest import build_tiny_decoder, write_data_dir

    work = Path(tempfile.mkdtemp())
    folder = build_tiny_decoder(work / "tiny-llama")
    data_dir = write_data_dir(work / "data")
    cases = recording_cases(data_dir)
    base = VLLMCausal(str(folder))
    if engine == "vllm":
        base.engine()  # the real vllm.LLM
        answer = lambda prompts, sampling: base._llm.generate(  # noqa: E731
            prompts, [__import__("harness.models.vllm_decoder", fromlist=["x"]).to_sampling_params(p) for p in sampling],
            use_tqdm=False)
    else:
        schema_answers = {}
        for name, examples, options in cases:
            if get_task(name).kind == "tagging":
                schema_answers.update(schema_answers_for(base.with_options(options), get_task(name), examples))
        answer = ReferenceEngine(folder, schema_answers)
    recorder = Recorder(answer)
    exchanges = []
    for name, examples, options in cases:
        model = base.with_options(options)
        model._llm = recorder
        model.sampling_params = lambda params: params  # the recorder keeps the plain dicts
        recorder.exchanges = []
        model.predict(get_task(name), examples)
        exchanges.append({"task": name, "options": options, "exchanges": recorder.exchanges})
    # One-token options past vLLM's logprob_token_ids limit: scored as one prompt-logprob request each.
    from harness.models import vllm_decoder

    limit, vllm_decoder.MAX_OPTION_TOKENS = vllm_decoder.MAX_OPTION_TOKENS, 1
    try:
        name, examples, options = cases[0]
        model = base.with_options(options)
        model._llm = recorder
        model.sampling_params = lambda params: params
        recorder.exchanges = []
        model.predict(get_task(name), examples[:2])
        exchanges.append({"task": name, "options": options, "max_option_tokens": 1, "exchanges": recorder.exchanges})
    finally:
        vllm_decoder.MAX_OPTION_TOKENS = limit
    vllm_fields = None
    try:
        from vllm import SamplingParams

        vllm_fields = sorted(SamplingParams.__struct_fields__)
    except ImportError:
        pass
    out.write_text(json.dumps({"engine": engine, "vllm_sampling_params_fields": vllm_fields, "cases": exchanges}, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engine", choices=("vllm", "reference"), default="reference")
    parser.add_argument("--out", type=Path, default=RECORDING)
    args = parser.parse_args()
    record(args.engine, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
