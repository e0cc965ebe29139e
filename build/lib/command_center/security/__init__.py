"""Access layer of the command centre: who is calling (Principal), what they may do (permissions)."""
