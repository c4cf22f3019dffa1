import json
import re
from pathlib import Path

import pytest

from console.sync import protocol as p

DOC = (Path(__file__).resolve().parent.parent / "docs" / "PROTOCOL.md").read_text()
VV = {"a" * 32: 3}


def test_every_message_type_and_error_code_is_documented():
    for kind, fields in p.MESSAGES.items():
        assert f"### `{kind}`" in DOC, f"docs/PROTOCOL.md does not document message {kind}"
        section = DOC.split(f"### `{kind}`")[1].split("\n### ")[0].split("\n## ")[0]
        for name in [*fields, *p.OPTIONAL.get(kind, {})]:
            assert f"| `{name}` |" in section, f"docs/PROTOCOL.md does not document {kind}.{name}"
    documented_codes = set(re.findall(r"^\| `([a-z_]+)` \| ", DOC.split("## Error codes")[1].split("\n## ")[0], re.M))
    assert documented_codes == set(p.ERROR_CODES)


def test_round_trip_of_each_type():
    frames = [
        p.encode("challenge", protocol=p.PROTOCOL_VERSION, console="X", nonce="AAAA"),
        p.encode("hello", protocol=p.PROTOCOL_VERSION, replica="b" * 32, agency="Fire", vv=VV),
        p.encode("ack", batch=1, vv=VV),
        p.encode("synced"),
        p.encode("error", code="untrusted", message="no"),
        p.encode("refused", origin="c" * 32, seq=4, reason="clock 1d ahead"),
    ]
    for f in frames:
        assert p.decode(f).type == json.loads(f)["type"]


V = str(p.PROTOCOL_VERSION)  # a hello of this version, wrong in other ways


@pytest.mark.parametrize(
    "frame, code",
    [
        (b"\x00\x01binary", "bad_message"),
        ("not json {", "bad_message"),
        ("[1, 2]", "bad_message"),
        ('{"type": "launch"}', "bad_message"),
        ('{"type": 7}', "bad_message"),
        ('{"batch": 1}', "bad_message"),
        ('{"type": "ack", "batch": 1}', "bad_message"),
        ('{"type": "ack", "batch": "1", "vv": {}}', "bad_message"),
        ('{"type": "ack", "batch": true, "vv": {}}', "bad_message"),
        ('{"type": "ack", "batch": 0, "vv": {}}', "bad_message"),
        ('{"type": "ack", "batch": 1, "vv": {"zz": 1}}', "bad_message"),
        ('{"type": "ack", "batch": 1, "vv": [], "extra": 1}', "bad_message"),
        ('{"type": "hello", "protocol": 1, "replica": "' + "b" * 32 + '", "agency": "x", "vv": {}}', "bad_version"),
        ('{"type": "hello", "protocol": ' + V + ', "replica": "nope", "agency": "x", "vv": {}}', "bad_message"),
        ('{"type": "hello", "protocol": ' + V + ', "replica": "' + "b" * 32 + '", "agency": "x", "vv": {}, "cert": 5}',
         "bad_message"),
        ('{"type": "changes", "batch": 1, "changes": []}', "bad_message"),
        ("[" * 100000 + "]" * 100000, "bad_message"),
        # Not JSON a console writes: a lone surrogate, NaN, an integer past 64 bits.
        ('{"type": "hello", "protocol": ' + V + ', "replica": "' + "b" * 32 + '", "agency": "\\ud800", "vv": {}}',
         "bad_message"),
        ('{"type": "ack", "batch": NaN, "vv": {}}', "bad_message"),
        ('{"type": "ack", "batch": 123456789012345678901234567890, "vv": {}}', "bad_message"),
        ('{"type": "refused", "origin": "nope", "seq": 1, "reason": "x"}', "bad_message"),
        ('{"type": "refused", "origin": "' + "c" * 32 + '", "seq": 0, "reason": "x"}', "bad_message"),
        ('{"type": "refused", "origin": "' + "c" * 32 + '", "seq": 1, "reason": "' + "x" * 2001 + '"}',
         "bad_message"),
        ('{"type": "refused", "origin": "' + "c" * 32 + '", "seq": 1}', "bad_message"),
    ],
)
def test_malformed_frames_are_refused_with_a_code(frame, code):
    with pytest.raises(p.ProtocolError) as exc:
        p.decode(frame)
    assert exc.value.code == code


def test_a_console_of_another_release_is_told_which_one_to_update():
    """Version 2 added resources.merged_into: a console of version 1 would
    refuse the first stock merge it is sent, so it is turned away at hello,
    saying which console needs updating."""
    for theirs, update in ((1, 1), (p.PROTOCOL_VERSION + 1, p.PROTOCOL_VERSION)):
        frame = p.encode("hello", protocol=theirs, replica="b" * 32, agency="Fire", vv={})
        with pytest.raises(p.ProtocolError, match=f"the two consoles run different releases of crisis-console; "
                                                  f"update the one speaking version {update}$") as exc:
            p.decode(frame)
        assert exc.value.code == "bad_version"


def test_bad_changes_name_the_change():
    msg = p.decode(p.encode("changes", batch=4, changes=[["x"] * 11]))
    with pytest.raises(p.ProtocolError, match="change 1 of batch 4") as exc:
        p.decode_changes(msg)
    assert exc.value.code == "bad_change"
