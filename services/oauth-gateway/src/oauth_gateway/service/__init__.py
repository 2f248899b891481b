"""The service layer: connect flows over ports (flow store, event sink, providers), no I/O."""

from oauth_gateway.service.keys import Connected, KeyConnections
from oauth_gateway.service.oauth import CallbackOutcome, OAuthFlows, Started
from oauth_gateway.service.ports import (
    AccountFacts,
    EventSink,
    FlowStore,
    IssuedTokens,
    PendingFlow,
    Platform,
    ProviderPort,
)
from oauth_gateway.service.revocations import Revocations
from oauth_gateway.service.toolkit import Toolkit

__all__ = [
    "AccountFacts",
    "CallbackOutcome",
    "Connected",
    "EventSink",
    "FlowStore",
    "IssuedTokens",
    "KeyConnections",
    "OAuthFlows",
    "PendingFlow",
    "Platform",
    "ProviderPort",
    "Revocations",
    "Started",
    "Toolkit",
]
