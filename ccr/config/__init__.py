"""What the user wrote, validated: config.json (JSON5) read once into frozen dataclasses.

    load.py         parse and validate (`load(path) -> Config`), the dataclasses
    store.py        atomic, backed-up writes of the file
    claude_code.py  the `ClaudeCode` section (the execution API's settings)
"""

from .guards import LOOPBACK_HOSTS
from .load import (
    DEFAULT_PORT,
    Config,
    PluginSpec,
    ProviderConfig,
    RouterConfig,
    TransformerSpec,
    config_home,
    config_path,
    default_config_text,
    interpolate,
    load,
    parse,
    read_raw,
    split_route,
)

__all__ = [
    "DEFAULT_PORT",
    "LOOPBACK_HOSTS",
    "Config",
    "PluginSpec",
    "ProviderConfig",
    "RouterConfig",
    "TransformerSpec",
    "config_home",
    "config_path",
    "default_config_text",
    "interpolate",
    "load",
    "parse",
    "read_raw",
    "split_route",
]
