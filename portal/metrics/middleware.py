"""django-prometheus's request metrics, made safe for hostile requests.

Its after-middleware reads ``Content-Length`` with a bare ``int()``: a request declaring
``Content-Length: abc`` raised before any view ran, a 500 for what must be a 4xx. The
body-size figure here counts such a request as 0 bytes and leaves the answer to the view.
"""

from django_prometheus.middleware import PrometheusAfterMiddleware, Time


def declared_length(request) -> int:
    value = request.headers.get("content-length") or ""
    return int(value) if value.isascii() and value.isdigit() else 0


class AfterMiddleware(PrometheusAfterMiddleware):
    def process_request(self, request):
        transport = self._transport(request)
        method = self._method(request)
        self.label_metric(self.metrics.requests_by_method, request, method=method).inc()
        self.label_metric(self.metrics.requests_by_transport, request, transport=transport).inc()
        if request.headers.get("x-requested-with") == "XMLHttpRequest":
            self.label_metric(self.metrics.requests_ajax, request).inc()
        self.label_metric(self.metrics.requests_body_bytes, request).observe(
            declared_length(request)
        )
        request.prometheus_after_middleware_event = Time()
