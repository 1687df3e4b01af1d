"""Benchmark of lesson 4's LSTM layers: the student-style layer, the fast layer and nn.LSTM.

    python -m autograder.bench_lstm                  # CPU: a small grid, a couple of minutes
    python -m autograder.bench_lstm --full           # the issue's grid: B=64, H in {256, 512, 1024}, T in {50, 100}
    python -m autograder.bench_lstm --hidden 512 --lengths 100 --reps 20

Layers (all batch first, float32, input size = hidden size, one layer):
- TorchLSTM: the lesson's reference solution, written as a student would (two GEMMs and ~10 pointwise
  operations per step, autograd backward);
- FastLSTM: hoisted input GEMM, one addmm per step, pointwise cell compiled with torch.compile
  (on by default on CUDA; off on CPU, where a cold compile costs ~30 s per shape; --compile on/off);
- nn.LSTM: cuDNN on a GPU, oneDNN/MKL on a CPU.
TF32 is turned off on both sides (IEEE float32). Every time is the median of --reps runs after warm-up,
measured in this one process; ratios are time(layer) / time(nn.LSTM) at the same size (lower is better).
Writes build/bench/lstm_<device>.json and .png. This is a measurement, not a test.
"""
import argparse
import json
import platform
import statistics
import time

import torch

from autograder.lessons import BUILD

FULL = dict(batch=64, hidden=[256, 512, 1024], lengths=[50, 100])
CPU_DEFAULT = dict(batch=64, hidden=[128, 256, 512], lengths=[50])


def parse(argv=None):
    parser = argparse.ArgumentParser(prog="python -m autograder.bench_lstm", description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--full", action="store_true", help="the full grid (default on CUDA)")
    parser.add_argument("--batch", type=int)
    parser.add_argument("--hidden", type=int, nargs="+")
    parser.add_argument("--lengths", type=int, nargs="+")
    parser.add_argument("--reps", type=int, help="timed repetitions per measurement (default 20 on CUDA, 5 on CPU)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--compile", choices=["auto", "on", "off"], default="auto",
                        help="torch.compile FastLSTM's cell (auto: on for CUDA, off for CPU)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    parser.add_argument("--out", default=str(BUILD / "bench"))
    args = parser.parse_args(argv)
    grid = FULL if (args.full or args.device.startswith("cuda")) else CPU_DEFAULT
    args.batch = args.batch or grid["batch"]
    args.hidden = args.hidden or grid["hidden"]
    args.lengths = args.lengths or grid["lengths"]
    args.reps = args.reps or (20 if args.device.startswith("cuda") else 5)
    return args


def measure(layer, x, backward, reps, warmup):
    """Median seconds of a forward (and backward) pass."""
    cuda = x.is_cuda

    def once():
        if backward:
            out = layer(x)[0]
            out.backward(torch.ones_like(out))
        else:
            with torch.no_grad():
                layer(x)

    for _ in range(warmup):
        once()
    times = []
    for _ in range(reps):
        if cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            once()
            end.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(end) / 1e3)
        else:
            t0 = time.perf_counter()
            once()
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv=None):
    args = parse(argv)
    from autograder.references.l04_lstm import FastLSTM, TorchLSTM

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    device = torch.device(args.device)
    compile_cell = args.compile == "on" or (args.compile == "auto" and device.type == "cuda")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
    print(f"LSTM benchmark on {name}; torch {torch.__version__}; float32, TF32 off; B={args.batch}; "
          f"median of {args.reps} after {args.warmup} warm-up; FastLSTM compiled: {compile_cell}")
    header = f"{'H':>5} {'T':>4} | {'layer':<10} {'fwd ms':>9} {'fwd+bwd ms':>11} | {'fwd ratio':>9} {'fwd+bwd ratio':>13}"
    print(header)
    print("-" * len(header))
    rows = []
    for H in args.hidden:
        for T in args.lengths:
            torch.manual_seed(0)
            reference = torch.nn.LSTM(H, H, batch_first=True).to(device)
            layers = {"TorchLSTM": TorchLSTM(H, H), "FastLSTM": FastLSTM(H, H, compile=compile_cell), "nn.LSTM": reference}
            for layer in layers.values():
                if layer is not reference:
                    layer.load_state_dict(reference.state_dict())
                layer.to(device)
            x = torch.randn(args.batch, T, H, device=device, requires_grad=True)
            times = {label: (measure(layer, x, False, args.reps, args.warmup), measure(layer, x, True, args.reps, args.warmup))
                     for label, layer in layers.items()}
            base_f, base_fb = times["nn.LSTM"]
            for label, (f, fb) in times.items():
                row = dict(H=H, T=T, B=args.batch, layer=label, forward_ms=1e3 * f, fwd_bwd_ms=1e3 * fb,
                           forward_ratio=f / base_f, fwd_bwd_ratio=fb / base_fb)
                rows.append(row)
                print(f"{H:>5} {T:>4} | {label:<10} {row['forward_ms']:>9.2f} {row['fwd_bwd_ms']:>11.2f} | "
                      f"{row['forward_ratio']:>8.2f}x {row['fwd_bwd_ratio']:>12.2f}x", flush=True)
    out = BUILD.__class__(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"lstm_{device.type}"
    stem.with_suffix(".json").write_text(json.dumps(dict(device=name, torch=torch.__version__, compiled=compile_cell,
                                                         reps=args.reps, rows=rows), indent=1))
    plot(rows, name, stem.with_suffix(".png"))
    print(f"wrote {stem}.json and {stem}.png")
    return rows


def plot(rows, title, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted({(r["H"], r["T"]) for r in rows})
    labels = [f"H={H}\nT={T}" for H, T in sizes]
    fig, axes = plt.subplots(1, 2, figsize=(max(7, 1.6 * len(sizes) + 3), 3.6), sharey=True)
    for ax, key, what in ((axes[0], "forward_ratio", "forward"), (axes[1], "fwd_bwd_ratio", "forward + backward")):
        for k, layer in enumerate(("TorchLSTM", "FastLSTM")):
            values = [next(r[key] for r in rows if (r["H"], r["T"]) == s and r["layer"] == layer) for s in sizes]
            positions = [i + (k - 0.5) * 0.38 for i in range(len(sizes))]
            bars = ax.bar(positions, values, width=0.36, label=layer)
            ax.bar_label(bars, fmt="%.2f", fontsize=7)
        ax.axhline(1.0, color="k", lw=0.8, ls="--", label="nn.LSTM = 1")
        ax.set_xticks(range(len(sizes)))
        ax.set_xticklabels(labels, fontsize=8)
        ax.set_title(f"{what}: time / nn.LSTM time", fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("ratio (lower is better)")
    axes[0].legend(fontsize=8)
    fig.suptitle(f"LSTM layers, B={rows[0]['B']}, float32: {title}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
