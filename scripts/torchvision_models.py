"""torchvision's model definitions, usable without torchvision's compiled extension.

torchvision 0.28's extension may not load with the installed torch; only the Python model
definitions are needed, so the package and its models package are entered without their
__init__ files (which import the extension), and each model's module is imported on its own.
"""
import importlib
import importlib.util
import os
import sys
import types

# Classification models: name → (module under torchvision.models, constructor keyword arguments).
CLASSIFICATION = {
    "alexnet": ("alexnet", {}),
    "vgg16_bn": ("vgg", {}),
    "resnet18": ("resnet", {}),
    "resnet50": ("resnet", {}),
    "resnext50_32x4d": ("resnet", {}),
    "wide_resnet50_2": ("resnet", {}),
    "densenet121": ("densenet", {}),
    "squeezenet1_0": ("squeezenet", {}),
    "squeezenet1_1": ("squeezenet", {}),
    "googlenet": ("googlenet", {"aux_logits": False, "init_weights": True}),
    "inception_v3": ("inception", {"aux_logits": False, "init_weights": True}),
    "mobilenet_v2": ("mobilenetv2", {}),
    "mobilenet_v3_small": ("mobilenetv3", {}),
    "mobilenet_v3_large": ("mobilenetv3", {}),
    "shufflenet_v2_x1_0": ("shufflenetv2", {}),
    "mnasnet1_0": ("mnasnet", {}),
    "efficientnet_b0": ("efficientnet", {}),
    "efficientnet_v2_s": ("efficientnet", {}),
    "regnet_x_400mf": ("regnet", {}),
    "regnet_y_400mf": ("regnet", {}),
    "convnext_tiny": ("convnext", {}),
}

# Input sizes other than the default, where a model's adaptive pooling needs its nominal size
# (torch exports adaptive average pooling only when the output size divides the input size).
INPUT_SIZES = {"alexnet": 224, "vgg16_bn": 224}

# Segmentation models (the "out" head only): name → module under torchvision.models.segmentation.
SEGMENTATION = {
    "fcn_resnet50": "fcn",
    "deeplabv3_resnet50": "deeplabv3",
    "lraspp_mobilenet_v3_large": "lraspp",
}


def _enter_packages():
    if "torchvision.models" in sys.modules:
        return
    root = os.path.dirname(importlib.util.find_spec("torchvision").origin)
    for name, path in [
        ("torchvision", root),
        ("torchvision.models", os.path.join(root, "models")),
        ("torchvision.models.segmentation", os.path.join(root, "models", "segmentation")),
    ]:
        module = types.ModuleType(name)
        module.__path__ = [path]
        sys.modules[name] = module


def build(name):
    """torchvision model `name` with random weights, in eval mode; a segmentation model gives
    its "out" head only."""
    _enter_packages()
    if name in SEGMENTATION:
        module = importlib.import_module("torchvision.models.segmentation." + SEGMENTATION[name])
        return _out_head(getattr(module, name)(weights=None, weights_backbone=None, aux_loss=False)).eval()
    module, arguments = CLASSIFICATION[name]
    return getattr(importlib.import_module("torchvision.models." + module), name)(**arguments).eval()


def _out_head(network):
    """`network`'s "out" output alone (segmentation models return a dict)."""
    import torch

    class OutHead(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.network = network

        def forward(self, x):
            return self.network(x)["out"]

    return OutHead()
