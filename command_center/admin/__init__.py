"""Administration: cameras, watch lists and enrolment, retention and dead letters."""
