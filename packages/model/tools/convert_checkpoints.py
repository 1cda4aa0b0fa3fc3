"""Convert the published MOMENT, TEMPO and ECG-FM checkpoints to safetensors for the TypeScript experts.

Dev-only: run once per checkpoint, outside the product (the product never unpickles anything). The key
set of each source is asserted against the architecture (missing, unexpected or mis-shaped tensors stop the
conversion with their names), because the references load with strict=False (TEMPO) or would silently
carry unrelated tensors. Tensors the embedding path does not read (T5's token table, pretraining heads,
optimizer state) are dropped; everything is written as float32 under its reference name.

  moment  HF AutonLab/MOMENT-1-{small,base,large}: model.safetensors (PyTorchModelHubMixin)
  tempo   HF Melady/TEMPO: TEMPO-80M_v1.pth (a torch state_dict of the peft-wrapped model)
  ecgfm   HF wanglab/ecg-fm: mimic_iv_ecg_physionet_pretrained.pt or mimic_iv_ecg_finetuned.pt
          (fairseq checkpoints: {"cfg", "model", optimizer state}; unpickling needs omegaconf); the
          fine-tuned file's classifier head `proj` is kept (the expert's `logits` output, model.labels)

Setup:  python3 -m venv .tools/venv && .tools/venv/bin/pip install torch safetensors numpy omegaconf
Usage:  .tools/venv/bin/python packages/model/tools/convert_checkpoints.py moment model.safetensors moment-small.safetensors --size small
        .tools/venv/bin/python packages/model/tools/convert_checkpoints.py tempo TEMPO-80M_v1.pth tempo.safetensors
        .tools/venv/bin/python packages/model/tools/convert_checkpoints.py ecgfm mimic_iv_ecg_physionet_pretrained.pt ecgfm.safetensors
        --config FILE.json takes the sizes from a JSON object with the TypeScript preset's keys instead.
Then:   hand the output to the expert as its weights (ExpertOptions.weightsPath, the feature stage's
        expertOptions.weightsPath) with the matching size, e.g. config {"size": "small"} for moment and
        {"size": "full"} for tempo and ecgfm; for ecgfm the file's metadata "model" holds sizes read from
        the fairseq cfg, to pass as config {"size": "full", "model": {...}} when they differ from the preset.
"""

import argparse
import json
import re
import sys

import torch
from safetensors.torch import load_file, save_file

MOMENT_SIZES = {
    "small": dict(dModel=512, dFf=1024, heads=6, layers=8),
    "base": dict(dModel=768, dFf=2048, heads=12, layers=12),
    "large": dict(dModel=1024, dFf=2816, heads=16, layers=24),
}
MOMENT_FIXED = dict(seqLen=512, patchLen=8, dKv=64, relativeBuckets=32)
TEMPO_FULL = dict(seqLen=336, predLen=96, patchSize=16, stride=8, dModel=768, layers=6, vocabSize=50257,
                  positions=1024, loraRank=16, promptLength=9)
ECGFM_FULL = dict(inChannels=12, convLayers=[[256, 2, 2]] * 4, convBias=False, dModel=768, ffnDim=3072,
                  layers=12, convPos=128, convPosGroups=16)


class KeyMismatch(SystemExit):
    pass


def moment_keys(c):
    d, ff, inner, patches = c["dModel"], c["dFf"], c["heads"] * c["dKv"], c["seqLen"] // c["patchLen"]
    keys = {
        "patch_embedding.value_embedding.weight": [d, c["patchLen"]],
        "patch_embedding.mask_embedding": [d],
        "patch_embedding.position_embedding.pe": [1, None, d],  # any length >= patches
        "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight": [c["relativeBuckets"], c["heads"]],
        "encoder.final_layer_norm.weight": [d],
    }
    for i in range(c["layers"]):
        b = f"encoder.block.{i}.layer"
        keys.update({
            f"{b}.0.layer_norm.weight": [d], f"{b}.1.layer_norm.weight": [d],
            f"{b}.0.SelfAttention.q.weight": [inner, d], f"{b}.0.SelfAttention.k.weight": [inner, d],
            f"{b}.0.SelfAttention.v.weight": [inner, d], f"{b}.0.SelfAttention.o.weight": [d, inner],
            f"{b}.1.DenseReluDense.wi_0.weight": [ff, d], f"{b}.1.DenseReluDense.wi_1.weight": [ff, d],
            f"{b}.1.DenseReluDense.wo.weight": [d, ff],
        })
    dropped = re.compile(r"^(encoder\.embed_tokens\.weight|head\..*)$")
    return keys, dropped, {"patch_embedding.position_embedding.pe": patches}


def tempo_keys(c, peft_base_layer):
    d, L, r, patches = c["dModel"], c["seqLen"], c["loraRank"], (c["seqLen"] - c["patchSize"]) // c["stride"] + 2
    g = "gpt2_trend.base_model.model."
    base = ".base_layer" if peft_base_layer else ""
    keys = {f"{g}wte.weight": [c["vocabSize"], d], f"{g}wpe.weight": [c["positions"], d],
            f"{g}ln_f.weight": [d], f"{g}ln_f.bias": [d],
            "rev_in_trend.affine_weight": [1], "rev_in_trend.affine_bias": [1]}
    for i in range(c["layers"]):
        h = f"{g}h.{i}"
        keys.update({
            f"{h}.ln_1.weight": [d], f"{h}.ln_1.bias": [d], f"{h}.ln_2.weight": [d], f"{h}.ln_2.bias": [d],
            f"{h}.attn.c_attn{base}.weight": [d, 3 * d], f"{h}.attn.c_attn{base}.bias": [3 * d],
            f"{h}.attn.c_attn.lora_A.default.weight": [r, d], f"{h}.attn.c_attn.lora_B.default.weight": [3 * d, r],
            f"{h}.attn.c_proj.weight": [d, d], f"{h}.attn.c_proj.bias": [d],
            f"{h}.mlp.c_fc.weight": [d, 4 * d], f"{h}.mlp.c_fc.bias": [4 * d],
            f"{h}.mlp.c_proj.weight": [4 * d, d], f"{h}.mlp.c_proj.bias": [d],
        })
    for name, out, inp in [("map_trend", L, L), ("map_season.0", 4 * L, L), ("map_season.2", L, 4 * L)]:
        keys.update({f"{name}.weight": [out, inp], f"{name}.bias": [out]})
    for part in ("trend", "season", "noise"):
        for name, out, inp in [(f"in_layer_{part}", d, c["patchSize"]), (f"prompt_layer_{part}", d, d),
                               (f"out_layer_{part}", c["predLen"], d * patches)]:
            keys.update({f"{name}.weight": [out, inp], f"{name}.bias": [out]})
    # Parameters TEMPO builds but never reads in forward (prompt 1, pool off), and old causal-mask buffers.
    dropped = re.compile(r"^(map_resid\.|rev_in_season\.|rev_in_noise\.|mul_season\.|.*\.attn\.(bias|masked_bias)$)")
    return keys, dropped, {f"{g}wpe.weight": 3 * (c["promptLength"] + patches)}


def ecgfm_keys(c, prefix, weight_norm_names, labels):
    d, p = c["dModel"], prefix
    keys, in_d = {}, c["inChannels"]
    for i, (dim, k, _) in enumerate(c["convLayers"]):
        keys[f"{p}feature_extractor.conv_layers.{i}.0.weight"] = [dim, in_d, k]
        if c["convBias"]:
            keys[f"{p}feature_extractor.conv_layers.{i}.0.bias"] = [dim]
        in_d = dim
    dim0 = c["convLayers"][0][0]
    g_name, v_name = weight_norm_names
    keys.update({
        f"{p}feature_extractor.conv_layers.0.2.weight": [dim0], f"{p}feature_extractor.conv_layers.0.2.bias": [dim0],
        f"{p}layer_norm.weight": [in_d], f"{p}layer_norm.bias": [in_d],
        f"{p}conv_pos.pos_conv.0.{g_name}": [1, 1, c["convPos"]],
        f"{p}conv_pos.pos_conv.0.{v_name}": [d, d // c["convPosGroups"], c["convPos"]],
        f"{p}conv_pos.pos_conv.0.bias": [d],
        f"{p}encoder.layer_norm.weight": [d], f"{p}encoder.layer_norm.bias": [d],
    })
    if in_d != d:
        keys.update({f"{p}post_extract_proj.weight": [d, in_d], f"{p}post_extract_proj.bias": [d]})
    for i in range(c["layers"]):
        layer = f"{p}encoder.layers.{i}"
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            keys.update({f"{layer}.self_attn.{proj}.weight": [d, d], f"{layer}.self_attn.{proj}.bias": [d]})
        keys.update({
            f"{layer}.fc1.weight": [c["ffnDim"], d], f"{layer}.fc1.bias": [c["ffnDim"]],
            f"{layer}.fc2.weight": [d, c["ffnDim"]], f"{layer}.fc2.bias": [d],
        })
        for norm in ("self_attn_layer_norm", "final_layer_norm"):
            keys.update({f"{layer}.{norm}.weight": [d], f"{layer}.{norm}.bias": [d]})
    if labels:  # the fine-tuned classifier's head, kept for the expert's `logits` output
        keys.update({"proj.weight": [labels, d], "proj.bias": [labels]})
    dropped = re.compile(r"^(encoder\.)?(mask_emb|quantizer\.|project_q\.|final_proj\.|layer_norm_target)")
    return keys, dropped, {}


def check(state, keys, dropped, min_lengths):
    """Asserts the source's key set and shapes; returns the tensors to write (float32)."""
    missing = sorted(k for k in keys if k not in state)
    unexpected = sorted(k for k in state if k not in keys and not dropped.match(k))
    wrong = []
    for name, shape in keys.items():
        if name not in state:
            continue
        actual = list(state[name].shape)
        flexible = [i for i, s in enumerate(shape) if s is None]
        ok = len(actual) == len(shape) and all(s is None or s == a for s, a in zip(shape, actual))
        if ok and flexible and actual[flexible[0]] < min_lengths.get(name, 0):
            ok = False
        if not ok:
            wrong.append(f"{name}: {actual}, expected {shape}")
    problems = ([f"missing: {k}" for k in missing] + [f"unexpected: {k}" for k in unexpected]
                + [f"mis-shaped: {w}" for w in wrong])
    if problems:
        raise KeyMismatch("checkpoint does not match the architecture:\n  " + "\n  ".join(problems))
    return {k: state[k].detach().to(torch.float32).contiguous() for k in keys}


def load_config(args, preset):
    config = dict(preset)
    if args.config:
        with open(args.config) as f:
            config.update(json.load(f))
    return config


def convert_moment(args):
    config = load_config(args, {**MOMENT_FIXED, **MOMENT_SIZES[args.size]})
    state = load_file(args.source)
    return check(state, *moment_keys(config)), {"expert": "moment", "size": "custom" if args.config else args.size}


def convert_tempo(args):
    config = load_config(args, TEMPO_FULL)
    state = torch.load(args.source, map_location="cpu", weights_only=True)
    peft_base_layer = any(".c_attn.base_layer." in k for k in state)
    return check(state, *tempo_keys(config, peft_base_layer)), {"expert": "tempo"}


def convert_ecgfm(args):
    checkpoint = torch.load(args.source, map_location="cpu", weights_only=False)
    state = checkpoint["model"] if "model" in checkpoint else checkpoint
    preset = dict(ECGFM_FULL)
    model_cfg = checkpoint.get("cfg", {}).get("model") if isinstance(checkpoint.get("cfg"), dict) or hasattr(checkpoint.get("cfg"), "get") else None
    if model_cfg is not None:
        for ts_key, cfg_key in [("dModel", "encoder_embed_dim"), ("ffnDim", "encoder_ffn_embed_dim"),
                                ("layers", "encoder_layers"), ("convPos", "conv_pos"),
                                ("convPosGroups", "conv_pos_groups"), ("inChannels", "in_d"), ("convBias", "conv_bias")]:
            if model_cfg.get(cfg_key) is not None:
                preset[ts_key] = model_cfg.get(cfg_key)
        if model_cfg.get("conv_feature_layers"):
            preset["convLayers"] = [list(layer) for layer in eval(model_cfg.get("conv_feature_layers"), {"__builtins__": {}})]
    config = load_config(args, preset)
    prefix = "encoder." if "encoder.feature_extractor.conv_layers.0.0.weight" in state else ""
    old_weight_norm = f"{prefix}conv_pos.pos_conv.0.weight_g" in state
    names = ("weight_g", "weight_v") if old_weight_norm else ("parametrizations.weight.original0",
                                                              "parametrizations.weight.original1")
    labels = state["proj.weight"].shape[0] if "proj.weight" in state else 0
    ts_config = {k: config[k] for k in ("dModel", "ffnDim", "layers", "convPos", "convPosGroups", "inChannels",
                                        "convLayers", "convBias")}
    ts_config["labels"] = labels
    return check(state, *ecgfm_keys(config, prefix, names, labels)), {"expert": "ecgfm", "model": json.dumps(ts_config)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("expert", choices=["moment", "tempo", "ecgfm"])
    parser.add_argument("source")
    parser.add_argument("output")
    parser.add_argument("--size", choices=sorted(MOMENT_SIZES), default="small", help="MOMENT-1 size")
    parser.add_argument("--config", help="JSON object of sizes (TypeScript preset keys) overriding the preset")
    args = parser.parse_args(argv)
    tensors, metadata = {"moment": convert_moment, "tempo": convert_tempo, "ecgfm": convert_ecgfm}[args.expert](args)
    save_file(tensors, args.output, metadata={k: str(v) for k, v in metadata.items()})
    count = sum(t.numel() for t in tensors.values())
    print(json.dumps({"output": args.output, "tensors": len(tensors), "parameters": count, **metadata}))


if __name__ == "__main__":
    sys.exit(main())
