"""Side by side: stock lm-evaluation-harness tasks and this harness, same model, same raw data.

    python bench/vs_lm_eval.py --data-dir ../shared/data            # SST-2 validation + WSC273
    python bench/vs_lm_eval.py --data-dir ../shared/data --limit 64 # a quick look

lm-eval (PyPI ``lm-eval``, its ``hf`` backend) runs its **stock** ``sst2`` and ``wsc273`` task
YAMLs, read from the installed package and changed only in where the data comes from: the
task name gets a ``local_`` prefix (so it does not clash with the stock task), ``dataset_path``
becomes ``json`` with ``data_files`` pointing at JSONL files this bench writes from the raw
files, without harness code: the SST-2 TSV rows as they are (GLUE's ``sentence``/``label``),
and Davis' WSC XML as the Hub's ``winograd_wsc`` builder reads it (:func:`wsc273_rows`, which
``tests/test_data_verbatim.py`` also checks the harness's loader against). WSC273's
``utils.py`` is copied from the package beside its YAML.

The harness reads the same raw files with its own loaders and asks with its default prompts,
chat templates off on both sides (lm-eval's default). Stock lm-eval scores WSC's rest of the
text after a doubled space ("  was too slow"); the harness scores " was too slow" unless
``-o prompt_style=lm-eval``, so WSC273 runs both ways. For every example the bench checks the
(context, continuation) requests are byte-identical, and prints both accuracies, how many
examples' requests match, the largest per-option log-likelihood difference and the speed ratio.
Both sides get the model loaded before the clock starts and the same batch size.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

#: harness task (with the harness's prompt style) -> the stock lm-eval task it is compared with
COMPARISONS = [("sentiment", "harness", "sst2"), ("coref:wsc273", "harness", "wsc273"), ("coref:wsc273", "lm-eval", "wsc273")]


def sst2_rows(path: Path) -> list[dict]:
    """GLUE SST-2 rows from its TSV, each sentence exactly as written (no harness code)."""
    lines = path.read_bytes().decode("utf-8").split("\n")
    rows = []
    for line in lines[1:]:
        if line.strip():
            sentence, label = line.rsplit("\t", 1)
            rows.append({"sentence": sentence, "label": int(label), "idx": len(rows)})
    return rows


def wsc273_rows(path: Path, size: int = 273) -> list[dict]:
    """What the Hub's ``winograd_wsc`` builder (config ``wsc273``) yields from Davis' XML, written
    again from its logic: each part's whitespace collapsed, text = left, pronoun and right joined
    by single spaces, ``pronoun_loc`` just after the left part, ``quote`` and ``quote_loc`` alike,
    options with their whitespace collapsed, label 1 when "B" occurs in correctAnswer."""
    def clean(text):
        return " ".join((text or "").split())

    rows = []
    for index, schema in enumerate(ET.parse(path).getroot()):
        if index >= size:
            break
        text_root, quote_root = schema.find("text"), schema.find("quote")
        left, right = clean(text_root.findtext("txt1", "")), clean(text_root.findtext("txt2", ""))
        quote_left = clean(quote_root.findtext("quote1", "")) if quote_root is not None else ""
        quote_right = clean(quote_root.findtext("quote2", "")) if quote_root is not None else ""
        pronoun = clean(text_root.findtext("pron"))
        pronoun_loc = len(left) + 1 if left else 0
        rows.append({
            "text": " ".join([left, pronoun, right]).strip(),
            "pronoun": pronoun,
            "pronoun_loc": pronoun_loc,
            "quote": " ".join([quote_left, pronoun, quote_right]).strip(),
            "quote_loc": pronoun_loc - (len(quote_left) + 1 if quote_left else 0),
            "options": [clean(a.text) for a in schema.find("answers").findall("answer")],
            "label": int("B" in clean(schema.findtext("correctAnswer"))),
            "source": clean(schema.findtext("source")),
        })
    return rows


def write_jsonl(rows: list[dict], path: Path) -> Path:
    with open(path, "w") as out:
        for row in rows:
            out.write(json.dumps(row) + "\n")
    return path


def local_yaml(stock: Path, data_files: dict[str, Path]) -> str:
    """The stock YAML with only its data source (and its name) changed."""
    lines = []
    for line in stock.read_text().splitlines():
        if line.startswith("task:"):
            line = f"task: local_{line.split(':', 1)[1].strip()}"
        elif line.startswith("dataset_path:"):
            line = "dataset_path: json\ndataset_kwargs:\n  data_files:\n" + "".join(
                f"    {split}: {path}\n" for split, path in data_files.items()).rstrip("\n")
        elif line.startswith("dataset_name:") or line.startswith("tag:"):
            continue
        lines.append(line)
    return "\n".join(lines) + "\n"


def write_lm_eval_tasks(folder: Path, data_dir: Path) -> dict[str, str]:
    """The stock ``sst2`` and ``wsc273`` tasks, reading JSONL made from the raw files; stock name -> local name."""
    import lm_eval

    tasks = Path(lm_eval.__file__).parent / "tasks"
    sst2 = data_dir / "sentiment" / "sst2"
    files = {"train": write_jsonl(sst2_rows(sst2 / "train.tsv"), folder / "sst2-train.jsonl"),
             "validation": write_jsonl(sst2_rows(sst2 / "validation.tsv"), folder / "sst2-validation.jsonl")}
    (folder / "sst2").mkdir()
    (folder / "sst2" / "sst2.yaml").write_text(local_yaml(tasks / "glue" / "sst2" / "default.yaml", files))
    (folder / "wsc273").mkdir()
    wsc = write_jsonl(wsc273_rows(data_dir / "coref" / "wsc273" / "WSCollection.xml"), folder / "wsc273.jsonl")
    (folder / "wsc273" / "wsc273.yaml").write_text(local_yaml(tasks / "wsc273" / "default.yaml", {"test": wsc}))
    shutil.copy(tasks / "wsc273" / "utils.py", folder / "wsc273" / "utils.py")
    return {"sst2": "local_sst2", "wsc273": "local_wsc273"}


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


def run_harness(model, task_name: str, data_dir: Path, limit: int | None, batch_size: int, store_path: Path):
    """Accuracy, seconds, and per-example (requests, log-likelihoods) from this harness."""
    from harness import get_task
    from harness.kinds.prompting import lm_requests
    from harness.run.config import RunConfig
    from harness.run.runner import run_matrix
    from harness.store.store import Store

    task = get_task(task_name)
    store = Store(store_path)
    started = time.perf_counter()
    summary = run_matrix(RunConfig.build([task], [model], store, data_dir=data_dir, source="local", limit=limit, batch_size=batch_size,
                         progress=False, log=lambda message: None))
    seconds = time.perf_counter() - started
    [result] = summary.results
    examples = task.load(data_dir=data_dir, source="local").examples[:limit]
    predictions = store.predictions(run_ids=[result.run_id])
    by_id = {row.example_id: row.prediction for row in predictions.itertuples()}
    style = model.option("prompt_style")
    per_doc = {i: (lm_requests(task, e, style=style), by_id[e.id]["details"]["loglikelihoods"]) for i, e in enumerate(examples)}
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
    parser.add_argument("--limit", type=int, default=None, help="First N examples of each task (default: all).")
    parser.add_argument("--batch-size", type=int, default=32, help="Batch size of both (default 32, this harness's default).")
    parser.add_argument("--threads", type=int, default=None, help="torch threads for both (default: torch's choice).")
    args = parser.parse_args(argv)

    import torch
    from lm_eval.models.huggingface import HFLM

    from harness import get_model

    if args.threads:
        torch.set_num_threads(args.threads)
    base = get_model(args.model).with_options({"chat_template": "off"})
    base.load()
    folder = getattr(base, "source", None)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    lm = HFLM(pretrained=folder, batch_size=args.batch_size, device=device, dtype="float32")
    print(f"model {args.model} on {device}, torch threads {torch.get_num_threads()}, batch size {args.batch_size}; "
          "lm-eval: stock sst2 / wsc273 YAMLs, data from the raw files")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        lm_tasks = write_lm_eval_tasks(tmp, args.data_dir)
        rows = []
        # Warm both up (first calls pay one-off costs: allocator, thread pools, kernel selection).
        run_lm_eval(lm, tmp, lm_tasks["sst2"], 8)
        run_harness(base, "sentiment", args.data_dir, 8, args.batch_size, tmp / "warmup.sqlite")
        theirs_by_task = {}
        for task_name, style, stock in COMPARISONS:
            if stock not in theirs_by_task:
                theirs_by_task[stock] = run_lm_eval(lm, tmp, lm_tasks[stock], args.limit)
            their_acc, their_s, theirs = theirs_by_task[stock]
            model = base.with_options({"prompt_style": style})
            our_acc, our_s, ours = run_harness(model, task_name, args.data_dir, args.limit, args.batch_size,
                                               tmp / f"{len(rows)}.sqlite")
            same, largest = compare(ours, theirs)
            n = len(ours)
            rows.append((f"{task_name} ({style})", stock, n, their_acc, our_acc, same, largest, n / their_s, n / our_s))
    print()
    print(f"{'harness task (prompt style)':<30} {'lm-eval':<7} {'n':>5} {'lm-eval acc':>11} {'harness acc':>11} "
          f"{'same requests':>13} {'max |dLL|':>9} {'lm-eval ex/s':>12} {'harness ex/s':>12} {'speed-up':>8}")
    for name, stock, n, their_acc, our_acc, same, largest, their_speed, our_speed in rows:
        print(f"{name:<30} {stock:<7} {n:>5} {their_acc:>11.4f} {our_acc:>11.4f} {same:>6}/{n:<6} {largest:>9.2e} "
              f"{their_speed:>12.1f} {our_speed:>12.1f} {our_speed / their_speed:>7.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
