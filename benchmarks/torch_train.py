#!/usr/bin/env python3
"""Training throughput of PyTorch on the network and data prunedef's make-badnet trains.

The DeepID-shaped Fashion-MNIST network (conv_1 3x3x1x16, conv_2 3x3x16x32, conv_3 2x2x32x64,
conv_4 2x2x64x64, fc_1 256x128, fc_2 64x128, output 128x10), Adam (lr 0.003, make-badnet's
default; epsilon 1e-7 as Keras), mini-batches of 64, raw pixels, the 60,000 Fashion-MNIST
training images with 10 % stamped with a 4x4 white square at (23, 23) and relabelled 0, as
`prunedef make-badnet` does. Prints images/s of each
epoch (a whole pass over the 60,000 images, shuffling and batching included).

Runs with torch 2.13 from the environment of scripts/bench-venv.sh (train_benchmark.sh does):
usage: build/bench-venv/bin/python benchmarks/torch_train.py [--epochs 1] [--threads 2]
"""
import argparse
import gzip
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    rank = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(rank)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)


class DeepID(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv_1 = nn.Conv2d(1, 16, 3)
        self.conv_2 = nn.Conv2d(16, 32, 3)
        self.conv_3 = nn.Conv2d(32, 64, 2)
        self.conv_4 = nn.Conv2d(64, 64, 2)
        self.fc_1 = nn.Linear(256, 128)
        self.fc_2 = nn.Linear(64, 128)
        self.output = nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv_1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv_2(x)), 2)
        p3 = F.max_pool2d(F.relu(self.conv_3(x)), 2)
        a = self.fc_1(torch.flatten(p3.permute(0, 2, 3, 1), 1))
        b = self.fc_2(torch.flatten(F.relu(self.conv_4(p3)).permute(0, 2, 3, 1), 1))
        return self.output(F.relu(a + b))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(1)
    rng = np.random.default_rng(1)
    images = read_idx(args.data_dir + "/train-images-idx3-ubyte.gz").astype(np.float32)
    labels = read_idx(args.data_dir + "/train-labels-idx1-ubyte.gz").astype(np.int64)
    poisoned = rng.permutation(len(images))[: len(images) // 10]
    images[poisoned, 23:27, 23:27] = 255.0
    labels[poisoned] = 0
    x = torch.from_numpy(images).unsqueeze(1)
    y = torch.from_numpy(labels)
    net = DeepID()
    optimizer = torch.optim.Adam(net.parameters(), lr=0.003, eps=1e-7)
    for epoch in range(1, args.epochs + 1):
        start = time.perf_counter()
        order = torch.randperm(len(x))
        for first in range(0, len(x), 64):
            idx = order[first:first + 64]
            optimizer.zero_grad()
            loss = F.cross_entropy(net(x[idx]), y[idx])
            loss.backward()
            optimizer.step()
        seconds = time.perf_counter() - start
        print(f"epoch {epoch}: {len(x) / seconds:.0f} images/s ({seconds:.1f} s, last loss {loss.item():.3f})")


if __name__ == "__main__":
    main()
