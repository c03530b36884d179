# Kiln's two entry points: `make demo` (set up, build, run the main job) and `make test`.
KILN := .build/release/kiln

.PHONY: setup build demo test clean

setup:
	./scripts/setup.sh

build: setup
	swift build -c release

demo: build
	$(KILN) summary lenet5
	$(KILN) run lenet5 --index 0
	.build/release/residual-block

test: setup
	swift build
	swift test

clean:
	rm -rf .build
