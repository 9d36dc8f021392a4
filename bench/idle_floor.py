#!/usr/bin/env python3
"""The queue-time and TTFT floor of an idle server, and what the first requests after `ready` pay.

    bench/idle_floor.py LADLE MODEL TOKENIZER [--first 3] [--later 20] [--gap 0.1] [-- SERVE_FLAGS...]

TOKENIZER `-` for a GGUF file (its own vocabulary); SERVE_FLAGS go to `ladle serve` as they are
(e.g. `-- --weights q8 --threads 2`).

Starts `LADLE serve` on the model, sends FIRST sequential completions (8 greedy tokens) right after
it reports ready, waits a second, then LATER completions GAP seconds apart. After each request it
reads the server's own ladle_request_queue_time_seconds and ladle_time_to_first_token_seconds
(sum deltas, so each figure is that one request's), and prints one table row per phase: every
value, the median and the max, in microseconds.
"""
import argparse, json, re, socket, statistics, subprocess, sys, time, urllib.request

ap = argparse.ArgumentParser()
ap.add_argument("ladle"); ap.add_argument("model"); ap.add_argument("tokenizer")
ap.add_argument("--first", type=int, default=3); ap.add_argument("--later", type=int, default=20)
ap.add_argument("--gap", type=float, default=0.1)
argv = sys.argv[1:]
serve_flags = argv[argv.index("--") + 1:] if "--" in argv else []
a = ap.parse_args(argv[:argv.index("--")] if "--" in argv else argv)

s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
tokenizer = [] if a.tokenizer == "-" else ["--tokenizer", a.tokenizer]
server = subprocess.Popen([a.ladle, "serve", "--model", a.model, *tokenizer, "--port", str(port), *serve_flags],
                          stderr=subprocess.PIPE, text=True)
for line in server.stderr:
    if "ready" in line:
        break
url = f"http://127.0.0.1:{port}"


def sums():
    text = urllib.request.urlopen(url + "/metrics").read().decode()
    get = lambda name: float(re.search(rf"^{name}_sum (\S+)", text, re.M).group(1))
    return get("ladle_request_queue_time_seconds"), get("ladle_time_to_first_token_seconds")


def request():
    body = json.dumps({"prompt": "Once upon a time", "max_tokens": 8, "temperature": 0}).encode()
    urllib.request.urlopen(urllib.request.Request(url + "/v1/completions", body,
                                                  {"Content-Type": "application/json"})).read()


try:
    rows, last = {"first": [], "later": []}, sums()
    for phase, n, gap in (("first", a.first, 0), ("later", a.later, a.gap)):
        if phase == "later":
            time.sleep(1)
        for _ in range(n):
            time.sleep(gap)
            request()
            now = sums()
            rows[phase].append(((now[0] - last[0]) * 1e6, (now[1] - last[1]) * 1e6))
            last = now
finally:
    server.terminate()
    server.wait()

print("| phase | requests | queue µs (each) | queue median / max | TTFT µs median / max |")
print("| --- | --- | --- | --- | --- |")
for phase, values in rows.items():
    q, t = [v[0] for v in values], [v[1] for v in values]
    print(f"| {phase} | {len(values)} | {' '.join(f'{x:.0f}' for x in q)} | {statistics.median(q):.0f} / {max(q):.0f} | "
          f"{statistics.median(t):.0f} / {max(t):.0f} |")
