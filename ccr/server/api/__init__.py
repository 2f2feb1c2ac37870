"""The HTTP handlers, one route table per concern; each parses, calls one domain function and
frames the answer."""
