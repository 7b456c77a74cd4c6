# moelab — the two set-up commands are `make reproduce` and `make test`.
# Both install the missing Debian packages (scripts/deps.sh), configure and build.

BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=
OUT ?= results

.PHONY: all deps configure build test reproduce reproduce-full asan clean

all: build

deps:
	@bash scripts/deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD) -j$(JOBS)

test: build
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

# The main job: every study preset on its quick grid, then one report (moelab reproduce --quick).
# The full study (40 replicates, n = 1e3..1e5): make reproduce-full.
reproduce: build
	@./$(BUILD)/moelab reproduce --quick --out $(OUT)

reproduce-full: build
	@./$(BUILD)/moelab reproduce --out $(OUT)-full

# The tests again under AddressSanitizer + UndefinedBehaviorSanitizer.
asan: deps
	@cmake -S . -B $(BUILD)-asan -DCMAKE_BUILD_TYPE=Debug -DMOELAB_SANITIZE=ON -DMOELAB_BUILD_BENCH=OFF $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD)-asan -j$(JOBS)
	@cd $(BUILD)-asan && ctest --output-on-failure -j$(JOBS)

clean:
	rm -rf $(BUILD) $(BUILD)-asan build-mpi build-fuzz build-valgrind
