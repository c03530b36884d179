"""Classify Fashion-MNIST test images with a LeNet-5 compiled by `kiln compile`, from Python via
ctypes (the standard library only; numpy is not needed).

    python3 classify.py ../../out/lenet5.so [/usr/share/datasets/fashion-mnist] [count]
"""
import ctypes
import gzip
import struct
import sys

INPUT, CLASSES, SIDE, PADDED = 32 * 32, 10, 28, 32
MEAN, STD = 0.2860, 0.3530


def load(directory, count):
    with gzip.open(f"{directory}/t10k-images-idx3-ubyte.gz") as f:
        magic, total, rows, cols = struct.unpack(">IIII", f.read(16))
        if magic != 0x803 or (rows, cols) != (SIDE, SIDE):
            raise SystemExit("not an IDX image file of 28x28 images")
        pixels = f.read()
    with gzip.open(f"{directory}/t10k-labels-idx1-ubyte.gz") as f:
        labels = f.read()[8:]
    count = min(count or total, total)
    images = []
    for n in range(count):
        image = [(0 - MEAN) / STD] * INPUT
        for y in range(SIDE):
            row = pixels[(n * SIDE + y) * SIDE:(n * SIDE + y + 1) * SIDE]
            for x, value in enumerate(row):
                image[(y + 2) * PADDED + x + 2] = (value / 255 - MEAN) / STD
        images.append(image)
    return images, labels[:count]


def main():
    library = ctypes.CDLL(sys.argv[1])
    directory = sys.argv[2] if len(sys.argv) > 2 else "/usr/share/datasets/fashion-mnist"
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    library.lenet5_create.argtypes = [ctypes.POINTER(ctypes.c_void_p)]
    library.lenet5_infer.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_float), ctypes.POINTER(ctypes.c_float)]
    library.lenet5_last_error.restype = ctypes.c_char_p
    library.lenet5_destroy.argtypes = [ctypes.c_void_p]
    context = ctypes.c_void_p()
    if library.lenet5_create(ctypes.byref(context)) != 0:
        raise SystemExit("cannot create the model")
    images, labels = load(directory, count)
    logits = (ctypes.c_float * CLASSES)()
    correct = 0
    for image, label in zip(images, labels):
        buffer = (ctypes.c_float * INPUT)(*image)
        if library.lenet5_infer(context, buffer, logits) != 0:
            raise SystemExit(library.lenet5_last_error(context).decode())
        correct += max(range(CLASSES), key=lambda c: logits[c]) == label
    library.lenet5_destroy(context)
    print(f"accuracy {correct}/{len(labels)} = {100 * correct / len(labels):.2f}% (Python, lenet5.so)")


if __name__ == "__main__":
    main()
