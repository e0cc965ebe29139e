"""The dispatch domain's HTTP routers: dispatches, patrol units and positions."""
