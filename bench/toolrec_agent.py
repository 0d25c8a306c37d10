#!/usr/bin/env python3
"""toolrec_agent.py: the ToolRec experiment with a scripted agent instead of an LLM (no LLM runs here).

ToolRec (Zhao et al., "Let Me Do It For You: Towards LLM Empowered Recommendation via Tool Learning") lets an
LLM call a recommender as attribute-level retrieval and ranking tools. Here a deterministic agent calls crec's
MCP tools over stdio (`crec mcp`: the real protocol, one JSON-RPC message per line) while a simulated user plays
the conversational simulator's goal: for a test pair (user, target item) the user reveals one of the target's
attributes per turn (a seeded random order), rejects every item shown that is not the target, and the episode
succeeds when the target is among the k items shown by one call. Three policies, each on the same pairs:

  recommend      recommend(user, k, exclude=shown) every call: the recommender alone (calls = pages of k)
  agent          turn 0: recommend(user); turn j: recommend(user, must_have=first j attributes, exclude=shown)
  agent+search   as agent, and after each filtered recommend a search_items(attributes=first j, exclude=shown)
                 (ToolRec's attribute-level retrieval: non-personalized, most popular first)

Measured: success rate within a budget of B calls (B = 1 .. max calls) and calls per success.
Usage: toolrec_agent.py --crec CREC --db DB --model M [--data D] --pairs test.tsv --attrs attrs.tsv
                        --hold hold.txt [--n 300] [--seed 42] [--turns 5] [--k 10] [--json OUT]"""
import argparse
import json
import os
import random
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
from mcp_client import McpStdio  # noqa: E402


def load_pairs(args):
    attrs = {}
    with open(args.attrs) as f:
        for line in f:
            item, a = line.rstrip("\n").split("\t")
            attrs[item] = a.split()
    hist = {}
    with open(args.hold) as f:
        for line in f:
            t = line.split()
            if len(t) >= 2:
                hist.setdefault(t[0], set()).update(t[1:])
    catalog = set().union(*hist.values())
    pairs, dropped = [], {"no attributes": 0, "not in the store's catalog": 0, "already in the history": 0}
    with open(args.pairs) as f:
        for line in f:
            u, i = line.split()
            if not attrs.get(i):
                dropped["no attributes"] += 1
            elif i not in catalog:
                dropped["not in the store's catalog"] += 1
            elif i in hist.get(u, ()):
                dropped["already in the history"] += 1
            else:
                pairs.append((u, i))
    n_all = len(pairs)
    rng = random.Random(args.seed)
    pairs = rng.sample(pairs, min(args.n, len(pairs)))
    return pairs, attrs, dropped, n_all


def ids(sc):
    return [it["id"] for it in sc["items"]]


def episode(s, policy, user, target, reveal, k, turns):
    """Calls until success; returns (calls, tool that found it) or (None, None)."""
    shown, calls = [], 0

    def call(tool, args):
        nonlocal calls
        calls += 1
        sc, err, text = s.call(tool, dict(args, k=k, exclude=shown[-1000:]))
        if err:
            raise RuntimeError("%s: %s" % (tool, text))
        got = ids(sc)
        shown.extend(got)
        return target in got

    max_calls = 1 + turns * (2 if policy == "agent+search" else 1)
    if policy == "recommend":
        for _ in range(max_calls_of(turns)):
            if call("recommend", {"user": user}):
                return calls, "recommend"
        return None, None
    if call("recommend", {"user": user}):
        return calls, "recommend"
    for j in range(1, min(turns, len(reveal)) + 1):
        must = reveal[:j]
        if call("recommend", {"user": user, "must_have": must}):
            return calls, "recommend+filter"
        if policy == "agent+search" and call("search_items", {"attributes": must}):
            return calls, "search_items"
    assert calls <= max_calls
    return None, None


def max_calls_of(turns):
    return 1 + 2 * turns


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--crec", required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--data")
    ap.add_argument("--pairs", required=True)
    ap.add_argument("--attrs", required=True)
    ap.add_argument("--hold", required=True)
    ap.add_argument("--label", default="")
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--turns", type=int, default=5)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--json")
    args = ap.parse_args()
    pairs, attrs, dropped, n_all = load_pairs(args)
    argv = [args.crec, "mcp", "--db", args.db, "--model", args.model] + (["--data", args.data] if args.data else [])
    s = McpStdio(argv)
    init = s.initialize()
    assert init["result"]["protocolVersion"] == "2025-06-18", init
    policies = ["recommend", "agent", "agent+search"]
    budget = max_calls_of(args.turns)
    res = {p: {"calls": [], "by_tool": {}} for p in policies}
    t0 = time.time()
    for n, (u, i) in enumerate(pairs):
        reveal = list(attrs[i])
        random.Random("%d:%s:%s" % (args.seed, u, i)).shuffle(reveal)
        for p in policies:
            c, tool = episode(s, p, u, i, reveal, args.k, args.turns)
            res[p]["calls"].append(c)
            if tool:
                res[p]["by_tool"][tool] = res[p]["by_tool"].get(tool, 0) + 1
        if sys.stderr.isatty():
            print("\r%d/%d pairs" % (n + 1, len(pairs)), end="", file=sys.stderr)
    wall = time.time() - t0
    s.close()
    n = len(pairs)
    out = {"label": args.label, "pairs": n, "eligible_pairs": n_all, "dropped": dropped, "seed": args.seed,
           "k": args.k, "turns": args.turns, "tool_calls": s.calls, "wall_s": round(wall, 1),
           "ms_per_call": round(1000 * wall / max(s.calls, 1), 2), "policies": {}}
    print("# ToolRec scripted agent: %s; %d test pairs (seeded sample, seed %d, of %d eligible); k=%d per call; "
          "up to %d revealed attributes; MCP over stdio" % (args.label, n, args.seed, n_all, args.k, args.turns))
    print("# dropped before sampling: %s" % ", ".join("%s %d" % kv for kv in dropped.items()))
    header = ["policy", "max calls"] + ["succ@%d" % b for b in (1, 2, 3, 6, budget)] + ["calls/success", "found by"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for p in policies:
        cs = res[p]["calls"]
        mx = budget if p in ("recommend", "agent+search") else 1 + args.turns
        row = {"max_calls": mx}
        for b in (1, 2, 3, 6, budget):
            row["succ@%d" % b] = sum(1 for c in cs if c is not None and c <= b) / n
        ok = [c for c in cs if c is not None]
        row["success"] = len(ok) / n
        row["calls_per_success"] = sum(ok) / len(ok) if ok else None
        row["by_tool"] = res[p]["by_tool"]
        out["policies"][p] = row
        print("| %s | %d | %s | %s | %s |" % (
            p, mx, " | ".join("%.3f" % row["succ@%d" % b] for b in (1, 2, 3, 6, budget)),
            "%.2f" % row["calls_per_success"] if ok else "-",
            ", ".join("%s %d" % kv for kv in sorted(res[p]["by_tool"].items()))))
    print("# %d tool calls in %.1f s wall (%.2f ms per call, client included)" % (s.calls, wall, out["ms_per_call"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
