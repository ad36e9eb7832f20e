"""What operators watch: ``/metrics`` for Prometheus, and JSON logs with a request id.

The portal's own figures are read from the database when Prometheus scrapes
(``collector``), so every web process answers the same whatever the number of web and
worker nodes. ``logs`` gives each request an id that its log lines and the background
tasks it queued carry.
"""
