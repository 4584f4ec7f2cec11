#!/usr/bin/env python3
"""Makes a GPT-2 with transformers for `chamber import --format hf`, and checks the import.

  check_hf_import.py make DIR
      DIR/pair: a GPT2LMHeadModel with random weights (every parameter drawn, biases and LayerNorms
      included), saved by transformers' save_pretrained, with a small GPT-2 style tokenizer as
      vocab.json + merges.txt. Its ids are deliberately not in Chamber's order (byte tokens in the
      byte-level alphabet's order as GPT-2 has them, merged tokens in reverse), and vocab_size is
      larger than the tokenizer, so the import's renumbering and extra rows are exercised.
      DIR/json: the same model with the same tokenizer as tokenizer.json, written by `tokenizers`.
  check_hf_import.py check HF_DIR CHECKPOINT SCORE_JSON
      Maps the token ids `chamber score` printed for the imported CHECKPOINT back to the source's
      ids (through the token texts), runs the transformers model on them and compares each
      next-token log-probability (|difference| < 1e-3, as for export).

Exit 0 = success, 1 = mismatch, 77 = torch/transformers/tokenizers not importable (a skip).
Nothing is downloaded.
"""
import json
import os
import re
import sys

try:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel
except Exception as e:  # noqa: BLE001 - any import problem means "cannot check here"
    print(f"skip: torch/transformers/tokenizers not importable ({e})")
    sys.exit(77)

CORPUS = ("The apples cost 123 dollars, and 45 more. Total: 168! " * 3 +
          "She sold 48 clips in April and half as many in May. The total is 72. ")


def byte_alphabet():
    """GPT-2's byte -> character table, and the bytes in its token order (printable ones first)."""
    printable = [b for b in range(256) if ord("!") <= b <= ord("~") or 0xA1 <= b <= 0xAC or b >= 0xAE]
    order = printable + [b for b in range(256) if b not in printable]
    extra = {b: 256 + i for i, b in enumerate(b for b in range(256) if b not in printable)}
    char = {b: chr(b) if b in printable else chr(extra[b]) for b in range(256)}
    return char, order


def learn_merges(count):
    """A few BPE merges from CORPUS, as token texts; pieces split as Chamber's pre-tokenizer does."""
    char, _ = byte_alphabet()
    pieces = re.findall(r" ?[A-Za-z]+| ?[0-9]| ?[^\sA-Za-z0-9]+|\s+", CORPUS)
    words = [[char[b] for b in p.encode()] for p in pieces]
    merges = []
    for _ in range(count):
        pairs = {}
        for w in words:
            for a, b in zip(w, w[1:]):
                pairs[(a, b)] = pairs.get((a, b), 0) + 1
        if not pairs:
            break
        best = max(sorted(pairs), key=lambda p: pairs[p])
        merges.append(best)
        for w in words:
            i = 0
            while i + 1 < len(w):
                if (w[i], w[i + 1]) == best:
                    w[i:i + 2] = [w[i] + w[i + 1]]
                i += 1
    return merges


def make(out_dir):
    char, order = byte_alphabet()
    merges = learn_merges(40)
    vocab = {char[b]: i for i, b in enumerate(order)}
    for i, (a, b) in enumerate(reversed(merges)):
        vocab[a + b] = 256 + i
    vocab["<|endoftext|>"] = len(vocab)
    n = len(vocab)
    torch.manual_seed(7)
    config = GPT2Config(vocab_size=n + 5, n_positions=64, n_embd=32, n_layer=2, n_head=4,
                        bos_token_id=n - 1, eos_token_id=n - 1)
    model = GPT2LMHeadModel(config)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("ln_1.weight") or name.endswith("ln_2.weight") or name.endswith("ln_f.weight"):
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
            else:
                p.copy_(0.2 * torch.randn_like(p))
    for sub in ("pair", "json"):
        d = os.path.join(out_dir, sub)
        model.save_pretrained(d, safe_serialization=True)
    with open(os.path.join(out_dir, "pair", "vocab.json"), "w") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(out_dir, "pair", "merges.txt"), "w") as f:
        f.write("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(["<|endoftext|>"])
    tok.save(os.path.join(out_dir, "json", "tokenizer.json"))
    return 0


def check(hf_dir, checkpoint, score_file):
    with open(score_file) as f:
        ours = json.load(f)
    with open(os.path.join(checkpoint, "tokenizer.json")) as f:
        text_of = {i: t for t, i in json.load(f)["model"]["vocab"].items()}
    if os.path.exists(os.path.join(hf_dir, "vocab.json")):
        with open(os.path.join(hf_dir, "vocab.json")) as f:
            source_vocab = json.load(f)
    else:
        with open(os.path.join(hf_dir, "tokenizer.json")) as f:
            source_vocab = json.load(f)["model"]["vocab"]
    ids = [source_vocab[text_of[i]] for i in ours["token_ids"]]
    moved = sum(a != b for a, b in zip(ids, ours["token_ids"]))
    model = GPT2LMHeadModel.from_pretrained(hf_dir, dtype=torch.float32)
    model.eval()
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].double()
    logprobs = torch.log_softmax(logits, dim=-1)
    worst = 0.0
    for t in range(1, len(ids)):
        worst = max(worst, abs(logprobs[t - 1, ids[t]].item() - ours["logprobs"][t]))
    print(f"{len(ids)} tokens ({moved} with renumbered ids), worst |logprob difference| = {worst:.2e}")
    return 0 if worst < 1e-3 else 1


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "make":
        sys.exit(make(sys.argv[2]))
    if len(sys.argv) == 5 and sys.argv[1] == "check":
        sys.exit(check(sys.argv[2], sys.argv[3], sys.argv[4]))
    print(__doc__)
    sys.exit(2)
