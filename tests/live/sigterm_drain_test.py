"""SIGTERM under load: in-flight streams either finish (finish_reason, then [DONE]) or end with
an error event then [DONE] within --drain-timeout; nothing is half-written (every chunked body
is complete); new connections are refused; the process exits 0.

usage: sigterm_drain_test.py LADLE MODEL TOKENIZER
"""
import http.client
import json
import socket
import threading
import time

from ladle_live import Server, args, check

STREAMS = 32


def run_stream(port, i, out, started):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        body = {"prompt": "Once upon a time", "max_tokens": 500 if i % 2 else 24, "ignore_eos": True, "stream": True,
                "temperature": 0.8, "seed": i}
        conn.request("POST", "/v1/completions", body=json.dumps(body), headers={"Content-Type": "application/json"})
        res = conn.getresponse()
        started.release()
        raw = res.read()  # raises IncompleteRead if the chunked body was cut short
        out[i] = (res.status, raw.decode())
    except Exception as e:  # noqa: BLE001
        started.release()
        out[i] = (None, f"{type(e).__name__}: {e}")
    finally:
        conn.close()


def verdict(status, text):
    """'complete', 'error-ended', or a description of what is wrong."""
    if status != 200:
        return f"status {status}: {text[:200]}"
    events = [l[6:] for l in text.split("\n") if l.startswith("data: ")]
    if not events or events[-1] != "[DONE]":
        return f"no [DONE] at the end: {events[-2:]}"
    last = json.loads(events[-2]) if len(events) > 1 else {}
    if "error" in last:
        return "error-ended"
    if last.get("choices") and last["choices"][0].get("finish_reason"):
        return "complete"
    return f"[DONE] without a finish or an error event: {events[-3:]}"


def main():
    ladle, model, tokenizer = args()
    with Server(ladle, model, tokenizer, "--drain-timeout", "1", "--threads", "1", "--max-running", "8") as server:
        server.wait_ready()
        port = server.port
        out, started = {}, threading.Semaphore(0)
        threads = [threading.Thread(target=run_stream, args=(port, i, out, started)) for i in range(STREAMS)]
        for t in threads:
            t.start()
        for _ in threads:
            started.acquire()  # every stream has its response head: all are in flight
        server.proc.send_signal(15)
        refused = False  # while the server still drains (not merely because it exited)
        while server.proc.poll() is None and not refused:
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=1)
                s.close()
                time.sleep(0.01)
            except ConnectionRefusedError:
                refused = server.proc.poll() is None
        code = server.proc.wait(30)
        for t in threads:
            t.join(30)
        check(refused, "new connections were accepted until the server exited")
        check(code == 0, f"exit status {code}")
        verdicts = {i: verdict(*out[i]) for i in range(STREAMS)}
        bad = {i: v for i, v in verdicts.items() if v not in ("complete", "error-ended")}
        check(not bad, f"half-written streams: {bad}")
    complete = sum(v == "complete" for v in verdicts.values())
    print(f"ok: exit 0; {complete} streams complete, {STREAMS - complete} ended with an error event, all with [DONE]")


if __name__ == "__main__":
    main()
