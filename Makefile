# moelab — the two set-up commands are `make reproduce` and `make test`.
# Both install the missing Debian packages (scripts/deps.sh), configure and build.

BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=
OUT ?= results
PREFIX ?= /usr/local
DESTDIR ?=

.PHONY: all deps configure build test reproduce reproduce-full asan install uninstall clean

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

# Installs the binary, the shared and static libraries, moelab.h, moelab.pc, the
# man page and the study presets under $(PREFIX) (default /usr/local); DESTDIR
# stages the files for a package.  The build is configured with this prefix, so
# the binary looks for its presets in $(PREFIX)/share/moelab/studies.
install: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=$(abspath $(PREFIX)) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)
	@DESTDIR=$(DESTDIR) cmake --install $(BUILD)

# Removes exactly the files listed in $(BUILD)/install_manifest.txt (the last
# make install from this build directory), then the presets directory if empty.
uninstall:
	@if [ ! -f $(BUILD)/install_manifest.txt ]; then \
	  echo "moelab: nothing to uninstall: $(BUILD)/install_manifest.txt is missing" >&2; exit 1; fi
	@while IFS= read -r f || [ -n "$$f" ]; do \
	  if [ -e "$$f" ] || [ -L "$$f" ]; then echo "-- Removing: $$f"; rm -f -- "$$f"; fi; \
	done < $(BUILD)/install_manifest.txt
	@d=$$(sed -n 's|/studies/[^/]*\.json$$|/studies|p' $(BUILD)/install_manifest.txt | head -n 1); \
	if [ -n "$$d" ]; then rmdir -- "$$d" "$$(dirname "$$d")" 2>/dev/null || true; fi
	@rm -f $(BUILD)/install_manifest.txt

clean:
	rm -rf $(BUILD) $(BUILD)-asan build-mpi build-fuzz build-valgrind
