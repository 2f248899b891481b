"""The notifier's rules, without I/O: incidents, where a message goes, deliveries and their
retries, and the messages themselves."""
