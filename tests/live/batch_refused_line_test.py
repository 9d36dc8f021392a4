"""A line that passes validation but that the engine refuses at submit (a prompt within the
context but larger than the whole KV cache) fails alone: it goes to the error file with the
status and body a direct call gets, the other lines complete, and the batch completes with exact
request_counts; a batch of that line alone completes too, with only an error file.

usage: batch_refused_line_test.py LADLE MODEL TOKENIZER  (MODEL and TOKENIZER are not used: the test
writes a tiny random model with a 4096-token context, and serves it with a 1 MiB KV cache, ~800 tokens)
"""
import json
import os
import shutil
import subprocess
import tempfile
import time

from batch_crash_test import batch, upload
from ladle_live import Server, args, check, request


def finished(port, batch_id):
    deadline = time.time() + 60
    b = batch(port, batch_id)
    while b["status"] not in ("completed", "failed") and time.time() < deadline:
        time.sleep(0.05)
        b = batch(port, batch_id)
    check(b["status"] == "completed", f"status: {b}")
    return b


def main():
    ladle, _, _ = args()
    work = tempfile.mkdtemp(prefix="ladle-batch-refused-")
    model, tokenizer = os.path.join(work, "m.bin"), os.path.join(work, "tok.bin")
    subprocess.run([ladle, "make-model", "--preset", "tiny", "--seq-len", "4096", "--out", model,
                    "--tokenizer-out", tokenizer], check=True, stdout=subprocess.DEVNULL)
    short = {"prompt": "Once upon a time", "max_tokens": 8, "temperature": 0}
    huge = {"prompt": [100] * 2000, "max_tokens": 8, "temperature": 0}  # < 4096, > the KV cache
    lines = [("a", short), ("too-big", huge), ("b", dict(short, prompt="The end"))]
    content = "\n".join(json.dumps({"custom_id": c, "method": "POST", "url": "/v1/completions", "body": b})
                        for c, b in lines)
    with Server(ladle, model, tokenizer, "--data-dir", os.path.join(work, "data"), "--kv-cache-mb", "1") as s:
        s.wait_ready()
        file_id = upload(s.port, "refused.jsonl", content)
        status, text = request(s.port, "POST", "/v1/batches",
                               {"input_file_id": file_id, "endpoint": "/v1/completions", "completion_window": "24h"})
        check(status == 200, f"create: {status} {text}")
        b = finished(s.port, json.loads(text)["id"])
        check(b["request_counts"] == {"total": 3, "completed": 2, "failed": 1}, f"counts: {b['request_counts']}")
        status, errors = request(s.port, "GET", f"/v1/files/{b['error_file_id']}/content")
        check(status == 200, f"error file: {status}")
        errors = [json.loads(l) for l in errors.splitlines() if l]
        check(len(errors) == 1 and errors[0]["custom_id"] == "too-big", f"error file: {errors}")
        direct_status, direct = request(s.port, "POST", "/v1/completions", huge)
        check(direct_status == 400, f"direct call: {direct_status} {direct}")
        response = errors[0]["response"]
        check(response["status_code"] == 400 and response["body"] == json.loads(direct),
              f"the line's response differs from the direct call: {response} vs {direct}")
        status, out = request(s.port, "GET", f"/v1/files/{b['output_file_id']}/content")
        check(sorted(json.loads(l)["custom_id"] for l in out.splitlines() if l) == ["a", "b"], f"output: {out}")
        message = response["body"]["error"]["message"]
        alone = upload(s.port, "alone.jsonl", json.dumps({"custom_id": "x", "method": "POST", "url": "/v1/completions",
                                                          "body": huge}))
        status, text = request(s.port, "POST", "/v1/batches",
                               {"input_file_id": alone, "endpoint": "/v1/completions", "completion_window": "24h"})
        b = finished(s.port, json.loads(text)["id"])
        check(b["request_counts"] == {"total": 1, "completed": 0, "failed": 1} and b["output_file_id"] is None
              and b["error_file_id"], f"a batch of the refused line alone: {b}")
    shutil.rmtree(work, ignore_errors=True)
    print(f"ok: the refused line is in the error file ({message})")


if __name__ == "__main__":
    main()
