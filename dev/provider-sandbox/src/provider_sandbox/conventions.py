"""What the sandbox accepts: platform credential values and the API-key rule.

A platform credential (OAuth client id and secret, Google Ads developer token) is valid when it
equals ``sandbox-{provider_id}-{name}`` (a client secret ends in ``+/=%:``); the local stack puts
those values in the services' environment under the catalog's ``env`` names. A value an admin
types for an API-key, client-credentials or token-exchange provider is accepted when it matches
the field's ``pattern`` and does not start with ``rejected``.
"""

from __future__ import annotations

import importlib
from typing import Any

from hub_catalog import Catalog, CredentialField

REJECTED_PREFIX = "rejected"

# The stdlib's regex parser: typeshed only describes its deprecated alias ``sre_parse``.
_parser: Any = importlib.import_module("re._parser")
_constants: Any = importlib.import_module("re._constants")


RESERVED = "+/=%:"
"""Characters a form decoder would change: every sandbox client secret ends with them, so each
client authentication is tested as RFC 6749 §2.3.1 encodes it (a ``+`` read as a space fails)."""


def platform_value(provider_id: str, name: str) -> str:
    """The value the sandbox expects for a platform credential."""
    value = f"sandbox-{provider_id}-{name}"
    return value + RESERVED if name == "client_secret" else value


def platform_environment(catalog: Catalog) -> dict[str, str]:
    """Every platform credential's environment variable, set to its sandbox value."""
    return {
        credential.env: platform_value(provider.id, credential.name)
        for provider in catalog.providers
        for credential in provider.platform_credentials
    }


def shared_account_environment(catalog: Catalog) -> dict[str, str]:
    """Every provider's shared platform account, set to values the sandbox accepts (the local
    stack's platform accounts; test suites leave them unset unless they test them)."""
    found: dict[str, str] = {}
    for provider in catalog.providers:
        account = provider.shared_account
        if account is None:
            continue
        fields = {field.name: field for field in provider.auth.fields}
        found |= {env: example_value(fields[name]) for name, env in account.fields.items()}
        found |= {env: f"sandbox-{provider.id}-{name}" for name, env in account.extra.items()}
    return found


def accepts(field: CredentialField, value: str) -> bool:
    """The API-key rule: the field's shape, and not a value a test marked as rejected."""
    return field.accepts(value) and not value.startswith(REJECTED_PREFIX)


def example_value(field: CredentialField) -> str:
    """A short value of the field's shape (``pattern``) that the sandbox accepts."""
    value = _example(_parser.parse(field.pattern))
    if not accepts(field, value):
        raise ValueError(f"cannot make an example of {field.name}'s pattern {field.pattern!r}")
    return value


def _example(parsed: Any) -> str:
    return "".join(_element(op, arg) for op, arg in parsed)


def _element(op: Any, arg: Any) -> str:
    c = _constants
    if op == c.LITERAL:
        return chr(arg)
    if op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
        low, _high, item = arg
        return _example(item) * int(low)
    if op == c.SUBPATTERN:
        return _example(arg[-1])
    if op == c.BRANCH:
        return _example(arg[1][0])
    if op == c.IN:
        return _member(arg)
    if op == c.ANY:
        return "x"
    if op == c.NOT_LITERAL:
        return "x" if arg != ord("x") else "y"
    if op == c.AT:
        return ""
    raise ValueError(f"unsupported regular expression element {op}")


def _member(items: Any) -> str:
    """A character of a ``[...]`` class or an escape such as ``\\S`` or ``\\d``."""
    c = _constants
    candidates = {c.CATEGORY_DIGIT: "7", c.CATEGORY_WORD: "a", c.CATEGORY_NOT_SPACE: "a"}
    for op, arg in items:
        if op == c.LITERAL:
            return chr(arg)
        if op == c.RANGE:
            return chr(arg[0])
        if op == c.CATEGORY and arg in candidates:
            return candidates[arg]
    raise ValueError("unsupported character class")
