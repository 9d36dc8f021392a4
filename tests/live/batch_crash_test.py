"""A batch survives its server: kill -9 mid-batch, restart on the same --data-dir, SIGTERM
mid-batch, restart again; the batch completes with every input line exactly once in the output
(none lost, none duplicated), the lines finished before each stop are not run again (their
results keep the ids of the run that made them, and the last run's ladle_batch_lines_total
counts only the rest), and each line's body is what a direct call with the same request returns.

usage: batch_crash_test.py LADLE MODEL TOKENIZER
"""
import json
import shutil
import tempfile
import time
import uuid

from ladle_live import Server, args, check, metrics, request

LINES = 120


def upload(port, name, content):
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
            f"Content-Type: application/jsonl\r\n\r\n{content}\r\n--{boundary}--\r\n")
    status, text = request(port, "POST", "/v1/files", body,
                           {"Content-Type": f"multipart/form-data; boundary={boundary}"})
    check(status == 200, f"upload: {status} {text}")
    return json.loads(text)["id"]


def batch(port, batch_id):
    status, text = request(port, "GET", f"/v1/batches/{batch_id}")
    check(status == 200, f"retrieve: {status} {text}")
    return json.loads(text)


def wait_for(port, batch_id, done_at_least, timeout=120):
    deadline = time.time() + timeout
    while True:
        b = batch(port, batch_id)
        if b["request_counts"]["completed"] >= done_at_least or b["status"] == "completed":
            return b
        check(time.time() < deadline, f"batch stuck: {b}")
        time.sleep(0.02)


def start(ladle, model, tokenizer, data, replica):
    server = Server(ladle, model, tokenizer, "--data-dir", data, "--replica-id", replica, "--threads", "1",
                    "--batch-max-in-flight", "4")
    server.wait_ready()
    return server


def main():
    ladle, model, tokenizer = args()
    data = tempfile.mkdtemp(prefix="ladle-batch-crash-")
    bodies = [{"prompt": f"Once upon a time {i}", "max_tokens": 120, "temperature": 0, "ignore_eos": True}
              for i in range(LINES)]
    content = "\n".join(json.dumps({"custom_id": f"line-{i}", "method": "POST", "url": "/v1/completions",
                                    "body": bodies[i]}) for i in range(LINES))

    with start(ladle, model, tokenizer, data, "r1") as s1:
        file_id = upload(s1.port, "crash.jsonl", content)
        status, text = request(s1.port, "POST", "/v1/batches",
                               {"input_file_id": file_id, "endpoint": "/v1/completions", "completion_window": "24h"})
        check(status == 200, f"create: {status} {text}")
        batch_id = json.loads(text)["id"]
        before_kill = wait_for(s1.port, batch_id, 10)["request_counts"]["completed"]
        s1.proc.kill()  # SIGKILL: no drain, no goodbye
        s1.proc.wait()
    check(0 < before_kill < LINES, f"the kill came too late: {before_kill} of {LINES} done")

    with start(ladle, model, tokenizer, data, "r2") as s2:
        b = batch(s2.port, batch_id)
        check(b["status"] == "in_progress", f"after the kill: {b['status']}")
        check(b["request_counts"]["completed"] >= before_kill, f"lost results: {b['request_counts']} < {before_kill}")
        before_term = wait_for(s2.port, batch_id, b["request_counts"]["completed"] + 10)["request_counts"]["completed"]
        check(s2.terminate(30) == 0, "SIGTERM did not exit 0")
    check(before_term < LINES, f"the SIGTERM came too late: {before_term} of {LINES} done")

    with start(ladle, model, tokenizer, data, "r3") as s3:
        b = wait_for(s3.port, batch_id, LINES)
        deadline = time.time() + 30
        while b["status"] != "completed" and time.time() < deadline:
            time.sleep(0.05)
            b = batch(s3.port, batch_id)
        check(b["status"] == "completed", f"not completed: {b}")
        check(b["request_counts"] == {"total": LINES, "completed": LINES, "failed": 0}, f"counts: {b['request_counts']}")
        check(b["error_file_id"] is None, f"an error file: {b}")
        for key in ("created_at", "in_progress_at", "finalizing_at", "completed_at"):
            check(isinstance(b[key], int), f"{key} not set: {b}")
        status, out = request(s3.port, "GET", f"/v1/files/{b['output_file_id']}/content")
        check(status == 200, f"content: {status}")
        lines = [json.loads(l) for l in out.splitlines() if l]
        ids = [l["custom_id"] for l in lines]
        check(sorted(ids) == sorted(f"line-{i}" for i in range(LINES)), f"not exactly once: {len(ids)} lines, "
              f"{len(set(ids))} distinct")
        by_run = {r: sum(1 for l in lines if f"_{r}_" in l["id"]) for r in ("r1", "r2", "r3")}
        check(by_run["r1"] >= before_kill and by_run["r1"] + by_run["r2"] >= before_term,
              f"finished lines lost: {by_run}, {before_kill} before the kill, {before_term} before SIGTERM")
        m = metrics(s3.port)
        committed = m['ladle_batch_lines_total{outcome="done"}']
        ran_here = sum(v for k, v in m.items() if k.startswith("ladle_requests_finished_total{"))
        check(ran_here == committed == by_run["r3"] and sum(by_run.values()) == LINES,
              f"lines run again: the last run ran {ran_here} requests and committed {committed}; its ids are on "
              f"{by_run['r3']} ({by_run})")
        for line in lines[:: LINES // 6]:
            i = int(line["custom_id"].split("-")[1])
            status, direct = request(s3.port, "POST", "/v1/completions", bodies[i])
            check(status == 200 and line["response"]["status_code"] == 200, f"line {i}: {status}")
            check(json.loads(direct)["choices"] == line["response"]["body"]["choices"],
                  f"line {i}'s result differs from a direct call")
    shutil.rmtree(data, ignore_errors=True)
    print(f"ok: {LINES} lines exactly once across kill -9 and SIGTERM (runs: {by_run}; "
              f"{before_kill} done before the kill, {before_term} before SIGTERM)")


if __name__ == "__main__":
    main()
