# Kiln's two entry points: `make demo` (set up, build, run the main job) and `make test`.
KILN := .build/release/kiln

.PHONY: setup build demo test docs clean

setup:
	./scripts/setup.sh

build: setup
	swift build -c release

# The main job: train LeNet-5 briefly, compile it to a shared object, benchmark compiled against
# interpreted code, and classify the Fashion-MNIST test set from a C program linking the .so.
demo: build
	$(KILN) summary lenet5
	$(KILN) train lenet5 --epochs 1 --limit 12000 --optimizer momentum --lr 0.03 --out out/lenet5.safetensors
	$(KILN) evaluate lenet5 --weights out/lenet5.safetensors
	$(KILN) compile lenet5 --weights out/lenet5.safetensors -o out/lenet5.so
	$(KILN) bench lenet5
	$(MAKE) -C examples/embed-c MODEL_DIR=$(CURDIR)/out run

test: setup
	./scripts/fetch-onnx-node-tests.sh
	./scripts/export-torchvision.sh
	swift build
	./scripts/check-docs.sh
	swift test

# DocC archives of Kiln and KilnLLVM (warnings are errors; every public symbol documented).
docs:
	./scripts/check-docs.sh

clean:
	rm -rf .build
