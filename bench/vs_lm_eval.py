"""Side by side: lm-evaluation-harness and this harness, same model, same local data, same prompts.

    python bench/vs_lm_eval.py --data-dir ../shared/data            # SST-2 validation + WSC273
    python bench/vs_lm_eval.py --data-dir ../shared/data --limit 64 # a quick look

lm-eval (PyPI ``lm-eval``, its ``hf`` backend) runs task YAMLs written here into a temporary
folder that copy its own ``sst2`` and ``wsc273`` configs, pointed at JSONL files made from
``--data-dir`` (lm-eval cannot read the published SST-2 TSV or WSC XML itself). One change:
the WSC273 YAML sets ``target_delimiter: ""``. lm-eval's stock config scores the text after
the pronoun *with* an extra space ("  was too slow", a double space), which no tokenizer
sees in real text; this harness scores " was too slow". The bench checks that both sides
then send identical (context, continuation) requests and prints how many match.

Both sides get the model loaded before the clock starts, the same batch size and the same
threads; chat templates are off on both (lm-eval's default). Each side's time covers
building its requests, the forward passes and scoring. Prints both accuracies, their
difference in points, the largest per-option log-likelihood difference, examples/s of
each, and the speed ratio.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

SST2_YAML = """\
task: harness_bench_sst2
dataset_path: json
dataset_kwargs:
  data_files:
    validation: {data}
    train: {shots}
output_type: multiple_choice
validation_split: validation
fewshot_split: train
fewshot_config:
  sampler: first_n
doc_to_text: "{{{{sentence}}}}\\nQuestion: Is this sentence positive or negative?\\nAnswer:"
doc_to_target: label
doc_to_choice: ["negative", "positive"]
metric_list:
  - metric: acc
metadata:
  version: 1.0
"""

WSC273_YAML = """\
task: harness_bench_wsc273
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
output_type: multiple_choice
test_split: test
process_docs: !function wsc_utils.process_doc
doc_to_text: label
doc_to_target: "{{% set index = pronoun_loc + pronoun | length %}}{{{{text[index:]}}}}"
doc_to_choice: "{{% set template = text[:pronoun_loc] %}}{{{{[template+options[0], template+options[1]]}}}}"
target_delimiter: ""
metric_list:
  - metric: acc
metadata:
  version: 1.0
"""


def sst2_shots(data_dir: Path, shots: int) -> list:
    """The solved train examples this harness shows with ``--shots`` (seed 0)."""
    from harness import get_task
    from harness.runner import few_shot_examples

    return few_shot_examples(get_task("sentiment"), shots, seed=0, data_dir=data_dir, source="local") if shots else []


def write_lm_eval_tasks(folder: Path, data_dir: Path, limit: int | None, shots: int = 0) -> dict[str, str]:
    """JSONL copies of the harness's examples and the YAMLs that read them; harness task -> lm-eval task.

    With ``shots``, lm-eval's SST-2 few-shot split holds exactly the harness's shots, taken
    in order (``sampler: first_n``), so both show the same solved examples.
    """
    from harness import get_task

    def sst2_rows(examples, path):
        with open(path, "w") as out:
            for i, e in enumerate(examples):
                out.write(json.dumps({"idx": i, "sentence": e.input, "label": ["negative", "positive"].index(e.reference)}) + "\n")

    sst2_rows(get_task("sentiment").load("validation", data_dir=data_dir, source="local").examples[:limit], folder / "sst2.jsonl")
    sst2_rows(sst2_shots(data_dir, shots) or get_task("sentiment").load("validation", data_dir=data_dir, source="local").examples[:1],
              folder / "sst2-shots.jsonl")
    wsc = get_task("coref:wsc273").load("test", data_dir=data_dir, source="local").examples[:limit]
    with open(folder / "wsc273.jsonl", "w") as out:
        for e in wsc:
            d = e.input
            out.write(json.dumps({"text": d["text"], "pronoun": d["pronoun"], "pronoun_loc": d["pronoun_offset"],
                                  "options": [c["text"] for c in d["candidates"]], "label": e.reference}) + "\n")
    (folder / "sst2.yaml").write_text(SST2_YAML.format(data=folder / "sst2.jsonl", shots=folder / "sst2-shots.jsonl"))
    (folder / "wsc273.yaml").write_text(WSC273_YAML.format(data=folder / "wsc273.jsonl"))
    # lm-eval's own option normalisation ("'s" for possessives, lower-casing mid-sentence), imported, not copied.
    (folder / "wsc_utils.py").write_text("from lm_eval.tasks.wsc273.utils import process_doc  # noqa: F401\n")
    return {"sentiment": "harness_bench_sst2", "coref:wsc273": "harness_bench_wsc273"}


def run_lm_eval(lm, task_folder: Path, lm_task: str, limit: int | None, shots: int = 0):
    """Accuracy, seconds, and per-doc (requests, log-likelihoods) from lm-eval."""
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    manager = TaskManager(include_path=str(task_folder))
    started = time.perf_counter()
    result = simple_evaluate(model=lm, tasks=[lm_task], task_manager=manager, log_samples=True, limit=limit,
                             bootstrap_iters=0, verbosity="ERROR", num_fewshot=shots or None)
    seconds = time.perf_counter() - started
    accuracy = result["results"][lm_task]["acc,none"]
    per_doc = {}
    for sample in result["samples"][lm_task]:
        requests = [(args["arg_0"], args["arg_1"]) for args in sample["arguments"].values()] \
            if isinstance(sample["arguments"], dict) else [tuple(a) for a in sample["arguments"]]
        loglikelihoods = [float(r[0][0]) if isinstance(r[0], (list, tuple)) else float(r[0]) for r in sample["resps"]]
        per_doc[sample["doc_id"]] = (requests, loglikelihoods)
    return accuracy, seconds, per_doc


def run_harness(model, task_name: str, data_dir: Path, limit: int | None, batch_size: int, store_path: Path, shots: int = 0):
    """Accuracy, seconds, and per-example (requests, log-likelihoods) from this harness."""
    from harness import get_task
    from harness.store import Store
    from harness.prompts import lm_requests
    from harness.runner import run_matrix

    task = get_task(task_name)
    store = Store(store_path)
    started = time.perf_counter()
    summary = run_matrix([task], [model], store, data_dir=data_dir, source="local", limit=limit, batch_size=batch_size,
                         shots=shots, progress=False, log=lambda message: None)
    seconds = time.perf_counter() - started
    [result] = summary.results
    examples = task.load(data_dir=data_dir, source="local").examples[:limit]
    predictions = store.predictions(run_ids=[result.run_id])
    by_id = {row.example_id: row.prediction for row in predictions.itertuples()}
    shown = sst2_shots(data_dir, shots) if shots else []
    per_doc = {i: (lm_requests(task, e, shown), by_id[e.id]["details"]["loglikelihoods"]) for i, e in enumerate(examples)}
    return result.scores.get("accuracy").value, seconds, per_doc


def compare(ours: dict, theirs: dict) -> tuple[int, float]:
    """How many examples have identical requests, and the largest |log-likelihood difference|."""
    same = sum(1 for i in ours if i in theirs and [tuple(r) for r in ours[i][0]] == [tuple(r) for r in theirs[i][0]])
    largest = max((abs(a - b) for i in ours if i in theirs for a, b in zip(ours[i][1], theirs[i][1])), default=float("nan"))
    return same, largest


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--model", default="smollm2-135m", help="A packaged model or hf-causal:<path> (default smollm2-135m).")
    parser.add_argument("--tasks", default="sentiment,coref:wsc273")
    parser.add_argument("--limit", type=int, default=None, help="First N examples of each task (default: all).")
    parser.add_argument("--batch-size", type=int, default=32, help="Batch size of both (default 32, this harness's default).")
    parser.add_argument("--lm-eval-batch-size", type=int, default=None, help="lm-eval's batch size, if not --batch-size.")
    parser.add_argument("--shots", type=int, default=0,
                        help="Solved examples before each SST-2 question, the same ones on both sides (WSC273 stays 0-shot).")
    parser.add_argument("--threads", type=int, default=None, help="torch threads for both (default: torch's choice).")
    args = parser.parse_args(argv)

    import torch
    from lm_eval.models.huggingface import HFLM

    from harness import get_model

    if args.threads:
        torch.set_num_threads(args.threads)
    model = get_model(args.model).with_options({"chat_template": "off"})
    model.load()
    folder = getattr(model, "source", None)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    lm = HFLM(pretrained=folder, batch_size=args.lm_eval_batch_size or args.batch_size, device=device, dtype="float32")
    print(f"model {args.model} ({folder}) on {device}, torch threads {torch.get_num_threads()}, "
          f"batch size {args.batch_size} (lm-eval {args.lm_eval_batch_size or args.batch_size})")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        lm_tasks = write_lm_eval_tasks(tmp, args.data_dir, args.limit, args.shots)
        rows = []
        # Warm both up (first calls pay one-off costs: allocator, thread pools, kernel selection).
        first = args.tasks.split(",")[0]
        run_lm_eval(lm, tmp, lm_tasks[first], 8)
        run_harness(model, first, args.data_dir, 8, args.batch_size, tmp / "warmup.sqlite")
        for task_name in args.tasks.split(","):
            shots = args.shots if task_name == "sentiment" else 0
            their_acc, their_s, theirs = run_lm_eval(lm, tmp, lm_tasks[task_name], args.limit, shots)
            our_acc, our_s, ours = run_harness(model, task_name, args.data_dir, args.limit, args.batch_size,
                                               tmp / f"{len(rows)}.sqlite", shots)
            same, largest = compare(ours, theirs)
            n = len(ours)
            rows.append((task_name + (f" {shots}-shot" if shots else ""), n, their_acc, our_acc, same, largest, n / their_s, n / our_s))
    print()
    print(f"{'task':<18} {'n':>5} {'lm-eval acc':>11} {'harness acc':>11} {'|diff| pts':>10} {'same requests':>13} "
          f"{'max |dLL|':>9} {'lm-eval ex/s':>12} {'harness ex/s':>12} {'speed-up':>8}")
    for task_name, n, their_acc, our_acc, same, largest, their_speed, our_speed in rows:
        print(f"{task_name:<18} {n:>5} {their_acc:>11.4f} {our_acc:>11.4f} {abs(their_acc - our_acc) * 100:>10.2f} "
              f"{same:>6}/{n:<6} {largest:>9.2e} {their_speed:>12.1f} {our_speed:>12.1f} {our_speed / their_speed:>7.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
