"""health-monitor: proves connections work, reports when one stops or starts working again."""
