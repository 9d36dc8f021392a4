#!/usr/bin/env python3
"""`ladle tokenize` against llama.cpp's `llama-tokenize` on random text: the same ids, and the time.

    bench/tokenize_vs_llama.py LADLE LLAMA_TOKENIZE VOCAB.gguf... [--seeds 3] [--bytes 60000]

For each seed, writes a text of BYTES random pieces drawn from many scripts, digits (ASCII and
not), punctuation, symbols, emoji sequences, combining marks, unassigned codepoints, every kind of
whitespace, contractions in both cases and special-token spellings; then, for each vocabulary,
tokenizes it with both programs twice — special tokens parsed with BOS, and neither
(`--no-special` / `--no-bos --no-parse-special`) — and prints "same N" or where the ids first
differ, with each program's user CPU seconds (load included). Exit status 1 on any difference.
"""
import argparse, ast, os, random, resource, subprocess, sys, tempfile

PIECES = [
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789", "٠١٢٣٤٥٦٧٨٩", "½¼²³①Ⅻ",
    " ", "  ", "\t", "\n", "\r\n", "\r", "\u00a0", "\u2028", "\u3000", "\u0085", "\u000b\u000c", "\u001c",
    "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'Ve", "'lL", "'D", "'x", "'",
    "!\"#$%&()*+,-./:;<=>?@[\\]^_`{|}~", "…—–«»¿¡“”‘’", "€£¥©®™°±×÷", "äöüßéèêçñøåÄÖÜ", "привет мир",
    "γειά σου", "שלום", "مرحبا", "你好世界", "こんにちは", "한국어", "ញុំ", "हिन्दी", "\u0301\u0308", "🦙", "👍🏽",
    "👨‍👩‍👧", "🇺🇳", "\ufe0f", "\u200d", "\U0001fae8", "\U0001F7F0", "\u0378", "\U000e0001",
    "<|endoftext|>", "<|eot_id|>", "<|im_start|>", "<|im_end|>", "[PAD151646]", "<|begin_of_text|>", "<s>", "</s>",
    "Hello", " world", "the", " The", "ing", "don't", "IT'S", "http://x.y/z?a=1", "    ", "\n\n\n", "1234567890",
]


def random_text(seed, size):
    r = random.Random(seed)
    out, n = [], 0
    while n < size:
        p = r.choice(PIECES)
        s = p if len(p) <= 3 or r.random() < 0.5 else "".join(r.choice(p) for _ in range(r.randint(1, 6)))
        out.append(s)
        n += len(s.encode())
    return "".join(out)


def run(cmd, stdin_path):
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
    with open(stdin_path, "rb") as f:
        out = subprocess.run(cmd, stdin=f, capture_output=True, check=True).stdout.decode()
    return out, resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime - before


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ladle"); ap.add_argument("llama_tokenize"); ap.add_argument("vocab", nargs="+")
    ap.add_argument("--seeds", type=int, default=3); ap.add_argument("--bytes", type=int, default=60000)
    a = ap.parse_args()
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(1, a.seeds + 1):
            path = os.path.join(tmp, f"rand{seed}.txt")
            with open(path, "w", encoding="utf-8", newline="") as f:
                f.write(random_text(seed, a.bytes))
            for vocab in a.vocab:
                for special in (True, False):
                    lflags = [] if special else ["--no-bos", "--no-parse-special"]
                    out, t_llama = run([a.llama_tokenize, "-m", vocab, "-f", path, "--no-escape", "--ids",
                                        "--log-disable"] + lflags, os.devnull)
                    want = ast.literal_eval(out.strip().splitlines()[-1])
                    out, t_ladle = run([a.ladle, "tokenize", "-m", vocab] + ([] if special else ["--no-special"]), path)
                    got = [int(x) for x in out.split()]
                    name = f"{os.path.basename(vocab)} seed {seed} {'special' if special else 'plain'}"
                    if got == want:
                        print(f"{name}: same {len(got)} ids; user CPU llama-tokenize {t_llama:.2f} s, ladle {t_ladle:.2f} s")
                    else:
                        bad += 1
                        i = next((k for k in range(min(len(got), len(want))) if got[k] != want[k]), min(len(got), len(want)))
                        print(f"{name}: DIFFERENT at id {i}: llama.cpp {want[max(0, i - 3):i + 5]}, ladle {got[max(0, i - 3):i + 5]}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
