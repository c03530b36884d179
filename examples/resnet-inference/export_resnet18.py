#!/usr/bin/env python3
"""Export a PyTorch ResNet-18 for Kiln's resnet-inference example.

Writes two safetensors files:
  weights.safetensors    the model's state_dict as it is (torchvision names, F32, and the I64
                         num_batches_tracked counters, which Kiln skips)
  reference.safetensors  one input image [1, 3, S, S] and PyTorch's logits for it

  python3 export_resnet18.py --out /tmp/resnet18 [--size 224] [--pretrained]

With torchvision installed, the model is torchvision.models.resnet18 (--pretrained loads its
ImageNet weights, which torchvision must already have cached: these machines have no internet).
Without torchvision, the same architecture is defined below with the same module names, so the
state_dict is identical in names and shapes. Untrained batch-norm layers have mean 0, variance 1,
scale 1 and shift 0, which would hide mistakes in batch norm, so without --pretrained they get
random statistics first.

Needs torch (CPU build) and numpy; no safetensors package (the format is written directly).
"""
import argparse
import json
import os
import struct

import numpy as np
import torch
from torch import nn


class BasicBlock(nn.Module):
    def __init__(self, inplanes, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        y = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        return self.relu(y + (x if self.downsample is None else self.downsample(x)))


class ResNet18(nn.Module):
    """torchvision's resnet18, module for module."""

    def __init__(self, num_classes=1000):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        widths, inplanes = [64, 128, 256, 512], 64
        for index, planes in enumerate(widths):
            stride = 1 if index == 0 else 2
            setattr(self, f"layer{index + 1}", nn.Sequential(BasicBlock(inplanes, planes, stride), BasicBlock(planes, planes, 1)))
            inplanes = planes
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def save_safetensors(tensors, path):
    """The safetensors format: 8-byte header length, JSON header, raw little-endian data."""
    header, blobs, offset = {}, [], 0
    for name, tensor in tensors.items():
        array = tensor.detach().cpu().contiguous().numpy()
        dtype = {np.dtype("float32"): "F32", np.dtype("int64"): "I64"}[array.dtype]
        data = array.astype(array.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dtype, "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    temporary = path + ".tmp"
    with open(temporary, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)
    os.replace(temporary, path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="directory for weights.safetensors and reference.safetensors")
    parser.add_argument("--size", type=int, default=224, help="input height and width of the reference image")
    parser.add_argument("--pretrained", action="store_true", help="torchvision's cached ImageNet weights")
    args = parser.parse_args()
    torch.manual_seed(0)
    try:
        import torchvision

        model = torchvision.models.resnet18(weights="IMAGENET1K_V1" if args.pretrained else None)
    except ImportError:
        if args.pretrained:
            raise SystemExit("--pretrained needs torchvision")
        model = ResNet18()
    if not args.pretrained:
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 1.5)
                module.weight.data.uniform_(0.5, 1.5)
                module.bias.data.uniform_(-0.2, 0.2)
    model.eval()
    image = torch.randn(1, 3, args.size, args.size)
    with torch.no_grad():
        logits = model(image)
    os.makedirs(args.out, exist_ok=True)
    save_safetensors(model.state_dict(), os.path.join(args.out, "weights.safetensors"))
    save_safetensors({"input": image, "logits": logits}, os.path.join(args.out, "reference.safetensors"))
    print(f"wrote {args.out}/weights.safetensors ({len(model.state_dict())} tensors) and {args.out}/reference.safetensors")


if __name__ == "__main__":
    main()
