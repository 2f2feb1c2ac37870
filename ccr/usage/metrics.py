"""`GET /metrics`: the proxy's figures in Prometheus' text format, one registry per app.

Every series is labelled by the resolved route's provider and model. A model that is not in
its provider's `models` list nor named by a route (a client may send any name to a provider
that lists none) is labelled `(other)`, so what clients send cannot grow the series without
bound. Requests that failed before routing are labelled `(none)`.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from ccr.config import Config, split_route
from ccr.proxy.records import RequestRecord

__all__ = ["Metrics", "CONTENT_TYPE", "Labels"]

CONTENT_TYPE = CONTENT_TYPE_LATEST
OTHER, NONE = "(other)", "(none)"
_LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160, 320, 600)
_TTFB_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64)


class Labels:
    """(provider, model) label values for a config: known names, else `(other)`."""

    def __init__(self, config: Config) -> None:
        self.config = config
        known = {(p.name, m) for p in config.providers for m in (*p.models, *p.model_use)}
        for route in (config.router.default, config.router.background, config.router.think,
                      config.router.long_context, config.router.web_search, config.router.image):
            if route:
                provider, model = split_route(route)
                found = config.provider(provider)
                if found is not None:
                    known.add((found.name, found.find_model(model) or model))
        self._known = frozenset(known)
        self._providers = frozenset(p.name for p in config.providers)

    def of(self, provider: str, model: str) -> tuple[str, str]:
        if not provider:
            return NONE, NONE
        if provider not in self._providers:
            return OTHER, OTHER
        return provider, model if (provider, model) in self._known else OTHER


class Metrics:
    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        route = ("provider", "model")
        self.requests = Counter("ccr_requests", "Proxied requests", (*route, "front"), registry=r)
        self.errors = Counter("ccr_request_errors", "Proxied requests that failed, by HTTP status",
                              (*route, "status"), registry=r)
        self.tokens = Counter("ccr_tokens", "Tokens by kind: input, output, cache_read, cache_write",
                              (*route, "kind"), registry=r)
        self.cost = Counter("ccr_cost_usd", "Spend in USD of requests with a known price", route,
                            registry=r)
        self.unpriced = Counter("ccr_unpriced_requests", "Requests whose model has no known price",
                                route, registry=r)
        self.fallbacks = Counter("ccr_fallbacks", "Requests answered by a fallback target", route,
                                 registry=r)
        self.clamped = Counter("ccr_max_tokens_clamped", "Requests whose max_tokens was lowered "
                               "to the model's output limit", route, registry=r)
        self.latency = Histogram("ccr_request_duration_seconds", "Time from request to last byte",
                                 route, buckets=_LATENCY_BUCKETS, registry=r)
        self.ttfb = Histogram("ccr_time_to_first_byte_seconds", "Time until the provider's "
                              "answer started", route, buckets=_TTFB_BUCKETS, registry=r)
        self.open_streams = Gauge("ccr_open_streams", "Event streams being sent to clients now",
                                  registry=r)

    def observe(self, record: RequestRecord, provider: str, model: str) -> None:
        self.requests.labels(provider, model, record.front).inc()
        if record.status >= 400:
            self.errors.labels(provider, model, str(record.status)).inc()
        for kind, count in (("input", record.input_tokens), ("output", record.output_tokens),
                            ("cache_read", record.cache_read_tokens),
                            ("cache_write", record.cache_write_tokens)):
            if count:
                self.tokens.labels(provider, model, kind).inc(count)
        if record.cost_usd is not None:
            self.cost.labels(provider, model).inc(record.cost_usd)
        elif record.status < 400 and (record.input_tokens or record.output_tokens):
            self.unpriced.labels(provider, model).inc()
        if record.fallback:
            self.fallbacks.labels(provider, model).inc()
        if record.max_tokens_clamped is not None:
            self.clamped.labels(provider, model).inc()
        self.latency.labels(provider, model).observe(record.latency_ms / 1000)
        if record.ttfb_ms is not None:
            self.ttfb.labels(provider, model).observe(record.ttfb_ms / 1000)

    def render(self) -> bytes:
        return generate_latest(self.registry)
