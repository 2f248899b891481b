"""The monitor's use case: check one connection, report what changed."""

from health_monitor.service.monitor import HealthMonitor, Policy, Report
from health_monitor.service.platform import PlatformAccounts
from health_monitor.service.ports import Prober, Publisher

__all__ = ["HealthMonitor", "PlatformAccounts", "Policy", "Prober", "Publisher", "Report"]
