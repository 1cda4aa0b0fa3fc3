"""Dev-only: golden fixtures for FFT resampling (scipy.signal.resample) and STL (statsmodels).

Setup (repo root, git-ignored venv): python3 -m venv .tools/pyenv && .tools/pyenv/bin/pip install -r packages/model/tools/requirements.txt
Run from packages/model:  ../../.tools/pyenv/bin/python tools/make_preprocess_fixtures.py
Writes test/fixtures/preprocess.json (small; committed). Tests never need Python.
"""
import json
import pathlib

import numpy as np
import scipy
import statsmodels
from scipy.signal import resample
from statsmodels.tsa.seasonal import STL

rng = np.random.default_rng(20260511)
out = {"versions": {"numpy": np.__version__, "scipy": scipy.__version__, "statsmodels": statsmodels.__version__}}

# An ECG-like 10 s signal at 500 Hz: a few harmonics, a baseline drift and noise.
t = np.arange(5000) / 500.0
ecg_like = (
    np.sin(2 * np.pi * 1.2 * t)
    + 0.3 * np.sin(2 * np.pi * 7.0 * t + 0.4)
    + 0.2 * np.sin(2 * np.pi * 0.15 * t)
    + 0.05 * rng.standard_normal(5000)
)
resample_cases = []
for n_in, n_out in [(5000, 500), (5000, 336), (5000, 512), (5000, 5000), (9, 6), (10, 4), (7, 12), (8, 13), (6, 10), (1, 3)]:
    x = ecg_like[:n_in] if n_in == 5000 else rng.standard_normal(n_in)
    case = {"length": n_out, "output": resample(x, n_out).tolist()}
    case["input"] = "ecg_like" if n_in == 5000 else x.tolist()
    resample_cases.append(case)
out["ecg_like"] = ecg_like.tolist()
out["resample"] = resample_cases

stl_cases = []
tempo_input = resample(ecg_like, 336)
for name, series, kwargs in [
    ("tempo_336_period50", tempo_input, {"period": 50}),
    ("noise_120_period12", rng.standard_normal(120), {"period": 12}),
    ("robust_200_period25", rng.standard_normal(200) + np.sin(np.arange(200) * 2 * np.pi / 25), {"period": 25, "robust": True}),
]:
    res = STL(series, **kwargs).fit()
    stl_cases.append(
        {
            "name": name,
            "options": kwargs,
            "input": np.asarray(series).tolist(),
            "trend": np.asarray(res.trend).tolist(),
            "seasonal": np.asarray(res.seasonal).tolist(),
            "residual": np.asarray(res.resid).tolist(),
        }
    )
out["stl"] = stl_cases

path = pathlib.Path(__file__).resolve().parent.parent / "test" / "fixtures" / "preprocess.json"
path.write_text(json.dumps(out))
print(f"wrote {path} ({path.stat().st_size} bytes)")
