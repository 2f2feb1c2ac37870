"""One request through the Router, a provider's transformer chain and the provider's HTTP API.

Knows nothing of the server: callers hand it a client session and a runtime snapshot.
"""
