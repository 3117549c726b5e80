# The two commands a newcomer needs: `make demo` and `make test`.
# Everything else is a convenience around CMake.
BUILD_DIR ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo

.PHONY: all setup configure build test test-unit demo drill install bench fuzz clean format

all: build

setup:
	@bash scripts/setup.sh

configure: setup
	@cmake -S . -B $(BUILD_DIR) $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

# Every test: unit, integration, fuzz replay and the layering check.
test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 600

test-unit: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) -L unit

# The web farm of seed 003 on loopback; Ctrl-C stops it.
demo: build
	@bash scripts/demo.sh $(BUILD_DIR)

# Seed 003's failover drill against that farm, under HTTP load.
drill: build
	@python3 scripts/drill.py --build $(BUILD_DIR)

# Binaries, systemd units and example configs (PREFIX=/usr/local; DESTDIR
# for packaging).
PREFIX ?= /usr/local
install: build
	@cmake --install $(BUILD_DIR) --prefix $(PREFIX)

bench: build
	@bash bench/run.sh $(BUILD_DIR)

# Real libFuzzer targets (clang++-14, ASan+UBSan) in build-fuzz/.
fuzz: setup
	@CXX=clang++-14 cmake -S . -B build-fuzz -DDFS_FUZZ=ON -DDFS_BUILD_BENCH=OFF >/dev/null
	@cmake --build build-fuzz -j $(JOBS) --target fuzz_targets
	@echo "run e.g.: build-fuzz/bin/ns_codec_fuzz tests/fuzz/corpus/ns_codec -max_total_time=60"

format:
	@git ls-files '*.h' '*.cc' | xargs clang-format -i

clean:
	rm -rf $(BUILD_DIR) build-fuzz demo-store demo-farm
