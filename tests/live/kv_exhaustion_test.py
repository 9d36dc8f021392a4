"""KV exhaustion under load: with a KV cache far smaller than the load (--kv-cache-mb 1 holds
~800 tokens of stories260K; the load asks for ~5,000 at once), requests are preempted (the
metric says so), every request still completes, greedy outputs equal those of an unloaded run,
and no KV block stays in use afterwards.

usage: kv_exhaustion_test.py LADLE MODEL TOKENIZER
"""
import json
import threading

from ladle_live import Server, args, check, metrics, request, stream_completion, wait_idle

PROMPTS = [f"Once upon a time, there was a little {w}" for w in
           ("girl", "boy", "dog", "cat", "bird", "fish", "tree", "car", "ball", "frog", "bear", "duck")]
MAX_TOKENS = 200


def body(prompt):
    return {"prompt": prompt, "max_tokens": MAX_TOKENS, "temperature": 0, "ignore_eos": True}


def complete(port, prompt, stream):
    if stream:
        status, events = stream_completion(port, body(prompt))
        check(status == 200, f"streamed request got {status}: {events}")
        check(events and events[-1] == "[DONE]", f"stream without [DONE]: {events[-3:]}")
        chunks = [json.loads(e) for e in events[:-1]]
        check(not any("error" in c for c in chunks), f"error event: {chunks[-2:]}")
        return "".join(c["choices"][0]["text"] for c in chunks if c.get("choices"))
    status, text = request(port, "POST", "/v1/completions", body(prompt))
    check(status == 200, f"request got {status}: {text[:300]}")
    choice = json.loads(text)["choices"][0]
    check(choice["finish_reason"] == "length", f"finish_reason {choice['finish_reason']}")
    return choice["text"]


def main():
    ladle, model, tokenizer = args()
    with Server(ladle, model, tokenizer, "--kv-cache-mb", "1", "--max-running", "32") as server:
        server.wait_ready()
        port = server.port
        unloaded = {p: complete(port, p, stream=False) for p in PROMPTS}  # one at a time: no preemption
        check(metrics(port)["ladle_num_preemptions_total"] == 0, "preempted without load")
        results, errors = {}, []

        def worker(i):
            prompt = PROMPTS[i % len(PROMPTS)]
            try:
                results[i] = (prompt, complete(port, prompt, stream=i % 2 == 0))
            except SystemExit:
                errors.append(i)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(2 * len(PROMPTS))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        check(not errors and len(results) == len(threads), f"requests failed: {errors}")
        for i, (prompt, text) in sorted(results.items()):
            check(text == unloaded[prompt], f"request {i}: output under preemption differs from the unloaded run")
        m = wait_idle(port)
        preemptions = m["ladle_num_preemptions_total"]
        check(preemptions > 0, "no preemption: the load did not exhaust the KV cache")
        check(m["ladle_kv_cache_blocks_used"] == 0, "KV blocks leaked")
    print(f"ok: {len(results)} requests under {int(preemptions)} preemptions, outputs unchanged, no KV leaked")


if __name__ == "__main__":
    main()
