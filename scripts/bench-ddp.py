#!/usr/bin/env python3
"""PyTorch DDP's side of `mpirun -np N kiln train lenet5 --batch 64 --threads 1`: the same model
(LeNet-5 with ReLU and max pooling, 32×32 inputs; or VGG-11-CIFAR from ../shared/peers/models.py
on Fashion-MNIST padded to 32×32 and repeated over three channels, as `kiln train vgg11_cifar`
reads it), global batch, optimizer (SGD, momentum 0.9) and one thread per process, data-parallel
over N processes with torch.distributed's gloo backend. Prints each epoch's training-loop seconds
and images per second (process 0), as kiln does.

  python3 scripts/bench-ddp.py --processes 2 --epochs 1
  python3 scripts/bench-ddp.py --model vgg11_cifar --limit 3200
"""
import argparse
import gzip
import os
import time

import numpy as np

DATA = "/usr/share/datasets/fashion-mnist"


def read_idx(name):
    path = next(p for p in (os.path.join(DATA, name), os.path.join(DATA, name + ".gz")) if os.path.exists(p))
    with (gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")) as f:
        data = f.read()
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(data[3])]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * len(dims)).reshape(dims)


def run(rank, size, args):
    import torch
    import torch.distributed as dist
    import torch.nn as nn
    import torch.nn.functional as F

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(args.port))
    dist.init_process_group("gloo", rank=rank, world_size=size)
    torch.manual_seed(0)
    if args.model == "lenet5":
        model = nn.Sequential(
            nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
    else:
        import sys
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "peers"))
        import models
        spec = models.vgg11_cifar()
        model = models.make_torch(spec, models.init_params(spec))
    model = nn.parallel.DistributedDataParallel(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    images = read_idx("train-images-idx3-ubyte").astype(np.float32) / 255
    images = np.pad((images - 0.2860) / 0.3530, ((0, 0), (2, 2), (2, 2)))[:, None]
    images = torch.from_numpy((images if args.model == "lenet5" else np.repeat(images, 3, axis=1))[: args.limit].copy())
    labels = torch.from_numpy(read_idx("train-labels-idx1-ubyte").astype(np.int64)[: args.limit])
    share = args.batch // size
    for epoch in range(1, args.epochs + 1):
        order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(epoch))
        dist.barrier()
        start = time.perf_counter()
        steps = len(labels) // args.batch
        for step in range(steps):
            batch = order[step * args.batch + rank * share: step * args.batch + (rank + 1) * share]
            optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(model(images[batch]), labels[batch]).backward()
            optimizer.step()
        seconds = time.perf_counter() - start
        if rank == 0:
            print(f"epoch {epoch}: {seconds:.2f} s, {steps * args.batch / seconds:.0f} img/s ({size} processes, batch {args.batch})", flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", choices=["lenet5", "vgg11_cifar"], default="lenet5")
    parser.add_argument("--limit", type=int, default=60000, help="train on the first LIMIT images")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.02)
    parser.add_argument("--port", type=int, default=29517)
    arguments = parser.parse_args()
    import torch.multiprocessing as mp

    mp.spawn(run, args=(arguments.processes, arguments), nprocs=arguments.processes)
