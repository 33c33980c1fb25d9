"""Decoder workloads against this machine's limit: arithmetic per second as a share of the
measured peak of the kernel each engine runs.

    python bench/roofline.py --data-dir ../shared/data
    python bench/roofline.py --data-dir ../shared/data --models smollm2-135m --sst2-limit 50

**Peaks**, measured here, one matrix product at a time on every core:

- transformers: ``torch.matmul`` in float32 (``hf-causal:`` runs the de-quantised weights in
  float32), weights ``K x M`` times activations ``K x N``;
- llama.cpp: ggml's own ``ggml_mul_mat`` through the library ``llamacpp:`` loads (xllamacpp),
  for each weight type the packaged files use (Q4_1 for SmolLM2; Q5_0 and Q4_K for
  Qwen2.5-Coder-0.5B; F32 for ``-o weights=f32``), the activations converted to the 8-bit
  type ggml pairs with it, as in a model.

Each at ``N`` = 16 (a generation step of 16 sequences), 128, 512 (one decode call of prompts)
and 1024 tokens, ``M = K = 2048``, the best of three 2-second runs; the peak is the best over
``N``. Run it on an idle machine: another process on the cores lowers peaks and workloads alike.

**Workloads**: SST-2 validation scored 0-shot and the first CoNLL++ test sentences generated,
each engine on the same examples (weights loaded before the clock, nothing cached). Arithmetic
done = 2 x the weights of the layers x tokens the engine evaluated (its own count: llama.cpp
evaluates a prefix shared by every prompt once) + 2 x the output head x positions whose
logits are read + attention (4 x layers x width x the mean position, a token). Printed: tokens/s,
GFLOP/s achieved, the peak of the engine's kernel, and the fraction.
"""
from __future__ import annotations

import argparse
import ctypes
import json
import os
import time
from pathlib import Path

M = K = 2048
SIZES = (16, 128, 512, 1024)
#: ggml type ids (ggml.h) of the weight types the packaged models use
GGML_TYPES = {"F32": 0, "Q4_1": 3, "Q5_0": 6, "Q8_0": 8, "Q4_K": 12}
MODEL_TYPES = {"smollm2-135m": ("Q4_1",), "qwen2.5-coder-0.5b": ("Q5_0", "Q4_K"), "qwen2.5-coder-1.5b": ("Q5_0", "Q4_K")}


def best_of(runs: int, measure) -> float:
    """The best of ``runs`` measurements (noise on a shared machine only ever slows one down)."""
    return max(measure() for _ in range(runs))


def torch_peak(n: int, threads: int, seconds: float = 2.0) -> float:
    """GFLOP/s of a float32 ``(N x K) @ (K x M)`` in torch."""
    import torch

    torch.set_num_threads(threads)
    a, b = torch.randn(n, K), torch.randn(K, M)
    torch.matmul(a, b)
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        torch.matmul(a, b)
        count += 1
    return 2 * M * K * n * count / (time.perf_counter() - started) / 1e9


class _InitParams(ctypes.Structure):
    _fields_ = [("mem_size", ctypes.c_size_t), ("mem_buffer", ctypes.c_void_p), ("no_alloc", ctypes.c_bool)]


class _Plan(ctypes.Structure):
    """``struct ggml_cplan`` (ggml-cpu.h): the work buffer is the caller's, allocated once."""

    _fields_ = [("work_size", ctypes.c_size_t), ("work_data", ctypes.c_void_p), ("n_threads", ctypes.c_int),
                ("threadpool", ctypes.c_void_p), ("abort_callback", ctypes.c_void_p),
                ("abort_callback_data", ctypes.c_void_p), ("use_ref", ctypes.c_bool)]


def ggml_peak(weight_type: str, n: int, threads: int, seconds: float = 2.0) -> float:
    """GFLOP/s of ggml's ``mul_mat`` of ``weight_type`` weights (M x K) and float32 activations (K x N)."""
    import numpy as np

    from plugins.llamacpp.binding import xllamacpp_library

    lib = ctypes.CDLL(str(xllamacpp_library()), mode=ctypes.RTLD_LOCAL | getattr(os, "RTLD_DEEPBIND", 0))
    p = ctypes.c_void_p
    lib.ggml_init.restype, lib.ggml_init.argtypes = p, [_InitParams]
    lib.ggml_new_tensor_2d.restype, lib.ggml_new_tensor_2d.argtypes = p, [p, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    lib.ggml_mul_mat.restype, lib.ggml_mul_mat.argtypes = p, [p, p, p]
    lib.ggml_new_graph.restype, lib.ggml_new_graph.argtypes = p, [p]
    lib.ggml_build_forward_expand.argtypes = [p, p]
    lib.ggml_graph_plan.restype, lib.ggml_graph_plan.argtypes = _Plan, [p, ctypes.c_int, p]
    lib.ggml_graph_compute.restype, lib.ggml_graph_compute.argtypes = ctypes.c_int, [p, ctypes.POINTER(_Plan)]
    lib.ggml_get_data.restype, lib.ggml_get_data.argtypes = p, [p]
    lib.ggml_nbytes.restype, lib.ggml_nbytes.argtypes = ctypes.c_size_t, [p]
    lib.ggml_quantize_chunk.restype = ctypes.c_size_t
    lib.ggml_quantize_chunk.argtypes = [ctypes.c_int, p, p, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64, p]
    lib.ggml_free.argtypes = [p]
    ctx = lib.ggml_init(_InitParams(256 << 20, None, False))
    kind = GGML_TYPES[weight_type]
    weights = lib.ggml_new_tensor_2d(ctx, kind, K, M)
    activations = lib.ggml_new_tensor_2d(ctx, GGML_TYPES["F32"], K, n)
    rng = np.random.default_rng(0)
    values = rng.standard_normal((M, K), dtype=np.float32)
    if kind == GGML_TYPES["F32"]:
        ctypes.memmove(lib.ggml_get_data(weights), values.ctypes.data, values.nbytes)
    else:
        lib.ggml_quantize_chunk(kind, values.ctypes.data, lib.ggml_get_data(weights), 0, M, K, None)
    x = rng.standard_normal((n, K), dtype=np.float32)
    ctypes.memmove(lib.ggml_get_data(activations), x.ctypes.data, x.nbytes)
    graph = lib.ggml_new_graph(ctx)
    lib.ggml_build_forward_expand(graph, lib.ggml_mul_mat(ctx, weights, activations))
    plan = lib.ggml_graph_plan(graph, threads, None)
    work = (ctypes.c_uint8 * max(1, plan.work_size))()
    plan.work_data = ctypes.cast(work, ctypes.c_void_p)
    lib.ggml_graph_compute(graph, ctypes.byref(plan))
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        lib.ggml_graph_compute(graph, ctypes.byref(plan))
        count += 1
    elapsed = time.perf_counter() - started
    lib.ggml_free(ctx)
    return 2 * M * K * n * count / elapsed / 1e9


def model_shape(model) -> dict:
    """Layer weights, head size, layers and width of a decoder (from its transformers config)."""
    config = model.config
    d, layers, vocab = config.hidden_size, config.num_hidden_layers, config.vocab_size
    heads, kv_heads = config.num_attention_heads, getattr(config, "num_key_value_heads", config.num_attention_heads)
    head_dim = d // heads
    ffn = config.intermediate_size
    per_layer = d * d * 2 + d * head_dim * kv_heads * 2 + 3 * d * ffn  # q, o; k, v; gate, up, down
    return {"layer_weights": layers * per_layer, "head": d * vocab, "layers": layers, "width": d}


def workload(model, task_name: str, limit: int, data_dir: Path) -> dict:
    """Seconds, tokens evaluated, positions read and mean prompt length of one workload."""
    from harness import get_task

    task = get_task(task_name)
    examples = task.load(None, data_dir=data_dir, source="local").examples[:limit]
    model.prepare()
    before = (model.usage.prompt_tokens, model.usage.generated_tokens)
    engine = model.engine() if hasattr(model, "engine") else None
    evaluated_before = engine.evaluated_tokens if engine is not None else None
    started = time.perf_counter()
    predictions = model.predict(task, examples, batch_size=16)
    seconds = time.perf_counter() - started
    generated = model.usage.generated_tokens - before[1]
    if engine is not None:  # llama.cpp's own count of tokens through llama_decode (prefix reuse included)
        evaluated = engine.evaluated_tokens - evaluated_before
    else:
        evaluated = model.usage.prompt_tokens - before[0] + generated
    prompts = [len(model.context_ids(p.prompt)) for p in predictions if p.prompt]
    # logits read: each generated token's, and one a context where one-token options are scored
    read = generated + (len(examples) if task.kind == "classification" else 0)
    return {"seconds": seconds, "examples": len(examples), "evaluated": evaluated, "generated": generated, "read": read,
            "mean_position": (sum(prompts) / len(prompts) / 2) if prompts else 0.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--models", default="smollm2-135m,qwen2.5-coder-0.5b")
    parser.add_argument("--sst2-limit", type=int, default=100)
    parser.add_argument("--conll-limit", type=int, default=20)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    threads = len(os.sched_getaffinity(0))
    peaks = {("transformers", "F32", n): best_of(3, lambda n=n: torch_peak(n, threads)) for n in SIZES}
    for kind in GGML_TYPES:
        for n in SIZES:
            peaks[("llama.cpp", kind, n)] = best_of(3, lambda kind=kind, n=n: ggml_peak(kind, n, threads))
    print(f"peaks on {threads} cores, GFLOP/s, M = K = {M}:")
    for (engine, kind, n), value in peaks.items():
        print(f"  {engine:12} {kind:5} N={n:<4} {value:8.1f}")
    from harness import get_model

    rows = []
    print(f"\n{'model':20} {'engine':12} {'workload':14} {'tokens':>7} {'tokens/s':>9} {'GFLOP/s':>8} "
          f"{'peak':>7} {'fraction':>8}")
    for name in args.models.split(","):
        for engine_name, model_name in (("transformers", name), ("llama.cpp", f"llamacpp:{name}")):
            model = get_model(model_name)
            model.context.progress = False
            shape = model_shape(model)
            kinds = ("F32",) if engine_name == "transformers" else MODEL_TYPES.get(name, ("Q4_1",))
            # the best the engine's kernel reaches at any N (the slower type where weights mix types)
            peak = min(max(peaks[(engine_name, kind, n)] for n in SIZES) for kind in kinds)
            for label, task_name, limit in (("SST-2 scoring", "sentiment", args.sst2_limit),
                                            ("CoNLL++ gen", "ner", args.conll_limit)):
                w = workload(model, task_name, limit, args.data_dir)
                flops = (2 * shape["layer_weights"] * w["evaluated"] + 2 * shape["head"] * w["read"]
                         + 4 * shape["layers"] * shape["width"] * w["mean_position"] * w["evaluated"])
                achieved = flops / w["seconds"] / 1e9
                row = {"model": name, "engine": engine_name, "workload": label, **w, "tokens_per_s": w["evaluated"] / w["seconds"],
                       "gflops": achieved, "peak": peak, "peak_kernel": "/".join(kinds), "fraction": achieved / peak}
                rows.append(row)
                print(f"{name:20} {engine_name:12} {label:14} {w['evaluated']:>7} {row['tokens_per_s']:>9.0f} "
                      f"{achieved:>8.1f} {peak:>7.1f} {row['fraction']:>8.2f}", flush=True)
            model.close()
    if args.json:
        args.json.write_text(json.dumps({"peaks": {f"{e} {k} N={n}": v for (e, k, n), v in peaks.items()}, "rows": rows},
                                        indent=2))


if __name__ == "__main__":
    main()
