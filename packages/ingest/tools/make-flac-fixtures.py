"""Writes the FLAC-compressed WFDB test records under test/fixtures/flac (dev only; tests only read them).

Each record's samples are generated here from a fixed seed, encoded by libFLAC (the `flac` command
with chosen settings, or wfdb-python's own writer through libsndfile), read back by wfdb-python (an
independent decoder) and checked equal to what was generated, then stored with:
  <record>.hea, its FLAC signal files, and <record>.signals.gz: one line per signal, its digital samples
  as the record presents them (after the sample offset and skew), the values the TypeScript reader
  must return.
coverage.txt lists, from `flac --analyze`, the block sizes, stereo modes, subframe types, wasted bits
and residual codings each signal file uses.

Run through tools/make-flac-fixtures.sh (creates the venv, needs the `flac` command).
"""

import collections
import gzip
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import wfdb

SEED = 20251125
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "flac")
FS = 500


def ecg_like(rng, n, amplitude, beat_period=400, noise=0.01):
    """A beat train of Gaussian waves plus baseline wander and noise: compresses like an ECG lead."""
    t = np.arange(n)
    signal = np.zeros(n)
    for start in range(int(rng.integers(0, beat_period)), n + beat_period, beat_period):
        for offset, width, height in ((-60, 12, 0.15), (0, 3, 1.0), (8, 4, -0.25), (90, 25, 0.3)):
            signal += height * np.exp(-0.5 * ((t - start - offset) / width) ** 2)
    signal += 0.1 * np.sin(2 * np.pi * t / (n / 1.5) + rng.uniform(0, 6))
    signal += rng.normal(0, noise, n)
    return np.round(signal * amplitude).astype(np.int64)


def checksum(samples):
    value = int(np.sum(samples, dtype=np.int64)) % 65536
    return value - 65536 if value >= 32768 else value


def encode_flac(path, channels_first, bits, flac_args):
    """Encodes channels (list of equal-length int arrays) with the `flac` command, WFDB's 96 kHz."""
    n_ch = len(channels_first)
    interleaved = np.stack(channels_first, axis=1).reshape(-1)
    with tempfile.NamedTemporaryFile(suffix=".raw", delete=False) as raw:
        if bits == 8:
            raw.write(interleaved.astype("<i1").tobytes())
        elif bits == 16:
            raw.write(interleaved.astype("<i2").tobytes())
        else:
            as32 = interleaved.astype("<i4").tobytes()
            raw.write(b"".join(as32[i : i + 3] for i in range(0, len(as32), 4)))
    try:
        subprocess.run(
            ["flac", "--silent", "--force", "--force-raw-format", "--endian=little", "--sign=signed",
             f"--channels={n_ch}", f"--bps={bits}", "--sample-rate=96000", *flac_args,
             "-o", path, raw.name],
            check=True,
        )
    finally:
        os.unlink(raw.name)
    os.chmod(path, 0o644)


def write_header(record, n_frames, signals):
    """signals: dicts with file, fmt, spf, skew, offset, gain, baseline, units, adc_res, samples, name."""
    lines = [f"{record} {len(signals)} {FS} {n_frames}"]
    for s in signals:
        fmt = s["fmt"] + (f"x{s['spf']}" if s["spf"] > 1 else "") + (f":{s['skew']}" if s["skew"] else "")
        fmt += f"+{s['offset']}" if s["offset"] else ""
        samples = s["samples"]
        lines.append(
            f"{s['file']} {fmt} {s['gain']}({s['baseline']})/{s['units']} {s['adc_res']} 0 "
            f"{int(samples[0])} {checksum(samples)} 0 {s['name']}"
        )
    lines.append("# FLAC fixture written by packages/ingest/tools/make-flac-fixtures.py")
    with open(os.path.join(OUT, f"{record}.hea"), "w") as f:
        f.write("\n".join(lines) + "\n")


def write_expected(record, signals):
    path = os.path.join(OUT, f"{record}.signals.gz")
    text = "".join(" ".join(str(int(v)) for v in s["samples"]) + "\n" for s in signals)
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as f:
        f.write(text.encode())


def check_with_wfdb_python(record, signals):
    """wfdb-python cannot read skewed FLAC signals (it pads them as if the file ended at the header's
    length, and has no padding type for FLAC formats), so it reads a copy of the header without skews
    and is compared with the unskewed samples."""
    header = open(os.path.join(OUT, f"{record}.hea")).read()
    check = f"check-{record}"
    with open(os.path.join(OUT, f"{check}.hea"), "w") as f:
        f.write(re.sub(r"^\S+", check, re.sub(r"(?m)^(\S+ \d+(?:x\d+)?):\d+", r"\1", header), count=1))
    try:
        read = wfdb.rdrecord(os.path.join(OUT, check), physical=False, smooth_frames=False)
    finally:
        os.unlink(os.path.join(OUT, f"{check}.hea"))
    for index, s in enumerate(signals):
        if not np.array_equal(read.e_d_signal[index], s.get("unskewed", s["samples"])):
            sys.exit(f"{record}: wfdb-python reads signal {index} differently")


def analyse(path):
    """Counts what `flac --analyze` reports per frame and subframe."""
    with tempfile.TemporaryDirectory() as folder:
        ana = os.path.join(folder, "out.ana")
        subprocess.run(["flac", "--silent", "--analyze", "-o", ana, path], check=True)
        text = open(ana).read()
    counts = collections.Counter()
    for match in re.finditer(r"blocksize=(\d+).*channel_assignment=(\w+)", text):
        counts[f"block {match[1]}"] += 1
        counts[match[2]] += 1
    for match in re.finditer(r"wasted_bits=(\d+)\ttype=(\w+)(?:\torder=(\d+))?", text):
        counts[f"{match[2]}" + (f" order {match[3]}" if match[3] else "")] += 1
        if match[1] != "0":
            counts[f"wasted bits {match[1]}"] += 1
    for match in re.finditer(r"residual_type=(\w+)\tpartition_order=(\d+)", text):
        counts[match[1]] += 1
        counts[f"partition order {match[2]}"] += 1
    counts["escaped partitions"] += len(re.findall(r"parameter\[\d+\]=ESCAPE", text))
    return ", ".join(f"{key}: {value}" for key, value in sorted(counts.items()) if value)


def twelve_lead(rng):
    """12 leads in two format 516 files (8 + 4 channels), written by wfdb-python itself (libsndfile)."""
    n = 2000
    names = ["I", "II", "III", "aVR", "aVF", "aVL", "V1", "V2", "V3", "V4", "V5", "V6"]
    leads = [ecg_like(rng, n, amplitude=rng.uniform(150, 900)) for _ in names]
    leads[3] = -leads[3]
    leads[10][700:760] = -32768  # a dropout: invalid samples
    d_signal = np.stack(leads, axis=1).astype(np.int16)
    files = ["flac12lead.d0"] * 8 + ["flac12lead.d1"] * 4
    record = wfdb.Record(
        record_name="flac12lead", n_sig=12, fs=FS, sig_len=n, file_name=files, fmt=["516"] * 12,
        adc_gain=[200.0] * 12, baseline=[0] * 12, units=["mV"] * 12, sig_name=names, d_signal=d_signal,
        adc_res=[16] * 12, adc_zero=[0] * 12, init_value=[int(x) for x in d_signal[0]],
        checksum=[checksum(d_signal[:, i]) for i in range(12)], block_size=[0] * 12,
    )
    record.wrsamp(write_dir=OUT)
    signals = [{"samples": d_signal[:, i].astype(np.int64)} for i in range(12)]
    return "flac12lead", ["flac12lead.d0", "flac12lead.d1"], signals


def stereo_modes(rng):
    """Two format 516 signals whose relation changes every 256 samples, so libFLAC's exhaustive
    stereo search picks independent, left/side, right/side and mid/side frames."""
    block = 256
    left, right = [], []
    for k in range(32):
        x = ecg_like(rng, block, amplitude=4000, beat_period=120)
        noise = rng.normal(0, 3000, block).round().astype(np.int64)
        small = rng.normal(0, 20, block).round().astype(np.int64)
        kind = k % 4
        if kind == 0:  # unrelated: independent
            a, b = x, noise
        elif kind == 1:  # left predictable, right = left + small: left/side
            a, b = x, x + noise // 200 + small
        elif kind == 2:  # right predictable, left = right + small: right/side
            a, b = x + noise // 200 + small, x
        else:  # near opposites: the mid is nearly zero, mid/side
            a, b = noise, -noise + small
        left.append(a)
        right.append(b)
    left = np.clip(np.concatenate(left), -32767, 32767)
    right = np.clip(np.concatenate(right), -32767, 32767)
    path = os.path.join(OUT, "flacstereo.dat")
    encode_flac(path, [left, right], 16, ["-8", "-e", "-b", str(block), "--no-padding"])
    signals = [
        {"file": "flacstereo.dat", "fmt": "516", "spf": 1, "skew": 0, "offset": 0, "gain": 1000,
         "baseline": 0, "units": "mV", "adc_res": 16, "samples": left, "name": "left"},
        {"file": "flacstereo.dat", "fmt": "516", "spf": 1, "skew": 0, "offset": 0, "gain": 1000,
         "baseline": 0, "units": "mV", "adc_res": 16, "samples": right, "name": "right"},
    ]
    write_header("flacstereo", len(left), signals)
    return "flacstereo", ["flacstereo.dat"], signals


def fixed_8bit(rng):
    """Format 508, three signals of 2 samples per frame in one file, fixed predictors only (-l 0),
    a sample offset of 10 and a skewed signal. Each 1152-sample block has one character: smooth
    (fixed orders 2-4), a polynomial, noise (verbatim), constant, multiples of 4 (two wasted bits);
    a run of invalid samples (-128) too."""
    frames, spf, offset, skew, block = 1500, 2, 10, 3, 1152
    n = (frames + skew) * spf + offset
    t = np.arange(block)
    smooth = ecg_like(rng, n, amplitude=110, beat_period=300, noise=0)
    smooth[150:170] = -128
    cubic = np.round((t - 576) ** 3 / 3_200_000 + (t - 576) / 16).astype(np.int64)
    noise = rng.integers(-120, 121, n)
    quads = (ecg_like(rng, n, amplitude=25, beat_period=250) * 4).astype(np.int64)

    def blocks(*parts):
        return np.concatenate([part[:block] for part in parts])[:n]

    a = blocks(smooth, np.full(block, 42), smooth[block:])
    b = blocks(cubic, noise, quads[2 * block :])
    c = blocks(noise, quads[block:], smooth[2 * block :])
    path = os.path.join(OUT, "flacfixed.dat")
    encode_flac(path, [a, b, c], 8, ["-l", "0", "-e", "-b", str(block), "-r", "3", "--no-padding"])
    common = {"file": "flacfixed.dat", "fmt": "508", "spf": spf, "offset": offset, "gain": 20,
              "baseline": 0, "units": "mV", "adc_res": 8}
    signals = []
    for name, channel, signal_skew in (("smooth", a, 0), ("cubic", b, 0), ("quads", c, skew)):
        start = offset + signal_skew * spf
        samples = channel[start : start + frames * spf]
        unskewed = channel[offset : offset + frames * spf]
        signals.append({**common, "skew": signal_skew, "samples": samples, "unskewed": unskewed, "name": name})
    write_header("flacfixed", frames, signals)
    return "flacfixed", ["flacfixed.dat"], signals


def lpc_24bit(rng):
    """Format 524, two high-amplitude signals: high-order LPC (-l 32 at 96 kHz is still subset)
    whose residuals need Rice2 parameters above 14; blocks of 1000 (explicit 16-bit block size)."""
    n = 4000
    wide = ecg_like(rng, n, amplitude=3_000_000, beat_period=350) + rng.normal(0, 40000, n).round().astype(
        np.int64
    )
    t = np.arange(n)
    chirp = np.round(2_000_000 * np.sin(2 * np.pi * t * t / (n * 40.0))).astype(np.int64)
    chirp += rng.normal(0, 30000, n).round().astype(np.int64)
    path = os.path.join(OUT, "flaclpc.dat")
    encode_flac(path, [wide, chirp], 24, ["-8", "-l", "32", "-b", "1000", "-p", "--no-padding"])
    common = {"file": "flaclpc.dat", "fmt": "524", "spf": 1, "skew": 0, "offset": 0, "gain": 1e6,
              "baseline": 0, "units": "mV", "adc_res": 24}
    signals = [{**common, "samples": wide, "name": "wide"}, {**common, "samples": chirp, "name": "chirp"}]
    write_header("flaclpc", n, signals)
    return "flaclpc", ["flaclpc.dat"], signals


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(SEED)
    coverage = []
    for make in (twelve_lead, stereo_modes, fixed_8bit, lpc_24bit):
        record, files, signals = make(rng)
        write_expected(record, signals)
        check_with_wfdb_python(record, signals)
        for name in files:
            size = os.path.getsize(os.path.join(OUT, name))
            coverage.append(f"{name} ({size} bytes): {analyse(os.path.join(OUT, name))}")
    with open(os.path.join(OUT, "coverage.txt"), "w") as f:
        f.write("\n".join(coverage) + "\n")
    print("\n".join(coverage))


if __name__ == "__main__":
    main()
