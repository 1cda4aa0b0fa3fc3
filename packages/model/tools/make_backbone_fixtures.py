"""Dev-only: golden fixtures for the DLinear and TimesNet ports (Time-Series-Library layout).

A numpy reference forward written line by line after the PyTorch modules (models/DLinear.py,
models/TimesNet.py, layers/{Autoformer_EncDec,Embed,Conv_Blocks}.py, classification path, eval mode),
computed in float64 from float32 weights and inputs. Tiny random models use the real parameter names and
shapes; weights go to safetensors, inputs and reference embeddings to JSON. The generator needs no torch
(a CUDA torch wheel is several GB); `check_backbones_torch.py` cross-checks its output against the same
modules restated in torch (strict state-dict load, eval mode): run it after regenerating.

Setup (repo root, git-ignored venv): python3 -m venv .tools/pyenv && .tools/pyenv/bin/pip install -r packages/model/tools/requirements.txt
Run from packages/model:  ../../.tools/pyenv/bin/python tools/make_backbone_fixtures.py
Then, with a python that has a CPU torch build:  PYTHON tools/check_backbones_torch.py
"""
import json
import math
import pathlib

import numpy as np
from safetensors.numpy import save_file

FIXTURES = pathlib.Path(__file__).resolve().parent.parent / "test" / "fixtures"
rng = np.random.default_rng(7)


def f32(a):
    return np.asarray(a, dtype=np.float32)


# ---------------------------------------------------------------- DLinear
def moving_avg(x, k):
    # x [B, T, C]; edge-replicate (k-1)//2 both ends, AvgPool1d(k, stride 1)
    p = (k - 1) // 2
    front = np.repeat(x[:, :1, :], p, axis=1)
    end = np.repeat(x[:, -1:, :], p, axis=1)
    xp = np.concatenate([front, x, end], axis=1)
    T = x.shape[1]
    return np.stack([xp[:, t : t + k, :].mean(axis=1) for t in range(T)], axis=1)


def linear(x, w, b):
    return x @ w.T + b


def dlinear_embedding(state, x, moving_avg_k, individual):
    trend = moving_avg(x, moving_avg_k)
    seasonal = x - trend
    s = seasonal.transpose(0, 2, 1)  # [B, C, T]
    t = trend.transpose(0, 2, 1)
    C = x.shape[2]
    if individual:
        out_s = np.stack([linear(s[:, i, :], state[f"Linear_Seasonal.{i}.weight"], state[f"Linear_Seasonal.{i}.bias"]) for i in range(C)], axis=1)
        out_t = np.stack([linear(t[:, i, :], state[f"Linear_Trend.{i}.weight"], state[f"Linear_Trend.{i}.bias"]) for i in range(C)], axis=1)
    else:
        out_s = linear(s, state["Linear_Seasonal.weight"], state["Linear_Seasonal.bias"])
        out_t = linear(t, state["Linear_Trend.weight"], state["Linear_Trend.bias"])
    enc_out = (out_s + out_t).transpose(0, 2, 1)  # [B, T, C]
    return enc_out.reshape(enc_out.shape[0], -1)  # the input of `projection`


def dlinear_case(name, seq_len, enc_in, k, individual, num_class=3):
    state = {}
    names = [f"{{}}.{i}" for i in range(enc_in)] if individual else ["{}"]
    for part in ["Linear_Seasonal", "Linear_Trend"]:
        for n in names:
            state[n.format(part) + ".weight"] = f32(rng.normal(0, 0.1, (seq_len, seq_len)))
            state[n.format(part) + ".bias"] = f32(rng.normal(0, 0.1, (seq_len,)))
    state["projection.weight"] = f32(rng.normal(0, 0.1, (num_class, enc_in * seq_len)))
    state["projection.bias"] = f32(rng.normal(0, 0.1, (num_class,)))
    x = f32(rng.normal(0, 1, (3, seq_len, enc_in)))
    emb = dlinear_embedding({k_: v.astype(np.float64) for k_, v in state.items()}, x.astype(np.float64), k, individual)
    save_file(state, str(FIXTURES / f"{name}.safetensors"))
    return {
        "name": name,
        "config": {"seqLen": seq_len, "channels": enc_in, "movingAvg": k, "individual": individual},
        "inputs": [r.T.reshape(-1).tolist() for r in x],  # channel-major, as the TS port takes them
        "embeddings": emb.tolist(),
    }


# ---------------------------------------------------------------- TimesNet
def gelu(x):
    from scipy.special import erf

    return 0.5 * x * (1 + erf(x / math.sqrt(2)))


def conv2d_same(x, w, b):
    # x [B, Cin, H, W], w [Cout, Cin, k, k], padding (k-1)/2, stride 1 (torch Conv2d semantics)
    k = w.shape[2]
    p = (k - 1) // 2
    B, Cin, H, W = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    out = np.zeros((B, w.shape[0], H, W))
    for dh in range(k):
        for dw in range(k):
            out += np.einsum("bchw,oc->bohw", xp[:, :, dh : dh + H, dw : dw + W], w[:, :, dh, dw])
    return out + b[None, :, None, None]


def inception(state, prefix, x, num_kernels):
    return np.mean([conv2d_same(x, state[f"{prefix}.kernels.{j}.weight"], state[f"{prefix}.kernels.{j}.bias"]) for j in range(num_kernels)], axis=0)


def fft_for_period(x, k):
    xf = np.fft.rfft(x, axis=1)
    frequency_list = np.abs(xf).mean(0).mean(-1)
    frequency_list[0] = 0
    top_list = np.argsort(-frequency_list, kind="stable")[:k]
    period = x.shape[1] // top_list
    return period, np.abs(xf).mean(-1)[:, top_list]


def times_block(state, i, x, top_k, num_kernels):
    B, T, N = x.shape
    period_list, period_weight = fft_for_period(x, top_k)
    res = []
    for period in period_list:
        if T % period != 0:
            length = (T // period + 1) * period
            out = np.concatenate([x, np.zeros((B, length - T, N))], axis=1)
        else:
            length = T
            out = x
        out = out.reshape(B, length // period, period, N).transpose(0, 3, 1, 2)
        out = inception(state, f"model.{i}.conv.0", out, num_kernels)
        out = gelu(out)
        out = inception(state, f"model.{i}.conv.2", out, num_kernels)
        out = out.transpose(0, 2, 3, 1).reshape(B, -1, N)
        res.append(out[:, :T, :])
    res = np.stack(res, axis=-1)
    w = np.exp(period_weight - period_weight.max(axis=1, keepdims=True))
    w = w / w.sum(axis=1, keepdims=True)
    return (res * w[:, None, None, :]).sum(-1) + x


def layer_norm(x, w, b, eps=1e-5):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def timesnet_embedding(state, x, e_layers, top_k, num_kernels):
    # TokenEmbedding: Conv1d(k=3, circular padding 1, no bias) on [B, C, T]
    w = state["enc_embedding.value_embedding.tokenConv.weight"]  # [d_model, C, 3]
    xc = x.transpose(0, 2, 1)
    xp = np.concatenate([xc[:, :, -1:], xc, xc[:, :, :1]], axis=2)
    T = x.shape[1]
    value = sum(np.einsum("bct,dc->bdt", xp[:, :, j : j + T], w[:, :, j]) for j in range(3)).transpose(0, 2, 1)
    enc_out = value + state["enc_embedding.position_embedding.pe"][:, :T]
    for i in range(e_layers):
        enc_out = layer_norm(times_block(state, i, enc_out, top_k, num_kernels), state["layer_norm.weight"], state["layer_norm.bias"])
    output = gelu(enc_out)  # dropout is the identity in eval mode; the padding mask is all ones
    return output.reshape(output.shape[0], -1)


def sinusoidal_pe(d_model, max_len=5000):
    pe = np.zeros((max_len, d_model), dtype=np.float32)
    position = np.arange(0, max_len, dtype=np.float32)[:, None]
    div_term = np.exp(np.arange(0, d_model, 2, dtype=np.float32) * -(math.log(10000.0) / d_model))
    pe[:, 0::2] = np.sin(position * div_term)
    pe[:, 1::2] = np.cos(position * div_term)
    return pe[None]


def timesnet_case(name, seq_len, enc_in, d_model, d_ff, e_layers, top_k, num_kernels, num_class=3):
    state = {
        "enc_embedding.value_embedding.tokenConv.weight": f32(rng.normal(0, 0.5, (d_model, enc_in, 3))),
        "enc_embedding.position_embedding.pe": sinusoidal_pe(d_model),
        "enc_embedding.temporal_embedding.embed.weight": f32(rng.normal(0, 0.1, (d_model, 4))),
        "layer_norm.weight": f32(1 + rng.normal(0, 0.1, (d_model,))),
        "layer_norm.bias": f32(rng.normal(0, 0.1, (d_model,))),
        "projection.weight": f32(rng.normal(0, 0.1, (num_class, d_model * seq_len))),
        "projection.bias": f32(rng.normal(0, 0.1, (num_class,))),
    }
    for i in range(e_layers):
        for conv, (cin, cout) in [(0, (d_model, d_ff)), (2, (d_ff, d_model))]:
            for j in range(num_kernels):
                k = 2 * j + 1
                state[f"model.{i}.conv.{conv}.kernels.{j}.weight"] = f32(rng.normal(0, math.sqrt(2 / (cout * k * k)), (cout, cin, k, k)))
                state[f"model.{i}.conv.{conv}.kernels.{j}.bias"] = f32(rng.normal(0, 0.1, (cout,)))
    t = np.arange(seq_len)
    records = [
        np.stack([np.sin(2 * np.pi * t / p) + 0.3 * rng.normal(size=seq_len) for _ in range(enc_in)], axis=1)
        for p in (10, 25, 7)
    ]
    s64 = {k_: v.astype(np.float64) for k_, v in state.items()}
    # One record per forward: TimesNet's batch-mean period choice then equals the per-record choice the
    # TS port makes, which is the deviation it documents.
    embs = [timesnet_embedding(s64, f32(r)[None].astype(np.float64), e_layers, top_k, num_kernels)[0] for r in records]
    save_file(state, str(FIXTURES / f"{name}.safetensors"))
    return {
        "name": name,
        "config": {"seqLen": seq_len, "channels": enc_in, "dModel": d_model, "dFf": d_ff, "eLayers": e_layers, "topK": top_k, "numKernels": num_kernels},
        "inputs": [f32(r).T.reshape(-1).tolist() for r in records],
        "embeddings": [e.tolist() for e in embs],
    }


cases = {
    "dlinear": [
        dlinear_case("dlinear-shared", seq_len=48, enc_in=2, k=25, individual=False),
        dlinear_case("dlinear-individual", seq_len=40, enc_in=2, k=7, individual=True),
    ],
    "timesnet": [
        timesnet_case("timesnet-tiny", seq_len=60, enc_in=2, d_model=8, d_ff=12, e_layers=2, top_k=2, num_kernels=4),
    ],
}
(FIXTURES / "backbones.json").write_text(json.dumps(cases))
for p in sorted(FIXTURES.iterdir()):
    print(p.name, p.stat().st_size)
