#!/usr/bin/env python3
"""Exports torchvision's classification and segmentation models to ONNX with ONNX Runtime's
outputs beside them: the data of Kiln's real-model test (Tests/KilnONNXTests/TorchvisionTests).

    python3 scripts/export-torchvision.py DIRECTORY [--models resnet18,fcn_resnet50] [--size 128]

For each model (random weights, seed 0, eval mode, batch 1, a `size`×`size` RGB input):
  DIRECTORY/NAME.onnx                    torch.onnx.export, opset 17, the TorchScript exporter
  DIRECTORY/NAME.reference.safetensors   "input" and ONNX Runtime's "output" (1 thread)
(AlexNet and VGG at 224×224, where their adaptive pooling divides evenly.)
A model already exported is kept. Segmentation models give their "out" head only.
"""
import argparse
import json
import os
import struct
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torchvision_models  # noqa: E402


def write_safetensors(path, tensors):
    """A safetensors file of float32 arrays, written under a temporary name and renamed."""
    header, offset, blobs = {}, 0, []
    for name, array in tensors.items():
        data = array.astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path + ".partial", "wb") as file:
        file.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
    os.replace(path + ".partial", path)


def export(name, directory, size):
    import numpy
    import onnxruntime
    import torch

    model_path = os.path.join(directory, name + ".onnx")
    reference_path = os.path.join(directory, name + ".reference.safetensors")
    if os.path.exists(model_path) and os.path.exists(reference_path):
        return
    torch.manual_seed(0)
    network = torchvision_models.build(name)
    size = torchvision_models.INPUT_SIZES.get(name, size)
    image = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(1))
    warnings.filterwarnings("ignore", category=DeprecationWarning)  # the TorchScript exporter's notice
    with torch.no_grad():
        torch.onnx.export(network, (image,), model_path + ".partial", opset_version=17, dynamo=False,
                          input_names=["input"], output_names=["output"])
    os.replace(model_path + ".partial", model_path)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    session = onnxruntime.InferenceSession(model_path, options, providers=["CPUExecutionProvider"])
    (output,) = session.run(None, {"input": image.numpy()})
    write_safetensors(reference_path, {"input": image.numpy(), "output": numpy.asarray(output)})
    print(f"{name}: {os.path.getsize(model_path) / 1e6:.1f} MB, output {list(output.shape)}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("directory")
    parser.add_argument("--models", help="comma-separated names (default: every one)")
    parser.add_argument("--size", type=int, default=128, help="input height and width (default 128)")
    arguments = parser.parse_args()
    names = arguments.models.split(",") if arguments.models else list(torchvision_models.CLASSIFICATION) + list(torchvision_models.SEGMENTATION)
    os.makedirs(arguments.directory, exist_ok=True)
    for name in names:
        export(name, arguments.directory, arguments.size)


if __name__ == "__main__":
    main()
