"""The Hugging Face Hub: whether it answers, and where transformers models come from (a local
folder or the Hub).

Shared by every backend that loads transformers checkpoints (encoders, decoders, vLLM):
the config is fetched alone (a one-line error when it cannot be), an unreachable Hub fails
at once instead of after transformers' retries, and :func:`revision` pins the weights for
the cache key.
"""
from __future__ import annotations

import hashlib
import os
import re
import socket
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from harness.errors import HarnessError

if TYPE_CHECKING:
    from transformers import PretrainedConfig


@cache
def hub_reachable(host: str = "huggingface.co", timeout: float = 3.0) -> bool:
    """Whether the Hugging Face Hub answers at all (checked once per process).

    Honours ``HF_HUB_OFFLINE`` / ``HF_DATASETS_OFFLINE``; spares an offline user
    ``datasets``' retries (about half a minute per task) before the demo fallback.
    """
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "") or os.environ.get("HF_DATASETS_OFFLINE", "0") not in ("0", ""):
        return False
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


#: exception class names (anywhere in an exception's class hierarchy or its causes) that mean
#: the Hub could not be reached, from the standard library, requests, httpx and huggingface_hub
_NETWORK_ERRORS = {"ConnectionError", "TimeoutError", "Timeout", "ConnectTimeout", "ReadTimeout", "gaierror",
                   "OfflineModeIsEnabled", "LocalEntryNotFoundError", "ConnectError", "NetworkError"}


def unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` (a loader's failure) means the Hub could not be reached: the Hub does
    not answer now, or the exception (or one it was raised from) is a network error."""
    if not hub_reachable():
        return True
    seen: BaseException | None = exc
    for _ in range(8):  # the chain of causes, not forever
        if seen is None:
            return False
        if any(cls.__name__ in _NETWORK_ERRORS for cls in type(seen).__mro__):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _digest_local(path: Path) -> str:
    digest = hashlib.sha256()
    for file in sorted(path.iterdir()):
        if file.suffix in {".json", ".safetensors", ".bin", ".txt", ".model"} and file.is_file():
            digest.update(file.name.encode())
            with open(file, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()[:16]


def load_config(name: str, source: str) -> PretrainedConfig:
    """A transformers config from a Hub id or local folder (only config.json is fetched); a one-line error otherwise."""
    from transformers import AutoConfig

    if not Path(source).exists() and HUB_ID.match(source):
        if not hub_reachable() and not in_hub_cache(source):
            # Fail at once: transformers would retry for about half a minute before giving up.
            raise HarnessError(f"{name}: {source!r} is not a local folder, the Hugging Face Hub is unreachable and the "
                               "model is not in the local Hub cache; pass a model folder, or run where the Hub is reachable")
    try:
        return AutoConfig.from_pretrained(source)
    except Exception as exc:
        raise HarnessError(
            f"{name}: cannot load a transformers config from {source!r} "
            f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
        ) from exc


#: what a Hub model id looks like (``name`` or ``org/name``), as opposed to a folder path
HUB_ID = re.compile(r"^[\w.-]+(/[\w.-]+)?$")


def in_hub_cache(repo_id: str) -> bool:
    """Whether the Hub's local cache already holds ``repo_id``'s config (usable offline)."""
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)
    except Exception:  # not a valid repo id
        return False


def revision(source: str, config: PretrainedConfig | None) -> str | None:
    """What pins the weights for the cache key: a digest of a local folder's files, else the Hub commit."""
    path = Path(source)
    return _digest_local(path) if path.is_dir() else getattr(config, "_commit_hash", None)
