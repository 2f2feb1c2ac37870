"""What requests cost and what models can take: the layer between execution and the proxy.

    catalogue.py  context windows, output limits and prices (models.dev data, offline; the
                  config's `model_info` over it)
    limits.py     the request adjuster: max_tokens lowered to the model's output limit, requests
                  too large for its context window sent to Router.longContext or refused
    store.py      the `Store` protocol, its rows and answers
    sqlite.py     the store in `$CCR_HOME/usage.sqlite3`
    ledger.py     the writer thread: rows in batches, queries in order, retention
    metrics.py    Prometheus counters and histograms (`GET /metrics`)
    observe.py    the record observer: prices each finished request, counts it, keeps it
"""
