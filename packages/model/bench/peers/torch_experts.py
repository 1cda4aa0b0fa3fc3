"""PyTorch peer of the five experts for bench/backends.ts: the same architectures at the same sizes, fed
inputs of the shapes the TypeScript experts feed their models (12-lead 10 s 500 Hz records after
preprocessing), seeded random weights, eval mode, no autograd. What a user would run instead.

  python bench/peers/torch_experts.py --experts moment,tempo,ecgfm,dlinear,timesnet \
      --sizes default,published --records 16 --published-records 4 --threads 2

Prints one JSON line per (expert, size): ECGs/s and the peak RSS of a fresh process that ran only that
configuration, and its CPU seconds per wall second (threads busy). Prints one line starting with "skipped" (and exits 0) when torch or transformers does
not import. The model code is the reference's (transformers' T5 and GPT-2) or the project's torch
re-statements in tools/ (DLinear, TimesNet, ECG-FM), which the golden fixtures were checked against.
"""
import json
import math
import resource
import subprocess
import sys
import time
from pathlib import Path

TOOLS = Path(__file__).resolve().parents[2] / "tools"

# The TypeScript presets (src/experts/*/model.ts and index.ts) for `default` (the demo's tiny sizes)
# and `published` (MOMENT-1-small, TEMPO with GPT-2's first 6 layers, ECG-FM BERT-base layout).
MOMENT = {"default": dict(d_model=32, d_ff=64, d_kv=6, num_heads=4, num_layers=2),
          "published": dict(d_model=512, d_ff=1024, d_kv=64, num_heads=6, num_layers=8)}
TEMPO = {"default": dict(n_embd=32, n_head=4, n_layer=2), "published": dict(n_embd=768, n_head=12, n_layer=6)}
ECGFM = {"default": (16, 32, 64, 4, 2, 16, 4), "published": (256, 768, 3072, 12, 12, 128, 16)}
BATCH = {"ecgfm": 4}  # the expert's default batch size; the others embed the bench's batches of 16


def moment_model(size):
    import torch
    from transformers import T5Config, T5EncoderModel

    config = T5Config(**MOMENT[size], feed_forward_proj="gated-gelu", relative_attention_num_buckets=32,
                      relative_attention_max_distance=128, layer_norm_epsilon=1e-6, vocab_size=8,
                      dropout_rate=0.0, is_encoder_decoder=False, use_cache=False)
    encoder = T5EncoderModel(config).eval()
    d = config.d_model
    patch = torch.nn.Linear(8, d, bias=False)
    position = torch.zeros(64, d)
    pos = torch.arange(64).unsqueeze(1)
    div = torch.exp(torch.arange(0, d, 2) * (-math.log(10000.0) / d))
    position[:, 0::2], position[:, 1::2] = torch.sin(pos * div), torch.cos(pos * div)

    def embed(x):  # x [B, 12, 512]: RevIN, 8-sample patches, T5 encoder, mean over leads and patches
        b, c, n = x.shape
        x = (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, keepdim=True, unbiased=False) + 1e-5)
        tokens = patch(x.reshape(b * c, n // 8, 8)) + position
        hidden = encoder(inputs_embeds=tokens, attention_mask=torch.ones(b * c, n // 8)).last_hidden_state
        return hidden.reshape(b, c, n // 8, d).mean(dim=(1, 2))

    return embed, lambda records: torch.randn(records, 12, 512)


def tempo_model(size):
    import torch
    from transformers import GPT2Config, GPT2Model

    config = GPT2Config(**TEMPO[size], n_positions=1024, resid_pdrop=0, embd_pdrop=0, attn_pdrop=0)
    gpt2 = GPT2Model(config).eval()
    d, patches, prompt = config.n_embd, 42, 9
    trend_map, season1, season2 = torch.nn.Linear(336, 336), torch.nn.Linear(336, 336), torch.nn.Linear(336, 336)
    parts = [(torch.nn.Linear(16, d), torch.nn.Linear(patches * d, 96), torch.randn(prompt, d)) for _ in range(3)]
    average = torch.nn.AvgPool1d(25, stride=1)

    def embed(x):  # x [B, 336]: RevIN, STL-like decomposition, 3 x (prompt + 42 patches) through GPT-2
        b = x.shape[0]
        x = (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, keepdim=True, unbiased=False) + 1e-5)
        padded = torch.cat([x[:, :1].expand(b, 12), x, x[:, -1:].expand(b, 12)], 1)
        trend = trend_map(average(padded.unsqueeze(1)).squeeze(1))
        season = season2(torch.relu(season1(x - trend)))
        sequences = []
        for series, (inp, _, prompt_states) in zip([trend, season, x - trend - season], parts):
            tiles = torch.cat([series, series[:, -1:].expand(b, 8)], 1).unfold(1, 16, 8)
            sequences.append(torch.cat([prompt_states.expand(b, prompt, d), inp(tiles)], 1))
        hidden = gpt2(inputs_embeds=torch.cat(sequences, 1)).last_hidden_state
        states = [hidden[:, i * (prompt + patches) + prompt:(i + 1) * (prompt + patches)] for i in range(3)]
        forecast = sum(out(s.reshape(b, -1)) for s, (_, out, _) in zip(states, parts))
        return forecast, torch.cat(states, 1).mean(1)

    return embed, lambda records: torch.randn(records, 336)


def ecgfm_model(size):
    import torch

    sys.path.insert(0, str(TOOLS))
    from make_expert_fixtures import EcgTransformerReference

    embed_dim, d, ffn, heads, layers, conv_pos, groups = ECGFM[size]
    model = EcgTransformerReference([(embed_dim, 2, 2)] * 4, 12, d, ffn, heads, layers, conv_pos, groups).eval()

    def embed(x):  # x [B, 12, 5000]: two 5 s segments per record, pooled, then averaged
        b = x.shape[0]
        segments = x.reshape(b, 12, 2, 2500).permute(0, 2, 1, 3).reshape(b * 2, 12, 2500)
        return model(segments).reshape(b, 2, -1).mean(1)

    return embed, lambda records: torch.randn(records, 12, 5000)


def dlinear_model(_size):
    import torch

    sys.path.insert(0, str(TOOLS))
    from check_backbones_torch import DLinear

    model = DLinear(500, 1, 25, False, 15).eval()
    return lambda x: model(x), lambda records: torch.randn(records, 500, 1)


def timesnet_model(_size):
    import torch

    sys.path.insert(0, str(TOOLS))
    from check_backbones_torch import TimesNet

    model = TimesNet(500, 1, 16, 32, 2, 3, 6, 15).eval()
    return lambda x: model(x, torch.ones(x.shape[0], 500)), lambda records: torch.randn(records, 500, 1)


MODELS = {"moment": moment_model, "tempo": tempo_model, "ecgfm": ecgfm_model, "dlinear": dlinear_model,
          "timesnet": timesnet_model}


def measure(expert, size, records, threads):
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(1)
    embed, inputs = MODELS[expert](size)
    batch = BATCH.get(expert, 16)
    x = inputs(records)
    with torch.inference_mode():
        embed(x[:min(2, records)])  # warm-up, as the TypeScript side does
        start, cpu_start = time.perf_counter(), time.process_time()
        for i in range(0, records, batch):
            embed(x[i:i + batch])
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps({"expert": expert, "size": size, "records": records, "ecgsPerSecond": records / seconds,
                      "peakRssMiB": peak, "cpuPerWall": cpu / seconds, "torch": torch.__version__, "threads": threads}))


def option(args, name, default):
    return args[args.index(name) + 1] if name in args else default


def main(args):
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
        import safetensors  # noqa: F401  (tools/ re-statements import it)
    except ImportError as error:
        print(f"skipped: {error.name} does not import in {sys.executable} (pip install torch transformers safetensors)")
        return
    if "--one" in args:
        expert, size, records, threads = args[args.index("--one") + 1:args.index("--one") + 5]
        measure(expert, size, int(records), int(threads))
        return
    threads = option(args, "--threads", "2")
    counts = {"default": option(args, "--records", "16"), "published": option(args, "--published-records", "4")}
    for size in option(args, "--sizes", "default,published").split(","):
        for expert in option(args, "--experts", ",".join(MODELS)).split(","):
            if size == "published" and expert in ("dlinear", "timesnet"):
                continue  # one size, measured as default
            out = subprocess.run([sys.executable, __file__, "--one", expert, size, counts[size], threads],
                                 check=True, capture_output=True, text=True).stdout
            print(out.strip().splitlines()[-1], flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
