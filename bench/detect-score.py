#!/usr/bin/env python3
"""Evaluation harness for the outage detector: a labelled corpus scored the way streaming
anomaly benchmarks score detectors (the NAB "standard" profile), one command:

    python3 bench/detect-score.py            # builds the backtest example, scores it
    python3 bench/detect-score.py --bin PATH # scores another build (e.g. main's), same corpus

The detector under test is run as `BIN FILE.csv` (the same `backtest` function as
`downbeat detect FILE.csv`, no `--kind`) and its `anomaly_score` column is scored.

Corpus (written to $CARGO_TARGET_DIR/detect-corpus, or target/detect-corpus):
- our own seeded generators, one category each (see GENERATORS below): counts with bursts,
  slow ramps, quiet zero-heavy counts, holidays and lasting level shifts, one-minute blips,
  overdispersion; gauges: CPU with level shifts, temperatures with daily swings, latency
  sampled irregularly, hourly-ish rates with spikes and drops;
- labelled series shipped inside the `aeon` package (BSD-3-Clause; see bench/detect-README.md),
  fetched with `pip download --no-deps aeon==1.6.0` when pip can reach the registry; the
  category is skipped otherwise.

Scoring (NAB standard profile, reimplemented from its published description):
- each labelled anomaly gets a window of 10% of the file's length divided by the number of
  anomalies, centred on the label (a labelled range is widened to at least that); windows
  that overlap are merged;
- the first 15% of each file (at most 750 rows) is a probationary period and is not scored;
- a detection is a row whose score is ≥ the threshold. Inside a window only the earliest
  detection counts, weighted A_TP = 1.0 scaled by a sigmoid of its position (1 at the window's
  start, about 0 at its end); every detection outside a window costs A_FP = −0.11, scaled by
  the same sigmoid of its distance past the previous window (full cost from 3 window widths
  on, or before any window); every window without a detection costs A_FN = −1.0;
- one threshold is swept for the whole corpus; the score is normalised so that the null
  detector scores 0 and a perfect one 100: 100·(raw − null)/(perfect − null).
"""

import argparse
import bisect
import csv
import glob
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
A_TP, A_FP, A_FN = 1.0, -0.11, -1.0
PROBATION = 0.15
T0 = datetime(2026, 1, 5, tzinfo=timezone.utc)  # a Monday

# --------------------------------------------------------------------------- scoring


def sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


def scaled_sigmoid(pos):
    return -1.0 if pos > 3.0 else 2.0 * sigmoid(-5.0 * pos) - 1.0


MAX_TP = scaled_sigmoid(-1.0)


def windows_for(n, labels, ranges):
    """Windows (first row, last row) for point labels and labelled row ranges."""
    k = len(labels) + len(ranges)
    if k == 0:
        return []
    width = int(0.10 * n / k)
    wins = []
    for i in labels:
        wins.append((max(0, i - width // 2), min(n - 1, i + width // 2)))
    for a, b in ranges:
        c = (a + b) // 2
        half = max(width // 2, (b - a + 1) // 2)
        wins.append((max(0, min(a, c - half)), min(n - 1, max(b, c + half))))
    wins.sort()
    merged = []
    for w in wins:
        if merged and w[0] <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], w[1]))
        else:
            merged.append(w)
    return merged


def score_rows(n, wins):
    """Per row: (window index or None, weighted score if detected)."""
    probation = min(int(PROBATION * n), 750)
    out = []
    w = 0
    prev_right, prev_width = None, None
    for i in range(n):
        while w < len(wins) and i > wins[w][1]:
            prev_right, prev_width = wins[w][1], wins[w][1] - wins[w][0] + 1
            w += 1
        if w < len(wins) and wins[w][0] <= i <= wins[w][1]:
            left, right = wins[w]
            width = right - left + 1
            pos = -(right - i + 1) / width
            out.append((w, A_TP * scaled_sigmoid(pos) / MAX_TP))
        else:
            if prev_right is None:
                pos = 3.5
            else:
                pos = abs(prev_right - i) / max(prev_width - 1, 1)
            # scaled_sigmoid is −1 far from a window and about 0 just after one.
            out.append((None, -A_FP * scaled_sigmoid(pos)))
        if i < probation:
            out[-1] = ("probation", 0.0)
    return out


class FileScore:
    """Everything needed to score one file at any threshold."""

    def __init__(self, name, category, scores, wins):
        self.name, self.category = name, category
        n = len(scores)
        rows = score_rows(n, wins)
        self.windows = len(wins)
        # Sorted by descending anomaly score: (score, window, weight).
        self.events = sorted(
            ((s, w, x) for s, (w, x) in zip(scores, rows) if w != "probation"),
            key=lambda e: -e[0],
        )

    def detail_at(self, threshold):
        """(false positives, windows detected, their summed earliness weight)."""
        fps, best = 0, {}
        for s, w, x in self.events:
            if s < threshold:
                break
            if w is None:
                fps += 1
            else:
                best[w] = max(best.get(w, -2.0), x)
        return fps, len(best), sum(best.values())

    def raw_at(self, threshold):
        fp = 0.0
        best = {}
        for s, w, x in self.events:
            if s < threshold:
                break
            if w is None:
                fp += x
            else:
                best[w] = max(best.get(w, -2.0), x)
        missed = self.windows - len(best)
        return fp + sum(best.values()) + A_FN * missed


def corpus_score(files, threshold):
    raw = sum(f.raw_at(threshold) for f in files)
    null = A_FN * sum(f.windows for f in files)
    perfect = A_TP * sum(f.windows for f in files)
    if perfect == null:
        return 0.0
    return 100.0 * (raw - null) / (perfect - null)


def best_threshold(files):
    cands = sorted({round(s, 4) for f in files for s, _, _ in f.events} | {1.01})
    # Thin the candidate list: every distinct score is too many for pure Python.
    if len(cands) > 400:
        step = len(cands) / 400.0
        cands = sorted({cands[int(i * step)] for i in range(400)} | set(cands[-200:]))
    best = (-1e9, 1.01)
    for t in cands:
        s = corpus_score(files, t)
        if s > best[0]:
            best = (s, t)
    return best


# --------------------------------------------------------------------------- generators


def poisson(rng, lam):
    if lam <= 0:
        return 0
    if lam < 30:
        limit, k, p = math.exp(-lam), 0, rng.random()
        while p > limit:
            k += 1
            p *= rng.random()
        return k
    return max(0, int(round(rng.gauss(lam, math.sqrt(lam)))))


def gamma_poisson(rng, lam, shape):
    """Overdispersed count: variance lam + lam²/shape."""
    return poisson(rng, lam * rng.gammavariate(shape, 1.0 / shape)) if lam > 0 else 0


def crowd(h, weekend):
    """Relative volume by hour of day, mean about 1."""
    b = lambda c, w: math.exp(-0.5 * (((h - c + 36) % 24 - 12) / w) ** 2)
    if weekend:
        return 1.25 * (0.14 + 0.55 * b(13.5, 3) + 0.35 * b(10.5, 1.5) + 1.25 * b(21, 2.5))
    return 0.12 + 0.55 * b(12.5, 3) + 0.35 * b(8.5, 1.5) + 1.25 * b(20.5, 2.5)


def ts(sec):
    return (T0 + timedelta(seconds=sec)).strftime("%Y-%m-%d %H:%M:%S")


def hour_of(sec):
    return (sec % 86400) / 3600.0


def weekday(sec):
    return (sec // 86400) % 7


def gen_counts_bursts(rng, i):
    """Social-mention counts every 5 minutes: daily rhythm, gamma-Poisson noise, unlabelled
    one-bucket blips of 2-3x, and 2-3 labelled bursts of 4-15x lasting 20 min to 3 h."""
    step, n = 300, 4032 + 1000 * i  # two weeks and more
    base = rng.choice([3.0, 15.0, 60.0, 400.0])
    shape = rng.choice([3.0, 8.0, 30.0])
    events = sorted(rng.sample(range(int(n * 0.25), n - 60), 2 + i % 2))
    rows, labels = [], []
    bursts = []
    for e in events:
        bursts.append((e, rng.randint(4, 36), rng.uniform(4.0, 15.0)))
        labels.append(e)
    for k in range(n):
        t = k * step
        lam = base * crowd(hour_of(t), weekday(t) >= 5)
        for (e, dur, mult) in bursts:
            if e <= k < e + dur:
                ramp = min(1.0, (k - e + 1) / 3.0)
                lam *= 1.0 + (mult - 1.0) * ramp * math.exp(-(k - e) / max(dur, 1))
        if rng.random() < 0.004:
            lam *= rng.uniform(2.0, 3.0)
        rows.append((t, gamma_poisson(rng, lam, shape)))
    return rows, labels, []


def gen_counts_ramp(rng, i):
    """The issue's regional ramp: about 8 reports a minute with daily and weekly rhythm and
    gamma-Poisson noise; volume rises linearly over 3 hours to 4x, holds an hour, falls."""
    step, n = 60, 14 * 1440
    base, shape = 8.0, 6.0
    onset = (10 + i % 3) * 1440 + rng.choice([9, 14, 19]) * 60
    rows = []
    for k in range(n):
        t = k * step
        lam = base * crowd(hour_of(t), weekday(t) >= 5)
        m = k - onset
        if 0 <= m < 180:
            lam *= 1.0 + 3.0 * m / 180.0
        elif 180 <= m < 240:
            lam *= 4.0
        elif 240 <= m < 300:
            lam *= 4.0 - 3.0 * (m - 240) / 60.0
        rows.append((t, gamma_poisson(rng, lam, shape)))
    return rows, [onset], []


def gen_counts_quiet(rng, i):
    """Zero-heavy counts (a few a day to a few an hour per 5 minutes) with a burst."""
    step, n = 300, 6000
    base = rng.choice([0.02, 0.1, 0.5])
    e = rng.randint(int(n * 0.4), n - 100)
    size = rng.choice([6.0, 12.0, 25.0])
    rows = []
    for k in range(n):
        t = k * step
        lam = base * crowd(hour_of(t), weekday(t) >= 5)
        if e <= k < e + 3:
            lam += size
        rows.append((t, poisson(rng, lam)))
    return rows, [e], []


def gen_counts_shift(rng, i):
    """Half-hourly demand counts with weekly rhythm, an unlabelled holiday (a weekday that
    looks like a quiet Sunday), and either a labelled lasting level shift (x2 or x0.4) or a
    labelled outage spike."""
    step, n = 1800, 48 * 7 * 10
    base = rng.choice([500.0, 5000.0])
    holiday = rng.randint(4, 6) * 7 + 3
    kind = i % 3
    e = rng.randint(int(n * 0.45), int(n * 0.8))
    rows = []
    for k in range(n):
        t = k * step
        day = t // 86400
        wk = weekday(t) >= 5 or day == holiday
        lam = base * crowd(hour_of(t), wk) * (0.7 if day == holiday else 1.0)
        if kind == 0 and k >= e:
            lam *= 2.0
        elif kind == 1 and k >= e:
            lam *= 0.4
        elif kind == 2 and e <= k < e + 4:
            lam *= 3.0
        rows.append((t, gamma_poisson(rng, lam, 80.0)))
    return rows, [e], []


def gen_gauge_cpu(rng, i):
    """CPU utilisation every 5 minutes: a noisy level with routine spikes; labelled events are
    a lasting level shift, a sustained saturation or a drop to idle."""
    step, n = 300, 4032
    level = rng.uniform(5, 50)
    noise = rng.uniform(0.5, 4.0)
    e = rng.randint(int(n * 0.4), n - 300)
    kind = i % 3
    rows = []
    ar = 0.0
    for k in range(n):
        t = k * step
        ar = 0.8 * ar + rng.gauss(0, noise)
        v = level + ar
        if rng.random() < 0.01:
            v += rng.uniform(2, 5) * noise
        if kind == 0 and k >= e:
            v += max(8.0, 6 * noise)
        elif kind == 1 and e <= k < e + 40:
            v = 97 + rng.random() * 3
        elif kind == 2 and e <= k < e + 60:
            v = 0.5 + rng.random()
        rows.append((t, round(min(100.0, max(0.0, v)), 3)))
    return rows, [e], []


def gen_gauge_temp(rng, i):
    """Machine temperature every 5 minutes with a daily swing and slow drift; labelled events
    are a failure drop (gradual cooling) and an overheating rise."""
    step, n = 300, 8000
    mean, swing = rng.uniform(60, 90), rng.uniform(2, 8)
    e1 = rng.randint(int(n * 0.3), int(n * 0.55))
    e2 = rng.randint(int(n * 0.65), n - 200)
    rows, drift = [], 0.0
    for k in range(n):
        t = k * step
        drift = 0.999 * drift + rng.gauss(0, 0.05)
        v = mean + swing * math.sin(2 * math.pi * (hour_of(t) - 9) / 24) + drift + rng.gauss(0, 0.6)
        if e1 <= k < e1 + 150:
            v -= 25 * min(1.0, (k - e1) / 40.0)
        if e2 <= k < e2 + 50:
            v += 12 * min(1.0, (k - e2) / 10.0)
        rows.append((t, round(v, 3)))
    return rows, [e1, e2], []


def gen_gauge_latency(rng, i):
    """Probe latency sampled every 20-40 s... thinned to 1-3 minutes, with heavy-tailed jitter
    and rare slow probes; labelled: a 3x jump for 40 minutes."""
    rows, t, k = [], 0, 0
    base = rng.uniform(40, 300)
    e_t = int(rng.uniform(0.5, 0.8) * 9 * 86400)
    while t < 9 * 86400:
        h = hour_of(t)
        v = base * (1 + 0.3 * math.exp(-0.5 * ((h - 20) / 3) ** 2))
        v *= math.exp(rng.gauss(0, 0.08))
        if rng.random() < 0.003:
            v *= rng.uniform(2, 4)
        if e_t <= t < e_t + 2400:
            v *= 3.0
        rows.append((t, round(v, 2)))
        t += rng.randint(60, 180)
        k += 1
    label = next(j for j, (tt, _) in enumerate(rows) if tt >= e_t)
    return rows, [label], []


def gen_gauge_rate(rng, i):
    """An hourly-ish business rate (cost per click) with irregular gaps, a weekly rhythm and
    heavy noise; labelled: a spike and a collapse."""
    rows, t = [], 0
    base = rng.uniform(0.05, 2.0)
    while t < 120 * 86400:
        v = base * (1 + 0.2 * math.sin(2 * math.pi * hour_of(t) / 24)) * math.exp(rng.gauss(0, 0.15))
        rows.append([t, v])
        t += rng.choice([3600, 3600, 3600, 3600, 7200, 1800, 5400])
    n = len(rows)
    e1, e2 = rng.randint(int(n * 0.3), int(n * 0.5)), rng.randint(int(n * 0.6), n - 30)
    for j in range(e1, e1 + 3):
        rows[j][1] *= 4.0
    for j in range(e2, e2 + 12):
        rows[j][1] *= 0.25
    return [(a, round(b, 5)) for a, b in rows], [e1, e2], []


def gen_normal(rng, i):
    """No labelled anomaly at all: busy counts with weekly rhythm, holidays and growth, or a
    gauge with a daily swing. Everything flagged here is a false positive."""
    step = 300 if i % 2 else 60
    n = 6000
    base = rng.choice([20.0, 200.0])
    rows = []
    for k in range(n):
        t = k * step
        lam = base * crowd(hour_of(t), weekday(t) >= 5) * (1 + 0.002 * t / 86400)
        if i % 2:
            rows.append((t, round(50 + 10 * math.sin(2 * math.pi * hour_of(t) / 24) + rng.gauss(0, 1), 3)))
        else:
            rows.append((t, gamma_poisson(rng, lam, 20.0)))
    return rows, [], []


GENERATORS = {
    "counts-bursts": (gen_counts_bursts, 6),
    "counts-ramp": (gen_counts_ramp, 3),
    "counts-quiet": (gen_counts_quiet, 4),
    "counts-shift-holiday": (gen_counts_shift, 6),
    "gauge-cpu": (gen_gauge_cpu, 6),
    "gauge-temperature": (gen_gauge_temp, 4),
    "gauge-latency-irregular": (gen_gauge_latency, 4),
    "gauge-rate-hourly": (gen_gauge_rate, 4),
    "normal": (gen_normal, 4),
}


def write_series(path, rows, labels, ranges):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["timestamp", "value"])
        for t, v in rows:
            w.writerow([ts(t), v])
    with open(path + ".labels", "w") as f:
        f.write(" ".join(map(str, labels)) + "\n")
        f.write(" ".join(f"{a}-{b}" for a, b in ranges) + "\n")


# --------------------------------------------------------------------------- aeon data

AEON = "aeon==1.6.0"
AEON_FILES = {
    # file inside the wheel: (value column, sampling step in seconds to stamp rows with)
    "aeon/datasets/data/KDD-TSAD_135/135_UCR_Anomaly_InternalBleeding16_TEST.csv": ("value", 300),
    "aeon/datasets/data/Daphnet_S06R02E0/S06R02E0.csv": ("ankle_horiz_fwd", 60),
    "aeon/datasets/data/UnitTest/ecg-diff-count-3_TEST.csv": ("value-0", 300),
}


def fetch_aeon(cache):
    wheels = glob.glob(os.path.join(cache, "aeon-1.6.0-*.whl"))
    if not wheels:
        try:
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", cache, AEON],
                check=True,
                timeout=600,
            )
        except Exception as e:  # offline: the category is skipped
            print(f"(aeon data unavailable: {e}; category skipped)", file=sys.stderr)
            return []
        wheels = glob.glob(os.path.join(cache, "aeon-1.6.0-*.whl"))
    out = []
    with zipfile.ZipFile(wheels[0]) as z:
        for name, (col, step) in AEON_FILES.items():
            with z.open(name) as f:
                text = f.read().decode()
            reader = csv.DictReader(text.splitlines())
            rows, flags = [], []
            for k, r in enumerate(reader):
                rows.append((k * step, r[col]))
                flags.append(float(r["is_anomaly"]) > 0)
            ranges, start = [], None
            for k, fl in enumerate(flags + [False]):
                if fl and start is None:
                    start = k
                if not fl and start is not None:
                    ranges.append((start, k - 1))
                    start = None
            out.append((os.path.basename(name)[:-4], rows, ranges))
    return out


# --------------------------------------------------------------------------- main


def build_corpus(dirpath, seed):
    if os.path.isdir(dirpath):
        shutil.rmtree(dirpath)
    os.makedirs(dirpath)
    for cat, (gen, count) in GENERATORS.items():
        os.makedirs(os.path.join(dirpath, cat))
        for i in range(count):
            rng = random.Random(f"{seed}-{cat}-{i}")
            rows, labels, ranges = gen(rng, i)
            write_series(os.path.join(dirpath, cat, f"{cat}-{i}.csv"), rows, labels, ranges)
    os.makedirs(os.path.join(dirpath, "external-aeon"))
    for name, rows, ranges in fetch_aeon(os.path.join(TARGET, "detect-cache")):
        write_series(os.path.join(dirpath, "external-aeon", f"{name}.csv"), rows, [], ranges)


def run_one(binary, path):
    res = subprocess.run([binary, path], capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"{path}: {res.stderr}")
    scores = []
    lines = res.stdout.splitlines()
    header = lines[0].split(",")
    col = header.index("anomaly_score")
    for line in lines[1:]:
        f = line.split(",")
        scores.append(float(f[col]) if f[col] else 0.0)
    return scores


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", help="detector to score (default: build the backtest example)")
    ap.add_argument("--seed", default="1")
    ap.add_argument("--corpus", default=os.path.join(TARGET, "detect-corpus"))
    ap.add_argument("--keep", action="store_true", help="reuse an existing corpus")
    ap.add_argument("--detail", action="store_true", help="per-file detections at the threshold")
    args = ap.parse_args()

    binary = args.bin
    if not binary:
        subprocess.run(
            ["cargo", "build", "--release", "-q", "-p", "downbeat-detect", "--example", "backtest"],
            check=True,
            cwd=ROOT,
        )
        binary = os.path.join(TARGET, "release", "examples", "backtest")
    if not (args.keep and os.path.isdir(args.corpus)):
        build_corpus(args.corpus, args.seed)

    paths = sorted(glob.glob(os.path.join(args.corpus, "*", "*.csv")))
    start = time.time()
    with ThreadPoolExecutor(max_workers=2) as ex:
        outputs = list(ex.map(lambda p: run_one(binary, p), paths))
    elapsed = time.time() - start
    files = []
    rows_total = 0
    for path, scores in zip(paths, outputs):
        with open(path + ".labels") as f:
            labels = [int(x) for x in f.readline().split()]
            ranges = [tuple(map(int, r.split("-"))) for r in f.readline().split()]
        n = len(scores)
        rows_total += n
        cat = os.path.basename(os.path.dirname(path))
        files.append(FileScore(os.path.basename(path), cat, scores, windows_for(n, labels, ranges)))

    overall, thr = best_threshold(files)
    print(f"corpus: {len(files)} files, {rows_total} rows, {sum(f.windows for f in files)} windows; "
          f"detector ran in {elapsed:.1f} s")
    print(f"{'category':<26} {'files':>5} {'windows':>7} {'score@global':>12} {'own best':>9}")
    cats = sorted({f.category for f in files})
    for c in cats:
        fs = [f for f in files if f.category == c]
        w = sum(f.windows for f in fs)
        if w == 0:
            fp = sum(f.raw_at(thr) for f in fs)
            print(f"{c:<26} {len(fs):>5} {w:>7} {'FP ' + format(fp, '.2f'):>12} {'-':>9}")
            continue
        own, _ = best_threshold(fs)
        print(f"{c:<26} {len(fs):>5} {w:>7} {corpus_score(fs, thr):>12.1f} {own:>9.1f}")
    if args.detail:
        for f in files:
            fps, hit, tp = f.detail_at(thr)
            print(f"  {f.name:<52} rows {sum(1 for _ in f.events):>6} windows {hit}/{f.windows} "
                  f"tp {tp:5.2f} fp {fps:>4}  top {[round(e[0], 3) for e in f.events[:5]]}")
    print(f"{'OVERALL':<26} {len(files):>5} {sum(f.windows for f in files):>7} {overall:>12.1f}   (threshold {thr})")


if __name__ == "__main__":
    main()
