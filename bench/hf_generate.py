#!/usr/bin/env python3
"""Hugging Face `generate` on a Chamber checkpoint exported with `chamber export --format hf`, for
the GPU kit's `generate` stage (bench/kit/run.sh), which times Chamber's KV-cache sampler on the
same checkpoint at the same batch sizes and lengths.

Each configuration (batch x dtype) samples NEW_TOKENS tokens after fixed-length prompts of random
token ids, at temperature 0.7 over the whole vocabulary (no top-k, no top-p: Chamber's eval
defaults). End-of-text does not stop a row (the model has no eos here), so every row generates all
NEW_TOKENS tokens, and the count is exact. One short untimed generate per configuration warms up
the kernels and the allocator; the timed one runs with the device synchronised on both sides.

Prints one JSON line per configuration: {"batch", "dtype", "device", "prompt_len", "new_tokens",
"seconds", "tokens_per_s"} (tokens/s counts generated tokens only). A configuration that fails
(out of memory, say) prints {"batch", "dtype", "error"} and the script goes on.
Exits with status 3 when torch or transformers is missing, so a caller can say "not available".

  python3 bench/hf_generate.py --model HF_DIR [--batch 64 --batch 256] [--dtype fp32 --dtype bf16]
                               [--new-tokens 256] [--prompt-len 32] [--device cuda|cpu]
"""
import argparse
import json
import sys
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="directory written by `chamber export --format hf`")
    ap.add_argument("--batch", type=int, action="append", help="rows per generate call (repeatable; default 64 and 256)")
    ap.add_argument("--dtype", action="append", choices=["fp32", "bf16"],
                    help="weights and activations (repeatable; default fp32 and bf16 on cuda, fp32 on cpu)")
    ap.add_argument("--new-tokens", type=int, default=256)
    ap.add_argument("--prompt-len", type=int, default=32,
                    help="tokens per prompt (default 32; the math eval sets' prompts average about 34)")
    ap.add_argument("--device", default=None, help="cuda (default when available) or cpu")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    try:
        import torch
        import transformers
    except ImportError as e:
        print(f"hf_generate: not available ({e})", file=sys.stderr)
        sys.exit(3)
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    # TF32 matmuls for fp32, as Chamber's CUDA engine and bench/torch_gpu.py use.
    torch.backends.cuda.matmul.allow_tf32 = True
    dtypes = args.dtype or (["fp32", "bf16"] if device == "cuda" else ["fp32"])
    print(f"hf_generate: torch {torch.__version__}, transformers {transformers.__version__}, {device}",
          file=sys.stderr)
    for dtype in dtypes:
        # Loaded in fp32 and then cast: the keyword for a load dtype differs between versions.
        model = transformers.GPT2LMHeadModel.from_pretrained(args.model)
        model = model.to(device=device, dtype=torch.float32 if dtype == "fp32" else torch.bfloat16).eval()
        vocab = model.config.vocab_size
        if args.prompt_len + args.new_tokens > model.config.n_positions:
            sys.exit(f"hf_generate: {args.prompt_len} + {args.new_tokens} tokens exceed the context of "
                     f"{model.config.n_positions}")
        # No eos anywhere: generate fills unset values of a config from the model's own, and the
        # export names end-of-text as eos, so it is cleared there too. pad_token_id only silences
        # the warning that a model without a pad token prints.
        model.config.eos_token_id = model.generation_config.eos_token_id = None

        def generate(prompts, mask, n):
            gen = transformers.GenerationConfig(do_sample=True, temperature=0.7, top_k=0, top_p=1.0,
                                                max_new_tokens=n, eos_token_id=None, pad_token_id=0,
                                                use_cache=True)
            with torch.inference_mode():
                return model.generate(input_ids=prompts, attention_mask=mask, generation_config=gen)

        for B in args.batch or [64, 256]:
            row = {"batch": B, "dtype": dtype, "device": device, "prompt_len": args.prompt_len,
                   "new_tokens": args.new_tokens}
            try:
                g = torch.Generator().manual_seed(args.seed)
                prompts = torch.randint(0, vocab - 1, (B, args.prompt_len), generator=g).to(device)
                mask = torch.ones_like(prompts)

                generate(prompts, mask, min(16, args.new_tokens))
                if device == "cuda": torch.cuda.synchronize()
                t0 = time.perf_counter()
                out = generate(prompts, mask, args.new_tokens)
                if device == "cuda": torch.cuda.synchronize()
                seconds = time.perf_counter() - t0
                generated = out.shape[1] - args.prompt_len
                if generated != args.new_tokens:   # the count below assumes every row ran to the end
                    raise RuntimeError(f"generated {generated} tokens per row, asked for {args.new_tokens}")
                row.update(seconds=round(seconds, 3), tokens_per_s=round(B * generated / seconds, 1))
            except Exception as e:  # report and go on: one failed configuration should not hide the rest
                row = {"batch": B, "dtype": dtype, "device": device, "error": f"{type(e).__name__}: {e}"[:300]}
                if device == "cuda": torch.cuda.empty_cache()
            print(json.dumps(row), flush=True)
        del model


if __name__ == "__main__":
    main()
