"""One redaction for everything harness records or shows: the store, the report, errors.

A model plugin that holds a secret (an API key it read from the environment, the password in
a URL it was given) registers it with :func:`register_secret`; :func:`redact` then replaces
its bytes wherever they appear (a server that echoes the key in an answer, an error message
quoting a URL), and the credentials part (``user:password@``) of every URL, registered or not.
"""
from __future__ import annotations

import re
import threading
from typing import Any
from urllib.parse import urlsplit

#: what a secret is replaced with
MASK = "***"
#: shorter values are not secrets worth masking (and would mask ordinary text)
MIN_SECRET_LENGTH = 6
#: the credentials of a URL: ``scheme://user:password@``
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@?#]*@")

_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Mask ``value`` in everything recorded or shown from now on (in this process)."""
    if value and len(value) >= MIN_SECRET_LENGTH:
        with _lock:
            _secrets.add(value)


def register_url(url: str | None) -> None:
    """Mask the user name and password of ``url`` (its credentials part is masked anyway)."""
    if not url:
        return
    try:
        parts = urlsplit(url)
        register_secret(parts.password)
        register_secret(parts.username)
    except ValueError:
        return


def redact(text: str) -> str:
    """``text`` with every registered secret and every URL's credentials replaced by ``***``."""
    if not isinstance(text, str):
        return text
    if "@" in text:
        text = _USERINFO.sub(lambda m: m.group(1) + MASK + "@", text)
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def redact_json(value: Any) -> Any:
    """A JSON-like value (dicts, lists, strings, numbers) with :func:`redact` applied to every
    string in it, keys included."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact_json(k): redact_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_json(v) for v in value]
    return value
