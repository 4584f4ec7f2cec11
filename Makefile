# Chamber: the user's entry point. `make` builds, `make test` builds and runs the tests,
# `make run` runs the default experiment. CMake does the real work in build/.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

# Debian packages, by what needs them. `make` only builds; `make run` checks the build's
# packages, `make test` also those of its extra checks (headless Chromium renders a report,
# clang's libFuzzer fuzzes the parsers), `make deps` all of them. Missing ones are installed as
# root, else the exact command is printed.
BUILD_PACKAGES := cmake g++ make pkg-config libyaml-cpp-dev libgtest-dev libgmock-dev \
                  libopenmpi-dev openmpi-bin \
                  libbenchmark-dev nlohmann-json3-dev libcli11-dev libopenblas-openmp-dev python3
FUZZ_PACKAGES := clang libclang-rt-14-dev
REPORT_RENDER_PACKAGES := chromium
TEST_PACKAGES := $(BUILD_PACKAGES) $(FUZZ_PACKAGES) $(REPORT_RENDER_PACKAGES)

# $(call install_missing,PACKAGES): installs (as root) or names the ones not installed.
define install_missing
	@missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    echo "chamber: installing missing Debian packages:$$missing"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing || \
	      { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; } || exit 1; \
	  else \
	    echo "chamber: missing Debian packages:$$missing"; \
	    echo "install them with:  sudo apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi
endef

# Configures a build folder; when that fails (usually a missing package) says how to get them.
# $(call configure,DIR,FLAGS)
define configure
	@mkdir -p $(1) && cmake -S . -B $(1) $(2) $(CMAKE_FLAGS) > $(1)/configure.log 2>&1 || \
	  { cat $(1)/configure.log; echo "chamber: configuring $(1) failed; if a package is missing, 'make deps' installs (or names) what the build needs"; exit 1; }
endef

.PHONY: all deps deps-build deps-test deps-fuzz build debug asan test test-asan fuzz run bench bench-cpu gpu-kit clean help

all: build

help:
	@echo "make            build Release into $(BUILD_DIR)/ (binary: $(BUILD_DIR)/chamber)"
	@echo "make test       build and run every test (ctest), plus the sanitizer pass of the parsers"
	@echo "make run        build and run the default experiment (configs/quickstart.yaml)"
	@echo "make debug      Debug build in build-debug/"
	@echo "make asan       ASan+UBSan build in build-asan/"
	@echo "make fuzz       bounded libFuzzer runs of the interpreter and answer parsers"
	@echo "make bench      Google Benchmark kernels and the training-step benchmark"
	@echo "make bench-cpu  CPU training throughput beside PyTorch eager (bench/RESULTS.md)"
	@echo "make gpu-kit    pack gpu-kit/: the GPU checks and benchmarks for a machine with only a driver"
	@echo "make deps       install missing Debian packages (as root) or print the command"

deps:
	$(call install_missing,$(TEST_PACKAGES))

deps-build:
	$(call install_missing,$(BUILD_PACKAGES))

deps-test:
	$(call install_missing,$(TEST_PACKAGES))

deps-fuzz:
	$(call install_missing,$(FUZZ_PACKAGES))

build:
	$(call configure,$(BUILD_DIR),-DCMAKE_BUILD_TYPE=Release)
	@cmake --build $(BUILD_DIR) -j $(JOBS)

debug:
	$(call configure,build-debug,-DCMAKE_BUILD_TYPE=Debug)
	@cmake --build build-debug -j $(JOBS)

asan:
	$(call configure,build-asan,-DCMAKE_BUILD_TYPE=Debug -DCHAMBER_SANITIZE=ON -DCHAMBER_CUDA=OFF)
	@cmake --build build-asan -j $(JOBS)

test: deps-test
	$(MAKE) --no-print-directory build
	cd $(BUILD_DIR) && OMP_WAIT_POLICY=passive ctest --output-on-failure -j $(JOBS) --timeout 900
	$(MAKE) --no-print-directory test-asan
	$(MAKE) --no-print-directory fuzz

# The parsers (configs, checkpoints, shards, tokenizer, interpreter, grader) under ASan+UBSan.
test-asan:
	$(call configure,build-asan,-DCMAKE_BUILD_TYPE=Debug -DCHAMBER_SANITIZE=ON -DCHAMBER_CUDA=OFF)
	@cmake --build build-asan -j $(JOBS) --target test_parsers
	cd build-asan && OMP_WAIT_POLICY=passive ctest --output-on-failure -j $(JOBS) -L parsers --timeout 900

# Bounded libFuzzer runs of the interpreter and the answer parsers (clang, ASan+UBSan).
FUZZ_SECONDS ?= 20
fuzz: deps-fuzz
	sh tests/data/run_fuzz.sh $(FUZZ_SECONDS) $(CURDIR)/build-fuzz

# The default experiment builds only the `chamber` binary (not the tests and benchmarks), so a
# fresh machine reaches training in a couple of minutes.
run: deps-build
	$(call configure,$(BUILD_DIR),-DCMAKE_BUILD_TYPE=Release)
	@cmake --build $(BUILD_DIR) -j $(JOBS) --target chamber
	./$(BUILD_DIR)/chamber run configs/quickstart.yaml

bench: build
	./$(BUILD_DIR)/bench_kernels_cpu --benchmark_min_time=0.2 && ./$(BUILD_DIR)/bench_train_step configs/tiny.yaml

# CPU training throughput (configs/bench/*-cpu.yaml) against PyTorch eager at the same thread
# count (CHAMBER_THREADS, default all cores); the table goes into bench/RESULTS.md by hand.
bench-cpu: build
	python3 bench/run_bench_cpu.py --build-dir $(BUILD_DIR)

# The GPU kit: a Release build for sm_90 in build-kit/ packed into gpu-kit/ with the libraries it
# loads, so a GPU machine without our build dependencies or network runs `bash gpu-kit/run.sh OUT`.
gpu-kit: deps-build
	bash bench/kit/pack.sh build-kit gpu-kit

clean:
	rm -rf $(BUILD_DIR) build-debug build-asan build-fuzz build-kit gpu-kit
