#!/usr/bin/env python3
"""Checks a `chamber export --format hf` directory against `chamber score`.

Loads the export in Hugging Face transformers' GPT2LMHeadModel and its tokenizer.json in the
`tokenizers` library, then compares token ids and next-token log-probabilities with the JSON that
`chamber score` printed for the same text. Exit 0 = match, 1 = mismatch, 77 = transformers/torch
not importable (the caller reports a skip).

usage: check_hf_export.py EXPORT_DIR SCORE_JSON_FILE TEXT
"""
import json
import sys

try:
    import torch
    from tokenizers import Tokenizer
    from transformers import GPT2LMHeadModel
except Exception as e:  # noqa: BLE001 - any import problem means "cannot check here"
    print(f"skip: transformers/torch/tokenizers not importable ({e})")
    sys.exit(77)


def main():
    export_dir, score_file, text = sys.argv[1], sys.argv[2], sys.argv[3]
    with open(score_file) as f:
        ours = json.load(f)
    tok = Tokenizer.from_file(f"{export_dir}/tokenizer.json")
    ids = tok.encode(text).ids
    if ids != ours["token_ids"]:
        print(f"token ids differ:\n hf     {ids}\n chamber {ours['token_ids']}")
        return 1
    model = GPT2LMHeadModel.from_pretrained(export_dir, torch_dtype=torch.float32)
    model.eval()
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].double()
    logprobs = torch.log_softmax(logits, dim=-1)
    worst = 0.0
    for t in range(1, len(ids)):
        hf = logprobs[t - 1, ids[t]].item()
        diff = abs(hf - ours["logprobs"][t])
        worst = max(worst, diff)
    print(f"{len(ids)} tokens, worst |logprob difference| = {worst:.2e}")
    return 0 if worst < 1e-3 else 1


if __name__ == "__main__":
    sys.exit(main())
