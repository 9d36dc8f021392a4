"""The API key never appears in the server's log, its /metrics, or any reply — neither the real
key nor a wrong one a client presented.

usage: api_key_secrecy_test.py LADLE MODEL TOKENIZER
"""
from ladle_live import Server, args, check, env_without, metrics, request

KEY = "sk-ladle-secret-7f3a9c"
WRONG = "sk-wrong-guess-51d2e8"


def main():
    ladle, model, tokenizer = args()
    env = env_without("LADLE_API_KEY")
    env["LADLE_API_KEY"] = KEY
    seen = []
    with Server(ladle, model, tokenizer, env=env) as server:
        server.wait_ready()
        port = server.port
        body = {"prompt": "Once upon a time", "max_tokens": 4}
        status, text = request(port, "POST", "/v1/completions", body, {"Authorization": f"Bearer {KEY}"})
        check(status == 200, f"the right key got {status}")
        seen.append(text)
        for auth in (f"Bearer {WRONG}", WRONG, f"Bearer {KEY}x", f"Bearer {KEY[:-1]}", ""):
            status, text = request(port, "POST", "/v1/completions", body, {"Authorization": auth} if auth else {})
            check(status == 401, f"Authorization {auth!r} got {status}")
            seen.append(text)
        for path in ("/health", "/v1/models"):
            seen.append(request(port, "GET", path, headers={"Authorization": f"Bearer {KEY}"})[1])
        status, exposition = request(port, "GET", "/metrics")
        check(status == 200 and "ladle_requests_rejected_total" in exposition, "no metrics")
        check(metrics(port)['ladle_requests_rejected_total{reason="unauthorized"}'] == 5, "401s not counted")
        server.terminate()
        server._reader.join(10)
        log = server.log()
    for secret in (KEY, WRONG, KEY[:-1]):
        check(secret not in exposition, f"/metrics holds {secret}")
        check(secret not in log, f"the log holds {secret}")
        for text in seen:
            check(secret not in text, f"a reply holds {secret}: {text[:200]}")
    print("ok: the key is in no log line, metric or reply")


if __name__ == "__main__":
    main()
