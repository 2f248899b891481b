"""I/O at the edges: provider calls, Kafka consumers and publishers."""
