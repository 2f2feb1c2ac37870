"""The `ccr` command. It starts the server or talks to a running one over HTTP."""
