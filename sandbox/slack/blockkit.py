"""Block Kit validation the way Slack refuses payloads: the limits of research §7, each problem with a json-pointer.

Problems read like the ones Slack was seen answering ("no more than 25 items allowed [json-pointer:/blocks/1/elements]",
"[ERROR] no more than 100 items allowed [json-pointer:/view/blocks]", "missing required field: title
[json-pointer:/view]"). [U] The wording of the other problems ("must be less than 3001 characters", "unsupported type")
is plausible, not verified; only the top-level error codes are documented.
"""

from __future__ import annotations

import json
from typing import Any

MESSAGE_BLOCKS_MAX = 50
MODAL_BLOCKS_MAX = 100
MESSAGE_TEXT_MAX = 40_000  # [U] Slack truncates past this; the sandbox refuses with msg_too_long instead
# [U] Slack answers msg_blocks_too_long when a message's blocks hold too much text in all; reports put the limit
# near 12,000 characters (https://github.com/slackapi/bolt-js/issues/1426 and the error's entry at
# https://api.slack.com/methods/chat.postMessage#errors). The sandbox counts every "text" string in the blocks.
MESSAGE_BLOCKS_TEXT_MAX = 12_000

BLOCK_TYPES = frozenset(
    {"actions", "context", "divider", "file", "header", "image", "input", "markdown", "rich_text", "section", "video"}
)
ELEMENT_TYPES = frozenset(
    {
        "button",
        "checkboxes",
        "channels_select",
        "conversations_select",
        "datepicker",
        "datetimepicker",
        "email_text_input",
        "external_select",
        "file_input",
        "image",
        "multi_channels_select",
        "multi_conversations_select",
        "multi_external_select",
        "multi_static_select",
        "multi_users_select",
        "number_input",
        "overflow",
        "plain_text_input",
        "radio_buttons",
        "rich_text_input",
        "static_select",
        "timepicker",
        "url_text_input",
        "users_select",
        "workflow_button",
    }
)
TEXT_TYPES = frozenset({"plain_text", "mrkdwn"})


class BlocksFormatError(ValueError):
    """``blocks`` is not a JSON array of objects (Slack: ``invalid_blocks_format``)."""


def parse_blocks(value: object) -> list[dict[str, Any]] | None:
    """Return ``blocks`` given as a list or a JSON string (form bodies), ``None`` when absent."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise BlocksFormatError("blocks is not valid JSON") from None
    if not isinstance(value, list) or not all(isinstance(block, dict) for block in value):
        raise BlocksFormatError("blocks must be an array of objects")
    return value


class Problems:
    """Collect ``"<what> [json-pointer:<where>]"`` strings."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, message: str, pointer: str) -> None:
        """Record one problem at ``pointer``."""
        self.items.append(f"{message} [json-pointer:{pointer}]")

    def longer(self, value: object, limit: int, pointer: str) -> None:
        """Record a string longer than ``limit``."""
        if isinstance(value, str) and len(value) > limit:
            self.add(f"must be less than {limit + 1} characters", pointer)

    def too_many(self, items: object, limit: int, pointer: str) -> None:
        """Record a list longer than ``limit``."""
        if isinstance(items, list) and len(items) > limit:
            self.add(f"no more than {limit} items allowed", pointer)

    def required(self, obj: dict[str, Any], key: str, pointer: str) -> bool:
        """Record a missing field; return whether it is present."""
        if obj.get(key) in (None, "", []):
            self.add(f"missing required field: {key}", pointer)
            return False
        return True


def blocks_text_length(node: object) -> int:
    """Characters of every ``text`` string anywhere in ``node`` (blocks, their fields, elements and labels)."""
    if isinstance(node, list):
        return sum(blocks_text_length(item) for item in node)
    if not isinstance(node, dict):
        return 0
    total = 0
    for key, value in node.items():
        total += len(value) if key == "text" and isinstance(value, str) else blocks_text_length(value)
    return total


def message_problems(blocks: list[dict[str, Any]]) -> list[str]:
    """List what Slack would refuse in a message's ``blocks``."""
    problems = Problems()
    problems.too_many(blocks, MESSAGE_BLOCKS_MAX, "/blocks")
    for index, block in enumerate(blocks):
        _block(problems, block, f"/blocks/{index}")
    return problems.items


def home_problems(view: object) -> list[str]:
    """List what Slack would refuse in a Home tab view (views.publish): type ``home``, at most 100 blocks."""
    problems = Problems()
    if _view_kind(problems, view, "home"):
        assert isinstance(view, dict)
        problems.required(view, "blocks", "/view")
        problems.longer(view.get("private_metadata"), 3000, "/view/private_metadata")
        _view_blocks(problems, view)
    return problems.items


def view_problems(view: object) -> list[str]:
    """List what Slack would refuse in a modal ``view`` (views.open / views.update)."""
    problems = Problems()
    if not _view_kind(problems, view, "modal"):
        return problems.items
    assert isinstance(view, dict)
    for key in ("title", "blocks"):
        problems.required(view, key, "/view")
    # Slack itself accepts a modal without callback_id; the sandbox insists because an app routes submissions by it.
    problems.required(view, "callback_id", "/view")
    _text(problems, view.get("title"), "/view/title", 24, plain=True)
    for key in ("submit", "close"):
        _text(problems, view.get(key), f"/view/{key}", 24, plain=True)
    problems.longer(view.get("callback_id"), 255, "/view/callback_id")
    problems.longer(view.get("private_metadata"), 3000, "/view/private_metadata")
    problems.longer(view.get("external_id"), 255, "/view/external_id")
    blocks = _view_blocks(problems, view)
    if any(isinstance(block, dict) and block.get("type") == "input" for block in blocks) and not view.get("submit"):
        problems.add("must provide submit when blocks contain input", "/view")  # [U] wording
    return problems.items


def _view_kind(problems: Problems, view: object, kind: str) -> bool:
    """Whether ``view`` is an object (else there is nothing more to check); a wrong ``type`` is one problem."""
    if not isinstance(view, dict):
        problems.add("must provide an object", "/view")
        return False
    if view.get("type") != kind:
        problems.add(f"unsupported view type: {view.get('type')}", "/view/type")
    return True


def _view_blocks(problems: Problems, view: dict[str, Any]) -> list[Any]:
    """Check a view's blocks (at most 100, each valid); return them, or [] when they are not a list."""
    blocks = view.get("blocks") or []
    if not isinstance(blocks, list):
        problems.add("must provide an array", "/view/blocks")
        return []
    problems.too_many(blocks, MODAL_BLOCKS_MAX, "/view/blocks")
    for index, block in enumerate(blocks):
        _block(problems, block, f"/view/blocks/{index}")
    return blocks


# -- blocks ----------------------------------------------------------------------------------------------------
def _block(problems: Problems, block: object, pointer: str) -> None:
    if not isinstance(block, dict):
        problems.add("must provide an object", pointer)
        return
    kind = block.get("type")
    if kind not in BLOCK_TYPES:
        problems.add(f"unsupported type: {kind}", f"{pointer}/type")
        return
    problems.longer(block.get("block_id"), 255, f"{pointer}/block_id")
    check = _BLOCK_CHECKS.get(str(kind))
    if check is not None:
        check(problems, block, pointer)


def _section(problems: Problems, block: dict[str, Any], pointer: str) -> None:
    if block.get("text") is None and not block.get("fields"):
        problems.add("must provide either text or fields", pointer)  # [U] wording
    _text(problems, block.get("text"), f"{pointer}/text", 3000)
    fields = block.get("fields") or []
    problems.too_many(fields, 10, f"{pointer}/fields")
    for index, field in enumerate(fields if isinstance(fields, list) else []):
        _text(problems, field, f"{pointer}/fields/{index}", 2000)
    if block.get("accessory") is not None:
        _element(problems, block["accessory"], f"{pointer}/accessory")


def _header(problems: Problems, block: dict[str, Any], pointer: str) -> None:
    if problems.required(block, "text", pointer):
        _text(problems, block["text"], f"{pointer}/text", 150, plain=True)


def _actions(problems: Problems, block: dict[str, Any], pointer: str) -> None:
    if not problems.required(block, "elements", pointer):
        return
    elements = block["elements"]
    problems.too_many(elements, 25, f"{pointer}/elements")
    for index, element in enumerate(elements if isinstance(elements, list) else []):
        _element(problems, element, f"{pointer}/elements/{index}")


def _context(problems: Problems, block: dict[str, Any], pointer: str) -> None:
    if not problems.required(block, "elements", pointer):
        return
    elements = block["elements"]
    problems.too_many(elements, 10, f"{pointer}/elements")
    for index, element in enumerate(elements if isinstance(elements, list) else []):
        where = f"{pointer}/elements/{index}"
        if isinstance(element, dict) and element.get("type") == "image":
            problems.required(element, "alt_text", where)
        else:
            _text(problems, element, where, 3000)


def _input(problems: Problems, block: dict[str, Any], pointer: str) -> None:
    if problems.required(block, "label", pointer):
        _text(problems, block["label"], f"{pointer}/label", 2000, plain=True)
    if problems.required(block, "element", pointer):
        _element(problems, block["element"], f"{pointer}/element")
    _text(problems, block.get("hint"), f"{pointer}/hint", 2000, plain=True)


def _markdown(problems: Problems, block: dict[str, Any], pointer: str) -> None:
    if problems.required(block, "text", pointer):
        problems.longer(block["text"], 12_000, f"{pointer}/text")


def _image(problems: Problems, block: dict[str, Any], pointer: str) -> None:
    problems.required(block, "alt_text", pointer)
    problems.longer(block.get("alt_text"), 2000, f"{pointer}/alt_text")
    if block.get("image_url") is None and block.get("slack_file") is None:
        problems.add("missing required field: image_url", pointer)


_BLOCK_CHECKS = {
    "section": _section,
    "header": _header,
    "actions": _actions,
    "context": _context,
    "input": _input,
    "markdown": _markdown,
    "image": _image,
}


# -- elements and composition objects --------------------------------------------------------------------------
def _element(problems: Problems, element: object, pointer: str) -> None:
    if not isinstance(element, dict):
        problems.add("must provide an object", pointer)
        return
    kind = element.get("type")
    if kind not in ELEMENT_TYPES:
        problems.add(f"unsupported type: {kind}", f"{pointer}/type")
        return
    problems.longer(element.get("action_id"), 255, f"{pointer}/action_id")
    if element.get("confirm") is not None:
        _confirm(problems, element["confirm"], f"{pointer}/confirm")
    if kind == "button":
        if problems.required(element, "text", pointer):
            _text(problems, element["text"], f"{pointer}/text", 75, plain=True)
        problems.longer(element.get("value"), 2000, f"{pointer}/value")
        problems.longer(element.get("url"), 3000, f"{pointer}/url")
        if element.get("style") not in (None, "primary", "danger"):
            problems.add(f"unsupported style: {element.get('style')}", f"{pointer}/style")
    _text(problems, element.get("placeholder"), f"{pointer}/placeholder", 150, plain=True)
    options = element.get("options")
    problems.too_many(options, 100, f"{pointer}/options")
    for index, option in enumerate(options if isinstance(options, list) else []):
        _option(problems, option, f"{pointer}/options/{index}")


def _option(problems: Problems, option: object, pointer: str) -> None:
    if not isinstance(option, dict):
        problems.add("must provide an object", pointer)
        return
    if problems.required(option, "text", pointer):
        _text(problems, option["text"], f"{pointer}/text", 75)
    problems.longer(option.get("value"), 150, f"{pointer}/value")


def _confirm(problems: Problems, confirm: object, pointer: str) -> None:
    if not isinstance(confirm, dict):
        problems.add("must provide an object", pointer)
        return
    for key, limit in (("title", 100), ("text", 300), ("confirm", 30), ("deny", 30)):
        if problems.required(confirm, key, pointer):
            _text(problems, confirm[key], f"{pointer}/{key}", limit, plain=key != "text")


def _text(problems: Problems, obj: object, pointer: str, limit: int, *, plain: bool = False) -> None:
    """Check an optional text object (``None`` passes; required-ness is the caller's)."""
    if obj is None:
        return
    if not isinstance(obj, dict):
        problems.add("must provide an object", pointer)
        return
    kind = obj.get("type")
    allowed = {"plain_text"} if plain else TEXT_TYPES
    if kind not in allowed:
        problems.add(f"must be one of {', '.join(sorted(allowed))}", f"{pointer}/type")
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        problems.add("must be more than 0 characters", f"{pointer}/text")
        return
    problems.longer(text, limit, f"{pointer}/text")
