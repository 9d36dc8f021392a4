#!/usr/bin/env python3
"""What nginx adds to one stream, measured in pairs: the same streamed completion sent to a
replica directly and through nginx, back to back in alternating order, one at a time, so that
both halves of a pair see the same machine load. Reports TTFT (request sent to first token event,
on a fresh connection, as `ladle bench` measures it) and ITL (gaps between token events) for each
path, and the median of the per-pair TTFT differences.

  bench/proxy_overhead.py --direct PORT --nginx PORT [--pairs 200] [--max-tokens 32]
"""
import argparse
import http.client
import json
import statistics
import time


def stream(port, max_tokens):
    """(ttft_s, [itl_s...]) of one streamed completion on a fresh connection."""
    body = json.dumps({"prompt": "Once upon a time", "max_tokens": max_tokens, "ignore_eos": True,
                       "temperature": 0, "stream": True})
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    t0 = time.monotonic()
    conn.request("POST", "/v1/completions", body, {"Content-Type": "application/json"})
    resp = conn.getresponse()
    times = []
    while True:
        line = resp.readline()
        if not line:
            break
        if line.startswith(b"data: ") and b'"text"' in line:
            times.append(time.monotonic())
    conn.close()
    return times[0] - t0, [b - a for a, b in zip(times, times[1:])]


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--direct", type=int, required=True)
    p.add_argument("--nginx", type=int, required=True)
    p.add_argument("--pairs", type=int, default=200)
    p.add_argument("--max-tokens", type=int, default=32)
    args = p.parse_args()
    ttft = {"direct": [], "nginx": []}
    itl = {"direct": [], "nginx": []}
    diffs = []
    for i in range(args.pairs):
        order = ["direct", "nginx"] if i % 2 == 0 else ["nginx", "direct"]
        got = {}
        for path in order:
            t, gaps = stream(args.direct if path == "direct" else args.nginx, args.max_tokens)
            got[path] = t
            ttft[path].append(t)
            itl[path].extend(gaps)
        diffs.append(got["nginx"] - got["direct"])
    for path in ("direct", "nginx"):
        print(f"| {path} | {args.pairs} | {pct(ttft[path], .5) * 1e3:.2f} | {pct(ttft[path], .99) * 1e3:.2f} | "
              f"{pct(itl[path], .5) * 1e3:.2f} | {pct(itl[path], .99) * 1e3:.2f} |")
    print(f"median per-pair TTFT difference (nginx - direct): {statistics.median(diffs) * 1e3:+.2f} ms "
          f"(quartiles {pct(diffs, .25) * 1e3:+.2f} / {pct(diffs, .75) * 1e3:+.2f} ms)")


if __name__ == "__main__":
    main()
