"""``hf-causal:<hub-id-or-path>``: causal (decoder) LMs through transformers, zero-shot.

Classification and choice examples are answered by the log-likelihood of each option's
continuation (:mod:`harness.prompts`), summed over its tokens. Two things keep it cheap:
only the hidden states at scored positions go through the LM head (not the full
sequence x vocabulary), and when every option is one token after a shared prompt, one
forward pass per example scores them all.
"""
from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any, Sequence

from harness import HarnessError, Model, ModelFamily, Prediction, hookimpl
from harness.models.hf_encoder import _digest_local
from harness.prompts import lm_requests


class HFCausal(Model):
    """A transformers causal LM scoring answer options by log-likelihood (sum over tokens)."""

    description = "transformers causal LM, options scored by log-likelihood"
    kinds = frozenset({"classification", "choice"})
    normalisation = "sum"

    def __init__(self, source: str):
        self.source = source
        self.name = f"hf-causal:{source}"
        self._model = None
        self._tokenizer = None

    @cached_property
    def config(self):
        """The model's transformers config."""
        from transformers import AutoConfig

        try:
            return AutoConfig.from_pretrained(self.source)
        except Exception as exc:
            raise HarnessError(f"{self.name}: cannot load a transformers config from {self.source!r} ({type(exc).__name__})") from exc

    def identity(self) -> dict[str, Any]:
        """Source, revision (weights digest or Hub commit) and the scoring rule."""
        path = Path(self.source)
        revision = _digest_local(path) if path.is_dir() else getattr(self.config, "_commit_hash", None)
        return {"name": self.name, "revision": revision, "scoring": "loglikelihood", "normalisation": self.normalisation}

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
                ctx = [bos] if bos is not None else []
            encoded.append((ctx, cont))
        scores = [0.0] * len(encoded)
        order = sorted(range(len(encoded)), key=lambda i: -(len(encoded[i][0]) + len(encoded[i][1])))
        body, head = model.get_decoder() if hasattr(model, "get_decoder") else model.base_model, model.get_output_embeddings()
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                seqs = [encoded[i][0] + encoded[i][1] for i in idx]
                width = max(map(len, seqs))
                ids = torch.full((len(seqs), width), pad, dtype=torch.long)
                mask = torch.zeros((len(seqs), width), dtype=torch.long)
                for row, seq in enumerate(seqs):
                    ids[row, : len(seq)] = torch.tensor(seq)
                    mask[row, : len(seq)] = 1
                hidden = body(input_ids=ids.to(self.device), attention_mask=mask.to(self.device)).last_hidden_state
                for row, i in enumerate(idx):
                    ctx, cont = encoded[i]
                    # Positions whose next-token prediction is a continuation token: only these get logits.
                    positions = torch.arange(len(ctx) - 1, len(ctx) + len(cont) - 1, device=hidden.device)
                    logprobs = torch.log_softmax(head(hidden[row, positions]).float(), dim=-1)
                    target = torch.tensor(cont, device=hidden.device)
                    scores[i] = float(logprobs.gather(-1, target[:, None]).sum())
        return scores

    def score_single_token_options(self, context: str, option_tokens: Sequence[int]) -> list[float]:
        """log P(option token | context) for one-token options: one forward pass, one row of logits."""
        import torch

        model, _ = self.load()
        ctx = self.encode(context)
        body, head = model.get_decoder() if hasattr(model, "get_decoder") else model.base_model, model.get_output_embeddings()
        with torch.inference_mode():
            hidden = body(input_ids=torch.tensor([ctx], device=self.device)).last_hidden_state[0, -1]
            logprobs = torch.log_softmax(head(hidden).float(), dim=-1)
        return [float(logprobs[t]) for t in option_tokens]

    def predict(self, task, examples, *, batch_size=16):
        """Pick the option with the highest log-likelihood; scores are the options' normalised probabilities."""
        import math

        per_example = [lm_requests(task, example) for example in examples]
        results: list[list[float] | None] = [None] * len(examples)
        pending: list[tuple[int, tuple[str, str]]] = []
        for i, requests in enumerate(per_example):
            contexts = {context for context, _ in requests}
            tokens = [self.encode(continuation) for _, continuation in requests]
            if len(contexts) == 1 and all(len(t) == 1 for t in tokens) and self.encode(requests[0][0]):
                results[i] = self.score_single_token_options(requests[0][0], [t[0] for t in tokens])
            else:
                pending.extend((i, request) for request in requests)
        if pending:
            flat = self.score_requests([request for _, request in pending], batch_size=batch_size)
            for (i, _), score in zip(pending, flat):
                results[i] = (results[i] or []) + [score]
        predictions = []
        for example, requests, scores in zip(examples, per_example, results):
            top = max(scores)
            probs = [math.exp(s - top) for s in scores]
            total = sum(probs)
            if task.kind == "classification":
                options = list(task.labels)
                output: Any = options[scores.index(top)]
            else:
                options = [str(i) for i in range(len(scores))]
                output = scores.index(top)
            predictions.append(Prediction(output, {o: p / total for o, p in zip(options, probs)},
                                          raw=requests[scores.index(top)][0] + requests[scores.index(top)][1]))
        return predictions


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
