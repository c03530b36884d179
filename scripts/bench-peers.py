#!/usr/bin/env python3
"""Kiln against ONNX Runtime on the same models, in one run, as a markdown table.

    python3 scripts/bench-peers.py                      # every model, 1 and 2 threads
    python3 scripts/bench-peers.py --models resnet18:1,conv64_56:1 --threads 1
    python3 scripts/bench-peers.py --models torchvision --threads 1   # every torchvision model, batch 1
    python3 scripts/bench-peers.py --target-cpu znver3   # Kiln's AVX2 code (as on a Zen 3), timed here

Each model is exported to ONNX once (the peers' definitions in ../shared/peers/models.py, and
torchvision's for the larger ones, random weights, eval mode), then timed by
  - ONNX Runtime (a fresh process per file and thread count, minimum latency of repeated calls),
  - Kiln on the same ONNX file (`kiln bench FILE.onnx --no-layers --compiled-only --json`),
  - Kiln's own zoo model of the same architecture, where it has one.
Ratios are Kiln's minimum latency over ORT's. Both take the fastest of as many calls as fit in the
same budget (`--seconds`, after warm-up calls): on a shared 2-core machine the minimum of 50 calls
was up to 20% above that of 500 at two threads. With `--rounds N` the three measurements of a row
alternate N times and each takes its fastest round (a neighbour's burst then spoils one round, not
the row); the ratio cells add the range of the rounds' own ratios. The header names the CPU and
OpenBLAS's kernel.
Needs: pip install 'torch==2.13.0+cpu' onnx onnxruntime (and torchvision==0.28.0 --no-deps plus
pillow for the torchvision models; its compiled extension need not load).
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import torchvision_models  # noqa: E402

# Model → (source, Kiln zoo name or None). Sources: "peers" (models.py), "torchvision"
# (scripts/torchvision_models.py: every classification and segmentation model Kiln's tests import)
# or "script" (defined below, for the zoo models torchvision lacks).
MODELS = {
    "lenet5": ("peers", "lenet5"),
    "conv64_56": ("peers", "conv64_56"),
    "vgg11_cifar": ("peers", "vgg11_cifar"),
    "resnet18": ("peers", "resnet18"),
}
MODELS["mobilenet_v1"] = ("script", "mobilenet_v1")
ZOO = {"alexnet": "alexnet", "resnet50": "resnet50", "googlenet": "googlenet", "densenet121": "densenet121", "mobilenet_v2": "mobilenet_v2"}
for _name in list(torchvision_models.CLASSIFICATION) + list(torchvision_models.SEGMENTATION):
    MODELS.setdefault(_name, ("torchvision", ZOO.get(_name)))
DEFAULT = ("lenet5:1,lenet5:64,conv64_56:1,vgg11_cifar:1,resnet18:1,resnet50:1,googlenet:1,densenet121:1,mobilenet_v1:1,mobilenet_v2:1,"
           "shufflenet_v2_x1_0:1")


def mobilenet_v1():
    """MobileNet v1 (Howard et al. 2017), width 1.0, as Kiln's zoo builds it (torchvision has none):
    a 3×3 stride-2 convolution, 13 depthwise-separable blocks, each convolution followed by batch
    norm and ReLU, global average pooling and a dense classifier."""
    from torch import nn

    def conv_bn(inputs, outputs, kernel, stride, groups=1):
        return [nn.Conv2d(inputs, outputs, kernel, stride, kernel // 2, groups=groups, bias=False), nn.BatchNorm2d(outputs), nn.ReLU()]

    layers, channels = conv_bn(3, 32, 3, 2), 32
    for outputs, stride in [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1), (512, 1), (512, 1), (512, 1),
                            (1024, 2), (1024, 1)]:
        layers += conv_bn(channels, channels, 3, stride, groups=channels) + conv_bn(channels, outputs, 1, 1)
        channels = outputs
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, 1000)).eval()


def export(model, batch, directory, peers):
    """The ONNX file of `model` at `batch`, written once."""
    path = os.path.join(directory, f"{model}_b{batch}.onnx")
    if os.path.exists(path):
        return path
    os.makedirs(directory, exist_ok=True)
    source = MODELS[model][0]
    temporary = path + ".partial"
    if source == "peers":
        sys.path.insert(0, peers)
        import models as peer_models
        import onnx

        function, chw = peer_models.MODELS[model]
        spec = function()
        onnx.save(peer_models.to_onnx(spec, peer_models.init_params(spec, 0), (batch,) + chw, name=f"{model}_b{batch}"), temporary)
    else:
        import torch

        torch.manual_seed(0)
        network = mobilenet_v1() if source == "script" else torchvision_models.build(model)
        torch.onnx.export(network, torch.randn(batch, 3, 224, 224), temporary, opset_version=17, dynamo=False,
                          input_names=["input"], output_names=["output"])
    os.replace(temporary, path)
    return path


def ort_worker(path, threads, seconds):
    """Prints ORT's minimum latency in ms for `path` at `threads` (run in a process of its own)."""
    import numpy as np
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    feed = {}
    for node in session.get_inputs():
        shape = [d if isinstance(d, int) else 1 for d in node.shape]
        feed[node.name] = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    end = time.perf_counter() + 0.5
    while time.perf_counter() < end:
        session.run(None, feed)
    best, calls, start = float("inf"), 0, time.perf_counter()
    while calls < 10 or (time.perf_counter() - start < seconds and calls < 20000):
        t = time.perf_counter()
        session.run(None, feed)
        best = min(best, time.perf_counter() - t)
        calls += 1
    print(json.dumps({"ms": best * 1e3}))


def ort_ms(path, threads, seconds):
    out = subprocess.run([sys.executable, __file__, "--ort-worker", path, "--threads", str(threads), "--seconds", str(seconds)],
                         capture_output=True, text=True)
    if out.returncode != 0:
        return None, out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "failed"
    return json.loads(out.stdout.strip().splitlines()[-1])["ms"], None


def kiln_bench(kiln, arguments, threads, seconds, target_cpu=None):
    """Kiln's report for `kiln bench <arguments>` at `threads` within `seconds` (code for `target_cpu`, or this
    machine's), or (None, the error's first line)."""
    target = ["--target-cpu", target_cpu] if target_cpu else []
    out = subprocess.run([kiln, "bench", *arguments, *target, "--no-layers", "--compiled-only", "--json", "--threads", str(threads),
                          "--repetitions", "20000", "--seconds", str(seconds)],
                         capture_output=True, text=True)
    if out.returncode != 0:
        message = (out.stderr.strip() or out.stdout.strip() or "failed").splitlines()[0]
        return None, message
    return json.loads(out.stdout), None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=DEFAULT, help="name:batch,…, or torchvision for all of them at batch 1 (default: %(default)s)")
    parser.add_argument("--threads", default="1,2", help="thread counts (default: %(default)s)")
    parser.add_argument("--kiln", default=os.path.join(ROOT, ".build/release/kiln"))
    parser.add_argument("--peers", default=os.path.join(ROOT, "..", "shared", "peers"))
    parser.add_argument("--onnx-dir", default=os.environ.get("PEERS_ONNX_DIR", "/tmp/kiln-peers-onnx"))
    parser.add_argument("--seconds", type=float, default=2.0, help="timing budget of each measurement, ORT's and Kiln's")
    parser.add_argument("--rounds", type=int, default=1, help="alternating rounds of each row's measurements (default: %(default)s)")
    parser.add_argument("--target-cpu", help="Kiln generates code for this LLVM CPU instead of this machine's (e.g. znver3: "
                        "AVX2 code, as on a Zen 3, timed here)")
    parser.add_argument("--ort-worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.ort_worker:
        ort_worker(args.ort_worker, int(args.threads), args.seconds)
        return

    threads = [int(t) for t in args.threads.split(",")]
    if args.models == "torchvision":
        args.models = ",".join(f"{name}:1" for name in list(torchvision_models.CLASSIFICATION) + list(torchvision_models.SEGMENTATION))
    configs = [(m, int(b)) for m, b in (item.split(":") for item in args.models.split(","))]
    for model, _ in configs:
        if model not in MODELS:
            sys.exit(f"unknown model {model}; known: {', '.join(MODELS)}")
    rows, header = [], None
    notes = []
    for model, batch in configs:
        try:
            path = export(model, batch, args.onnx_dir, args.peers)
        except Exception as error:  # torchvision or torch missing: say so and go on
            notes.append(f"{model}: not exported ({type(error).__name__}: {error})")
            continue
        zoo = MODELS[model][1]
        for t in threads:
            rounds = [
                (ort_ms(path, t, args.seconds), kiln_bench(args.kiln, [path], t, args.seconds, args.target_cpu),
                 kiln_bench(args.kiln, [zoo, "--batch", str(batch)], t, args.seconds, args.target_cpu) if zoo else (None, "no zoo model"))
                for _ in range(max(args.rounds, 1))
            ]

            def fastest(source):
                """The fastest round's result of `source` (0 ORT, 1 Kiln on the file, 2 zoo), and the last error."""
                results = [r[source] for r in rounds]
                found = [value for value, _ in results if value]
                key = (lambda v: v) if source == 0 else (lambda v: v["total"]["compiledMillisecondsMin"])
                return (min(found, key=key) if found else None), results[-1][1]

            (ort, ort_error), (imported, import_error), (own, own_error) = fastest(0), fastest(1), fastest(2)

            def spread(source):
                """ " (low–high)" of the rounds' own ratios of `source` over ORT, with more than one round."""
                ratios = [r[source][0]["total"]["compiledMillisecondsMin"] / r[0][0] for r in rounds if r[0][0] and r[source][0]]
                return f" ({min(ratios):.2f}–{max(ratios):.2f})" if len(ratios) > 1 else ""
            report = imported or own
            if report and header is None:
                header = f"{report['cpu']}, LLVM target {report['target']}, OpenBLAS kernel {report['blasCore']}, fp32 peak {report['peakGFLOPS'] / t:.1f} GFLOPS per thread"
            flops = report["total"]["flops"] if report else 0

            def cell(r):
                return f"{r['total']['compiledMillisecondsMin']:.3f}" if r else "–"

            def ratio(r, source):
                return f"{r['total']['compiledMillisecondsMin'] / ort:.2f}×{spread(source)}" if r and ort else "–"

            gflops = f"{flops / (imported['total']['compiledMillisecondsMin'] * 1e6):.1f}" if imported else "–"
            rows.append(f"| {model} | {batch} | {t} | {f'{ort:.3f}' if ort else '–'} | {cell(imported)} | {ratio(imported, 1)} | {gflops} | {cell(own)} | {ratio(own, 2)} |")
            for label, error in [("ORT", ort_error), ("Kiln on the ONNX file", import_error), ("Kiln's zoo model", own_error if zoo else None)]:
                if error:
                    notes.append(f"{model} b{batch}, {label}: {error[:200]}" + ("…" if len(error) > 200 else ""))
            print(rows[-1], file=sys.stderr, flush=True)
    print(f"Measured {time.strftime('%Y-%m-%d')} on {header or 'this machine'}; minimum latency in ms; ratio = Kiln ÷ ORT (below 1: Kiln is faster).\n")
    print("| model | batch | threads | ORT ms | Kiln (ONNX) ms | ratio | Kiln GFLOPS | Kiln zoo ms | ratio |")
    print("|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    if notes:
        print()
        for note in dict.fromkeys(notes):
            print(f"- {note}")


if __name__ == "__main__":
    main()
