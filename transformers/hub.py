"""The vocabulary ccr and its transformers share: one owner for each format and table.

- `Json` (defined in `ccr.jsonlib`): the type of a parsed JSON object.
- Thinking signatures that ccr makes itself. A provider that returns reasoning without an
  Anthropic signature still needs that reasoning back on the next turn (DeepSeek rejects a
  tool-call turn without it), so ccr hands the client a signature it can read again later.
  All of them start with `ccr1:`, which is how the Anthropic-native path knows to drop them
  (Anthropic answers 400 "invalid signature" to anything it did not sign):

      ccr1:<field>:<provider>       reasoning that came in `<field>` (reasoning_content, reasoning)
                                    from `<provider>`; it goes back in that field, to that provider
      ccr1:~<dialect>:<payload>     a dialect's own data (Gemini's thoughtSignature, OpenRouter's
                                    reasoning_details, the Responses API's encrypted items)

- Packed tool ids: a signature that belongs to a tool call rides inside the tool_use id, which
  the client keeps verbatim (`toolu_ab12__ccrsig_<base64url>`).
- Reasoning effort: the levels, the thinking budget of each, the effort of a budget (the two
  are inverse: `effort_for_budget(budget_for(e)) == e`), each provider family's clamp, and
  which OpenAI model families reason.
- `text_of`: the text of a message's content.
"""

from __future__ import annotations

import base64
import re
import uuid
from typing import Any

from ccr.jsonlib import Json

__all__ = [
    "Json", "SIGNATURE_PREFIX", "is_ccr_signature", "reasoning_signature", "signature_field",
    "dialect_signature", "dialect_payload", "drop_ccr_thinking",
    "b64url", "un_b64url", "pack_tool_id", "unpack_tool_id", "new_tool_id",
    "EFFORTS", "BUDGETS", "budget_for", "effort_for_budget", "clamp_effort",
    "OPENAI_EFFORTS", "CEREBRAS_EFFORTS", "GEMINI3_LEVELS", "is_reasoning_model", "text_of",
]

# --- thinking signatures ------------------------------------------------------------------------

SIGNATURE_PREFIX = "ccr1:"


def is_ccr_signature(signature: Any) -> bool:
    """Did ccr make this signature (rather than Anthropic)?"""
    return isinstance(signature, str) and signature.startswith(SIGNATURE_PREFIX)


def reasoning_signature(field: str, provider: str) -> str:
    """The signature for reasoning that `provider` sent in `field`."""
    return f"{SIGNATURE_PREFIX}{field}:{provider}"


def signature_field(signature: Any, provider: str) -> str | None:
    """The reasoning field to send thinking back in, if ccr made it for this provider."""
    if not is_ccr_signature(signature) or signature.startswith(f"{SIGNATURE_PREFIX}~"):
        return None
    field, _, origin = signature[len(SIGNATURE_PREFIX):].partition(":")
    return field if origin == provider else None


def dialect_signature(dialect: str, payload: str) -> str:
    """A signature carrying a dialect's own data (already text-safe, e.g. base64url)."""
    return f"{SIGNATURE_PREFIX}~{dialect}:{payload}"


def dialect_payload(signature: Any, dialect: str) -> str | None:
    """The payload `dialect_signature(dialect, ...)` put in `signature`, or None."""
    prefix = f"{SIGNATURE_PREFIX}~{dialect}:"
    if isinstance(signature, str) and signature.startswith(prefix):
        return signature[len(prefix):]
    return None


def _ccr_thinking(block: Any) -> bool:
    return isinstance(block, dict) and block.get("type") == "thinking" and is_ccr_signature(block.get("signature"))


def drop_ccr_thinking(messages: list[Any]) -> list[Any]:
    """Anthropic messages without thinking blocks that carry a ccr signature (same list if none)."""
    if not any(isinstance(m, dict) and isinstance(m.get("content"), list) and any(map(_ccr_thinking, m["content"]))
               for m in messages):
        return messages
    return [{**m, "content": [b for b in m["content"] if not _ccr_thinking(b)]}
            if isinstance(m, dict) and isinstance(m.get("content"), list) else m for m in messages]


# --- packed tool ids ----------------------------------------------------------------------------

_PACKED = "__ccrsig_"


def b64url(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def un_b64url(data: str) -> str:
    """Raises ValueError on data that is not base64url-encoded UTF-8."""
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)).decode()


def new_tool_id() -> str:
    return f"toolu_{uuid.uuid4().hex[:24]}"


def pack_tool_id(tool_id: str, payload: str | None) -> str:
    """`tool_id` with `payload` packed in: `pack_tool_id("toolu_ab12", "sig==")` is
    `"toolu_ab12__ccrsig_c2lnPT0"`."""
    return f"{tool_id}{_PACKED}{b64url(payload)}" if payload else tool_id


def unpack_tool_id(tool_id: Any) -> tuple[str, str | None]:
    """(the provider's id, the payload packed into it or None)."""
    if not isinstance(tool_id, str) or _PACKED not in tool_id:
        return (tool_id if isinstance(tool_id, str) else ""), None
    base, _, data = tool_id.partition(_PACKED)
    try:
        return base, un_b64url(data)
    except ValueError:
        return base, None


# --- reasoning effort ---------------------------------------------------------------------------

#: Effort levels, lowest first (`none`, thinking off, is not a level: it is `enabled: false`).
EFFORTS: tuple[str, ...] = ("minimal", "low", "medium", "high", "xhigh", "max")
#: The thinking budget (tokens) of each level, for providers that take a budget.
BUDGETS: dict[str, int] = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 16384,
                           "xhigh": 32000, "max": 48000}
#: What each provider family accepts (see `clamp_effort`).
OPENAI_EFFORTS: tuple[str, ...] = ("minimal", "low", "medium", "high")   # chat, Responses, OpenRouter
CEREBRAS_EFFORTS: tuple[str, ...] = ("low", "medium", "high")            # gpt-oss on Cerebras
GEMINI3_LEVELS: tuple[str, ...] = ("low", "high")                        # Gemini 3 thinkingLevel


_REASONING_MODELS = re.compile(r"(^|/)(o\d|gpt-5|gpt-oss|codex)", re.I)


def is_reasoning_model(model: str) -> bool:
    """OpenAI's reasoning families (o1/o3/o4, gpt-5, gpt-oss, codex), which take an effort
    whether or not the client asked for thinking; other OpenAI-style models reject one."""
    return bool(_REASONING_MODELS.search(model))


def budget_for(effort: Any) -> int | None:
    """The thinking budget of an effort level (None for anything else)."""
    return BUDGETS.get(effort) if isinstance(effort, str) else None


def effort_for_budget(budget: Any) -> str:
    """The lowest level whose budget covers `budget` (`high` when there is no number)."""
    if isinstance(budget, bool) or not isinstance(budget, int | float):
        return "high"
    for effort in EFFORTS:
        if budget <= BUDGETS[effort]:
            return effort
    return EFFORTS[-1]


def clamp_effort(effort: Any, allowed: tuple[str, ...]) -> str | None:
    """The nearest level in `allowed` (ordered like EFFORTS) at or above `effort`, else the top
    one; None when `effort` is no level at all."""
    if effort not in EFFORTS:
        return None
    rank = EFFORTS.index(effort)
    for level in allowed:
        if EFFORTS.index(level) >= rank:
            return level
    return allowed[-1]


# --- content ------------------------------------------------------------------------------------

def text_of(content: Any) -> str:
    """The text of a message's content: a string, or the `text` parts of a list joined."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p.get("text", "") for p in content
                         if isinstance(p, dict) and p.get("type") == "text" and p.get("text"))
    return ""
