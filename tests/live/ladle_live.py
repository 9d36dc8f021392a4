"""Helpers for the live tests: run `ladle serve` as a child process on a free port and talk to it
with the Python standard library only (raw sockets and http.client), as a user's client would.

Every test script takes the ladle binary as its first argument and the model and tokenizer as
the next two (ctest passes them; see tests/CMakeLists.txt).
"""
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time


class Server:
    """`ladle serve --port 0 ...` with its stderr collected; `port` once it listens, `ready` waits
    for the model. Use as a context manager: the process is killed on exit if still running."""

    def __init__(self, ladle, model, tokenizer, *flags, preexec_fn=None, env=None):
        args = [ladle, "serve", "--port", "0", "--model", model, "--tokenizer", tokenizer, *flags]
        self.proc = subprocess.Popen(args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                     preexec_fn=preexec_fn, env=env)
        self.log_lines = []
        self._port = None
        self._ready = threading.Event()
        self._listening = threading.Event()
        self._reader = threading.Thread(target=self._read_log, daemon=True)
        self._reader.start()
        if not self._listening.wait(60):
            raise RuntimeError("ladle serve did not start listening: " + self.log())
        self.port = self._port

    def _read_log(self):
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.log_lines.append(line)
            m = re.search(r"listening on http://[^:]+:(\d+)", line)
            if m:
                self._port = int(m.group(1))
                self._listening.set()
            if "ladle serve: ready" in line:
                self._ready.set()
        self._listening.set()

    def wait_ready(self, timeout=120):
        deadline = time.time() + timeout
        while not self._ready.wait(0.1):
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("ladle serve never became ready: " + self.log())

    def log(self):
        return "\n".join(self.log_lines)

    def pid(self):
        return self.proc.pid

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def terminate(self, timeout=60):
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(5)


def request(port, method, path, body=None, headers=None, timeout=60):
    """One request on its own connection; returns (status, body text)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = json.dumps(body) if isinstance(body, (dict, list)) else body
        hdrs = {"Content-Type": "application/json"}
        hdrs.update(headers or {})
        conn.request(method, path, body=data, headers=hdrs)
        res = conn.getresponse()
        return res.status, res.read().decode("utf-8", "replace")
    finally:
        conn.close()


def metrics(port):
    """GET /metrics as {series: value} (labels kept in the key, e.g. 'x{reason="stop"}')."""
    status, text = request(port, "GET", "/metrics")
    assert status == 200, status
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        out[name] = float(value)
    return out


def wait_idle(port, timeout=60):
    """Waits until no request runs or waits and no KV block is used; returns the last metrics."""
    deadline = time.time() + timeout
    while True:
        m = metrics(port)
        if (m.get("ladle_num_requests_running") == 0 and m.get("ladle_num_requests_waiting") == 0
                and m.get("ladle_kv_cache_blocks_used") == 0):
            return m
        if time.time() > deadline:
            raise AssertionError(f"server not idle: running={m.get('ladle_num_requests_running')} "
                                 f"waiting={m.get('ladle_num_requests_waiting')} "
                                 f"kv_used={m.get('ladle_kv_cache_blocks_used')}")
        time.sleep(0.05)


def stream_completion(port, body, path="/v1/completions", timeout=120):
    """POSTs a streamed request and reads the whole SSE body. Returns (status, [data payloads])."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", path, body=json.dumps(dict(body, stream=True)),
                     headers={"Content-Type": "application/json"})
        res = conn.getresponse()
        text = res.read().decode("utf-8", "replace")
        if res.status != 200:
            return res.status, [text]
        return 200, [line[6:] for line in text.split("\n") if line.startswith("data: ")]
    finally:
        conn.close()


def check(condition, message):
    if not condition:
        print("FAIL:", message, file=sys.stderr)
        sys.exit(1)


def args():
    if len(sys.argv) < 4:
        print(f"usage: {sys.argv[0]} LADLE MODEL TOKENIZER", file=sys.stderr)
        sys.exit(2)
    return sys.argv[1], sys.argv[2], sys.argv[3]


def env_without(*names):
    env = dict(os.environ)
    for n in names:
        env.pop(n, None)
    return env
