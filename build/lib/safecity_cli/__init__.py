"""The ``safecity`` command: one subcommand per service."""
