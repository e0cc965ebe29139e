"""The security domain's HTTP routers: sign-in, users, API keys for hotels and integrations, the
audit trail."""
