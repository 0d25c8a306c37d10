#!/usr/bin/env python3
"""mcp_client.py: a small MCP client on the Python standard library alone, for tests/integration/mcp.sh.

  mcp_client.py stdio CREC --db F --model M [...]   drive `crec mcp` over stdin/stdout
  mcp_client.py http URL [KEY]                      drive `crec serve`'s POST /mcp (KEY: a valid API key)

It plays a whole session - initialize, notifications/initialized, ping, tools/list, a call of every tool,
protocol errors - and checks the answers' shapes and values; prints one 'ok'/'FAIL' line per check and exits
1 when any failed. As a library, McpStdio is the transport bench/toolrec_agent.py uses."""
import json
import subprocess
import sys
import urllib.error
import urllib.request

FAILS = []


def check(name, cond, detail=""):
    print(("ok   " if cond else "FAIL ") + name + ("" if cond else "  " + str(detail)[:400]))
    if not cond:
        FAILS.append(name)


class McpStdio:
    """An MCP session with a child process over newline-delimited JSON-RPC."""

    def __init__(self, argv, env=None):
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                  text=True, env=env)
        self.next_id = 0
        self.calls = 0

    def raw(self, text, expect_reply=True):
        self.p.stdin.write(text + "\n")
        self.p.stdin.flush()
        if not expect_reply:
            return None
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError("the server closed stdout")
        return json.loads(line)

    def request(self, method, params=None):
        self.next_id += 1
        msg = {"jsonrpc": "2.0", "id": self.next_id, "method": method}
        if params is not None:
            msg["params"] = params
        r = self.raw(json.dumps(msg))
        assert r.get("id") == self.next_id, r
        return r

    def notify(self, method):
        self.raw(json.dumps({"jsonrpc": "2.0", "method": method}), expect_reply=False)

    def initialize(self, version="2025-06-18"):
        r = self.request("initialize", {"protocolVersion": version, "capabilities": {},
                                        "clientInfo": {"name": "crec-test", "version": "1"}})
        self.notify("notifications/initialized")
        return r

    def call(self, tool, args):
        """tools/call: (structuredContent or None, isError, text)."""
        self.calls += 1
        r = self.request("tools/call", {"name": tool, "arguments": args})
        if "error" in r:
            raise RuntimeError("%s: %s" % (tool, r["error"]))
        res = r["result"]
        return res.get("structuredContent"), bool(res.get("isError")), res["content"][0]["text"]

    def close(self):
        self.p.stdin.close()
        rc = self.p.wait(timeout=30)
        return rc


class McpHttp:
    def __init__(self, url, key=None):
        self.url, self.key, self.next_id, self.session = url, key, 0, None

    def post(self, body, key=None, headers=None):
        h = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
        if key:
            h["Authorization"] = "Bearer " + key
        if self.session:
            h["Mcp-Session-Id"] = self.session
        h.update(headers or {})
        req = urllib.request.Request(self.url, data=body.encode(), headers=h, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, dict(resp.headers), resp.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read().decode()

    def request(self, method, params=None, key=None):
        self.next_id += 1
        msg = {"jsonrpc": "2.0", "id": self.next_id, "method": method}
        if params is not None:
            msg["params"] = params
        st, h, body = self.post(json.dumps(msg), key=key)
        return st, h, json.loads(body) if body else None


def session_checks(s):
    """The common part: tools and errors over a transport object with request()/call()."""
    r = s.request("ping")
    check("ping -> {}", r.get("result") == {}, r)
    r = s.request("tools/list")
    tools = {t["name"]: t for t in r["result"]["tools"]}
    check("tools/list: 7 tools", sorted(tools) == sorted(["recommend", "similar_items", "popular", "search_items",
                                                           "explain", "user_history", "record_feedback"]), list(tools))
    check("tools/list: schemas", all(t["inputSchema"]["type"] == "object" and t["outputSchema"]["type"] == "object"
                                     for t in tools.values()))
    sc, err, _ = s.call("recommend", {"user": "u1", "k": 5})
    check("recommend u1: 5 items with titles and attributes", not err and len(sc["items"]) == 5 and
          all(it["title"] and isinstance(it["attributes"], list) for it in sc["items"]), sc)
    hist, _, _ = s.call("user_history", {"user": "u1", "limit": 1000})
    seen = {e["item"] for e in hist["events"]}
    check("recommend u1: no seen item", not seen & {it["id"] for it in sc["items"]})
    attr = sc["items"][0]["attributes"][-1]  # synth: the topic (shared by many items; a style may have 1-2)
    f, _, _ = s.call("recommend", {"user": "u1", "k": 10, "must_have": [attr], "exclude": [sc["items"][0]["id"]]})
    check("recommend must_have + exclude", f["items"] and all(attr in it["attributes"] and it["id"] != sc["items"][0]["id"]
                                                              for it in f["items"]), f)
    sim, err, _ = s.call("similar_items", {"item": "i3", "k": 5})
    check("similar_items i3", not err and len(sim["items"]) == 5 and "i3" not in [it["id"] for it in sim["items"]], sim)
    pop, _, _ = s.call("popular", {"attribute": attr, "k": 5})
    check("popular within an attribute", pop["source"] == "popular" and all(attr in it["attributes"] for it in pop["items"]))
    se, _, _ = s.call("search_items", {"attributes": [attr], "k": 3})
    check("search_items by attribute", se["total_matches"] >= 1 and all(attr in it["attributes"] for it in se["items"]))
    ex, _, _ = s.call("explain", {"user": "u1", "item": sc["items"][2]["id"]})
    check("explain: rank 3", ex["rank"] == 3 and ex["summary"], ex)
    _, err, text = s.call("similar_items", {"item": "no-such-item"})
    check("tool error is isError", err and "no item" in text, text)
    r = s.request("tools/call", {"name": "recommend", "arguments": {"k": "ten"}})
    check("bad argument -> -32602 naming k", r.get("error", {}).get("code") == -32602 and "'k'" in r["error"]["message"], r)
    r = s.request("tools/call", {"name": "nope", "arguments": {}})
    check("unknown tool -> -32602", r.get("error", {}).get("code") == -32602, r)
    r = s.request("no/such/method")
    check("unknown method -> -32601", r.get("error", {}).get("code") == -32601, r)


class HttpSession:
    """session_checks over HTTP (request() returning the JSON-RPC answer)."""

    def __init__(self, h, key):
        self.h, self.key = h, key

    def request(self, method, params=None):
        return self.h.request(method, params, key=self.key)[2]

    def call(self, tool, args):
        r = self.request("tools/call", {"name": tool, "arguments": args})
        if "error" in r:
            raise RuntimeError("%s: %s" % (tool, r["error"]))
        res = r["result"]
        return res.get("structuredContent"), bool(res.get("isError")), res["content"][0]["text"]


def run_stdio(argv):
    s = McpStdio(argv)
    r = s.initialize("2025-03-26")
    check("stdio initialize: version negotiated", r["result"]["protocolVersion"] == "2025-03-26", r)
    check("stdio initialize: tools capability", "tools" in r["result"]["capabilities"])
    r = s.raw("{not json")
    check("stdio parse error -> -32700, id null", r["error"]["code"] == -32700 and r["id"] is None, r)
    r = s.raw('[{"jsonrpc":"2.0","id":1,"method":"ping"}]')
    check("stdio batch -> -32600", r["error"]["code"] == -32600, r)
    session_checks(s)
    fb, err, text = s.call("record_feedback", {"user": "u1", "item": "i7", "type": "click"})
    check("stdio record_feedback (key given)", not err and fb["accepted"] == 1, text)
    rc = s.close()
    check("stdio: exit 0 at EOF", rc == 0, rc)


def run_http(url, key):
    h = McpHttp(url, key)
    st, hd, r = h.request("initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                                         "clientInfo": {"name": "crec-test", "version": "1"}})
    sid = {k.lower(): v for k, v in hd.items()}.get("mcp-session-id")
    check("http initialize: 200, result, Mcp-Session-Id", st == 200 and r["result"]["protocolVersion"] == "2025-06-18"
          and sid and len(sid) == 32, (st, hd, r))
    h.session = sid
    st, hd, body = h.post('{"jsonrpc":"2.0","method":"notifications/initialized"}')
    check("http notification -> 202, no body", st == 202 and body == "", (st, body))
    st, hd, body = h.post("{nope")
    check("http parse error -> 400 with -32700", st == 400 and json.loads(body)["error"]["code"] == -32700, (st, body))
    req = urllib.request.Request(url, method="GET", headers={"Accept": "text/event-stream"})
    try:
        urllib.request.urlopen(req, timeout=10)
        check("http GET /mcp -> 405", False)
    except urllib.error.HTTPError as e:
        check("http GET /mcp -> 405 (no SSE stream)", e.code == 405 and "POST" in e.headers.get("Allow", ""), e.code)
    st, hd, body = h.post('{"jsonrpc":"2.0","id":1,"method":"ping"}', headers={"MCP-Protocol-Version": "1990-01-01"})
    check("http unknown MCP-Protocol-Version -> 400", st == 400, (st, body))
    session_checks(HttpSession(h, None))
    # writes: no key -> isError naming the rule; a wrong key -> isError; the right key -> written
    args = {"name": "record_feedback", "arguments": {"user": "u1", "item": "i7"}}
    r = h.request("tools/call", args)[2]["result"]
    check("http record_feedback without key -> isError", r["isError"] and "API key" in r["content"][0]["text"], r)
    r = h.request("tools/call", args, key="wrong")[2]["result"]
    check("http record_feedback with a wrong key -> isError", r["isError"] and "not valid" in r["content"][0]["text"], r)
    r = h.request("tools/call", args, key=key)[2]["result"]
    check("http record_feedback with the key -> accepted", not r["isError"] and r["structuredContent"]["accepted"] == 1, r)


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "stdio":
        run_stdio(sys.argv[2:])
    elif len(sys.argv) >= 3 and sys.argv[1] == "http":
        run_http(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)
    else:
        sys.exit(__doc__)
    sys.exit(1 if FAILS else 0)
