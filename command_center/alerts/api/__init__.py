"""The alerts domain's HTTP routers: alerts, their lifecycle and escalations, plate reads, statistics."""
