"""Nothing to register: the destinations and their delivery log are in the core's admin
and pages (``portal.outbound``)."""
