"""Listener back-off: a server out of file descriptors (RLIMIT_NOFILE lowered in its process)
must not retry accept() in a hot loop. It backs off, logs once per episode, counts the failures
in ladle_accept_errors_total, and serves again once descriptors are free.

usage: accept_backoff_test.py LADLE MODEL TOKENIZER
"""
import resource
import socket
import time

from ladle_live import Server, args, check, metrics, request

LIMIT = 64       # descriptors the server may hold
CLIENTS = 120    # connections held open by this test: far more than the server can accept


def lower_limit():
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (LIMIT, hard))


def main():
    ladle, model, tokenizer = args()
    with Server(ladle, model, tokenizer, "--max-connections", "1000", preexec_fn=lower_limit) as server:
        server.wait_ready()
        held = []
        for _ in range(CLIENTS):
            s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            held.append(s)
        time.sleep(2.0)  # the server sits out of descriptors for 2 s
        errors = [l for l in server.log_lines if "accept:" in l]
        check(len(errors) == 1, f"expected one log line for the back-off episode, got {len(errors)}: {errors[:3]}")
        for s in held:
            s.close()
        # Descriptors come back as the held connections close: the server must serve again.
        deadline = time.time() + 20
        status = None
        while time.time() < deadline:
            try:
                status, _ = request(server.port, "GET", "/health", timeout=5)
                if status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        check(status == 200, f"the server did not recover: /health {status}")
        m = metrics(server.port)
        failed = m.get("ladle_accept_errors_total", 0)
        # 2 s of back-off from 10 ms doubling to 1 s is about 8 retries; a hot loop makes thousands.
        check(1 <= failed <= 100, f"ladle_accept_errors_total = {failed}")
        check(any("accepting again" in l for l in server.log_lines), "no recovery line in the log")
    print(f"ok: {int(failed)} failed accepts in one back-off episode, then served again")


if __name__ == "__main__":
    main()
