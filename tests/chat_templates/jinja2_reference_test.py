#!/usr/bin/env python3
"""ladle's chat templates against Python's jinja2, the reference (issue 24, section 2).

For every template in VOCAB_DIR/templates/*.jinja and the tokenizer.chat_template of
VOCAB_DIR/ggml-vocab-qwen2.gguf (given to ladle as the GGUF itself: `render-chat -m`), and the
feature templates of features/, a set of conversations is rendered twice: by jinja2 in the
environment transformers' apply_chat_template builds (ImmutableSandboxedEnvironment with
trim_blocks and lstrip_blocks, loopcontrols, its tojson, raise_exception and strftime_now; tools
and documents None) and by `ladle render-chat`. The two texts must be byte-equal; when jinja2
raises (a template refusing a conversation), ladle must fail too, with raise_exception's message.

usage: jinja2_reference_test.py LADLE_BINARY VOCAB_DIR
"""
import datetime
import json
import os
import struct
import subprocess
import sys
import tempfile

import jinja2  # Debian python3-jinja2 (scripts/install-deps.sh)
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

PINNED_DAY = datetime.datetime(2025, 3, 9, 12, 0, 0)  # not the templates' own default date

# bos/eos text each family's tokenizer_config sets (what transformers passes as bos_token/eos_token).
SPECIAL_TOKENS = {
    "Qwen-Qwen2.5-7B-Instruct": ("", "<|im_end|>"),
    "google-gemma-2-2b-it": ("<bos>", "<eos>"),
    "meta-llama-Llama-3.2-3B-Instruct": ("<|begin_of_text|>", "<|eot_id|>"),
    "microsoft-Phi-3.5-mini-instruct": ("<s>", "<|endoftext|>"),
    "mistralai-Mistral-Nemo-Instruct-2407": ("<s>", "</s>"),
}


def user(text):
    return {"role": "user", "content": text}


def assistant(text):
    return {"role": "assistant", "content": text}


def system(text):
    return {"role": "system", "content": text}


CONVERSATIONS = {
    "one turn": [user("Hello!")],
    "system and one turn": [system("You are a terse assistant."), user("What is 2+2?")],
    "several turns": [user("Hi"), assistant("Hello, how can I help?"), user("Tell me a joke."),
                      assistant("Why did the chicken cross the road?"), user("Why?")],
    "system and several turns": [system("Answer in French."), user("Good morning"), assistant("Bonjour !"),
                                 user("How are you?")],
    "assistant last": [user("Complete: the sky is"), assistant("blue")],
    "system and assistant last": [system("Be brief."), user("Name a colour."), assistant("Red.")],
    "prefill with a trailing space": [user("Complete: the sky is"), assistant("blue and ")],
    "unicode": [user("  你好，世界！🌍 Ça va? Привет, мир. مرحبا\n"), assistant("\u3000こんにちは 👋🏽 — «ok»\u3000"),
                user("emoji only: 😀😃😄 and a zero-width joiner: 👩‍💻")],
    "text that looks like markup": [user("{{ not a tag }} {% if x %} \\n \"quoted\" 'single' <|im_end|>\n\n  \t"),
                                    assistant("{# comment #} back\\slash"), user("")],
    "reasoning in assistant turns": [
        user("2+2?"), assistant("<think>\nsimple sum\n</think>\n\n4"), user("and 3+3?"),
        assistant("<think>again</think>6")],
    "tool call and result": [
        user("What is the weather in Paris?"),
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "call12345", "type": "function",
             "function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius", "days": 2}}}]},
        {"role": "tool", "tool_call_id": "call12345", "name": "get_weather", "content": "{\"temp\": 21.5}"},
        assistant("It is 21.5 °C in Paris."),
        user("Thanks")],
}


# A function schema as transformers' get_json_schema writes it, for the templates' tools branch.
TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "The weather in a city, «today» 🌦",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string", "description": "The city"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, "required": ["city"]},
    "return": {"type": "number", "description": "degrees"}}}]

# Conversations also rendered with tools=TOOLS (every other one with tools=None).
WITH_TOOLS = ["one turn", "system and several turns", "tool call and result"]


# Conversations also rendered with their last message left open for the model to continue.
CONTINUED = ["assistant last", "system and assistant last", "prefill with a trailing space", "unicode"]


def continue_final_message(compiled, messages, bos, eos):
    """transformers' apply_chat_template(continue_final_message=True) on role/content messages."""
    tag = "CONTINUE_FINAL_MESSAGE_TAG "
    chat = [dict(m) for m in messages]
    final = chat[-1]["content"]
    chat[-1]["content"] = final + tag
    try:
        rendered = compiled.render(messages=chat, tools=None, documents=None, add_generation_prompt=False,
                                   bos_token=bos, eos_token=eos)
    except Exception as e:
        return None, e
    if final.strip() not in rendered or tag.strip() not in rendered:
        return None, ValueError("the final message does not appear in the rendered chat")
    at = rendered.rindex(tag.strip())
    if rendered[at:at + len(tag)] == tag:
        return rendered[:at], None
    return rendered[:at].rstrip(), None


def gguf_chat_template(path):
    """(tokenizer.chat_template, BOS text, EOS text) of a GGUF file, read from its KV section by this
    script's own reader (ladle reads the file with model/gguf_file.h: `render-chat -m`)."""
    data = open(path, "rb").read()
    pos = 0

    def take(fmt):
        nonlocal pos
        value = struct.unpack_from("<" + fmt, data, pos)
        pos += struct.calcsize("<" + fmt)
        return value[0]

    def string():
        nonlocal pos
        n = take("Q")
        s = data[pos:pos + n].decode("utf-8")
        pos += n
        return s

    scalar = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}

    def value(kind):
        if kind == 8:
            return string()
        if kind == 9:
            item, n = take("I"), take("Q")
            return [value(item) for _ in range(n)]
        return take(scalar[kind])

    assert data[:4] == b"GGUF", path
    pos = 4
    take("I")  # version
    take("Q")  # tensor count
    kv = {}
    for _ in range(take("Q")):
        key = string()
        kv[key] = value(take("I"))
    tokens = kv["tokenizer.ggml.tokens"]
    return (kv["tokenizer.chat_template"], tokens[kv["tokenizer.ggml.bos_token_id"]],
            tokens[kv["tokenizer.ggml.eos_token_id"]])


def transformers_environment():
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: PINNED_DAY.strftime(fmt)
    return env


def main():
    ladle, vocab = sys.argv[1], sys.argv[2]
    templates = {}
    folder = os.path.join(vocab, "templates")
    for name in sorted(os.listdir(folder)):
        if name.endswith(".jinja"):
            templates[name[:-len(".jinja")]] = open(os.path.join(folder, name), encoding="utf-8").read()
    gguf_path = os.path.join(vocab, "ggml-vocab-qwen2.gguf")
    templates["ggml-vocab-qwen2.gguf"], gguf_bos, gguf_eos = gguf_chat_template(gguf_path)
    SPECIAL_TOKENS["ggml-vocab-qwen2.gguf"] = (gguf_bos, gguf_eos)
    assert len(templates) == 6, sorted(templates)
    # Feature templates of this folder: the rest of the supported subset, checked the same way.
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "features")
    for name in sorted(os.listdir(here)):
        templates[name] = open(os.path.join(here, name), encoding="utf-8").read()

    env = transformers_environment()
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for tname, source in templates.items():
            bos, eos = SPECIAL_TOKENS.get(tname, ("<s>", "</s>"))
            path = os.path.join(tmp, tname + ".jinja")
            with open(path, "w", encoding="utf-8") as f:
                f.write(source)
            # The GGUF's template and BOS/EOS texts reach ladle from the file itself (-m).
            source_args = ["-m", gguf_path] if tname.endswith(".gguf") else \
                ["--template", path, "--bos", bos, "--eos", eos]
            compiled = env.from_string(source)
            counts = {"equal": 0, "refused by both": 0}
            cases = [(c, m, None) for c, m in CONVERSATIONS.items()] + \
                [(c + " + tools", CONVERSATIONS[c], TOOLS) for c in WITH_TOOLS]
            for cname, messages, tools in cases:
                for add_generation_prompt in (True, False):
                    try:
                        expected = compiled.render(messages=messages, tools=tools, documents=None,
                                                   add_generation_prompt=add_generation_prompt,
                                                   bos_token=bos, eos_token=eos)
                        refusal = None
                    except Exception as e:  # the template refused the conversation
                        expected, refusal = None, e
                    cmd = [ladle, "render-chat", *source_args, "--messages", json.dumps(messages),
                           "--date", PINNED_DAY.strftime("%Y-%m-%d")]
                    if not add_generation_prompt:
                        cmd.append("--no-generation-prompt")
                    if tools is not None:
                        cmd += ["--tools", json.dumps(tools)]
                    got = subprocess.run(cmd, capture_output=True, timeout=60)
                    case = f"{tname} / {cname} / add_generation_prompt={add_generation_prompt}"
                    if refusal is None:
                        if got.returncode != 0 or got.stdout != expected.encode("utf-8"):
                            failures += 1
                            print(f"MISMATCH {case}\n  jinja2: {expected!r}\n  ladle:  "
                                  f"{got.stdout.decode('utf-8', 'replace')!r} {got.stderr.decode('utf-8', 'replace')}")
                        else:
                            counts["equal"] += 1
                    else:
                        own_message = isinstance(refusal, jinja2.exceptions.TemplateError) and \
                            not isinstance(refusal, jinja2.exceptions.UndefinedError)
                        if got.returncode == 0 or (own_message and str(refusal).encode() not in got.stderr):
                            failures += 1
                            print(f"MISMATCH {case}\n  jinja2 raised {type(refusal).__name__}: {refusal}\n"
                                  f"  ladle (exit {got.returncode}): {got.stdout!r} {got.stderr!r}")
                        else:
                            counts["refused by both"] += 1
            for cname in CONTINUED:  # an assistant's prefill left open: continue_final_message
                messages = CONVERSATIONS[cname]
                expected, refusal = continue_final_message(compiled, messages, bos, eos)
                got = subprocess.run([ladle, "render-chat", *source_args, "--messages", json.dumps(messages),
                                      "--date", PINNED_DAY.strftime("%Y-%m-%d"), "--continue-final-message"],
                                     capture_output=True, timeout=60)
                case = f"{tname} / {cname} / continue_final_message"
                if refusal is None and got.returncode == 0 and got.stdout == expected.encode("utf-8"):
                    counts["equal"] += 1
                elif refusal is not None and got.returncode != 0:
                    counts["refused by both"] += 1
                else:
                    failures += 1
                    print(f"MISMATCH {case}\n  jinja2: {expected!r} {refusal}\n  ladle:  {got.stdout!r} {got.stderr!r}")
            print(f"{tname}: {counts['equal']} renderings equal to jinja2's, "
                  f"{counts['refused by both']} conversations refused by both")
    print(f"jinja2 {jinja2.__version__}; {failures} mismatches")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
