"""Config: read claude-code-router's `config.json` (JSON5) into frozen dataclasses, once.

Everything else reads typed fields; no other module looks at raw keys or spelling variants.
Errors name the key path and the fix (`Providers[2].api_base_url: missing ...`), and every
problem in a file is reported at once.

    home   = config_home()                    # ~/.claude-code-router, or $CCR_HOME
    path   = config_path()                    # home/config.json, or $CCR_CONFIG
    config = load(path)                       # raises ConfigError listing every problem
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import json5

from ccr.errors import ConfigError

from . import extras, fallback, limits, usage
from .guards import Access, access_settings

__all__ = [
    "Config",
    "ProviderConfig",
    "RouterConfig",
    "TransformerSpec",
    "PluginSpec",
    "config_home",
    "config_path",
    "load",
    "parse",
    "read_raw",
    "interpolate",
    "default_config_text",
    "split_route",
    "DEFAULT_PORT",
]

DEFAULT_PORT = 3456
_ENV_REF = re.compile(r"\$\{([^}]+)\}|\$([A-Z_][A-Z0-9_]*)")
_LOG_LEVELS = ("fatal", "error", "warn", "warning", "info", "debug", "trace")


@dataclass(frozen=True, slots=True)
class TransformerSpec:
    """One entry of a `use` list: `"name"` or `["name", {options}]`."""

    name: str
    options: Mapping[str, Any] = field(default_factory=dict)
    where: str = ""  # key path, for error messages


@dataclass(frozen=True, slots=True)
class PluginSpec:
    """One entry of the top-level `transformers` list: a Python file defining a transformer."""

    path: str
    options: Mapping[str, Any] = field(default_factory=dict)
    where: str = ""


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    name: str
    api_base_url: str
    api_keys: tuple[str, ...] = ()  # empty: send no auth header (local servers)
    models: tuple[str, ...] = ()
    use: tuple[TransformerSpec, ...] = ()
    model_use: Mapping[str, tuple[TransformerSpec, ...]] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def api_key(self) -> str:
        return self.api_keys[0] if self.api_keys else ""

    def find_model(self, model: str) -> str | None:
        """The canonical spelling of `model` in this provider's list (case-insensitive)."""
        lowered = model.lower()
        for known in self.models:
            if known.lower() == lowered:
                return known
        return None


@dataclass(frozen=True, slots=True)
class RouterConfig:
    default: str | None = None
    background: str | None = None
    think: str | None = None
    long_context: str | None = None
    long_context_threshold: int = 60000
    web_search: str | None = None
    image: str | None = None


@dataclass(frozen=True, slots=True)
class Config:
    """The whole config, interpolated and typed. `raw` is the file as written ($VARs kept)."""

    providers: tuple[ProviderConfig, ...] = ()
    router: RouterConfig = field(default_factory=RouterConfig)
    apikey: str | None = None
    access: Access = field(default_factory=Access)  # ADMIN_APIKEY, IDLE_TIMEOUT_MS
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    log: bool = True
    log_level: str = "info"
    log_max_files: int = 3
    log_max_bytes: int = 50 * 1024 * 1024
    api_timeout_ms: int = 600_000
    keepalive_ms: int = 15_000  # ping events while a provider is silent mid-stream
    proxy_url: str | None = None
    non_interactive_mode: bool = False
    custom_router_path: str | None = None
    rewrite_system_prompt: str | None = None
    force_use_image_agent: bool = False
    claude_path: str | None = None
    plugins: tuple[PluginSpec, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict)
    data: Mapping[str, Any] = field(default_factory=dict)  # interpolated, for sections parsed elsewhere
    path: Path | None = None
    home: Path = field(default_factory=lambda: config_home())

    def provider(self, name: str) -> ProviderConfig | None:
        """Look a provider up by name, case-insensitively."""
        lowered = name.lower()
        for provider in self.providers:
            if provider.name.lower() == lowered:
                return provider
        return None

    def route_problem(self, where: str, route: str) -> str | None:
        """What is wrong with a "provider,model" route (a Router rule or a fallback target)."""
        provider_name, model = split_route(route)
        if not model:
            return f'{where}: {route!r} must be written "provider,model"'
        if (provider := self.provider(provider_name)) is None:
            names = ", ".join(p.name for p in self.providers) or "none configured"
            return f"{where}: provider {provider_name!r} does not exist (providers: {names})"
        if provider.models and provider.find_model(model) is None:
            return (f"{where}: model {model!r} is not in {provider.name}'s models "
                    f"({', '.join(provider.models)}); add it there or fix the route")
        return None

    @property
    def setup_mode(self) -> bool:
        return not self.providers

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"


def config_home() -> Path:
    env = os.environ.get("CCR_HOME")
    return Path(env).expanduser() if env else Path.home() / ".claude-code-router"


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get("CCR_CONFIG")
    return Path(env).expanduser() if env else config_home() / "config.json"


def default_config_text() -> str:
    """The commented default written on first start (the same text as config.example.json5)."""
    return resources.files("ccr").joinpath("config.example.json5").read_text(encoding="utf-8")


def read_raw(path: Path) -> dict[str, Any]:
    """Parse a JSON5 file; a syntax error names the file, line and column."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror}") from None
    return parse_text(text, str(path))


_JSON5_ERROR = re.compile(r"^<string>:(\d+) (.*?)(?: at column (\d+))?$", re.S)


def parse_text(text: str, source: str) -> dict[str, Any]:
    try:
        data = json5.loads(text) if text.strip() else {}
    except (ValueError, RecursionError) as exc:  # RecursionError: nested thousands of levels deep
        raise ConfigError(_syntax_message(source, text, str(exc))) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the config must be a JSON object, got {type(data).__name__}")
    return data


def _syntax_message(source: str, text: str, error: str) -> str:
    """`config.json: syntax error at line 4, column 17: Unexpected ","` plus the line itself."""
    match = _JSON5_ERROR.match(error.strip())
    if not match:
        return f"{source}: syntax error: {error}. Fix the JSON5 syntax there."
    line, what, column = int(match.group(1)), match.group(2), match.group(3)
    where = f"line {line}, column {column}" if column else f"line {line}"
    lines = text.splitlines()
    shown = f"\n    {line} | {lines[line - 1].rstrip()}" if 0 < line <= len(lines) else ""
    return (f"{source}: syntax error at {where}: {what}{shown}\n"
            "  Fix the JSON5 syntax there (comments and trailing commas are fine; "
            "check for a missing or doubled comma, quote or bracket).")


def interpolate(value: Any, missing: list[str], where: str = "") -> Any:
    """Replace `$VAR` and `${VAR}` in every string value from the environment.

    Unset (or empty) variables are collected in `missing` with their key path, so start-up can
    report them instead of sending the literal text to a provider.
    """
    if isinstance(value, str):
        if "$" not in value:
            return value

        def sub(match: re.Match[str]) -> str:
            name = match.group(1) or match.group(2)
            found = os.environ.get(name)
            if not found:
                missing.append(f"{where or '(root)'}: environment variable ${name} is not set")
                return match.group(0)
            return found

        return _ENV_REF.sub(sub, value)
    if isinstance(value, dict):
        return {k: interpolate(v, missing, f"{where}.{k}" if where else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, missing, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def split_route(value: str) -> tuple[str, str]:
    """`"provider,model"` → ("provider", "model"); the model may itself contain commas."""
    provider, _, model = value.partition(",")
    return provider.strip(), model.strip()


def load(path: Path, *, home: Path | None = None) -> Config:
    return parse(read_raw(path), path=path, home=home)


def parse(raw: Mapping[str, Any], *, path: Path | None = None, home: Path | None = None,
          env_must_resolve: bool = True, problems: list[str] | None = None) -> Config:
    """Validate a raw config dict into a `Config`, or raise ConfigError listing every problem.

    With a `problems` list, nothing is raised: problems are appended to it and a best-effort
    Config is returned (so that later checks, e.g. of transformer chains, can still run).
    """
    collect = problems is not None
    problems = problems if problems is not None else []
    missing: list[str] = []
    data = limits.finite_only(interpolate(dict(raw), missing), problems)  # JSON5 reads NaN
    if env_must_resolve:
        problems.extend(missing)
    reader = _Reader(data, problems)

    providers = _providers(data.get("Providers", data.get("providers", [])), problems)
    router = _router(data.get("Router", {}), problems)
    plugins = _plugins(data.get("transformers", []), problems)

    host = reader.string("HOST") or "127.0.0.1"
    port = reader.integer("PORT", DEFAULT_PORT, 1, 65535)
    if os.environ.get("SERVICE_PORT", "").isdigit():
        port = int(os.environ["SERVICE_PORT"])
    apikey = reader.string("APIKEY") or None
    access = access_settings(data, host, apikey, problems)  # ccr.config.guards
    log_level = (reader.string("LOG_LEVEL") or "info").lower()
    if log_level not in _LOG_LEVELS:
        problems.append(f"LOG_LEVEL: {log_level!r} is not one of {', '.join(_LOG_LEVELS)}")

    config = Config(
        providers=tuple(providers),
        router=router,
        apikey=apikey,
        access=access,
        host=host,
        port=port,
        log=reader.boolean("LOG", True),
        log_level=log_level,
        log_max_files=reader.integer("LOG_MAX_FILES", 3, 1, 1000),
        log_max_bytes=reader.integer("LOG_MAX_SIZE_MB", 50, 1, 100_000) * 1024 * 1024,
        api_timeout_ms=reader.integer("API_TIMEOUT_MS", 600_000, 1000, 24 * 3600 * 1000),
        keepalive_ms=reader.integer("KEEPALIVE_MS", 15_000, 100, 600_000),
        proxy_url=reader.string("PROXY_URL") or reader.string("HTTPS_PROXY") or None,
        non_interactive_mode=reader.boolean("NON_INTERACTIVE_MODE", False),
        custom_router_path=reader.string("CUSTOM_ROUTER_PATH") or None,
        rewrite_system_prompt=reader.string("REWRITE_SYSTEM_PROMPT") or None,
        force_use_image_agent=reader.boolean("forceUseImageAgent", False),
        claude_path=reader.string("CLAUDE_PATH") or None,
        plugins=tuple(plugins),
        raw=dict(raw),
        data=data,
        path=path,
        home=home or (path.parent if path is not None else config_home()),
    )
    _check_routes(config, problems)
    problems.extend(extras.problems(data) + fallback.problems(config) + limits.problems(data))
    problems.extend(usage.usage_problems(data))  # USAGE_RETENTION_DAYS, Providers[].model_info
    if problems and not collect:
        where = f"{path}: " if path else ""
        raise ConfigError(f"{where}invalid config:\n  - " + "\n  - ".join(problems), problems)
    return config


class _Reader:
    """Typed access to top-level keys; wrong types become problems, not crashes."""

    def __init__(self, data: Mapping[str, Any], problems: list[str]) -> None:
        self.data, self.problems = data, problems

    def string(self, key: str) -> str:
        value = self.data.get(key)
        if value is None:
            return ""
        if not isinstance(value, str):
            self.problems.append(f"{key}: expected a string, got {type(value).__name__}")
            return ""
        return value.strip()

    def integer(self, key: str, default: int, low: int, high: int) -> int:
        value = self.data.get(key)
        if value is None or value == "":
            return default
        if isinstance(value, str) and value.strip().isdigit():  # the UI stores numbers as text
            value = int(value.strip())
        if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
            self.problems.append(f"{key}: expected a whole number, got {value!r}")
            return default
        if not low <= value <= high:
            self.problems.append(f"{key}: {value} is out of range {low}..{high}")
            return default
        return int(value)

    def boolean(self, key: str, default: bool) -> bool:
        value = self.data.get(key)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        self.problems.append(f"{key}: expected true or false, got {value!r}")
        return default


def _use_list(value: Any, where: str, problems: list[str]) -> tuple[TransformerSpec, ...]:
    if not isinstance(value, list):
        problems.append(f"{where}: expected a list of transformer names, got {type(value).__name__}")
        return ()
    specs = []
    for i, item in enumerate(value):
        at = f"{where}[{i}]"
        if isinstance(item, str) and item.strip():
            specs.append(TransformerSpec(item.strip(), {}, at))
        elif (isinstance(item, list) and len(item) in (1, 2) and isinstance(item[0], str)
              and (len(item) == 1 or isinstance(item[1], dict))):
            specs.append(TransformerSpec(item[0].strip(), dict(item[1]) if len(item) == 2 else {}, at))
        else:
            problems.append(f'{at}: expected "name" or ["name", {{options}}], got {item!r}')
    return tuple(specs)


def _providers(value: Any, problems: list[str]) -> list[ProviderConfig]:
    if not isinstance(value, list):
        problems.append("Providers: expected a list of providers")
        return []
    providers: list[ProviderConfig] = []
    seen: set[str] = set()
    for i, item in enumerate(value):
        at = f"Providers[{i}]"
        if not isinstance(item, dict):
            problems.append(f"{at}: expected an object with name, api_base_url, api_key, models")
            continue
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            problems.append(f"{at}.name: missing; every provider needs a unique name")
            continue
        name = name.strip()
        at = f"Providers[{i}] ({name})"
        if "," in name:
            problems.append(f"{at}.name: must not contain a comma (routes are written provider,model)")
        if name.lower() in seen:
            problems.append(f"{at}.name: another provider already has this name")
        seen.add(name.lower())
        url = item.get("api_base_url", item.get("baseUrl"))
        if not isinstance(url, str) or not url.strip():
            problems.append(f"{at}.api_base_url: missing; give the provider's full endpoint URL, "
                            "e.g. https://api.openai.com/v1/chat/completions")
            url = ""
        elif not re.match(r"^https?://", url.strip()):
            problems.append(f"{at}.api_base_url: {url!r} must start with http:// or https://")
        keys_value = item.get("api_key", item.get("api_keys", ""))
        if isinstance(keys_value, str):
            keys = (keys_value.strip(),) if keys_value.strip() else ()
        elif isinstance(keys_value, list) and all(isinstance(k, str) for k in keys_value):
            keys = tuple(k.strip() for k in keys_value if k.strip())
        else:
            problems.append(f"{at}.api_key: expected a string or a list of strings")
            keys = ()
        models = item.get("models", [])
        if not isinstance(models, list) or not all(isinstance(m, str) for m in models):
            problems.append(f"{at}.models: expected a list of model names")
            models = []
        headers = item.get("headers", {})
        if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
            problems.append(f"{at}.headers: expected an object of header names to string values")
            headers = {}
        use: tuple[TransformerSpec, ...] = ()
        model_use: dict[str, tuple[TransformerSpec, ...]] = {}
        transformer = item.get("transformer")
        if transformer is not None:
            if not isinstance(transformer, dict):
                problems.append(f'{at}.transformer: expected {{"use": [...], "<model>": {{"use": [...]}}}}')
            else:
                for key, sub in transformer.items():
                    if key == "use":
                        use = _use_list(sub, f"{at}.transformer.use", problems)
                    elif isinstance(sub, dict) and "use" in sub:
                        model_use[key] = _use_list(sub["use"], f"{at}.transformer.{key}.use", problems)
                    else:
                        problems.append(f'{at}.transformer.{key}: expected {{"use": [...]}} for model {key!r}')
        providers.append(ProviderConfig(
            name=name,
            api_base_url=url.strip(),
            api_keys=keys,
            models=tuple(m.strip() for m in models),
            use=use,
            model_use=model_use,
            headers=dict(headers),
        ))
    return providers


_ROUTER_KEYS = {
    "default": "default",
    "background": "background",
    "think": "think",
    "longContext": "long_context",
    "webSearch": "web_search",
    "image": "image",
}


def _router(value: Any, problems: list[str]) -> RouterConfig:
    if not isinstance(value, dict):
        problems.append('Router: expected an object like {"default": "provider,model"}')
        return RouterConfig()
    fields: dict[str, Any] = {}
    for key, attr in _ROUTER_KEYS.items():
        route = fallback.primary(value.get(key))  # a list: its first route; the rest are fallbacks
        if route is None or route == "":
            continue
        if not isinstance(route, str):
            problems.append(f'Router.{key}: expected "provider,model", got {route!r}')
            continue
        fields[attr] = route.strip()
    threshold = value.get("longContextThreshold", 60000)
    if isinstance(threshold, str) and threshold.strip().isdigit():
        threshold = int(threshold)
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold <= 0:
        problems.append(f"Router.longContextThreshold: expected a positive whole number, got {threshold!r}")
        threshold = 60000
    return RouterConfig(long_context_threshold=threshold, **fields)


def _check_routes(config: Config, problems: list[str]) -> None:
    for key, attr in _ROUTER_KEYS.items():
        route = getattr(config.router, attr)
        if route is not None and (problem := config.route_problem(f"Router.{key}", route)):
            problems.append(problem)
    if config.providers and config.router.default is None:
        problems.append('Router.default: missing; set it to "provider,model" (used when no other rule matches)')


def _plugins(value: Any, problems: list[str]) -> list[PluginSpec]:
    if not isinstance(value, list):
        problems.append('transformers: expected a list of {"path": "...", "options": {...}}')
        return []
    plugins = []
    for i, item in enumerate(value):
        at = f"transformers[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("path"), str) or not item["path"].strip():
            problems.append(f'{at}: expected {{"path": "/path/to/plugin.py", "options": {{...}}}}')
            continue
        options = item.get("options", {})
        if not isinstance(options, dict):
            problems.append(f"{at}.options: expected an object")
            options = {}
        plugins.append(PluginSpec(str(Path(item["path"].strip()).expanduser()), options, at))
    return plugins
