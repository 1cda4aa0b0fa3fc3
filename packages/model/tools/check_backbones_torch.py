"""Dev-only: cross-checks the DLinear/TimesNet golden fixtures against PyTorch.

`make_backbone_fixtures.py` computes the reference embeddings with numpy. This script restates the
Time-Series-Library modules as torch nn.Modules with the same module tree, parameter and buffer names
(models/DLinear.py, models/TimesNet.py, layers/Autoformer_EncDec.py, layers/Embed.py,
layers/Conv_Blocks.py as on TSLib main; classification task, so TimesBlock's pred_len is 0 and a period
that does not divide seq_len zero-pads), loads each committed safetensors file with
`load_state_dict(strict=True)`, runs the committed inputs in eval mode through the full classification
forward and asserts that the input of `projection` (the embedding the TS port returns) equals the committed
reference: within 1e-5 in float32 and 1e-10 with the model cast to float64. TimesNet runs one record per
forward: its batch-mean period choice then equals the per-record choice of the TS port.

Needs a CPU torch build, numpy and safetensors (torch is not in requirements.txt: the generator does not
need it). Run from packages/model:  PYTHON tools/check_backbones_torch.py   (exit status 1 on mismatch)
"""
import json
import math
import pathlib
import sys

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

FIXTURES = pathlib.Path(__file__).resolve().parent.parent / "test" / "fixtures"


# ---------------------------------------------------------------- DLinear (Autoformer_EncDec + DLinear)
class MovingAvg(nn.Module):
    def __init__(self, kernel_size):
        super().__init__()
        self.kernel_size = kernel_size
        self.avg = nn.AvgPool1d(kernel_size=kernel_size, stride=1, padding=0)

    def forward(self, x):  # [B, T, C]; edges replicated so the output keeps length T (odd kernels)
        pad = (self.kernel_size - 1) // 2
        x = torch.cat([x[:, :1, :].repeat(1, pad, 1), x, x[:, -1:, :].repeat(1, pad, 1)], dim=1)
        return self.avg(x.permute(0, 2, 1)).permute(0, 2, 1)


class SeriesDecomp(nn.Module):
    def __init__(self, kernel_size):
        super().__init__()
        self.moving_avg = MovingAvg(kernel_size)

    def forward(self, x):
        trend = self.moving_avg(x)
        return x - trend, trend


class DLinear(nn.Module):
    def __init__(self, seq_len, enc_in, moving_avg, individual, num_class):
        super().__init__()
        self.seq_len = seq_len
        self.channels = enc_in
        self.individual = individual
        self.decompsition = SeriesDecomp(moving_avg)  # TSLib's spelling; it holds no parameters
        if individual:
            self.Linear_Seasonal = nn.ModuleList(nn.Linear(seq_len, seq_len) for _ in range(enc_in))
            self.Linear_Trend = nn.ModuleList(nn.Linear(seq_len, seq_len) for _ in range(enc_in))
        else:
            self.Linear_Seasonal = nn.Linear(seq_len, seq_len)
            self.Linear_Trend = nn.Linear(seq_len, seq_len)
        self.projection = nn.Linear(enc_in * seq_len, num_class)

    def encoder(self, x):
        seasonal, trend = self.decompsition(x)
        seasonal, trend = seasonal.permute(0, 2, 1), trend.permute(0, 2, 1)
        if self.individual:
            seasonal = torch.stack([layer(seasonal[:, i, :]) for i, layer in enumerate(self.Linear_Seasonal)], dim=1)
            trend = torch.stack([layer(trend[:, i, :]) for i, layer in enumerate(self.Linear_Trend)], dim=1)
        else:
            seasonal, trend = self.Linear_Seasonal(seasonal), self.Linear_Trend(trend)
        return (seasonal + trend).permute(0, 2, 1)

    def forward(self, x_enc):  # classification path
        enc_out = self.encoder(x_enc)
        return self.projection(enc_out.reshape(enc_out.shape[0], -1))


# ---------------------------------------------------------------- TimesNet (Embed, Conv_Blocks, TimesNet)
class TokenEmbedding(nn.Module):
    def __init__(self, c_in, d_model):
        super().__init__()
        self.tokenConv = nn.Conv1d(c_in, d_model, kernel_size=3, padding=1, padding_mode="circular", bias=False)

    def forward(self, x):
        return self.tokenConv(x.permute(0, 2, 1)).transpose(1, 2)


class PositionalEmbedding(nn.Module):
    def __init__(self, d_model, max_len=5000):
        super().__init__()
        pe = torch.zeros(max_len, d_model)
        position = torch.arange(0, max_len).float().unsqueeze(1)
        div_term = (torch.arange(0, d_model, 2).float() * -(math.log(10000.0) / d_model)).exp()
        pe[:, 0::2] = torch.sin(position * div_term)
        pe[:, 1::2] = torch.cos(position * div_term)
        self.register_buffer("pe", pe.unsqueeze(0))

    def forward(self, x):
        return self.pe[:, : x.size(1)]


class TimeFeatureEmbedding(nn.Module):
    def __init__(self, d_model, d_inp=4):  # freq 'h' -> 4 time features
        super().__init__()
        self.embed = nn.Linear(d_inp, d_model, bias=False)

    def forward(self, x):
        return self.embed(x)


class DataEmbedding(nn.Module):
    def __init__(self, c_in, d_model, dropout=0.1):
        super().__init__()
        self.value_embedding = TokenEmbedding(c_in, d_model)
        self.position_embedding = PositionalEmbedding(d_model)
        self.temporal_embedding = TimeFeatureEmbedding(d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, x_mark):
        x = self.value_embedding(x) + self.position_embedding(x)
        if x_mark is not None:
            x = x + self.temporal_embedding(x_mark)
        return self.dropout(x)


class InceptionBlockV1(nn.Module):
    def __init__(self, in_channels, out_channels, num_kernels):
        super().__init__()
        self.kernels = nn.ModuleList(nn.Conv2d(in_channels, out_channels, kernel_size=2 * i + 1, padding=i) for i in range(num_kernels))

    def forward(self, x):
        return torch.stack([kernel(x) for kernel in self.kernels], dim=-1).mean(-1)


def fft_for_period(x, k):
    xf = torch.fft.rfft(x, dim=1)
    frequency_list = abs(xf).mean(0).mean(-1)
    frequency_list[0] = 0
    _, top_list = torch.topk(frequency_list, k)
    top_list = top_list.cpu().numpy()
    return x.shape[1] // top_list, abs(xf).mean(-1)[:, top_list]


class TimesBlock(nn.Module):
    def __init__(self, seq_len, d_model, d_ff, top_k, num_kernels):
        super().__init__()
        self.seq_len = seq_len  # + pred_len, which is 0 for classification
        self.k = top_k
        self.conv = nn.Sequential(
            InceptionBlockV1(d_model, d_ff, num_kernels),
            nn.GELU(),
            InceptionBlockV1(d_ff, d_model, num_kernels),
        )

    def forward(self, x):
        B, T, N = x.size()
        period_list, period_weight = fft_for_period(x, self.k)
        res = []
        for period in period_list:
            period = int(period)
            if self.seq_len % period != 0:
                length = (self.seq_len // period + 1) * period
                out = torch.cat([x, torch.zeros(B, length - self.seq_len, N, dtype=x.dtype)], dim=1)
            else:
                length = self.seq_len
                out = x
            out = out.reshape(B, length // period, period, N).permute(0, 3, 1, 2).contiguous()
            out = self.conv(out)
            res.append(out.permute(0, 2, 3, 1).reshape(B, -1, N)[:, : self.seq_len, :])
        res = torch.stack(res, dim=-1)
        period_weight = F.softmax(period_weight, dim=1).unsqueeze(1).unsqueeze(1).repeat(1, T, N, 1)
        return torch.sum(res * period_weight, -1) + x


class TimesNet(nn.Module):
    def __init__(self, seq_len, enc_in, d_model, d_ff, e_layers, top_k, num_kernels, num_class):
        super().__init__()
        self.model = nn.ModuleList(TimesBlock(seq_len, d_model, d_ff, top_k, num_kernels) for _ in range(e_layers))
        self.enc_embedding = DataEmbedding(enc_in, d_model)
        self.layer = e_layers
        self.layer_norm = nn.LayerNorm(d_model)
        self.act = F.gelu
        self.dropout = nn.Dropout(0.1)
        self.projection = nn.Linear(d_model * seq_len, num_class)

    def forward(self, x_enc, x_mark_enc):  # classification path; x_mark_enc is the padding mask
        enc_out = self.enc_embedding(x_enc, None)
        for i in range(self.layer):
            enc_out = self.layer_norm(self.model[i](enc_out))
        output = self.dropout(self.act(enc_out))
        output = output * x_mark_enc.unsqueeze(-1)
        return self.projection(output.reshape(output.shape[0], -1))


# ---------------------------------------------------------------- check
def projection_input(model, *args):
    """Runs the full classification forward and returns what `projection` received: the embedding."""
    captured = []
    handle = model.projection.register_forward_pre_hook(lambda _module, inputs: captured.append(inputs[0]))
    with torch.no_grad():
        model(*args)
    handle.remove()
    return captured[0]


def load(model, name, dtype):
    model.load_state_dict(load_file(str(FIXTURES / f"{name}.safetensors")), strict=True)
    return model.to(dtype).eval()


def records_time_major(case, dtype):
    # The fixtures store each record channel-major ([C, T] flattened), as the TS port takes them.
    cfg = case["config"]
    x = torch.tensor(case["inputs"], dtype=dtype).reshape(-1, cfg["channels"], cfg["seqLen"])
    return x.permute(0, 2, 1).contiguous()


def dlinear_embeddings(case, num_class, dtype):
    cfg = case["config"]
    model = load(DLinear(cfg["seqLen"], cfg["channels"], cfg["movingAvg"], cfg["individual"], num_class), case["name"], dtype)
    return projection_input(model, records_time_major(case, dtype))


def timesnet_embeddings(case, num_class, dtype):
    cfg = case["config"]
    model = TimesNet(cfg["seqLen"], cfg["channels"], cfg["dModel"], cfg["dFf"], cfg["eLayers"], cfg["topK"], cfg["numKernels"], num_class)
    model = load(model, case["name"], dtype)
    mask = torch.ones(1, cfg["seqLen"], dtype=dtype)
    return torch.cat([projection_input(model, record[None], mask) for record in records_time_major(case, dtype)])


# float32 is what the weights are stored in and the TS port computes in; float64 shows the numpy
# reference (computed in float64 from the same float32 weights and inputs) is exact, not merely close.
TOLERANCES = {torch.float32: 1e-5, torch.float64: 1e-10}


def main():
    torch.set_num_threads(1)
    cases = json.loads((FIXTURES / "backbones.json").read_text())
    failed = False
    for family, embeddings in (("dlinear", dlinear_embeddings), ("timesnet", timesnet_embeddings)):
        for case in cases[family]:
            num_class = load_file(str(FIXTURES / f"{case['name']}.safetensors"))["projection.weight"].shape[0]
            expected = torch.tensor(case["embeddings"], dtype=torch.float64)
            for dtype, tolerance in TOLERANCES.items():
                got = embeddings(case, num_class, dtype)
                diff = (got.double() - expected).abs().max().item()
                failed |= not diff <= tolerance
                print(f"{case['name']} {str(dtype)[6:]}: {tuple(got.shape)} max |torch - fixture| = {diff:.3e} (tolerance {tolerance:g})")
    if failed:
        sys.exit("torch disagrees with the committed fixtures")
    print("all fixtures agree with torch")


if __name__ == "__main__":
    main()
