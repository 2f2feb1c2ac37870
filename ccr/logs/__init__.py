"""Logging: structlog set-up (JSON lines, rotation, redaction), the log files, and reading them back."""
