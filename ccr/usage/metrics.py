"""`GET /metrics`: the proxy's figures in Prometheus' text format, one registry per app.

Every series is labelled by the resolved route's provider and model. A model that is not in
its provider's `models` list nor named by a route (a client may send any name to a provider
that lists none) is labelled `(other)`, so what clients send cannot grow the series without
bound. Requests that failed before routing are labelled `(none)`.

The counting runs once per request on the event loop, so it is plain integers in a dict per
route; prometheus-client only renders them, at scrape time, through a collector of ours
(its own metric objects take a lock per operation: several times the cost of all the rest).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from ccr.config import Config, split_route
from ccr.proxy.records import RequestRecord

__all__ = ["Metrics", "CONTENT_TYPE", "Labels"]

CONTENT_TYPE = CONTENT_TYPE_LATEST
OTHER, NONE = "(other)", "(none)"
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 320.0, 600.0)
TTFB_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)
_KINDS = ("input", "output", "cache_read", "cache_write")
_MAX_SERIES = 4096


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


class _Histogram:
    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last one is +Inf
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1  # the first bound >= value: le semantics
        self.sum += value

    def buckets(self) -> list[tuple[str, float]]:
        out: list[tuple[str, float]] = []
        total = 0
        for bound, count in zip((*map(str, self.bounds), "+Inf"), self.counts, strict=True):
            total += count
            out.append((bound, total))
        return out


class _Series:
    """Everything counted for one (provider, model, front)."""

    __slots__ = ("clamped", "cost", "fallbacks", "latency", "priced", "requests", "tokens", "ttfb",
                 "unpriced")

    def __init__(self) -> None:
        self.requests = self.fallbacks = self.clamped = self.unpriced = 0
        self.tokens = [0, 0, 0, 0]
        self.cost, self.priced = 0.0, False
        self.latency, self.ttfb = _Histogram(LATENCY_BUCKETS), _Histogram(TTFB_BUCKETS)


class Metrics(Collector):
    def __init__(self, open_streams: Callable[[], int] = lambda: 0) -> None:
        self._series: dict[tuple[str, str, str], _Series] = {}
        self._errors: dict[tuple[str, str, str], int] = {}
        self._open_streams = open_streams  # the server counts them (ccr.server.api.stream_out)
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)

    def observe(self, record: RequestRecord, provider: str, model: str) -> None:
        """Once per request, on the loop."""
        key = (provider, model, record.front)
        series = self._series.get(key)
        if series is None:
            if len(self._series) >= _MAX_SERIES:  # only a config churning through models gets here
                self._series.clear()
            series = self._series[key] = _Series()
        series.requests += 1
        if record.status >= 400:
            error = (provider, model, str(record.status))
            self._errors[error] = self._errors.get(error, 0) + 1
        tokens = series.tokens
        tokens[0] += record.input_tokens
        tokens[1] += record.output_tokens
        tokens[2] += record.cache_read_tokens
        tokens[3] += record.cache_write_tokens
        if record.cost_usd is not None:
            series.cost += record.cost_usd
            series.priced = True
        elif record.status < 400 and (record.input_tokens or record.output_tokens):
            series.unpriced += 1
        series.fallbacks += record.fallback
        series.clamped += record.max_tokens_clamped is not None
        series.latency.observe(record.latency_ms / 1000)
        if record.ttfb_ms is not None:
            series.ttfb.observe(record.ttfb_ms / 1000)

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def collect(self) -> Iterator[Metric]:
        route = ["provider", "model"]
        requests = CounterMetricFamily("ccr_requests", "Proxied requests", labels=[*route, "front"])
        errors = CounterMetricFamily("ccr_request_errors", "Proxied requests that failed, by HTTP status",
                                     labels=[*route, "status"])
        tokens = CounterMetricFamily("ccr_tokens", "Tokens by kind: input, output, cache_read, cache_write",
                                     labels=[*route, "kind"])
        cost = CounterMetricFamily("ccr_cost_usd", "Spend in USD of requests with a known price", labels=route)
        unpriced = CounterMetricFamily("ccr_unpriced_requests", "Answered requests whose model has no "
                                       "known price", labels=route)
        fallbacks = CounterMetricFamily("ccr_fallbacks", "Requests answered by a fallback target", labels=route)
        clamped = CounterMetricFamily("ccr_max_tokens_clamped", "Requests whose max_tokens was lowered to "
                                      "the model's limit", labels=route)
        latency = HistogramMetricFamily("ccr_request_duration_seconds", "Time from request to last byte",
                                        labels=route)
        ttfb = HistogramMetricFamily("ccr_time_to_first_byte_seconds", "Time until the provider's answer "
                                     "started", labels=route)
        per_route: dict[tuple[str, str], list[_Series]] = {}
        for (provider, model, front), series in self._series.items():
            requests.add_metric([provider, model, front], series.requests)
            per_route.setdefault((provider, model), []).append(series)
        for labels, count in self._errors.items():
            errors.add_metric(list(labels), count)
        for (provider, model), group in per_route.items():
            names = [provider, model]
            for i, kind in enumerate(_KINDS):
                if any(s.tokens[i] for s in group):
                    tokens.add_metric([*names, kind], sum(s.tokens[i] for s in group))
            if any(s.priced for s in group):  # no series for an unpriced model: 0 would read "free"
                cost.add_metric(names, sum(s.cost for s in group))
            for family, value in ((unpriced, sum(s.unpriced for s in group)),
                                  (fallbacks, sum(s.fallbacks for s in group)),
                                  (clamped, sum(s.clamped for s in group))):
                if value:
                    family.add_metric(names, value)
            for histogram, hists in ((latency, [s.latency for s in group]), (ttfb, [s.ttfb for s in group])):
                merged = _Histogram(hists[0].bounds)
                for h in hists:
                    merged.counts = [a + b for a, b in zip(merged.counts, h.counts, strict=True)]
                    merged.sum += h.sum
                histogram.add_metric(names, merged.buckets(), merged.sum)
        streams = GaugeMetricFamily("ccr_open_streams", "Streamed replies being sent to clients now",
                                    value=self._open_streams())
        yield from (requests, errors, tokens, cost, unpriced, fallbacks, clamped, latency, ttfb, streams)
