"""The notifier's use cases over its ports (no I/O library): triage turns events into incidents
and notifications, the planner turns notifications into deliveries, the dispatcher sends them."""
