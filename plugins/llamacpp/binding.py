"""Which llama.cpp library ``llamacpp:`` drives, and the C API it calls through.

Two packages carry llama.cpp with its C API:

- **xllamacpp** (the ``llamacpp`` extra's default): a prebuilt manylinux2014 wheel of 34 MB, no
  compiler needed. Its Python API is llama.cpp's server, but its one shared library also
  exports llama.cpp's whole C API (``llama_decode``, ``llama_get_logits_ith``, the batch,
  memory and sampler calls), which this module declares with :mod:`ctypes`. Its CPU build
  uses AVX2, FMA and F16C (no AVX-512).
- **llama-cpp-python** (the ``llamacpp-source`` extra): built from source at install (a
  compiler and 10-40 minutes), with ``-march=native``; its ``llama_cpp`` module is its own
  ctypes declaration of the same C API.

:func:`llama_binding` returns a :class:`LlamaBinding` whose ``lib`` carries the C API under
llama.cpp's names (``lib.llama_decode``, ``lib.llama_token_data``, ...) whichever package
serves it, so :mod:`plugins.llamacpp.batches` is written once against either.

Structures passed by value (the model and context parameters) must match the library's
``llama.h`` field for field. The declarations below are those of the llama.cpp that
xllamacpp 2026.10.11549 is built from; :func:`_check_layout` reads the library's own default
parameters through them and refuses the library (one line, naming the version that works)
when any field reads other than llama.cpp's documented default, so a different xllamacpp
release is an error, never a silently misread structure.
"""
from __future__ import annotations

import ctypes
import importlib.util
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from harness.engine import HarnessError, installed_version

#: ``-o binding=`` values; "auto" takes the first of BINDINGS that is installed
BINDINGS = ("xllamacpp", "llama-cpp-python")
#: the xllamacpp release whose structures are declared here
XLLAMACPP_VERSION = "2026.10.11549"
INSTALL = "pip install 'harness[llamacpp]' (xllamacpp, prebuilt)"
INSTALL_SOURCE = "pip install 'harness[llamacpp-source]' (llama-cpp-python, built from source)"


@dataclass(frozen=True)
class LlamaBinding:
    """One llama.cpp library: its package, version and C API (``lib``)."""

    #: "xllamacpp" or "llama-cpp-python"
    name: str
    version: str
    lib: Any

    @property
    def label(self) -> str:
        """``name version``, as identities and provenance record it."""
        return f"{self.name} {self.version}"

    def system_info(self) -> str:
        """llama.cpp's own line of the CPU features its kernels use (``AVX2 = 1 | ...``)."""
        return self.lib.llama_print_system_info().decode("utf-8", "replace").strip()


def installed_bindings() -> list[str]:
    """The bindings of :data:`BINDINGS` whose package is installed, in order of preference."""
    modules = {"xllamacpp": "xllamacpp", "llama-cpp-python": "llama_cpp"}
    return [name for name in BINDINGS if importlib.util.find_spec(modules[name]) is not None]


def resolve_binding(choice: str, model: str) -> str:
    """The binding ``choice`` ("auto" or a name of :data:`BINDINGS`) stands for; a one-line
    error naming ``model`` and the install command when it is not installed."""
    installed = installed_bindings()
    if choice == "auto":
        if not installed:
            raise HarnessError(f"{model} needs llama.cpp: {INSTALL}, or {INSTALL_SOURCE}")
        return installed[0]
    if choice not in installed:
        install = INSTALL if choice == "xllamacpp" else INSTALL_SOURCE
        raise HarnessError(f"{model}: -o binding={choice} needs {choice}: {install}")
    return choice


@lru_cache(maxsize=None)
def llama_binding(name: str) -> LlamaBinding:
    """The loaded library of binding ``name`` (loaded once a process; llama.cpp's backend
    initialised and its log chatter silenced)."""
    if name == "llama-cpp-python":
        import llama_cpp

        binding = LlamaBinding(name, installed_version("llama_cpp_python") or llama_cpp.__version__, llama_cpp)
    elif name == "xllamacpp":
        binding = LlamaBinding(name, installed_version("xllamacpp") or "unknown", _xllamacpp_api())
    else:
        raise HarnessError(f"Unknown llama.cpp binding {name!r}; expected one of {', '.join(BINDINGS)}")
    binding.lib.llama_backend_init()
    _silence(binding.lib)
    return binding


# -- the C API, as xllamacpp's library exports it ------------------------------------------------

llama_token = ctypes.c_int32
llama_pos = ctypes.c_int32
llama_seq_id = ctypes.c_int32
_p = ctypes.c_void_p
_bool = ctypes.c_bool


class llama_token_data(ctypes.Structure):
    """``llama_token_data``: a token id, its logit and probability."""

    _fields_ = [("id", llama_token), ("logit", ctypes.c_float), ("p", ctypes.c_float)]


llama_token_data_p = ctypes.POINTER(llama_token_data)


class llama_token_data_array(ctypes.Structure):
    """``llama_token_data_array``: the candidates a sampler reads and changes."""

    _fields_ = [("data", llama_token_data_p), ("size", ctypes.c_size_t), ("selected", ctypes.c_int64),
                ("sorted", _bool)]


class llama_batch(ctypes.Structure):
    """``llama_batch``: tokens with their positions, sequences and whether to output logits."""

    _fields_ = [("n_tokens", ctypes.c_int32), ("token", ctypes.POINTER(llama_token)), ("embd", ctypes.POINTER(ctypes.c_float)),
                ("pos", ctypes.POINTER(llama_pos)), ("n_seq_id", ctypes.POINTER(ctypes.c_int32)),
                ("seq_id", ctypes.POINTER(ctypes.POINTER(llama_seq_id))), ("logits", ctypes.POINTER(ctypes.c_int8))]


class llama_model_params(ctypes.Structure):
    """``llama_model_params`` (passed by value)."""

    _fields_ = [("devices", _p), ("tensor_buft_overrides", _p), ("n_gpu_layers", ctypes.c_int32),
                ("split_mode", ctypes.c_int), ("load_mode", ctypes.c_int), ("lazy_mode", ctypes.c_int),
                ("main_gpu", ctypes.c_int32), ("tensor_split", _p), ("progress_callback", _p),
                ("progress_callback_user_data", _p), ("kv_overrides", _p), ("vocab_only", _bool),
                ("check_tensors", _bool), ("use_extra_bufts", _bool), ("no_host", _bool), ("no_alloc", _bool),
                ("load_mtp", _bool)]


class llama_context_params(ctypes.Structure):
    """``llama_context_params`` (passed by value)."""

    _fields_ = [("n_ctx", ctypes.c_uint32), ("n_batch", ctypes.c_uint32), ("n_ubatch", ctypes.c_uint32),
                ("n_seq_max", ctypes.c_uint32), ("n_rs_seq", ctypes.c_uint32), ("n_outputs_max", ctypes.c_uint32),
                ("n_outputs_max_per_seq", ctypes.c_uint32), ("n_threads", ctypes.c_int32),
                ("n_threads_batch", ctypes.c_int32), ("ctx_type", ctypes.c_int), ("rope_scaling_type", ctypes.c_int),
                ("pooling_type", ctypes.c_int), ("attention_type", ctypes.c_int), ("flash_attn_type", ctypes.c_int),
                ("rope_freq_base", ctypes.c_float), ("rope_freq_scale", ctypes.c_float),
                ("yarn_ext_factor", ctypes.c_float), ("yarn_attn_factor", ctypes.c_float),
                ("yarn_beta_fast", ctypes.c_float), ("yarn_beta_slow", ctypes.c_float),
                ("yarn_orig_ctx", ctypes.c_uint32), ("defrag_thold", ctypes.c_float), ("cb_eval", _p),
                ("cb_eval_user_data", _p), ("type_k", ctypes.c_int), ("type_v", ctypes.c_int),
                ("moe_cache_size", ctypes.c_size_t), ("abort_callback", _p), ("abort_callback_data", _p),
                ("embeddings", _bool), ("offload_kqv", _bool), ("no_perf", _bool), ("op_offload", _bool),
                ("swa_full", _bool), ("kv_unified", _bool), ("samplers", _p), ("n_samplers", ctypes.c_size_t),
                ("ctx_other", _p)]


#: ``ggml_log_callback``: void (*)(enum ggml_log_level, const char *, void *)
llama_log_callback = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)

#: name -> (result type, argument types) of every C function the engine calls
_FUNCTIONS: dict[str, tuple[Any, list[Any]]] = {
    "llama_backend_init": (None, []),
    "llama_print_system_info": (ctypes.c_char_p, []),
    "llama_log_set": (None, [llama_log_callback, _p]),
    "llama_model_default_params": (llama_model_params, []),
    "llama_context_default_params": (llama_context_params, []),
    "llama_model_load_from_file": (_p, [ctypes.c_char_p, llama_model_params]),
    "llama_model_free": (None, [_p]),
    "llama_init_from_model": (_p, [_p, llama_context_params]),
    "llama_free": (None, [_p]),
    "llama_model_get_vocab": (_p, [_p]),
    "llama_vocab_n_tokens": (ctypes.c_int32, [_p]),
    "llama_vocab_is_eog": (_bool, [_p, llama_token]),
    "llama_get_memory": (_p, [_p]),
    "llama_memory_seq_rm": (_bool, [_p, llama_seq_id, llama_pos, llama_pos]),
    "llama_memory_seq_cp": (None, [_p, llama_seq_id, llama_seq_id, llama_pos, llama_pos]),
    "llama_batch_init": (llama_batch, [ctypes.c_int32, ctypes.c_int32, ctypes.c_int32]),
    "llama_batch_free": (None, [llama_batch]),
    "llama_decode": (ctypes.c_int32, [_p, llama_batch]),
    "llama_get_logits_ith": (ctypes.POINTER(ctypes.c_float), [_p, ctypes.c_int32]),
    "llama_sampler_init_grammar": (_p, [_p, ctypes.c_char_p, ctypes.c_char_p]),
    "llama_sampler_apply": (None, [_p, ctypes.POINTER(llama_token_data_array)]),
    "llama_sampler_accept": (None, [_p, llama_token]),
    "llama_sampler_free": (None, [_p]),
}

#: llama.cpp's documented defaults (llama_context_default_params / llama_model_default_params),
#: which a correctly declared structure reads back
_CONTEXT_DEFAULTS = {"n_ctx": 512, "n_batch": 2048, "n_ubatch": 512, "n_seq_max": 1, "n_rs_seq": 0, "n_outputs_max": 0,
                     "n_outputs_max_per_seq": 1, "ctx_type": 0, "rope_scaling_type": -1, "pooling_type": -1,
                     "attention_type": -1, "flash_attn_type": -1, "rope_freq_base": 0.0, "rope_freq_scale": 0.0,
                     "yarn_ext_factor": -1.0, "yarn_attn_factor": -1.0, "yarn_beta_fast": -1.0, "yarn_beta_slow": -1.0,
                     "yarn_orig_ctx": 0, "defrag_thold": -1.0, "cb_eval": None, "cb_eval_user_data": None, "type_k": 1,
                     "type_v": 1, "moe_cache_size": 0, "abort_callback": None, "abort_callback_data": None,
                     "embeddings": False, "offload_kqv": True, "no_perf": True, "op_offload": True, "swa_full": True,
                     "kv_unified": False, "samplers": None, "n_samplers": 0, "ctx_other": None}
_MODEL_DEFAULTS = {"devices": None, "tensor_buft_overrides": None, "n_gpu_layers": -1, "split_mode": 1, "load_mode": -1,
                   "lazy_mode": 1, "main_gpu": 0, "tensor_split": None, "progress_callback": None,
                   "progress_callback_user_data": None, "kv_overrides": None, "vocab_only": False, "check_tensors": False,
                   "use_extra_bufts": True, "no_host": False, "no_alloc": False, "load_mtp": False}


def xllamacpp_library() -> Path:
    """The shared library inside the installed xllamacpp package (found without importing it)."""
    spec = importlib.util.find_spec("xllamacpp")
    if spec is None or not spec.submodule_search_locations:
        raise HarnessError(f"xllamacpp is not installed: {INSTALL}")
    folder = Path(next(iter(spec.submodule_search_locations)))
    found = sorted(folder.glob("xllamacpp*.so")) + sorted(folder.glob("xllamacpp*.pyd")) + sorted(folder.glob("xllamacpp*.dylib"))
    if not found:
        raise HarnessError(f"xllamacpp at {folder} has no shared library; reinstall it: {INSTALL}")
    return found[0]


def _xllamacpp_api() -> SimpleNamespace:
    """xllamacpp's library with :data:`_FUNCTIONS` declared, checked by :func:`_check_layout`."""
    # its own symbols first (RTLD_DEEPBIND): llama-cpp-python loads its llama.cpp globally, and
    # calls inside this library must never land in that other build
    mode = ctypes.RTLD_LOCAL | getattr(os, "RTLD_DEEPBIND", 0)
    library = ctypes.CDLL(str(xllamacpp_library()), mode=mode)
    api = SimpleNamespace(llama_token_data=llama_token_data, llama_token_data_p=llama_token_data_p,
                          llama_token_data_array=llama_token_data_array, llama_log_callback=llama_log_callback)
    for name, (result, arguments) in _FUNCTIONS.items():
        try:
            function = getattr(library, name)
        except AttributeError:
            raise HarnessError(f"xllamacpp {installed_version('xllamacpp')} exports no {name}; "
                               f"pip install xllamacpp=={XLLAMACPP_VERSION}") from None
        function.restype = result
        function.argtypes = arguments
        setattr(api, name, function)
    _check_layout(api)
    return api


def _check_layout(api) -> None:
    """Refuse a library whose default parameters do not read back as llama.cpp's documented
    defaults through the structures declared here (another llama.cpp version's layout)."""
    for structure, read, defaults in ((llama_context_params, api.llama_context_default_params, _CONTEXT_DEFAULTS),
                                      (llama_model_params, api.llama_model_default_params, _MODEL_DEFAULTS)):
        values = read()
        wrong = [name for name, expected in defaults.items() if getattr(values, name) != expected]
        if wrong:
            raise HarnessError(f"xllamacpp {installed_version('xllamacpp')}'s {structure.__name__} differs from the one "
                               f"harness declares (fields {', '.join(wrong[:4])} read wrong); "
                               f"pip install xllamacpp=={XLLAMACPP_VERSION}")


_LOG_CALLBACKS: dict[int, Any] = {}


def _silence(lib) -> None:
    """Keep llama.cpp's loading chatter off stderr (errors come back as status codes)."""
    if id(lib) not in _LOG_CALLBACKS:
        @lib.llama_log_callback
        def quiet(level, text, user_data):
            return None

        _LOG_CALLBACKS[id(lib)] = quiet
        lib.llama_log_set(quiet, ctypes.c_void_p(0))
