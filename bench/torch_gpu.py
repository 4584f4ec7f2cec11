#!/usr/bin/env python3
"""PyTorch baseline for the GPU kit: the same GPT-2 124M as `configs/gpt2-124m.yaml` (the model of
bench/torch_gpt.py), trained on one GPU at B x T tokens per step, timed per step with the device
synchronised, so Chamber's CUDA tokens/s has a ratio measured on the same device in the same call.

Modes (--mode, repeatable):
  fp32      float32 storage, TF32 matmuls allowed: the precision Chamber's CUDA engine uses today
  bf16      bf16 autocast, float32 master weights, SDPA flash attention
  compile   bf16 autocast plus torch.compile (the compile time is reported, not timed)

Prints one JSON line per mode: {"mode", "batch", "seq", "tokens_per_s_median", "mfu",
"peak_mem_gib", "compile_s", "final_loss"}. MFU is llm.c's: (6 N + 6 L C T) FLOPs per token
against 989 TFLOP/s (H100/H200 dense bf16), N the non-embedding-position parameter count.
Exits with status 3 when torch or a CUDA device is missing, so a caller can report "skipped".
"""
import argparse
import json
import statistics
import sys
import time

from torch_gpt import build_gpt  # bench/torch_gpt.py, beside this file

V, TMAX, L, H, C = 50304, 1024, 12, 12, 768
PEAK_FLOPS = 989e12


def run_mode(torch, mode, B, T, steps, warmup):
    torch.manual_seed(0)
    torch.cuda.reset_peak_memory_stats()
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    model = build_gpt(torch, V, TMAX, L, H, C).cuda()
    n_params = sum(p.numel() for p in model.parameters()) - model.wpe.weight.numel()
    decay = [p for p in model.parameters() if p.dim() == 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=6e-4, betas=(0.9, 0.95), fused=True)
    gen = torch.Generator(device="cuda").manual_seed(1)
    tokens = torch.randint(0, V, (B, T + 1), generator=gen, device="cuda")
    inputs, targets = tokens[:, :-1].contiguous(), tokens[:, 1:].contiguous()
    forward = model
    compile_s = 0.0
    if mode == "compile":
        forward = torch.compile(model)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=mode != "fp32")

    step_seconds = []
    for i in range(warmup + steps):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        with autocast:
            loss = forward(inputs, targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        torch.cuda.synchronize()
        step_seconds.append(time.perf_counter() - t0)
        if i == 0 and mode == "compile":
            compile_s = step_seconds[0]
    timed = step_seconds[warmup:]
    tokens_per_s = B * T / statistics.median(timed)
    flops_per_token = 6 * n_params + 6 * L * C * T
    return {
        "mode": mode, "batch": B, "seq": T, "torch": torch.__version__,
        "device": torch.cuda.get_device_name(),
        "tokens_per_s_median": round(tokens_per_s),
        "mfu": round(tokens_per_s * flops_per_token / PEAK_FLOPS, 4),
        "peak_mem_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2),
        "compile_s": round(compile_s, 1),
        "step_seconds": [round(s, 5) for s in step_seconds],
        "final_loss": round(loss.item(), 4),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", action="append", choices=["fp32", "bf16", "compile"])
    parser.add_argument("--batch", type=int, action="append")
    parser.add_argument("--seq", type=int, default=1024)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    try:
        import torch
    except Exception as e:
        print(f"torch_gpu.py: cannot import torch ({e})", file=sys.stderr)
        sys.exit(3)
    if not torch.cuda.is_available():
        print("torch_gpu.py: no CUDA device visible to torch", file=sys.stderr)
        sys.exit(3)
    for B in args.batch or [8]:
        for mode in args.mode or ["fp32", "bf16", "compile"]:
            try:
                print(json.dumps(run_mode(torch, mode, B, args.seq, args.steps, args.warmup)),
                      flush=True)
            except Exception as e:  # one mode failing (compile, out of memory) keeps the others
                print(json.dumps({"mode": mode, "batch": B, "error": str(e)[:300]}), flush=True)
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
