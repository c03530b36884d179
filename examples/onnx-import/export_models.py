#!/usr/bin/env python3
"""Export LeNet-5 and ResNet-18 from PyTorch to ONNX, with ONNX Runtime's outputs as references.

For each model, writes <name>.onnx (opset 17, the legacy TorchScript exporter, dynamic batch
axis) and <name>.reference.safetensors holding an `input` and the `logits` ONNX Runtime computes
for it (torch's own output when onnxruntime is missing). Kiln's onnx-import example reads both.

  python3 export_models.py --out /tmp/onnx-models

Needs torch (CPU build), onnx and numpy; onnxruntime for the references.
"""
import argparse
import os
import sys

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "resnet-inference"))
from export_resnet18 import ResNet18, save_safetensors  # noqa: E402


class LeNet5(nn.Module):
    """Kiln's zoo lenet5: 1×32×32, conv 6@5×5, max pool, conv 16@5×5, max pool, conv 120@5×5, 84, 10."""

    def __init__(self):
        super().__init__()
        self.conv1, self.conv2, self.conv3 = nn.Conv2d(1, 6, 5), nn.Conv2d(6, 16, 5), nn.Conv2d(16, 120, 5)
        self.fc1, self.fc2 = nn.Linear(120, 84), nn.Linear(84, 10)

    def forward(self, x):
        x = torch.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = torch.max_pool2d(torch.relu(self.conv2(x)), 2)
        x = torch.flatten(torch.relu(self.conv3(x)), 1)
        return self.fc2(torch.relu(self.fc1(x)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(0)
    for name, model, shape in [("lenet5", LeNet5(), (1, 1, 32, 32)), ("resnet18", ResNet18(), (1, 3, 224, 224))]:
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 1.5)
        model.eval()
        image = torch.randn(*shape)
        path = os.path.join(args.out, f"{name}.onnx")
        torch.onnx.export(model, (image,), path, input_names=["input"], output_names=["logits"], opset_version=17,
                          dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}}, dynamo=False)
        try:
            import onnxruntime

            session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
            logits = torch.from_numpy(session.run(None, {"input": image.numpy()})[0])
            source = "onnxruntime " + onnxruntime.__version__
        except ImportError:
            with torch.no_grad():
                logits = model(image)
            source = "torch " + torch.__version__
        save_safetensors({"input": image, "logits": logits}, os.path.join(args.out, f"{name}.reference.safetensors"))
        print(f"wrote {path} and its reference logits from {source}")


if __name__ == "__main__":
    main()
