"""ccr: a router that lets Claude Code and any Anthropic-API client talk to any LLM provider."""

__version__ = "0.1.0"
