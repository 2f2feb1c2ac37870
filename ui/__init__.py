"""The web UI: static files served at /ui/."""
