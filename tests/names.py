"""The default deployment's NATS names: the systems tests start run without ``nats.subject_prefix``."""

from pipeline.subjects import Subjects

subjects = Subjects()
