#!/usr/bin/env python3
"""PyTorch eager baseline for `make bench-cpu`: the same GPT-2 as Chamber, written independently
with torch.nn, trained on the CPU with the same shapes, AdamW and thread count, timed per step.

Model: token + position embeddings, L pre-LayerNorm blocks (causal self-attention through
F.scaled_dot_product_attention, MLP 4C with tanh GELU), final LayerNorm, LM head tied to the token
embedding; float32; AdamW (PyTorch's default implementation) with weight decay, gradient clipping
at 1.0. Tokens are random (throughput does not depend on them).

Prints one JSON line: {"name", "threads", "tokens_per_step", "step_seconds": [...],
"tokens_per_s_median"} where the median is over the steps after `--warmup`.

Needs torch (see README: `pip install torch`). Exits with status 3 and a message on stderr when
torch cannot be imported, so the caller can report it as skipped.
"""
import argparse
import json
import statistics
import sys
import time

from torch_gpt import build_gpt  # bench/torch_gpt.py, beside this file

SHAPES = {
    # name: (vocab, context, layers, heads, channels, batch, seq)
    "tiny-cpu": (4096, 128, 4, 4, 256, 8, 128),
    "gpt2-124m-cpu": (50257, 1024, 12, 12, 768, 4, 64),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("shape", choices=sorted(SHAPES))
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    args = parser.parse_args()
    try:
        import torch
    except Exception as e:  # ImportError, or a broken install failing to load its libraries
        print(f"torch_cpu.py: cannot import torch ({e})", file=sys.stderr)
        sys.exit(3)

    V, Tmax, L, H, C, B, T = SHAPES[args.shape]
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    model = build_gpt(torch, V, Tmax, L, H, C)
    decay = [p for p in model.parameters() if p.dim() == 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}], lr=6e-4, betas=(0.9, 0.95))
    gen = torch.Generator().manual_seed(1)
    tokens = torch.randint(0, V, (B, T + 1), generator=gen)
    inputs, targets = tokens[:, :-1].contiguous(), tokens[:, 1:].contiguous()

    step_seconds = []
    for _ in range(args.warmup + args.steps):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = model(inputs, targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step_seconds.append(time.perf_counter() - t0)
    timed = step_seconds[args.warmup:]
    print(json.dumps({
        "name": args.shape,
        "threads": args.threads,
        "torch": torch.__version__,
        "tokens_per_step": B * T,
        "step_seconds": [round(s, 5) for s in step_seconds],
        "tokens_per_s_median": B * T / statistics.median(timed),
        "final_loss": loss.item(),
    }))


if __name__ == "__main__":
    main()
