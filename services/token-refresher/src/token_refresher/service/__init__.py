"""Use cases: refresh one ``token.expiring`` (``Refresher``) behind the ``TokenSource`` and
``EventSink`` ports; imports no I/O library."""

from token_refresher.service.limits import CallLimits
from token_refresher.service.ports import EventSink, Journal, Renewal, TokenSource
from token_refresher.service.refresher import Policy, Refresher

__all__ = ["CallLimits", "EventSink", "Journal", "Policy", "Refresher", "Renewal", "TokenSource"]
