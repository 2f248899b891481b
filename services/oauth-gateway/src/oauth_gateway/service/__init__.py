"""The use cases: connect by OAuth (``oauth``) or by typed values (``keys``), revoke on
disconnect (``revocations``), list what a brand can pick (``resources``), over the ports of
``ports``; no I/O."""

from oauth_gateway.service.keys import Connected, KeyConnections
from oauth_gateway.service.oauth import CallbackOutcome, OAuthFlows, Started
from oauth_gateway.service.ports import Events, PendingFlow, PendingFlows, Providers
from oauth_gateway.service.resources import Resources
from oauth_gateway.service.revocations import Revocations

__all__ = [
    "CallbackOutcome",
    "Connected",
    "Events",
    "KeyConnections",
    "OAuthFlows",
    "PendingFlow",
    "PendingFlows",
    "Providers",
    "Resources",
    "Revocations",
    "Started",
]
