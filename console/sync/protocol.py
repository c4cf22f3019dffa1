"""The sync protocol's messages: encode, decode and validate (no I/O).

Each message is one websocket text frame holding a JSON object with a `type`.
docs/PROTOCOL.md documents every type below, field by field; a test checks
that the two agree. Anything that is not exactly a valid message raises
ProtocolError with a code, which the connection reports to the peer in an
`error` message before closing.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any

import orjson

from console import codec
from console.merge import Change
from console.model import ValidationError

PROTOCOL_VERSION = 3  # 2: resources.merged_into (stock items merged into one); 3: resources.low_at
MAX_MESSAGE = 4 * 1024 * 1024  # websockets max_size: larger frames close the connection (1009)
BATCH_CHANGES = 5000  # at most this many changes in one `changes` message
BATCH_BYTES = 2 * 1024 * 1024  # and at most about this many bytes of them, well under MAX_MESSAGE
MAX_VV = 100_000  # entries in a version vector
NONCE_BYTES = 32

# Every message type, with the fields it must have and their JSON types.
MESSAGES: dict[str, dict[str, type | tuple[type, ...]]] = {
    "challenge": {"protocol": int, "console": str, "nonce": str},
    "hello": {"protocol": int, "replica": str, "agency": str, "vv": dict},
    "changes": {"batch": int, "changes": list},
    "ack": {"batch": int, "vv": dict},
    "synced": {},
    "refused": {"origin": str, "seq": int, "reason": str},
    "error": {"code": str, "message": str},
}
OPTIONAL: dict[str, dict[str, type]] = {"hello": {"cert": str, "signature": str}, "changes": {"remaining": int}}

# Error codes: each is documented in docs/PROTOCOL.md.
ERROR_CODES = {
    "bad_message": "not JSON, not an object, an unknown type, or a field missing or of the wrong type",
    "bad_change": "a change in a batch is malformed or names an unknown table or field",
    "bad_version": "the peer speaks another protocol version",
    "out_of_order": "a message that is not allowed at this point of the session",
    "untrusted": "the console is not on the trust list",
    "bad_signature": "the client's certificate or signature does not check out",
    "forbidden": "an observer sent changes",
    "forged_origin": "changes that claim to come from the receiving console",
    "internal": "the receiving console failed; nothing from the batch was kept",
    "timeout": "the peer did not finish the handshake in time",
}


class ProtocolError(Exception):
    """The peer broke the protocol; `code` is one of ERROR_CODES."""

    def __init__(self, code: str, message: str) -> None:
        assert code in ERROR_CODES, code
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Message:
    type: str
    body: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.body[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.body.get(key, default)


def encode(type_: str, **fields: Any) -> str:
    assert type_ in MESSAGES, type_
    return json.dumps({"type": type_, **fields}, separators=(",", ":"), ensure_ascii=False)


def encode_changes(batch: int, changes: list[Change]) -> str:
    return encode("changes", batch=batch, changes=[codec.encode(c) for c in changes])


def _is_type(value: Any, kind: type | tuple[type, ...]) -> bool:
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def decode(text: str | bytes) -> Message:
    """A validated message, or ProtocolError."""
    if isinstance(text, bytes):
        raise ProtocolError("bad_message", "messages are text frames, not binary")
    try:
        # orjson: three times quicker on a batch of changes, and stricter
        # than the standard library (no NaN, no lone surrogates, no integer
        # beyond 64 bits, no nesting beyond 1024), which is all refused here.
        obj = orjson.loads(text)
    except (ValueError, RecursionError):
        raise ProtocolError("bad_message", "the message is not valid JSON") from None
    if not isinstance(obj, dict):
        raise ProtocolError("bad_message", "a message must be a JSON object")
    kind = obj.get("type")
    if not isinstance(kind, str) or kind not in MESSAGES:
        raise ProtocolError("bad_message", f"unknown message type {kind!r:.40}")
    spec = MESSAGES[kind]
    optional = OPTIONAL.get(kind, {})
    for name, ftype in spec.items():
        if name not in obj:
            raise ProtocolError("bad_message", f"{kind}: field {name!r} is missing")
        if not _is_type(obj[name], ftype):
            raise ProtocolError("bad_message", f"{kind}: field {name!r} has the wrong type")
    for name, ftype in optional.items():
        if name in obj and not _is_type(obj[name], ftype):
            raise ProtocolError("bad_message", f"{kind}: field {name!r} has the wrong type")
    extra = set(obj) - set(spec) - set(optional) - {"type"}
    if extra:
        raise ProtocolError("bad_message", f"{kind}: unknown field {sorted(extra)[0]!r:.40}")
    if "protocol" in spec and obj["protocol"] != PROTOCOL_VERSION:
        raise ProtocolError(
            "bad_version",
            f"protocol version {obj['protocol']} is not supported (this console speaks {PROTOCOL_VERSION}): the "
            "two consoles run different releases of crisis-console; update the one speaking version "
            f"{min(obj['protocol'], PROTOCOL_VERSION)}",
        )
    if "vv" in spec:
        check_vv(obj["vv"], kind)
    if kind == "hello" and not codec.ID_RE.fullmatch(obj["replica"]):
        raise ProtocolError("bad_message", "hello: replica must be a 32-digit hex id")
    if kind in ("hello",) and len(obj["agency"]) > codec.MAX_NAME:
        raise ProtocolError("bad_message", "hello: agency is too long")
    if kind in ("changes", "ack") and obj["batch"] < 1:
        raise ProtocolError("bad_message", f"{kind}: batch numbers start at 1")
    if kind == "changes" and obj.get("remaining", 0) < 0:
        raise ProtocolError("bad_message", "changes: remaining cannot be negative")
    if kind == "changes" and not 0 < len(obj["changes"]) <= BATCH_CHANGES:
        raise ProtocolError("bad_message", f"changes: a batch holds 1 to {BATCH_CHANGES} changes")
    if kind == "error" and (len(obj["code"]) > 40 or len(obj["message"]) > 2000):
        raise ProtocolError("bad_message", "error: code or message too long")
    if kind == "refused" and (not codec.ID_RE.fullmatch(obj["origin"]) or not 0 < obj["seq"] < codec.MAX_SEQ
                              or len(obj["reason"]) > 2000):
        raise ProtocolError("bad_message", "refused: a 32-digit origin, a positive seq and a reason of at most "
                            "2000 characters")
    return Message(kind, obj)


def check_vv(vv: Any, where: str) -> dict[str, int]:
    if not isinstance(vv, dict) or len(vv) > MAX_VV:
        raise ProtocolError("bad_message", f"{where}: vv must be an object of at most {MAX_VV} entries")
    for k, v in vv.items():
        if not codec.ID_RE.fullmatch(k) or not _is_type(v, int) or not 0 <= v < codec.MAX_SEQ:
            raise ProtocolError("bad_message", f"{where}: vv maps 32-digit replica ids to sequence numbers")
    return vv


def decode_changes(msg: Message) -> list[Change]:
    """The validated changes of a `changes` message, or ProtocolError."""
    out = []
    for i, raw in enumerate(msg["changes"]):
        try:
            out.append(codec.decode(raw))
        except ValidationError as exc:
            raise ProtocolError("bad_change", f"change {i + 1} of batch {msg['batch']}: {exc}") from None
    return out


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: str, what: str, limit: int = 8192) -> bytes:
    if len(text) > limit or not re.fullmatch(r"[A-Za-z0-9+/=]*", text):
        raise ProtocolError("bad_message", f"{what} is not base64")
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:
        raise ProtocolError("bad_message", f"{what} is not base64") from None
