"""One redaction for everything harness records or shows: the store, the report, errors.

A model plugin that holds a secret (an API key it read from the environment, the password in
a URL it was given) registers it with :func:`register_secret`, whatever its length.
:func:`redact` replaces its bytes in the text where a secret can occur: what a server sent
back (an answer that echoes the key), an error message, a provenance or settings value. The
credentials part (``user:password@``) of every URL is masked too, registered or not.

Redaction is applied to values, never to names: a task, a model, a JSON key or a prompt the
harness built is left as it is, so a secret that is also an ordinary word (a user name
``sentiment``, a key ``negative``) cannot rewrite the data. Where the text sent to a server
already held the secret's bytes (a prompt asking ``positive or negative?``), the answer's copy
of them is the data's, not a leak, and is kept (``sent=``).
"""
from __future__ import annotations

import re
import threading
from typing import Any
from urllib.parse import urlsplit

#: what a secret is replaced with
MASK = "***"
#: the credentials of a URL: ``scheme://user:password@`` up to the last ``@`` of the authority
#: (a password may hold an unencoded ``@``)
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s?#]*@")

_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Mask ``value`` (any non-empty string) wherever :func:`redact` is applied from now on
    (in this process)."""
    if value:
        with _lock:
            _secrets.add(value)


def register_url(url: str | None) -> None:
    """Mask the password of ``url`` wherever it appears (the whole ``user:password@`` part of a
    URL is masked anyway; a user name alone is not a secret)."""
    if not url:
        return
    try:
        register_secret(urlsplit(url).password)
    except ValueError:
        return


def mask_credentials(text: Any) -> Any:
    """``text`` with the ``user:password@`` part of every URL in it replaced by ``***@``."""
    if not isinstance(text, str) or "@" not in text:
        return text
    return _USERINFO.sub(lambda m: m.group(1) + MASK + "@", text)


def redact(text: Any, sent: str = "") -> Any:
    """``text`` with every registered secret (except one that ``sent``, the text that went to
    the server, holds too) and every URL's credentials replaced by ``***``.

    Registered secrets go first: a password with an ``@`` in it is then masked whole before
    the URL pattern looks for the end of the credentials."""
    if not isinstance(text, str):
        return text
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text and secret not in sent:
            text = text.replace(secret, MASK)
    return mask_credentials(text)


def redact_json(value: Any, sent: str = "") -> Any:
    """A JSON-like value (dicts, lists, strings, numbers) with :func:`redact` applied to every
    string value in it; keys are names and are left as they are."""
    if isinstance(value, str):
        return redact(value, sent)
    if isinstance(value, dict):
        return {k: redact_json(v, sent) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_json(v, sent) for v in value]
    return value
