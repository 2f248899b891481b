"""Service layers catch ``hub_providers.errors`` without loading an HTTP client."""

import subprocess
import sys


def test_the_error_types_import_without_httpx() -> None:
    code = (
        "import sys, hub_providers.errors, hub_providers;"
        "assert hub_providers.ProviderError is hub_providers.errors.ProviderError;"
        "print(sorted(m for m in ('httpx', 'httpcore', 'authlib') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_the_http_names_still_load_on_first_use() -> None:
    import hub_providers

    assert hub_providers.OutboundHttp.__module__ == "hub_providers.outbound"
    assert hub_providers.OAuthClient.__module__ == "hub_providers.oauth"
