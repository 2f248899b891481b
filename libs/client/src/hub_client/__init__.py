"""The integrations hub for the platform's services: fresh provider credentials
(``HubClient.credentials``), an ``httpx.Auth`` placing them as the catalog says
(``provider_auth``), and onboarding submissions sealed to the hub's public key
(``seal_submission``, ``connection_requested``)."""

from hub_client.auth import ProviderAuth, provider_auth
from hub_client.client import HubClient
from hub_client.errors import (
    AccessDenied,
    HubError,
    HubUnavailable,
    NotConnected,
    ReconnectRequired,
)
from hub_client.models import Credential
from hub_client.submissions import connection_requested, fetch_submission_key, seal_submission

__all__ = [
    "AccessDenied",
    "Credential",
    "HubClient",
    "HubError",
    "HubUnavailable",
    "NotConnected",
    "ProviderAuth",
    "ReconnectRequired",
    "connection_requested",
    "fetch_submission_key",
    "provider_auth",
    "seal_submission",
]
