"""Golden fixtures for the MOMENT, TEMPO and ECG-FM ports (dev-only; the tests never run Python).

For each expert this builds a tiny random-init model with the published parameter names, runs the
reference forward on a seeded input, and writes to packages/model/test/fixtures/:
  <expert>-tiny.weights.safetensors   the state_dict (reference names, float32)
  <expert>-tiny.io.safetensors        input tensors and expected outputs
  <expert>-tiny.json                  the port's config for this model, and what produced the file

References:
  MOMENT  the `momentfm` package itself (MOMENTPipeline, task 'embedding'; T5 from `transformers`).
  TEMPO   the `timeagi` package itself (DC-research/TEMPO's `tempo.models.TEMPO`), GPT-2 from
          `transformers`, LoRA from `peft`. Two calls are patched because they reach the network or fix the
          size: GPT2Tokenizer.from_pretrained (returns the fixture's token ids) and GPT2Config (tiny sizes).
  ECG-FM  fairseq-signals is not on PyPI, so `EcgTransformerReference` below is a torch re-statement of
          its `ECGTransformerModel` embedding path (ConvFeatureExtraction mode 'default',
          ConvPositionalEncoding with parametrized weight_norm(dim=2) + SamePad, TransformerEncoder with
          layer_norm_first=False) and of the classifier's pooling, with the same module names.

Setup (git-ignored venv):
  python3 -m venv .tools/venv
  .tools/venv/bin/pip install torch transformers peft safetensors numpy
  .tools/venv/bin/pip install --no-deps momentfm timeagi einops omegaconf
Run from the repository root:  .tools/venv/bin/python packages/model/tools/make_expert_fixtures.py
"""

import json
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import nn

OUT = Path(__file__).resolve().parent.parent / "test" / "fixtures"
SEED = 20260501


def write(name, model_state, io, config, reference, out=None):
    """Writes one fixture; tiny fixtures (the committed ones) must stay under 500 KB per file."""
    out = out or OUT
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().float().contiguous() for k, v in model_state.items()}
    save_file(state, str(out / f"{name}.weights.safetensors"))
    save_file({k: v.detach().float().contiguous() for k, v in io.items()}, str(out / f"{name}.io.safetensors"))
    meta = {
        "config": config,
        "reference": reference,
        "torch": torch.__version__,
        "seed": SEED,
        "tensors": sorted(state.keys()),
    }
    (out / f"{name}.json").write_text(json.dumps(meta, indent=1) + "\n")
    for suffix in ("weights.safetensors", "io.safetensors", "json"):
        size = (out / f"{name}.{suffix}").stat().st_size
        assert out != OUT or size < 500_000, f"{name}.{suffix} is {size} bytes"
        print(f"{name}.{suffix}: {size} bytes")


NORM_LIKE = ("norm", "ln_1.weight", "ln_2.weight", "ln_f.weight", "original0", "affine_weight")


def randomize(module, generator):
    """Random values everywhere (including zero-initialised LoRA B, biases and norms) so that every
    parameter influences the output."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            scale = 0.2 if p.dim() > 1 else 0.1
            base = 1.0 if any(key in name for key in NORM_LIKE) and not name.endswith("bias") else 0.0
            p.copy_(base + scale * torch.randn(p.shape, generator=generator))


# ---------------------------------------------------------------- MOMENT
def moment_fixture(full_dir=None):
    """Tiny: d_kv * heads (24) differs from d_model (32), as in the published sizes. Full: MOMENT-1-small."""
    from momentfm import MOMENTPipeline
    from transformers.models.t5.modeling_t5 import T5Attention

    sizes = dict(d_model=512, d_ff=1024, d_kv=64, num_heads=6, num_layers=8) if full_dir else \
        dict(d_model=32, d_ff=64, d_kv=6, num_heads=4, num_layers=2)
    t5 = dict(
        **sizes, feed_forward_proj="gated-gelu",
        relative_attention_num_buckets=32, relative_attention_max_distance=128, layer_norm_epsilon=1e-6,
        vocab_size=8, dropout_rate=0.0, is_encoder_decoder=False, use_cache=False,
    )
    config = dict(
        task_name="reconstruction", model_name="MOMENT", transformer_type="encoder_only", d_model=None,
        seq_len=512, patch_len=8, patch_stride_len=8, transformer_backbone="google/flan-t5-small",
        t5_config=t5, revin_affine=False, add_positional_embedding=True, value_embedding_bias=False,
        orth_gain=1.41, mask_ratio=0.0, enable_gradient_checkpointing=False,
    )
    torch.manual_seed(SEED)
    model = MOMENTPipeline(config, model_kwargs={"task_name": "embedding"})
    model.init()
    model.eval()
    g = torch.Generator().manual_seed(SEED)
    if not full_dir:
        randomize(model, g)

    batch, channels, length = (2, 12, 512) if full_dir else (2, 3, 512)
    t = torch.arange(length, dtype=torch.float32)
    x = torch.randn(batch, channels, length, generator=g) + torch.sin(t / 9.0) * 2.0
    mask = torch.ones(batch, length)
    pad = 100  # not a multiple of the patch length: the partly padded patch counts as padding
    mask[1, :pad] = 0
    x[1, :, :pad] = 0
    with torch.no_grad():
        out = model(x_enc=x, input_mask=mask).embeddings
    buckets = T5Attention._relative_position_bucket(
        torch.arange(64)[None, :] - torch.arange(64)[:, None], bidirectional=True, num_buckets=32, max_distance=128
    )
    state = model.state_dict()
    # The sinusoidal table is a 5000-row buffer; the loader accepts any table with at least 64 rows.
    state["patch_embedding.position_embedding.pe"] = state["patch_embedding.position_embedding.pe"][:, :64].clone()
    ts_config = dict(seqLen=512, patchLen=8, dModel=sizes["d_model"], dFf=sizes["d_ff"], dKv=sizes["d_kv"],
                     heads=sizes["num_heads"], layers=sizes["num_layers"],
                     relativeBuckets=32, relativeMaxDistance=128, layerNormEps=1e-6, revinEps=1e-5)
    write("moment-full" if full_dir else "moment-tiny", state,
          {"x": x, "input_mask": mask, "embedding": out, "buckets": buckets.float()},
          ts_config, "momentfm MOMENTPipeline.embed (reduction mean)", full_dir)


# ---------------------------------------------------------------- TEMPO
class Encoded(dict):
    def to(self, device):
        return self


GPT2_PROMPT_IDS = {  # GPT-2 BPE of "Predict the future time step given the trend|season|residual"
    "trend": [47, 17407, 262, 2003, 640, 2239, 1813, 262, 5182],
    "season": [47, 17407, 262, 2003, 640, 2239, 1813, 262, 1622],
    "residual": [47, 17407, 262, 2003, 640, 2239, 1813, 262, 29598],
}


def tempo_fixture(full_dir=None):
    import tempo.models.TEMPO as tempo_module
    from omegaconf import OmegaConf
    from transformers.models.gpt2.configuration_gpt2 import GPT2Config

    prompts = GPT2_PROMPT_IDS if full_dir else {
        "trend": [5, 17, 3, 40, 22, 9, 31, 3, 50],
        "season": [5, 17, 3, 40, 22, 9, 31, 3, 12],
        "residual": [5, 17, 3, 40, 22, 9, 31, 3, 61],
    }

    def fixed_tokenizer(text, return_tensors):
        return Encoded(input_ids=torch.tensor([prompts[text.rsplit(" ", 1)[-1]]]))

    # GPT2Tokenizer.from_pretrained('gpt2') downloads the vocabulary; the port ships the ids instead.
    tempo_module.GPT2Tokenizer.from_pretrained = staticmethod(lambda name: fixed_tokenizer)
    gpt2 = dict(resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    if not full_dir:
        gpt2.update(n_embd=32, n_layer=3, n_head=4, vocab_size=64, n_positions=160)
    tempo_module.GPT2Config = lambda: GPT2Config(**gpt2)
    d_model, heads, layers, seq_len, pred_len = (768, 12, 6, 336, 96) if full_dir else (32, 4, 2, 64, 8)

    cfg = OmegaConf.create(dict(
        is_gpt=1, patch_size=16, pretrain=0, stride=8, seq_len=seq_len, pred_len=pred_len, d_model=d_model,
        gpt_layers=layers, prompt=1, pool=False, use_token=0, freeze=1, num_nodes=1, loss_func="mse",
    ))
    torch.manual_seed(SEED)
    model = tempo_module.TEMPO(cfg, torch.device("cpu"))
    model.eval()
    g = torch.Generator().manual_seed(SEED + 1)
    if full_dir:
        with torch.no_grad():  # peft starts lora_B at zero; give the adapters an effect to merge
            for name, p in model.named_parameters():
                if "lora_B" in name:
                    p.copy_(0.02 * torch.randn(p.shape, generator=g))
    else:
        randomize(model, g)
    batch = 2
    t = torch.arange(cfg.seq_len, dtype=torch.float32)
    x = torch.randn(batch, cfg.seq_len, generator=g) * 0.5 + torch.sin(t / 5.0)[None] * 3 + 1.5
    with torch.no_grad():
        forecast, _ = model(x.unsqueeze(-1), test=True)
        hidden = tempo_hidden_mean(model, x.unsqueeze(-1))
    ts_config = dict(seqLen=seq_len, predLen=pred_len, patchSize=16, stride=8, movingAverage=25, dModel=d_model,
                     heads=heads, layers=layers, vocabSize=model.gpt2_trend.base_model.model.wte.weight.shape[0],
                     positions=model.gpt2_trend.base_model.model.wpe.weight.shape[0], loraRank=16, loraAlpha=16,
                     promptTrend=prompts["trend"], promptSeason=prompts["season"], promptResidual=prompts["residual"])
    write("tempo-full" if full_dir else "tempo-tiny", model.state_dict(),
          {"x": x, "forecast": forecast.squeeze(-1), "hidden_mean": hidden},
          ts_config, "timeagi tempo.models.TEMPO.forward (prompt 1, pool off, LoRA unmerged via peft)", full_dir)


def tempo_hidden_mean(model, x):
    """The last hidden states of the 3 x patch_num series tokens, averaged: the port's embedding option.
    Captured with a hook on the GPT-2 pass of the reference forward."""
    captured = []
    handle = model.gpt2_trend.base_model.model.register_forward_hook(
        lambda module, args, output: captured.append(output.last_hidden_state)
    )
    model(x, test=True)
    handle.remove()
    h = captured[-1]
    t, p = model.token_len, model.patch_num
    parts = [h[:, i * (t + p) + t:(i + 1) * (t + p)] for i in range(3)]
    return torch.cat(parts, dim=1).mean(dim=1)


# ---------------------------------------------------------------- ECG-FM
class SamePad(nn.Module):
    def __init__(self, kernel_size):
        super().__init__()
        self.remove = 1 if kernel_size % 2 == 0 else 0

    def forward(self, x):
        return x[:, :, : -self.remove] if self.remove > 0 else x


class SelfAttention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.k_proj, self.v_proj, self.q_proj, self.out_proj = (nn.Linear(d, d) for _ in range(4))

    def forward(self, x):
        b, t, d = x.shape
        hd = d // self.heads

        def split(y):
            return y.view(b, t, self.heads, hd).transpose(1, 2)

        q = self.q_proj(x) * hd ** -0.5
        attn = torch.softmax(split(q) @ split(self.k_proj(x)).transpose(-1, -2), dim=-1)
        return self.out_proj((attn @ split(self.v_proj(x))).transpose(1, 2).reshape(b, t, d))


class PostLnLayer(nn.Module):
    def __init__(self, d, ffn, heads):
        super().__init__()
        self.self_attn = SelfAttention(d, heads)
        self.self_attn_layer_norm = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, ffn)
        self.fc2 = nn.Linear(ffn, d)
        self.final_layer_norm = nn.LayerNorm(d)

    def forward(self, x):
        x = self.self_attn_layer_norm(x + self.self_attn(x))
        return self.final_layer_norm(x + self.fc2(nn.functional.gelu(self.fc1(x))))


class EcgTransformerReference(nn.Module):
    """fairseq-signals ECGTransformerModel (extractor_mode 'default', layer_norm_first False), embedding path."""

    def __init__(self, conv_layers, in_d, d, ffn, heads, layers, conv_pos, conv_pos_groups):
        super().__init__()
        blocks = []
        for i, (dim, k, stride) in enumerate(conv_layers):
            parts = [nn.Conv1d(in_d, dim, k, stride=stride, bias=False), nn.Dropout(0.0)]
            if i == 0:
                parts.append(nn.GroupNorm(dim, dim, affine=True))
            parts.append(nn.GELU())
            blocks.append(nn.Sequential(*parts))
            in_d = dim
        self.feature_extractor = nn.Module()
        self.feature_extractor.conv_layers = nn.ModuleList(blocks)
        embed = conv_layers[-1][0]
        self.layer_norm = nn.LayerNorm(embed)
        self.post_extract_proj = nn.Linear(embed, d) if embed != d else None
        conv = nn.Conv1d(d, d, kernel_size=conv_pos, padding=conv_pos // 2, groups=conv_pos_groups)
        conv = nn.utils.parametrizations.weight_norm(conv, name="weight", dim=2)
        self.conv_pos = nn.Module()
        self.conv_pos.pos_conv = nn.Sequential(conv, SamePad(conv_pos), nn.GELU())
        self.encoder = nn.Module()
        self.encoder.layer_norm = nn.LayerNorm(d)
        self.encoder.layers = nn.ModuleList([PostLnLayer(d, ffn, heads) for _ in range(layers)])

    def forward(self, source):
        x = source
        for block in self.feature_extractor.conv_layers:
            x = block(x)
        features = self.layer_norm(x.transpose(1, 2))
        if self.post_extract_proj is not None:
            features = self.post_extract_proj(features)
        x = features + self.conv_pos.pos_conv(features.transpose(1, 2)).transpose(1, 2)
        x = self.encoder.layer_norm(x)
        for layer in self.encoder.layers:
            x = layer(x)
        return torch.div(x.sum(dim=1), (x != 0).sum(dim=1))


def ecgfm_fixture(full_dir=None):
    sizes = ((256, 768, 3072, 12, 12, 128, 16) if full_dir else (16, 32, 64, 4, 2, 16, 4))
    embed, d, ffn, heads, layers, conv_pos, groups = sizes
    conv_layers = [(embed, 2, 2)] * 4
    torch.manual_seed(SEED)
    model = EcgTransformerReference(conv_layers, 12, d, ffn, heads, layers, conv_pos, groups).eval()
    g = torch.Generator().manual_seed(SEED + 2)
    if not full_dir:
        randomize(model, g)
    t = torch.arange(2500, dtype=torch.float32)
    x = torch.randn(2, 12, 2500, generator=g) * 0.3 + torch.sin(t / 40.0)[None, None]
    # The fine-tuned classifier's head (ECGTransformerClassificationModel.proj) on the pooled state.
    proj = nn.Linear(d, 5)
    with torch.no_grad():
        pooled = model(x)
        proj.weight.copy_(0.2 * torch.randn(proj.weight.shape, generator=g))
        proj.bias.copy_(0.1 * torch.randn(proj.bias.shape, generator=g))
        logits = proj(pooled)
    ts_config = dict(inChannels=12, convLayers=[list(c) for c in conv_layers], convBias=False, dModel=d, ffnDim=ffn,
                     heads=heads, layers=layers, convPos=conv_pos, convPosGroups=groups, segmentLength=2500, labels=0)
    io = {"x": x.transpose(1, 2), "pooled": pooled, "proj.weight": proj.weight, "proj.bias": proj.bias,
          "logits": logits}
    write("ecgfm-full" if full_dir else "ecgfm-tiny", model.state_dict(), io,
          ts_config, "torch re-statement of fairseq-signals ECGTransformerModel + classifier pooling", full_dir)


if __name__ == "__main__":
    # `--full DIR` writes full-size random-init fixtures (hundreds of MB, not committed) to DIR; the test
    # moment-tempo-ecgfm-full.test.ts reads them when ENECG_FULL_FIXTURES=DIR is set.
    args = sys.argv[1:]
    full_dir = None
    if "--full" in args:
        at = args.index("--full")
        full_dir = Path(args[at + 1])
        del args[at:at + 2]
    for name in args or ["moment", "tempo", "ecgfm"]:
        {"moment": moment_fixture, "tempo": tempo_fixture, "ecgfm": ecgfm_fixture}[name](full_dir)
