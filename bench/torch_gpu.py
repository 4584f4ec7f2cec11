#!/usr/bin/env python3
"""PyTorch baseline for the GPU kit: the same GPT-2 124M as `configs/gpt2-124m.yaml`, written
with torch.nn, trained on one GPU at B x T tokens per step, timed per step with the device
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

V, TMAX, L, H, C = 50304, 1024, 12, 12, 768
PEAK_FLOPS = 989e12


def build_model(torch):
    nn, F = torch.nn, torch.nn.functional

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(C), nn.LayerNorm(C)
            self.qkv, self.proj = nn.Linear(C, 3 * C), nn.Linear(C, C)
            self.fc, self.fc_proj = nn.Linear(C, 4 * C), nn.Linear(4 * C, C)

        def forward(self, x):
            b, t, _ = x.shape
            q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
            q, k, v = (z.view(b, t, H, C // H).transpose(1, 2) for z in (q, k, v))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.proj(y.transpose(1, 2).reshape(b, t, C))
            return x + self.fc_proj(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte, self.wpe = nn.Embedding(V, C), nn.Embedding(TMAX, C)
            self.blocks = nn.ModuleList(Block() for _ in range(L))
            self.ln_f = nn.LayerNorm(C)
            self.lm_head = nn.Linear(C, V, bias=False)
            self.lm_head.weight = self.wte.weight  # tied, as in Chamber
            for name, p in self.named_parameters():  # GPT-2's initialisation, as Chamber's
                if p.dim() == 2:
                    nn.init.normal_(p, 0.0, 0.02)
                elif name.endswith("bias"):
                    nn.init.zeros_(p)

        def forward(self, idx, targets):
            pos = torch.arange(idx.shape[1], device=idx.device)
            x = self.wte(idx) + self.wpe(pos)
            for block in self.blocks:
                x = block(x)
            logits = self.lm_head(self.ln_f(x))
            return F.cross_entropy(logits.float().view(-1, V), targets.view(-1))

    return GPT()


def run_mode(torch, mode, B, T, steps, warmup):
    torch.manual_seed(0)
    torch.cuda.reset_peak_memory_stats()
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    model = build_model(torch).cuda()
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
