"""Running the Claude Code CLI for callers: sync, async tasks, batch and workflows."""
