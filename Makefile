# Top-level convenience targets. The real build is CMake; this file only makes
# "set up everything and go" one command on a fresh Debian 12 machine.
BUILD ?= build
JOBS  ?= 2
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo

.PHONY: all deps build run test bench clean

all: build

deps:
	@./scripts/setup-deps.sh

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS)

run: build
	cmake --build $(BUILD) --target guest-image
	./scripts/run-default-guest.sh $(BUILD)

test: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

# The compute kernels (xlat vs native), CR3 switching (shadow spaces vs flush
# vs QEMU TCG), and the guest workload (xlat vs QEMU TCG vs native).
bench: build
	./bench/kernels $(BUILD)
	./bench/spaces $(BUILD)
	cmake --build $(BUILD) --target guest-image
	./bench/guest $(BUILD)

clean:
	rm -rf $(BUILD)
