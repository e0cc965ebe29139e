"""The ground floor's I/O: NATS connection, JetStream streams, the fleet's KV buckets, databases."""
