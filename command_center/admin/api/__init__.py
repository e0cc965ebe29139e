"""The administration domain's HTTP routers: cameras, watch lists and enrolment."""
