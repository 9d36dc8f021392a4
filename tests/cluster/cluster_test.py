#!/usr/bin/env python3
"""Two `ladle serve` replicas behind nginx, with Prometheus, started by scripts/cluster.sh on free
loopback ports in a temporary folder (always stopped and removed at the end):

  streams       OpenAI, Anthropic and Responses streams through nginx arrive event by event, as
                spread out in time as the same stream read from a replica directly
  disconnect    a client that leaves through nginx, streamed or not, frees the request's KV blocks
                on its replica within one second and is counted there as a disconnect (that
                replica's /metrics)
  resume        background responses created through nginx are resumed, polled and cancelled
                through nginx on other connections: each reaches its owner and replays exactly
                what the owner itself replays
  prometheus    Prometheus scrapes both replicas (up == 1) and a recording rule has a value
  failover      with one replica draining and then stopped, every request through nginx gets its
                answer from the other one: no client sees a 502 (or the draining replica's 503)
  stop          scripts/cluster.sh stop ends every process start recorded

  realtime      a /v1/realtime WebSocket turn through nginx: the upgrade passes, and its deltas
                arrive spread out in time like the same turn's read from a replica directly

usage: cluster_test.py LADLE_BINARY [SOURCE_DIR]
LADLE_CLUSTER_ONLY=streams,resume (for example) runs only those groups.
"""
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sse_client import Stream, event_data, request  # noqa: E402
from ws_client import WebSocket  # noqa: E402

LADLE = os.path.abspath(sys.argv[1])
SOURCE = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "..", ".."))
CLUSTER_SH = os.path.join(SOURCE, "scripts", "cluster.sh")
failures = []


def check(ok, what):
    print(("ok    " if ok else "FAIL  ") + what, flush=True)
    if not ok:
        failures.append(what)
    return ok


def free_base_port(count):
    """A port P with P..P+count-1 all free on loopback, below the ephemeral range (an outgoing
    connection of any process could take a port there between this check and the bind)."""
    for _ in range(200):
        base = random.randint(20000, 32000 - count)
        socks = []
        try:
            for p in range(base, base + count):
                s = socket.socket()
                s.bind(("127.0.0.1", p))
                socks.append(s)
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free port range")


def metric(port, name, labels=""):
    """The value of one sample in a replica's /metrics (labels: the exact {...} text, or "")."""
    text = request(port, "GET", "/metrics").body.decode()
    for line in text.split("\n"):
        if line.startswith(name + labels + " "):
            return float(line.split()[-1])
    return 0.0


COMPLETION = {"prompt": "Once upon a time", "max_tokens": 8}


# --- streams -----------------------------------------------------------------------------------

STREAMS = {
    "openai": ("/v1/completions", {"prompt": "Once upon a time", "max_tokens": 120, "ignore_eos": True,
                                   "temperature": 0, "stream": True}),
    "anthropic": ("/v1/messages", {"model": "m", "max_tokens": 120, "temperature": 0, "stream": True,
                                   "messages": [{"role": "user", "content": "Tell me a story"}]}),
    "responses": ("/v1/responses", {"input": "Tell me a story", "max_output_tokens": 120, "temperature": 0,
                                    "stream": True}),
}


def arrivals(port, target, body):
    """Arrival times of a stream's events, relative to the first. The client accepts gzip, as the
    OpenAI and Anthropic SDKs' HTTP clients do, so a proxy that compresses streams is seen."""
    s = Stream(port, "POST", target, body, {"Accept-Encoding": "gzip, deflate"})
    try:
        times = [t for t, _ in s.events()]
    finally:
        s.close()
    return [t - times[0] for t in times] if times else []


def shape(times):
    """(events, distinct arrival times, first-to-last seconds)."""
    return len(times), len(set(times)), (times[-1] if times else 0.0)


def test_streams(nginx, replica):
    # NOTE(cluster): a proxy that holds events back delivers many of them in one read, so the
    # count of separate reads tells event by event from bunched; the first-to-last time tells
    # spread from all-at-the-end. Both are compared with the same stream read directly, just
    # before; token rates on a busy 2-core machine vary by 2-3x from one stream to the next, so
    # the bounds are loose (half the reads, a quarter of the time) and a dialect gets three tries:
    # a proxy that buffers fails all three by a wide margin (1 read instead of ~100).
    for name, (target, body) in STREAMS.items():
        for attempt in range(1, 4):
            direct = shape(arrivals(replica, target, body))
            proxied = shape(arrivals(nginx, target, body))
            print(f"      {name} #{attempt}: direct {direct[0]} events in {direct[1]} reads over "
                  f"{direct[2] * 1e3:.0f} ms; through nginx {proxied[0]} events in {proxied[1]} reads over "
                  f"{proxied[2] * 1e3:.0f} ms")
            sane = direct[0] >= 40 and direct[1] >= direct[0] // 3
            spread = proxied[1] >= direct[1] // 2 and proxied[2] >= direct[2] / 4
            if sane and spread:
                break
        if not check(sane, f"streams/{name}: the direct stream itself arrives event by event (else nothing to compare)"):
            continue
        check(spread, f"streams/{name}: through nginx the events arrive spread out like the direct ones (at least "
              f"half as many separate reads, over at least a quarter of the time; try {attempt} of 3)")


def realtime_arrivals(port):
    """Arrival times of one /v1/realtime turn's text deltas, relative to the first."""
    ws = WebSocket(port)
    try:
        assert ws.recv()[1]["type"] == "session.created"
        ws.send({"type": "conversation.item.create",
                 "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Tell me a story"}]}})
        ws.send({"type": "response.create", "response": {"max_output_tokens": 120, "temperature": 0}})
        times = []
        while True:
            t, e = ws.recv()
            if e["type"] == "response.output_text.delta":
                times.append(t)
            elif e["type"] in ("response.done", "error"):
                break
        return [t - times[0] for t in times] if times else []
    finally:
        ws.close()


def test_realtime(nginx, replica):
    for attempt in range(1, 4):
        direct = shape(realtime_arrivals(replica))
        proxied = shape(realtime_arrivals(nginx))
        print(f"      realtime #{attempt}: direct {direct[0]} deltas at {direct[1]} times over {direct[2] * 1e3:.0f} ms; "
              f"through nginx {proxied[0]} at {proxied[1]} times over {proxied[2] * 1e3:.0f} ms")
        spread = proxied[0] >= 40 and proxied[1] >= direct[1] // 2 and proxied[2] >= direct[2] / 4
        if spread:
            break
    check(direct[0] >= 40, "realtime: the direct WebSocket turn streams its deltas")
    check(spread, f"realtime: through nginx the WebSocket upgrades and its deltas arrive spread out like the direct "
          f"ones (try {attempt} of 3)")


# --- disconnect --------------------------------------------------------------------------------

def wait_freed(port, disconnects_before):
    """Seconds until `port` holds no KV blocks and has counted one more disconnect, or None
    after one second."""
    left = time.monotonic()
    while time.monotonic() - left < 1.0:
        if metric(port, "ladle_kv_cache_blocks_used") == 0 and \
                metric(port, "ladle_client_disconnects_total") == disconnects_before + 1:
            return time.monotonic() - left
        time.sleep(0.02)
    return None


def test_disconnect(nginx, replicas):
    long = {"prompt": "Once upon a time", "max_tokens": 230, "ignore_eos": True}
    # A stream: nginx's next write to the gone client fails.
    s = Stream(nginx, "POST", "/v1/completions", dict(long, stream=True))
    owner = replicas[s.headers.get("x-ladle-replica", "?")]
    before = metric(owner, "ladle_client_disconnects_total")
    events = s.events()
    for _ in range(5):
        next(events)
    used = metric(owner, "ladle_kv_cache_blocks_used")
    check(used > 0, f"disconnect: the stream holds KV blocks on its replica ({used:.0f})")
    s.close()
    freed = wait_freed(owner, before)
    check(freed is not None, "disconnect: within 1 s of a streaming client leaving nginx, its replica counts the "
          f"disconnect and holds no KV blocks ({'%.0f ms' % (freed * 1e3) if freed is not None else 'not freed'})")
    # Not streamed: nothing is written until the end, so only nginx's watch on the client's
    # connection (proxy_ignore_client_abort off) can tell the replica early.
    before = {p: metric(p, "ladle_client_disconnects_total") for p in replicas.values()}
    s = Stream(nginx, "POST", "/v1/completions", long, read_head=False)
    owner = None
    for _ in range(100):
        owner = next((p for p in replicas.values() if metric(p, "ladle_kv_cache_blocks_used") > 0), None)
        if owner:
            break
        time.sleep(0.01)
    if not check(owner is not None, "disconnect: the non-streamed request holds KV blocks on a replica"):
        return
    s.close()
    freed = wait_freed(owner, before[owner])
    check(freed is not None, "disconnect: within 1 s of a non-streaming client leaving nginx, its replica counts "
          f"the disconnect and holds no KV blocks ({'%.0f ms' % (freed * 1e3) if freed is not None else 'not freed'})")


# --- resume ------------------------------------------------------------------------------------

def replay(port, rid, after):
    s = Stream(port, "GET", f"/v1/responses/{rid}?stream=true&starting_after={after}")
    try:
        return s.status, s.headers, [e for _, e in s.events()]
    finally:
        s.close()


def test_resume(nginx, replicas):
    created = []
    for i in range(4):
        r = request(nginx, "POST", "/v1/responses",
                    {"input": f"Story number {i}", "max_output_tokens": 150, "background": True, "temperature": 0})
        if not check(r.status == 200, f"resume: background response {i} created through nginx ({r.status})"):
            return
        rid = r.json()["id"]
        owner = r.headers.get("x-ladle-replica")
        check(rid.startswith(f"resp_{owner}_"), f"resume: its id {rid} carries its replica's tag ({owner})")
        created.append((rid, owner))
    check(len({o for _, o in created}) == 2, "resume: both replicas own some (else the routing is not exercised)")
    for k, (rid, owner) in enumerate(created):
        after = 3 + k  # resumed while it may still be running
        status, headers, proxied = replay(nginx, rid, after)
        if not check(status == 200 and headers.get("x-ladle-replica") == owner,
                     f"resume: GET {rid}?stream=true through nginx reached its owner {owner} "
                     f"({status}, {headers.get('x-ladle-replica')})"):
            continue
        seqs = [event_data(e)["sequence_number"] for e in proxied]
        check(seqs == list(range(after + 1, after + 1 + len(seqs))) and
              event_data(proxied[-1])["type"] in ("response.completed", "response.incomplete"),
              f"resume: the replay starts after {after}, has no gap and ends with the response's last event")
        _, _, direct = replay(replicas[owner], rid, after)
        check(proxied == direct, f"resume: through nginx the replay is exactly the owner's own ({len(direct)} events)")
        polled = request(nginx, "GET", f"/v1/responses/{rid}")
        check(polled.status == 200 and polled.json()["status"] in ("completed", "incomplete"),
              f"resume: polling {rid} through nginx reaches its owner ({polled.status})")
    # Cancel through nginx: a long one, cancelled at once.
    r = request(nginx, "POST", "/v1/responses",
                {"input": "A long story", "max_output_tokens": 230, "background": True})
    rid = r.json()["id"]
    c = request(nginx, "POST", f"/v1/responses/{rid}/cancel")
    check(c.status == 200 and c.headers.get("x-ladle-replica") == r.headers.get("x-ladle-replica") and
          c.json()["status"] in ("cancelled", "completed"),
          f"resume: POST {rid}/cancel through nginx reached its owner ({c.status}, {c.body[:80]!r})")
    d = request(nginx, "DELETE", f"/v1/responses/{rid}")
    check(d.status == 200, f"resume: DELETE {rid} through nginx reached its owner ({d.status})")


# --- prometheus --------------------------------------------------------------------------------

def prom_query(port, query):
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": query})
    with urllib.request.urlopen(url, timeout=5) as f:
        return json.load(f)["data"]["result"]


def test_prometheus(prom, nginx):
    # Prometheus applies its targets a few seconds after it starts, so traffic that came earlier
    # may predate its first scrape: requests are sent here until the rule sees some.
    deadline = time.monotonic() + 30
    up, p99 = [], []
    while time.monotonic() < deadline:
        up = prom_query(prom, 'up{job="ladle"}')
        p99 = prom_query(prom, "fleet:ladle_time_to_first_token_seconds:p99_1m")
        if len(up) == 2 and all(u["value"][1] == "1" for u in up) and p99 and p99[0]["value"][1] != "NaN":
            break
        if up:
            for _ in range(2):
                request(nginx, "POST", "/v1/completions", COMPLETION)
        time.sleep(0.5)
    check(len(up) == 2 and all(u["value"][1] == "1" for u in up),
          f"prometheus: scrapes both replicas, up == 1 ({[(u['metric'].get('replica'), u['value'][1]) for u in up]})")
    check(bool(p99) and p99[0]["value"][1] not in ("NaN", "+Inf"),
          f"prometheus: fleet:ladle_time_to_first_token_seconds:p99_1m has a value ({p99[0]['value'][1] if p99 else None})")


# --- failover ----------------------------------------------------------------------------------

def test_failover(nginx, replicas, pid_of):
    # Both replicas serve (and nginx keeps connections to both), then r1 drains: a long stream on it
    # (direct, so nginx does not count it) holds the drain open while requests arrive at nginx.
    for _ in range(4):
        request(nginx, "POST", "/v1/completions", COMPLETION)
    hold = Stream(replicas["r1"], "POST", "/v1/completions",
                  {"prompt": "Once upon a time", "max_tokens": 230, "ignore_eos": True, "stream": True})
    next(hold.events())
    pid = pid_of("replica-r1")
    os.kill(pid, signal.SIGTERM)
    time.sleep(0.05)
    answers = []
    try:
        draining = request(replicas["r1"], "GET", "/health").status
    except OSError as e:
        draining = type(e).__name__  # its listener is closed while it drains
    for i in range(8):
        r = request(nginx, "POST", "/v1/completions", dict(COMPLETION, stream=(i % 2 == 1)))
        answers.append((r.status, r.headers.get("x-ladle-replica")))
    check(all(a == (200, "r0") for a in answers),
          f"failover: while r1 drains (its /health: {draining}), every request through nginx is answered by r0 {answers}")
    for _ in hold.events():  # the drain lets it finish
        pass
    hold.close()
    for _ in range(100):
        if not pid_alive(pid):
            break
        time.sleep(0.1)
    check(not pid_alive(pid), "failover: r1 has exited after its drain")
    answers = []
    for i in range(8):
        r = request(nginx, "POST", "/v1/completions", dict(COMPLETION, stream=(i % 2 == 1)))
        answers.append((r.status, r.headers.get("x-ladle-replica")))
    check(all(a == (200, "r0") for a in answers),
          f"failover: with r1 stopped, every request through nginx is answered by r0 {answers}")


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True  # cluster.sh started it, so it is no child of ours that could linger as a zombie


def main():
    tmp = tempfile.mkdtemp(prefix="ladle_cluster_")
    base = free_base_port(4)
    nginx, replicas, prom = base, {"r0": base + 1, "r1": base + 2}, base + 3
    cluster = os.path.join(tmp, "cluster")
    started = False
    try:
        t0 = time.monotonic()
        model, tok = os.path.join(tmp, "m15.bin"), os.path.join(tmp, "tok15.bin")
        subprocess.run([LADLE, "make-model", "--preset", "15m", "--out", model, "--tokenizer-out", tok],
                       check=True, stdout=subprocess.DEVNULL)
        env = dict(os.environ, LADLE=LADLE)
        started = True
        subprocess.run(["bash", CLUSTER_SH, "start", "2", "--port", str(base), "--dir", cluster, "--model", model,
                        "--tokenizer", tok, "--scrape-interval", "1s", "--",
                        "--threads", "1", "--max-running", "16", "--kv-cache-mb", "32", "--drain-timeout", "10"],
                       check=True, env=env)
        print(f"      cluster up in {time.monotonic() - t0:.1f} s", flush=True)

        def pid_of(name):
            with open(os.path.join(cluster, "pids", name + ".pid")) as f:
                return int(f.read())

        only = os.environ.get("LADLE_CLUSTER_ONLY", "").split(",")
        for name, fn in [("streams", lambda: test_streams(nginx, replicas["r0"])),
                         ("realtime", lambda: test_realtime(nginx, replicas["r0"])),
                         ("disconnect", lambda: test_disconnect(nginx, replicas)),
                         ("resume", lambda: test_resume(nginx, replicas)),
                         ("prometheus", lambda: test_prometheus(prom, nginx)),
                         ("failover", lambda: test_failover(nginx, replicas, pid_of))]:
            if only != [""] and name not in only:
                continue
            t = time.monotonic()
            try:
                fn()
            except Exception as e:  # a crash in one group is its failure, not the end of the others
                check(False, f"{name}: raised {type(e).__name__}: {e}")
            print(f"      {name}: {time.monotonic() - t:.1f} s", flush=True)
    finally:
        if started:
            piddir = os.path.join(cluster, "pids")
            pids = [int(open(os.path.join(piddir, f)).read()) for f in os.listdir(piddir)] if os.path.isdir(piddir) else []
            subprocess.run(["bash", CLUSTER_SH, "stop", "--dir", cluster], env=dict(os.environ, LADLE=LADLE))
            reports = []
            for log in ("replica-r0.log", "replica-r1.log"):
                path = os.path.join(cluster, "logs", log)
                if os.path.exists(path):
                    with open(path, errors="replace") as f:
                        reports += [f"{log}: {line.strip()}" for line in f
                                    if "Sanitizer" in line or "runtime error:" in line]
            check(not reports, f"no sanitizer report in the replicas' logs (an ASan build's) {reports[:3]}")
            check(len(pids) == 4 and not any(pid_alive(p) for p in pids),
                  f"cluster.sh stop ended the {len(pids)} processes start recorded (2 replicas, nginx, Prometheus; "
                  f"still running: {[p for p in pids if pid_alive(p)]})")
            if failures:
                for log in sorted(os.listdir(os.path.join(cluster, "logs"))):
                    with open(os.path.join(cluster, "logs", log), errors="replace") as f:
                        print(f"--- {log} (last lines)\n" + "".join(line for line in f.readlines()[-15:]
                                                                   if not line.startswith("ts=")))
                err = os.path.join(cluster, "nginx", "logs", "error.log")
                if os.path.exists(err):
                    with open(err, errors="replace") as f:
                        print("--- nginx error.log (last lines)\n" + "".join(f.readlines()[-15:]))
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{len(failures)} failure(s)" if failures else "all cluster checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
