"""Provider sandbox: a development and test server that plays every catalog provider."""

from provider_sandbox.app import create_app
from provider_sandbox.conventions import (
    accepts,
    example_value,
    platform_environment,
    platform_value,
    shared_account_environment,
)
from provider_sandbox.settings import SandboxSettings
from provider_sandbox.state import Fault, FaultMode

__all__ = [
    "Fault",
    "FaultMode",
    "SandboxSettings",
    "accepts",
    "create_app",
    "example_value",
    "platform_environment",
    "platform_value",
    "shared_account_environment",
]
