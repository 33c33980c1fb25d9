"""Several sequences per llama.cpp call: log-likelihood scoring and greedy generation on
llama.cpp's C API (through either binding of :mod:`plugins.llamacpp.binding`).

A high-level ``Llama`` object evaluates one sequence per context. llama.cpp itself
decodes a batch of tokens that belong to many sequences at once (each token carries its
position and the sequences it belongs to; the KV cache is shared, "unified"), which is how
its server batches requests. This module drives that directly:

- **Scoring.** A context and its continuations become one *group*: the context's tokens are
  evaluated once and belong to every option that needs tokens of its own (a continuation
  of two or more tokens); a one-token option reads its log-probability from the context's
  last position. Groups are packed into batches of up to ``n_batch`` tokens and
  ``n_seq`` sequences. A prefix shared by every context of a call (instructions, few-shot
  examples) is evaluated once into sequence 0 and copied (a cell tag in the cache, not a
  recomputation) to each sequence of every batch.
- **Generation.** Up to ``n_seq`` prompts decode together, one token per sequence per call,
  greedy (the highest logit), optionally held to a GBNF grammar by llama.cpp's grammar
  sampler, one per sequence. The greedy token is offered to the grammar alone first, and the
  whole vocabulary is masked only when the grammar refuses it: the same token, without a scan
  of 150,000 candidates at every step (llama.cpp's own sampler does the same).

Nothing here depends on the harness's tasks (the shared-prefix rule is the decoder engines'
one, :func:`harness.engine.reusable_prefix_length`);
:mod:`plugins.llamacpp_decoder` is the model plugin on top.
"""
from __future__ import annotations

import ctypes
from dataclasses import dataclass, field
from typing import Callable, Sequence

from harness.engine import common_prefix_length, reusable_prefix_length
from plugins.llamacpp.binding import LlamaBinding

#: Cells of the KV cache shared by all sequences (a sequence alone may use them all).
DEFAULT_CELLS = 16384
#: Sequences decoded together; sequence 0 holds a shared prefix.
DEFAULT_SEQUENCES = 16
#: Tokens per llama_decode call.
DEFAULT_BATCH = 512


class LlamaError(RuntimeError):
    """llama.cpp refused a model, a context or a batch."""


@dataclass
class _Pending:
    """Tokens waiting for a decode call: token, position, sequences, and what to do with its
    logits (None: no logits needed)."""

    tokens: list[int] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)
    sequences: list[tuple[int, ...]] = field(default_factory=list)
    readers: list[Callable | None] = field(default_factory=list)

    def add(self, token: int, position: int, sequences: tuple[int, ...], reader: Callable | None = None) -> None:
        self.tokens.append(token)
        self.positions.append(position)
        self.sequences.append(sequences)
        self.readers.append(reader)

    def __len__(self) -> int:
        return len(self.tokens)


class LlamaBatches:
    """One llama.cpp model and context that decodes many sequences per call."""

    def __init__(self, model_path: str, *, binding: LlamaBinding, threads: int, cells: int = DEFAULT_CELLS,
                 sequences: int = DEFAULT_SEQUENCES, batch: int = DEFAULT_BATCH):
        import numpy as np

        llama_cpp = binding.lib
        self.binding = binding
        self._lib = llama_cpp
        self._np = np
        model_params = llama_cpp.llama_model_default_params()
        self.model = llama_cpp.llama_model_load_from_file(model_path.encode("utf-8"), model_params)
        if not self.model:
            raise LlamaError(f"llama.cpp could not load {model_path}")
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = cells
        params.n_batch = batch
        params.n_ubatch = batch
        params.n_seq_max = sequences
        params.kv_unified = True
        params.n_threads = threads
        params.n_threads_batch = threads
        params.no_perf = True
        self.ctx = llama_cpp.llama_init_from_model(self.model, params)
        if not self.ctx:
            llama_cpp.llama_model_free(self.model)
            raise LlamaError(f"llama.cpp could not create a context of {cells} cells for {model_path}")
        self.vocab = llama_cpp.llama_model_get_vocab(self.model)
        self.n_vocab = llama_cpp.llama_vocab_n_tokens(self.vocab)
        self.memory = llama_cpp.llama_get_memory(self.ctx)
        self.cells = cells
        self.sequences = sequences
        self.batch_tokens = batch
        self._batch = llama_cpp.llama_batch_init(batch, 0, sequences)
        self._prefix: tuple[int, ...] = ()  # what sequence 0 holds
        self.evaluated_tokens = 0
        self.reused_tokens = 0
        #: takes the share (0-1) of the current score() or generate() call done (progress bars)
        self.progress: Callable[[float], None] | None = None

    def close(self) -> None:
        """Free the batch, the context and the model."""
        if self.ctx:
            self._lib.llama_batch_free(self._batch)
            self._lib.llama_free(self.ctx)
            self._lib.llama_model_free(self.model)
            self.ctx = None

    # -- decoding ------------------------------------------------------------------------

    def _decode(self, pending: _Pending) -> None:
        """Decode ``pending`` (in calls of at most ``batch_tokens``), handing each reader the
        log-softmax of its token's logits right after its call."""
        lib, batch = self._lib, self._batch
        for start in range(0, len(pending), self.batch_tokens):
            stop = min(start + self.batch_tokens, len(pending))
            batch.n_tokens = stop - start
            outputs = []
            for j, i in enumerate(range(start, stop)):
                batch.token[j] = pending.tokens[i]
                batch.pos[j] = pending.positions[i]
                seqs = pending.sequences[i]
                batch.n_seq_id[j] = len(seqs)
                for k, seq in enumerate(seqs):
                    batch.seq_id[j][k] = seq
                wanted = pending.readers[i] is not None
                batch.logits[j] = wanted
                if wanted:
                    outputs.append((j, pending.readers[i]))
            status = lib.llama_decode(self.ctx, batch)
            if status != 0:
                raise LlamaError(f"llama_decode failed (status {status}) on {batch.n_tokens} tokens")
            self.evaluated_tokens += batch.n_tokens
            for j, reader in outputs:
                reader(j)

    def logits(self, index: int):
        """The logits of output ``index`` of the last call (a float32 view, valid until the next call)."""
        return self._np.ctypeslib.as_array(self._lib.llama_get_logits_ith(self.ctx, index), shape=(self.n_vocab,))

    def logprobs(self, index: int):
        """log-softmax of output ``index``'s logits, in float64."""
        np = self._np
        logits = self.logits(index).astype(np.float64)
        top = logits.max()
        return logits - top - np.log(np.exp(logits - top).sum())

    def _clear_sequences(self) -> None:
        """Forget every sequence but the shared prefix (sequence 0)."""
        for seq in range(1, self.sequences):
            self._lib.llama_memory_seq_rm(self.memory, seq, -1, -1)

    def _hold_prefix(self, prefix: Sequence[int]) -> None:
        """Make sequence 0 hold exactly ``prefix`` (keeping what it shares with what it holds)."""
        prefix = tuple(prefix)
        keep = common_prefix_length([self._prefix, prefix])
        if keep == len(prefix) == len(self._prefix):
            self.reused_tokens += keep
            return
        self._lib.llama_memory_seq_rm(self.memory, 0, keep, -1)
        pending = _Pending()
        for position in range(keep, len(prefix)):
            pending.add(prefix[position], position, (0,))
        self._prefix = ()
        self._decode(pending)
        self._prefix = prefix
        self.reused_tokens += keep

    def _start_sequences(self, used: int) -> None:
        """Sequences 1..used share the prefix (tags on its cells)."""
        if self._prefix:
            for seq in range(1, used + 1):
                self._lib.llama_memory_seq_cp(self.memory, 0, seq, -1, -1)

    # -- scoring -------------------------------------------------------------------------

    def _report(self, share: float) -> None:
        if self.progress is not None:
            self.progress(share)

    def score(self, groups: Sequence[tuple[Sequence[int], Sequence[Sequence[int]]]]) -> list[list[float]]:
        """For each (context, continuations) group, sum of log P(continuation | context) for
        each continuation (contexts non-empty, continuations non-empty)."""
        results = [[0.0] * len(conts) for _, conts in groups]
        if not groups:
            return results
        prefix = reusable_prefix_length([ctx for ctx, _ in groups])
        self._hold_prefix([] if not prefix else groups[0][0][:prefix])
        free_cells = self.cells - prefix
        pending, used, cells = _Pending(), 0, 0
        for g, (context, continuations) in enumerate(groups):
            own = [k for k, cont in enumerate(continuations) if len(cont) > 1]
            need_seqs = max(1, len(own))
            need_tokens = len(context) - prefix + sum(len(continuations[k]) - 1 for k in own)
            if need_seqs > self.sequences - 1 or need_tokens > free_cells:
                raise LlamaError(f"a request of {need_tokens} tokens and {need_seqs} options does not fit "
                                 f"{free_cells} cells and {self.sequences - 1} sequences")
            if used + need_seqs > self.sequences - 1 or cells + need_tokens > free_cells:
                self._run_scoring(pending, used)
                self._report(g / len(groups))
                pending, used, cells = _Pending(), 0, 0
            seqs = tuple(range(used + 1, used + 1 + need_seqs))
            used += need_seqs
            cells += need_tokens
            self._add_group(pending, results[g], context, continuations, own, seqs, prefix)
        self._run_scoring(pending, used)
        return results

    def _add_group(self, pending: _Pending, sums: list[float], context, continuations, own, seqs, prefix) -> None:
        """Queue one group's tokens: the context in all its sequences (its last token read for
        every continuation's first token), then each longer continuation in its own sequence."""
        def read_first(j, conts=continuations, sums=sums):
            logprobs = self.logprobs(j)
            for k, cont in enumerate(conts):
                sums[k] += float(logprobs[cont[0]])

        for position in range(prefix, len(context)):
            last = position == len(context) - 1
            pending.add(context[position], position, seqs, read_first if last else None)
        for k, seq in zip(own, seqs):
            cont = continuations[k]
            for step in range(len(cont) - 1):
                def read_next(j, k=k, target=cont[step + 1]):
                    sums[k] += float(self.logprobs(j)[target])
                pending.add(cont[step], len(context) + step, (seq,), read_next)

    def _run_scoring(self, pending: _Pending, used: int) -> None:
        if not len(pending):
            return
        self._start_sequences(used)
        try:
            self._decode(pending)
        finally:
            self._clear_sequences()

    # -- generation ----------------------------------------------------------------------

    def generate(self, prompts: Sequence[Sequence[int]], budgets: Sequence[int], *,
                 finished: Callable[[int, list[int]], bool], grammar: str | None = None) -> list[list[int]]:
        """Greedy continuations (token ids) of ``prompts``, at most ``budgets[i]`` tokens each,
        stopping at an end-of-generation token or when ``finished(i, tokens)`` says so; with
        ``grammar`` (GBNF, root rule ``root``) every token is held to it."""
        outputs: list[list[int]] = [[] for _ in prompts]
        todo = [i for i in range(len(prompts)) if budgets[i] > 0]
        if not todo:
            return outputs
        prefix = reusable_prefix_length([prompts[i] for i in todo])
        self._hold_prefix([] if not prefix else prompts[todo[0]][:prefix])
        free_cells = self.cells - prefix
        order = sorted(todo, key=lambda i: -len(prompts[i]))
        start = 0
        while start < len(order):
            first = start
            self._report(first / len(order))
            wave, cells = [], 0
            while start < len(order) and len(wave) < self.sequences - 1:
                i = order[start]
                need = len(prompts[i]) - prefix + budgets[i]
                if need > free_cells:
                    raise LlamaError(f"a prompt of {len(prompts[i])} tokens with {budgets[i]} to generate does not fit "
                                     f"{self.cells} cells")
                if wave and cells + need > free_cells:
                    break
                wave.append(i)
                cells += need
                start += 1
            self._generate_wave(prompts, budgets, wave, prefix, outputs, finished, grammar,
                                lambda share, first=first, size=len(wave): self._report((first + share * size) / len(order)))
        return outputs

    def _generate_wave(self, prompts, budgets, wave, prefix, outputs, finished, grammar,
                       report: Callable[[float], None] = lambda share: None) -> None:
        lib = self._lib
        rules = {i: self._grammar_sampler(grammar) for i in wave} if grammar is not None else {}
        active: dict[int, int] = {}  # prompt index -> its sequence

        def take(i: int):
            def read(j: int) -> None:
                logits = self.logits(j)
                token = int(logits.argmax())
                if i in rules:
                    token = self._grammar_greedy(rules[i], logits, token)
                if lib.llama_vocab_is_eog(self.vocab, token):
                    active.pop(i, None)
                    return
                outputs[i].append(token)
                if len(outputs[i]) >= budgets[i] or finished(i, outputs[i]):
                    active.pop(i, None)
            return read

        try:
            self._start_sequences(len(wave))
            pending = _Pending()
            for seq, i in enumerate(wave, start=1):
                active[i] = seq
                ids = prompts[i]
                for position in range(prefix, len(ids)):
                    pending.add(ids[position], position, (seq,), take(i) if position == len(ids) - 1 else None)
            self._decode(pending)
            longest, steps = max(budgets[i] for i in wave), 0
            while active:
                steps += 1
                report(min(1.0, steps / longest))
                pending = _Pending()
                for i, seq in list(active.items()):
                    pending.add(outputs[i][-1], len(prompts[i]) + len(outputs[i]) - 1, (seq,), take(i))
                self._decode(pending)
        finally:
            for sampler in rules.values():
                lib.llama_sampler_free(sampler)
            self._clear_sequences()

    # -- grammars ------------------------------------------------------------------------

    def _grammar_sampler(self, grammar: str):
        sampler = self._lib.llama_sampler_init_grammar(self.vocab, grammar.encode("utf-8"), b"root")
        if not sampler:
            raise LlamaError("llama.cpp rejected the GBNF grammar")
        return sampler

    def _grammar_greedy(self, sampler, logits, best: int) -> int:
        """The highest-logit token the grammar allows, accepted into its state. The greedy
        token is checked alone first (the grammar scans the whole vocabulary only when it
        refuses it), which gives the same token as masking everything and taking the best."""
        lib, np = self._lib, self._np
        one = (lib.llama_token_data * 1)(lib.llama_token_data(best, float(logits[best]), 0.0))
        candidates = lib.llama_token_data_array(data=one, size=1, selected=-1, sorted=False)
        lib.llama_sampler_apply(sampler, ctypes.byref(candidates))
        if not np.isfinite(one[0].logit):
            table = np.empty(self.n_vocab, dtype=np.dtype([("id", np.intc), ("logit", np.single), ("p", np.single)],
                                                          align=True))
            table["id"] = np.arange(self.n_vocab, dtype=np.intc)
            table["logit"] = logits
            table["p"] = 0.0
            candidates = lib.llama_token_data_array(data=table.ctypes.data_as(lib.llama_token_data_p), size=self.n_vocab,
                                                    selected=-1, sorted=False)
            lib.llama_sampler_apply(sampler, ctypes.byref(candidates))
            best = int(table["id"][int(table["logit"].argmax())])
        lib.llama_sampler_accept(sampler, best)
        return best

