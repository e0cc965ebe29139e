"""The records domain's HTTP routers: CRO persons, check-ins, arrests, crimes, missing persons and
bodies, vehicles, photo search."""
