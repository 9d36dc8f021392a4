"""§1 of issue 22: a client that sends a body over --max-body without `Expect: 100-continue`
must still read the 413 (and its OpenAI-shaped JSON error), rather than a broken pipe or a
reset. Runs Python's urllib.request and Node's fetch (undici) against a live `ladle serve`.

usage: early_reply_clients_test.py LADLE MODEL TOKENIZER [NODE]
"""
import json
import subprocess
import sys
import urllib.error
import urllib.request

from ladle_live import Server, args, check

BODY = 16 << 20  # far beyond --max-body and every socket buffer, so the server answers mid-upload


def urllib_post(url, size, headers=None):
    data = b'{"prompt":"' + b"a" * (size - 14) + b'"}'
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            return res.status, res.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except Exception as e:  # noqa: BLE001 — the defect: EPIPE / reset instead of the answer
        return None, f"{type(e).__name__}: {e}"


def error_of(body):
    try:
        return json.loads(body)["error"]
    except (ValueError, KeyError, TypeError):
        return None


def main():
    ladle, model, tokenizer = args()
    node = sys.argv[4] if len(sys.argv) > 4 else None
    with Server(ladle, model, tokenizer, "--max-body", "65536", "--max-header-count", "40") as server:
        server.wait_ready()
        url = f"http://127.0.0.1:{server.port}/v1/completions"
        for attempt in range(3):  # the race the fix closes is timing-dependent: try it a few times
            status, body = urllib_post(url, BODY)
            check(status == 413, f"urllib, try {attempt}: expected 413, got {status}: {body[:300]}")
            err = error_of(body)
            check(err and err["code"] == "body_too_large" and err["type"] == "invalid_request_error",
                  f"urllib: not the OpenAI error body: {body[:300]}")
        # Another early reply, the same way: too many header fields while a large body follows.
        many = {f"X-Filler-{i}": "x" for i in range(60)}
        status, body = urllib_post(url, BODY, many)
        check(status == 431, f"urllib with 60 headers: expected 431, got {status}: {body[:300]}")
        check(error_of(body) is not None, f"431 without the JSON error: {body[:300]}")
        if node:
            script = __file__.replace("early_reply_clients_test.py", "fetch_post.mjs")
            for attempt in range(3):
                out = subprocess.run([node, script, url, str(BODY)], capture_output=True, text=True, timeout=60)
                check(out.returncode == 0, f"node failed: {out.stderr[-500:]}")
                res = json.loads(out.stdout.strip().splitlines()[-1])
                check(res.get("status") == 413, f"node fetch, try {attempt}: expected 413, got {res}")
                err = error_of(res["body"])
                check(err and err["code"] == "body_too_large", f"node fetch: not the JSON error: {res}")
        # The server is fine afterwards.
        status, _ = urllib_post(url, 64)
        check(status in (200, 400), f"a small request after the early replies got {status}")
    print("ok: urllib and fetch read 413 (and 431) with the JSON error")


if __name__ == "__main__":
    main()
