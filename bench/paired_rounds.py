#!/usr/bin/env python3
"""Direct vs through a proxy, from many short rounds of `ladle bench --alt-url --server-timing`
(bench/cluster_bench.sh section 4): in every round both paths ran in the same time window against
the same replica (requests alternating per client), so each round's difference is free of the
load's drift between rounds. Pools every round per concurrency level and reports per path:
TTFT p50, TTFT p50 outside the server (client TTFT − the server's own TTFT), ITL p99; and for the
differences (path 1 − path 0) a 95 % interval from a bootstrap over rounds (whole rounds are
resampled, so the within-round correlation stays in), plus a verdict against issue 21's goals
(TTFT p50 under +2 ms, ITL p99 under +5 %): met when the whole interval is below the goal, not
met when it is all above, else open. Also the difference of the mean server-side TTFT: where the
requests of each path landed in the prefill queue (0 when the proxy does not change it); under
load TTFT comes in steps of a prefill step's length, so the TTFT p50 difference jumps by whole
steps, while the part outside the server is continuous and precise.

  bench/paired_rounds.py ROUND.json... [--resamples 400] [--seed 1]
"""
import argparse
import json
import random


def pct(xs, q):
    """numpy's default (linear) percentile, q in 0..100, of an unsorted list."""
    xs = sorted(xs)
    if not xs:
        return 0.0
    rank = q / 100 * (len(xs) - 1)
    lo = int(rank)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (rank - lo)


def stats(rounds):
    """Pooled per-path figures of a list of rounds (each: {path: {"ttft", "outside", "itl"}})."""
    out = {}
    for p in (0, 1):
        ttft = [x for r in rounds for x in r[p]["ttft"]]
        outside = [x for r in rounds for x in r[p]["outside"]]
        server = [x for r in rounds for x in r[p]["server"]]
        itl = [x for r in rounds for x in r[p]["itl"]]
        out[p] = {"ttft_p50": pct(ttft, 50), "outside_p50": pct(outside, 50) if outside else None,
                  "itl_p99": pct(itl, 99), "n": len(ttft),
                  "server_mean": sum(server) / len(server) if server else None}
    d = {"ttft_p50_ms": out[1]["ttft_p50"] - out[0]["ttft_p50"],
         "itl_p99_pct": 100 * (out[1]["itl_p99"] / out[0]["itl_p99"] - 1) if out[0]["itl_p99"] else 0.0}
    if out[0]["outside_p50"] is not None and out[1]["outside_p50"] is not None:
        d["outside_p50_ms"] = out[1]["outside_p50"] - out[0]["outside_p50"]
        d["server_mean_ms"] = out[1]["server_mean"] - out[0]["server_mean"]
    return out, d


MIN_ROUNDS = 10  # fewer: the bootstrap over rounds has too little to resample, no verdict


def verdict(lo, hi, goal, rounds):
    if rounds < MIN_ROUNDS:
        return f"no verdict under {MIN_ROUNDS} rounds"
    return "met" if hi < goal else ("NOT met" if lo >= goal else "open")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("files", nargs="+")
    ap.add_argument("--resamples", type=int, default=400)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    levels = {}  # concurrency -> [round]
    urls = None
    for f in args.files:
        doc = json.load(open(f))
        urls = (doc["url"], doc.get("alt_url", ""))
        for run in doc["runs"]:
            rnd = {p: {"ttft": [], "outside": [], "server": [], "itl": []} for p in (0, 1)}
            for s in run["samples"]:
                if not s["ok"] or s.get("path") not in (0, 1):
                    continue
                r = rnd[s["path"]]
                r["ttft"].append(s["ttft_ms"])
                if s.get("server_ttft_ms", -1) >= 0:
                    r["outside"].append(s["ttft_ms"] - s["server_ttft_ms"])
                    r["server"].append(s["server_ttft_ms"])
                r["itl"].extend(s["itl_ms"])
            levels.setdefault(run["concurrency"], []).append(rnd)
    print(f"path 0 = {urls[0]}, path 1 = {urls[1]}; {len(args.files)} rounds; "
          f"95 % intervals: bootstrap over rounds ({args.resamples} resamples)")
    print("| streams | rounds | requests 0 / 1 | TTFT p50 ms 0 / 1 | Δ TTFT p50 ms [95 % CI] | "
          "outside-server TTFT p50 ms 0 / 1 | Δ outside ms [95 % CI] | Δ server TTFT mean ms [95 % CI] | "
          "ITL p99 ms 0 / 1 | Δ ITL p99 % [95 % CI] | goals (TTFT < +2 ms, ITL p99 < +5 %) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    rng = random.Random(args.seed)
    for level in sorted(levels):
        rounds = levels[level]
        per, d = stats(rounds)
        boot = {k: [] for k in d}
        for _ in range(args.resamples):
            _, bd = stats([rng.choice(rounds) for _ in rounds])
            for k in boot:
                if k in bd:
                    boot[k].append(bd[k])
        ci = {k: (pct(v, 2.5), pct(v, 97.5)) for k, v in boot.items() if v}

        def cell(k, fmt):
            if k not in d:
                return "–"
            return f"{d[k]:{fmt}} [{ci[k][0]:{fmt}} .. {ci[k][1]:{fmt}}]"

        outside = (f"{per[0]['outside_p50']:.3f} / {per[1]['outside_p50']:.3f}"
                   if "outside_p50_ms" in d else "–")
        n = len(rounds)
        goals = (f"TTFT {verdict(*ci['ttft_p50_ms'], 2.0, n)}"
                 + (f" (outside the server: {verdict(*ci['outside_p50_ms'], 2.0, n)})" if "outside_p50_ms" in ci else "")
                 + f"; ITL {verdict(*ci['itl_p99_pct'], 5.0, n)}")
        print(f"| {level} | {len(rounds)} | {per[0]['n']} / {per[1]['n']} | "
              f"{per[0]['ttft_p50']:.2f} / {per[1]['ttft_p50']:.2f} | {cell('ttft_p50_ms', '+.2f')} | "
              f"{outside} | {cell('outside_p50_ms', '+.3f')} | {cell('server_mean_ms', '+.2f')} | "
              f"{per[0]['itl_p99']:.2f} / {per[1]['itl_p99']:.2f} | {cell('itl_p99_pct', '+.1f')} | {goals} |")


if __name__ == "__main__":
    main()
