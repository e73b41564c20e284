#!/usr/bin/env python3
"""A bot for `kith daemon`, written from docs/RPC.md alone (Python standard library only).

Usage: rpc_client.py SOCKET GROUP

It checks the protocol version, subscribes to GROUP, says "subscribed" on its first line
(tests/tests/daemon.rs then has another member write), sends a text, waits for the
`message` event of a message from someone else and prints it, then makes a call that
fails (a group that does not exist) and prints the error. Exits 0 when all of that went
as the document says, non-zero otherwise.
"""

import json
import socket
import sys

TIMEOUT_SECS = 60


class Daemon:
    """One connection: JSON-RPC 2.0, one JSON object a line."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(TIMEOUT_SECS)
        self.sock.connect(path)
        self.file = self.sock.makefile("rwb")
        self.next_id = 1
        self.events = []

    def send(self, obj):
        self.file.write(json.dumps(obj).encode("utf-8") + b"\n")
        self.file.flush()

    def line(self):
        raw = self.file.readline()
        if not raw:
            raise SystemExit("the daemon closed the connection")
        return json.loads(raw)

    def call(self, method, params=None):
        """Sends a request; returns its answer. Notifications that come meanwhile are
        kept for `event`."""
        id_ = self.next_id
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": id_, "method": method, "params": params or {}})
        while True:
            msg = self.line()
            if "id" not in msg and "method" in msg:
                self.events.append(msg)
            elif msg.get("id") == id_:
                return msg

    def event(self, method, want):
        """The next notification `method` whose params satisfy `want`."""
        while True:
            while self.events:
                msg = self.events.pop(0)
                if msg["method"] == method and want(msg["params"]):
                    return msg["params"]
            self.events.append(self.line())


def main():
    path, group = sys.argv[1], sys.argv[2]
    d = Daemon(path)

    version = d.call("version")
    assert version["result"]["protocol"] == 1, version

    sub = d.call("subscribe", {"group": group})
    assert "result" in sub, sub
    print("subscribed", flush=True)

    sent = d.call("send", {"group": group, "text": "written by a bot"})
    assert sent["result"]["exit"] == 0, sent
    assert sent["result"]["records"][0]["seq"] >= 0, sent

    news = d.event(
        "message",
        lambda p: p["record"]["kind"] == "text" and not p["record"]["own"],
    )
    print("event from %s: %s" % (news["record"]["name"], news["record"]["text"]), flush=True)

    failed = d.call("send", {"group": "no such group", "text": "x"})
    err = failed["error"]
    assert err["code"] == 2, failed
    print("error %d: %s" % (err["code"], err["message"]), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
