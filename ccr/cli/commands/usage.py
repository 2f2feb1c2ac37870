"""`ccr usage` (today's and this month's spend per model) and `ccr model info PROVIDER,MODEL`.

    ccr usage              # from $CCR_HOME/usage.sqlite3 (or the shared database); service running or not
    ccr usage --json
    ccr model info deepseek,deepseek-chat

Both read files only (the ledger opened read-only, the config and the packaged catalogue); they
never need the service. Days and months are the terminal's local time.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime
from typing import Any

from ccr.config import split_route
from ccr.database.url import database_url
from ccr.errors import ConfigError
from ccr.usage.catalogue import Books, ModelInfo, base_catalogue
from ccr.usage.sqlite import FILENAME
from ccr.usage.store import Counters, Report
from ccr.usage.stores import store_opener

from .common import CLIError, config_file, home, read_config

__all__ = ["register", "add_info_action"]


def register(commands: Any) -> None:
    usage = commands.add_parser(
        "usage", help="what each model cost today and this month",
        description="Requests, tokens and spend per provider,model today and this month (local "
                    "time), from the usage ledger in the ccr home folder.")
    usage.add_argument("--json", action="store_true", help="print the figures as JSON")
    usage.set_defaults(func=run_usage)


def add_info_action(actions: Any) -> None:
    """`ccr model info`: registered by ccr/cli/commands/model.py on its actions."""
    info = actions.add_parser(
        "info", help="what ccr knows of a model: limits, prices, and where they come from",
        description="Context window, output limit and prices of PROVIDER,MODEL as ccr applies them: "
                    "the provider's model_info in the config over the packaged models.dev data.")
    info.add_argument("route", metavar="PROVIDER,MODEL")
    info.add_argument("--config", default=argparse.SUPPRESS, help="config file (default: the service's)")
    info.add_argument("--json", action="store_true", help="print it as JSON")
    info.set_defaults(func=run_info)


# ---- ccr usage -------------------------------------------------------------------------------

def run_usage(args: argparse.Namespace) -> int:
    config = read_config(config_file(None))
    try:
        shared = database_url(config) is not None
    except ConfigError as exc:
        raise CLIError(exc.message) from None
    path = home() / FILENAME
    if not shared and not path.exists():
        print("no usage recorded yet: the ledger is written by the running service (`ccr start`)")
        return 0
    now = time.time()
    local = datetime.now().astimezone()
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    month = day.replace(day=1)
    try:
        store = store_opener(config, readonly=True)()  # the shared database's ledger, or the file's
    except Exception as exc:  # sqlite3.Error, or psycopg's (which name host and port, no password)
        first_line = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise CLIError(f"cannot read the usage ledger: {first_line}") from None
    try:
        today = store.query(day.timestamp(), now + 1, None, "model")
        this_month = store.query(month.timestamp(), now + 1, None, "model")
    except Exception as exc:  # sqlite3.Error, psycopg.Error
        raise CLIError(f"cannot read the usage ledger: {exc}") from None
    finally:
        store.close()
    if args.json:
        print(json.dumps({"today": _as_json(today), "month": _as_json(this_month)}, indent=2))
        return 0
    _table(today, this_month, day, month)
    return 0


def _as_json(report: Report) -> dict[str, Any]:
    def one(c: Counters) -> dict[str, Any]:
        return {"requests": c.requests, "errors": c.errors, "input_tokens": c.input_tokens,
                "output_tokens": c.output_tokens, "cache_read_tokens": c.cache_read_tokens,
                "cache_write_tokens": c.cache_write_tokens, "cost_usd": c.cost_usd,
                "unpriced": c.unpriced}
    return {"total": one(report.total), "models": {r.key: one(r.counters) for r in report.rows}}


def _table(today: Report, month: Report, day: datetime, first: datetime) -> None:
    by_day = {r.key: r.counters for r in today.rows}
    keys = [r.key for r in sorted(month.rows, key=lambda r: -(r.counters.cost_usd or 0))]
    width = max([len("model"), *(len(k) for k in keys)])
    print(f"{'':{width}}  {'today (' + day.strftime('%Y-%m-%d') + ')':>36}  "
          f"{'this month (' + first.strftime('%Y-%m') + ')':>36}")
    print(f"{'model':{width}}  {_header()}  {_header()}")
    by_month = {r.key: r.counters for r in month.rows}
    for key in keys:
        print(f"{key:{width}}  {_cells(by_day.get(key))}  {_cells(by_month[key])}")
    print(f"{'total':{width}}  {_cells(today.total)}  {_cells(month.total)}")
    if month.total.unpriced:
        print(f"\n{month.total.unpriced} request(s) this month used a model with no known price; "
              "`ccr model info PROVIDER,MODEL` shows what ccr knows, and a provider's model_info "
              "in the config can add it.")


def _header() -> str:
    return f"{'requests':>8} {'tokens in':>10} {'out':>7} {'cost':>8}"


def _cells(c: Counters | None) -> str:
    if c is None:
        return f"{'-':>8} {'-':>10} {'-':>7} {'-':>8}"
    tokens_in = c.input_tokens + c.cache_read_tokens + c.cache_write_tokens
    return f"{c.requests:>8} {_short(tokens_in):>10} {_short(c.output_tokens):>7} {_money(c):>8}"


def _short(n: int) -> str:
    for size, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return str(n)


def _money(c: Counters) -> str:
    if c.cost_usd is None:
        return "unknown" if c.requests else "-"
    text = f"${c.cost_usd:.2f}" if c.cost_usd >= 1 or c.cost_usd == 0 else f"${c.cost_usd:.4f}"
    return text + ("+?" if c.unpriced else "")


# ---- ccr model info --------------------------------------------------------------------------

def run_info(args: argparse.Namespace) -> int:
    config = read_config(config_file(getattr(args, "config", None)))
    provider_name, model = split_route(args.route)
    provider = config.provider(provider_name)
    if not model:
        raise CLIError(f"{args.route!r}: write it PROVIDER,MODEL, e.g. deepseek,deepseek-chat", 2)
    if provider is None:
        names = ", ".join(p.name for p in config.providers) or "none configured"
        raise CLIError(f"provider {provider_name!r} is not in the config (providers: {names})", 2)
    model = provider.find_model(model) or model
    info = Books(base_catalogue()).of(config).info(provider.name, model)
    if args.json:
        print(json.dumps({"provider": provider.name, "model": model, **_info_json(info)}, indent=2))
        return 0
    print(f"{provider.name},{model}")
    if provider.models and provider.find_model(model) is None:
        print(f"  (not in {provider.name}'s models list)")
    rows = [("context window", _tokens(info.context_window)),
            ("max output tokens", _tokens(info.max_output_tokens)),
            ("input", _price(info.input_cost)), ("output", _price(info.output_cost)),
            ("cache read", _price(info.cache_read_cost, info.input_cost)),
            ("cache write", _price(info.cache_write_cost, info.input_cost)),
            ("source", info.source)]
    for label, value in rows:
        print(f"  {label:<18} {value}")
    if info.source == "unknown":
        print(f'\nccr knows nothing of this model. Add it to {provider.name}\'s "model_info" in the '
              f'config, in LiteLLM\'s field names:\n  "model_info": {{"{model}": {{"max_output_tokens": '
              '8192, "max_input_tokens": 131072, "input_cost_per_token": 2.7e-7, '
              '"output_cost_per_token": 1.1e-6}}')
    return 0


def _info_json(info: ModelInfo) -> dict[str, Any]:
    return {"context_window": info.context_window, "max_output_tokens": info.max_output_tokens,
            "input_cost_per_token": info.input_cost, "output_cost_per_token": info.output_cost,
            "cache_read_input_token_cost": info.cache_read_cost,
            "cache_creation_input_token_cost": info.cache_write_cost, "source": info.source}


def _tokens(n: int | None) -> str:
    return "unknown" if n is None else f"{n:,} tokens"


def _price(per_token: float | None, fallback: float | None = None) -> str:
    if per_token is None:
        return "unknown" if fallback is None else "not listed (charged as input)"
    return f"${per_token * 1_000_000:.4g} per million tokens"
