#!/usr/bin/env python3
"""Checks that Hugging Face `tokenizers` reads a Chamber tokenizer.json the way Chamber does.

usage: check_tokenizer_hf.py TOKENIZER_JSON TEXT_FILE IDS_JSON
Encodes TEXT_FILE (UTF-8) with tokenizers.Tokenizer.from_file and compares the ids with IDS_JSON
(Chamber's ids for the same text), then checks that decoding gives the text back.
Exit status: 0 same ids, 1 different (the first difference is printed), 77 `tokenizers` missing.
"""
import json
import sys

try:
    from tokenizers import Tokenizer
except ImportError as e:
    print(f"skip: cannot import tokenizers ({e})")
    sys.exit(77)


def main():
    tok_path, text_path, ids_path = sys.argv[1:4]
    tok = Tokenizer.from_file(tok_path)
    with open(text_path, encoding="utf-8", newline="") as f:
        text = f.read()
    with open(ids_path) as f:
        want = json.load(f)
    got = tok.encode(text).ids
    if got != want:
        i = next((k for k in range(min(len(got), len(want))) if got[k] != want[k]), min(len(got), len(want)))
        print(f"ids differ at position {i} (hf has {len(got)} ids, chamber {len(want)})")
        print(f"  hf:      {got[max(0, i - 3):i + 5]}")
        print(f"  chamber: {want[max(0, i - 3):i + 5]}")
        print(f"  hf pieces: {[tok.id_to_token(t) for t in got[max(0, i - 3):i + 5]]}")
        return 1
    back = tok.decode(got)
    if back != text:
        print("hf decode does not give the text back")
        return 1
    print(f"ok: {len(got)} ids agree")
    return 0


if __name__ == "__main__":
    sys.exit(main())
