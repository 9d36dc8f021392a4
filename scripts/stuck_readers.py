#!/usr/bin/env python3
"""Stuck readers: N clients with a small receive buffer (2 KiB by default) each start a streamed
completion, read its response head and then stop reading, as a client whose consumer hung
would. Measures, from the server's /metrics, how long after they stopped reading their requests
were cut (ladle_client_disconnects_total) and their slots and KV blocks freed, and the
server's RSS meanwhile (with --pid).

usage: scripts/stuck_readers.py --url http://127.0.0.1:8080 [--clients 4] [--rcvbuf 2048]
                                [--max-tokens 2000] [--pid PID] [--timeout 120]
Exit status 0 when every request was cut and the server is idle again, 1 otherwise (a request that
generated to its end before any cut leaves its client uncut).
"""
import argparse
import json
import socket
import sys
import time
import urllib.parse
import urllib.request


def metrics(base):
    text = urllib.request.urlopen(base + "/metrics", timeout=10).read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def rss_kib(pid):
    if not pid:
        return 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def start_stuck_client(host, port, rcvbuf, body):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)  # before connect: sets the window
    s.connect((host, port))
    data = json.dumps(body).encode()
    s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: " + str(len(data)).encode() + b"\r\n\r\n" + data)
    head = b""
    while b"\r\n\r\n" not in head:  # the response head, then no more reading
        chunk = s.recv(1)
        if not chunk:
            raise RuntimeError("closed before the response head")
        head += chunk
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError("not 200: " + head.decode(errors="replace"))
    return s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default="http://127.0.0.1:8080")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--rcvbuf", type=int, default=2048)
    ap.add_argument("--max-tokens", type=int, default=2000)
    ap.add_argument("--pid", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=120)
    a = ap.parse_args()
    u = urllib.parse.urlparse(a.url)
    base = f"{u.scheme}://{u.netloc}"
    before = metrics(base)
    cut0 = before.get("ladle_client_disconnects_total", 0)
    rss_start = rss_kib(a.pid)
    body = {"prompt": "Once upon a time", "max_tokens": a.max_tokens, "ignore_eos": True, "stream": True}
    socks = [start_stuck_client(u.hostname, u.port, a.rcvbuf, body) for _ in range(a.clients)]
    t0 = time.time()  # every client has stopped reading
    cut_times = []
    rss_peak = rss_start
    freed_at = None
    while time.time() - t0 < a.timeout:
        m = metrics(base)
        rss_peak = max(rss_peak, rss_kib(a.pid))
        cut = int(m.get("ladle_client_disconnects_total", 0) - cut0)
        while len(cut_times) < min(cut, a.clients):
            cut_times.append(time.time() - t0)
        if (m.get("ladle_num_requests_running") == 0 and m.get("ladle_num_requests_waiting") == 0
                and m.get("ladle_kv_cache_blocks_used") == 0):
            freed_at = time.time() - t0  # cut, or (without a cut) generated to the end
            break
        time.sleep(0.05)
    for s in socks:
        s.close()
    m = metrics(base)
    tokens = m.get("ladle_generation_tokens_total", 0) - before.get("ladle_generation_tokens_total", 0)
    if len(cut_times) > 8:  # min / median / max
        shown = f"{cut_times[0]:.1f} / {cut_times[len(cut_times) // 2]:.1f} / {cut_times[-1]:.1f} (min/median/max)"
    else:
        shown = ", ".join(f"{t:.1f}" for t in cut_times) or "-"
    print(f"clients {a.clients}, receive buffer {a.rcvbuf} B: {len(cut_times)} cut, after " + shown + " s"
          + (f"; all slots and KV free after {freed_at:.1f} s" if freed_at is not None else "; NOT all freed")
          + f"; {int(tokens)} tokens generated meanwhile")
    if a.pid:
        print(f"server RSS: {rss_start} KiB before, {rss_peak} KiB peak, {rss_kib(a.pid)} KiB after")
    return 0 if freed_at is not None and len(cut_times) == a.clients else 1


if __name__ == "__main__":
    sys.exit(main())
