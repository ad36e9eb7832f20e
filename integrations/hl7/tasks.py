"""No tasks of its own: each object is sent by the core's durable work
(``portal.outbound.sending.send_transmission``), which calls this integration's kind."""
