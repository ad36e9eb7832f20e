"""No models of its own: the EHR (HL7 v2) destinations and their delivery log are the core's
rows (``portal.outbound.models``: Destination, Transmission); this integration is the
protocol, registered as a destination kind in ``apps.py``."""
