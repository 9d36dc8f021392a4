#!/usr/bin/env python3
"""A multi-turn chat workload through nginx, with and without session affinity: the fleet's
prefix-cache hit rate (prompt tokens served from a replica's cache / prompt tokens), read from
every replica's /metrics before and after.

  bench/cluster_affinity.py --nginx PORT --replica PORT [--replica PORT ...] [--affinity]
                            [--conversations 16] [--turns 4] [--max-tokens 24] [--think 0.3] [--tag TEXT]

Each conversation is one client thread: turn k sends the whole history (system, user 1,
assistant 1, ..., user k) to /v1/chat/completions, so turn k's prompt begins with turn k-1's
prompt and reply. With --affinity every request carries X-Session-Affinity: <conversation>, and
nginx's consistent hash keeps a conversation on one replica; without it, least_conn places each
turn on whichever replica is least busy. Conversations start at random times and users wait up to
--think seconds between turns, so that clients do not fall into lockstep with the balancer. --tag makes the texts differ between runs, so that a run
cannot hit what an earlier run left in the caches.
"""
import argparse
import json
import random
import threading
import time
import urllib.request

results_replicas = []  # per conversation: the replica of each turn (list.append is atomic)
errors = []

def metrics(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as f:
        text = f.read().decode()
    out = {}
    for line in text.split("\n"):
        for name in ("ladle_prefix_cache_hits_total", "ladle_prefix_cache_queries_total"):
            if line.startswith(name + " "):
                out[name] = float(line.split()[-1])
    return out


def chat(port, messages, max_tokens, affinity):
    body = json.dumps({"messages": messages, "max_tokens": max_tokens, "temperature": 0}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/chat/completions", data=body,
                                 headers={"Content-Type": "application/json"})
    if affinity:
        req.add_header("X-Session-Affinity", affinity)
    t = time.monotonic()
    with urllib.request.urlopen(req, timeout=120) as f:
        reply = json.load(f)
        replica = f.headers.get("X-Ladle-Replica")
    return reply["choices"][0]["message"]["content"], replica, time.monotonic() - t


def conversation(args, k, results):
    session = f"{args.tag}-{k}"
    rng = random.Random(f"{args.tag}-{k}")
    # The 15M shape has 256 positions: short turns, so that the last turn's history still fits.
    messages = [{"role": "system", "content": f"Story {session}."}]
    replicas = []
    time.sleep(rng.uniform(0, args.think))  # conversations start at different times
    for turn in range(args.turns):
        messages.append({"role": "user", "content": f"And then {turn}?"})
        try:
            text, replica, seconds = chat(args.nginx, messages, args.max_tokens, session if args.affinity else None)
        except Exception as e:  # counted, and the conversation ends there
            errors.append(f"{type(e).__name__}: {e}")
            break
        messages.append({"role": "assistant", "content": text})
        replicas.append(replica)
        results.append(seconds)
        time.sleep(rng.uniform(0, args.think))  # the user reads, then answers
    results_replicas.append(replicas)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--nginx", type=int, required=True)
    p.add_argument("--replica", type=int, action="append", required=True)
    p.add_argument("--affinity", action="store_true")
    p.add_argument("--conversations", type=int, default=16)
    p.add_argument("--turns", type=int, default=4)
    p.add_argument("--max-tokens", type=int, default=24)
    p.add_argument("--think", type=float, default=0.3, help="seconds a user waits at most before a turn")
    p.add_argument("--tag", default=str(int(time.time())))
    args = p.parse_args()
    before = [metrics(r) for r in args.replica]
    latencies = []
    threads = [threading.Thread(target=conversation, args=(args, k, latencies)) for k in range(args.conversations)]
    t = time.monotonic()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    elapsed = time.monotonic() - t
    after = [metrics(r) for r in args.replica]
    hits = sum(a["ladle_prefix_cache_hits_total"] - b["ladle_prefix_cache_hits_total"] for a, b in zip(after, before))
    queries = sum(a["ladle_prefix_cache_queries_total"] - b["ladle_prefix_cache_queries_total"]
                  for a, b in zip(after, before))
    moves = sum(sum(1 for x, y in zip(r, r[1:]) if x != y) for r in results_replicas)
    latencies.sort()
    print(json.dumps({
        "affinity": args.affinity, "conversations": args.conversations, "turns": args.turns,
        "requests": len(latencies), "errors": len(errors), "seconds": round(elapsed, 2),
        "prompt_tokens": queries, "cached_prompt_tokens": hits,
        "hit_rate": round(hits / queries, 4) if queries else None,
        "replica_changes_between_turns": moves,
        "latency_p50_ms": round(latencies[len(latencies) // 2] * 1e3, 1),
    }))


if __name__ == "__main__":
    main()
