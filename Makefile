# weft: `make` builds, `make test` checks and tests, `sudo make demo` shows it work.
# Every target first installs what is missing (scripts/toolchain.sh), quietly when present.

SHELL := /bin/bash
export PATH := $(CURDIR)/.tools/bin:$(PATH)

BUILD := build
BPF_SRC := $(wildcard bpf/*.bpf.c)
BPF_OBJ := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.bpf.o,$(BPF_SRC))
BPF_HDR := $(wildcard bpf/include/*.h)
TEST_BPF_SRC := $(wildcard test/fixtures/bpf/*.bpf.c)
TEST_BPF_OBJ := $(patsubst test/fixtures/bpf/%.bpf.c,$(BUILD)/test-bpf/%.bpf.o,$(TEST_BPF_SRC))
NATIVE := $(BUILD)/native/Release/weft_native.node
NATIVE_SRC := $(wildcard native/src/*.cc native/src/*.h) native/CMakeLists.txt
# The agent's bundle (scripts/bundle-agent.ts); its folders too, so a deleted file renews it.
BUNDLE := $(BUILD)/agent/bundle/main.mjs
# The readiness probe the chart execs (native/probe/weft-probe.c): no Node process per probe.
PROBE := $(BUILD)/bin/weft-probe
AGENT_SRC := $(shell find agent/src -name '*.ts' -o -type d)
ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
BPF_CFLAGS := -target bpf -O2 -g -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -Wall -Werror \
	-I$(BUILD)/bpf -Ibpf/include

.PHONY: all build toolchain deps layout check format test test-unit test-integration test-kernels demo bench bench-footprint fuzz clean

all: build

toolchain:
	@bash scripts/toolchain.sh

node_modules/.installed: package.json package-lock.json | toolchain
	@echo "  NPM   node_modules (npm ci)"
	@npm ci --no-audit --no-fund --loglevel=error >/dev/null
	@touch $@

deps: toolchain node_modules/.installed

# Under sudo, what the build wrote goes back to the user (scripts/own.sh).
build: deps $(BPF_OBJ) $(TEST_BPF_OBJ) $(NATIVE) $(BUNDLE) $(PROBE)
	@bash scripts/own.sh

# The kernel's own BTF, so CO-RE programs compile against the running kernel.
$(BUILD)/bpf/vmlinux.h: | toolchain
	@mkdir -p $(@D)
	@bpftool btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@

bpf/include/layout.h: agent/src/tables/layout.ts agent/src/datapath/header.ts | toolchain
	@node scripts/gen-layout-header.ts $@

layout: bpf/include/layout.h

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c $(BPF_HDR) bpf/include/layout.h $(BUILD)/bpf/vmlinux.h
	@echo "  BPF   $@"
	@clang $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/test-bpf/%.bpf.o: test/fixtures/bpf/%.bpf.c $(BPF_HDR) $(BUILD)/bpf/vmlinux.h
	@mkdir -p $(@D)
	@clang $(BPF_CFLAGS) -c $< -o $@

$(NATIVE): $(NATIVE_SRC) node_modules/.installed
	@echo "  NAPI  $@"
	@npx cmake-js compile --directory native --out $(CURDIR)/$(BUILD)/native \
		--log-level error >$(BUILD)/native-build.log 2>&1 || { cat $(BUILD)/native-build.log; exit 1; }

$(PROBE): native/probe/weft-probe.c | toolchain
	@mkdir -p $(@D)
	@echo "  CC    $@"
	@clang -O2 -Wall -Wextra -Werror -o $@ $<

$(BUNDLE): $(AGENT_SRC) scripts/bundle-agent.ts package.json node_modules/.installed
	@echo "  JS    $@"
	@node scripts/bundle-agent.ts

check: deps
	@npx biome check .
	@npx tsc --noEmit
	@npx depcruise --config .dependency-cruiser.cjs agent/src
	@node scripts/gen-layout-header.ts /dev/stdout | cmp -s - bpf/include/layout.h || \
		{ echo "bpf/include/layout.h is stale: run make layout"; exit 1; }

format: deps
	@npx biome check --write .

# Unit tests need neither root nor BPF; integration tests need both (CI is root).
test: check build
	@node scripts/run-tests.ts; rc=$$?; bash scripts/own.sh; exit $$rc

test-unit: build
	@node scripts/run-tests.ts --project unit

test-integration: build
	@node scripts/run-tests.ts --project integration

# Each kernel in KERNELS (default: Debian's newest 6.1 and 6.12 cloud kernels) booted under
# qemu with this build, running the BPF loads and test/integration/datapath; needs root
# (docs/kernels.md). One line per kernel: `kernel <uname -r>: N passed, N failed`.
test-kernels: build
	@KERNELS="$(KERNELS)" bash scripts/test-kernels.sh

demo: build
	@node scripts/demo.ts

# One matrix across nodes (needs root): direct, weft L4, mTLS, mTLS with an L7 policy, an
# nginx mTLS proxy pair and the splice, with wrk and nginx from apt (scripts/bench-deps.sh);
# writes docs/benchmarks.md and docs/benchmarks.svg. Then policy compile time
# (docs/benchmarks-policy.md), and the HBONE proxy pair's CPU per byte
# (docs/benchmarks-hbone.md), the L7 engine's rows (docs/benchmarks-l7.md) and what telemetry
# costs them (its section there, bench/telemetry-ab.ts), retries and their budget
# (docs/benchmarks-retries.md), and the agent
# upgrade's handover time and stall (docs/benchmarks-upgrade.md and its benchmarks.md section).
# BENCH_QUICK=1: only the matrix's main rows, one short round, no docs written (53 s once built, on 2 busy cores).
bench: build
	@bash scripts/bench-deps.sh
	@BENCH_QUICK=$(BENCH_QUICK) node bench/run.ts
	@[ "$(BENCH_QUICK)" = 1 ] || node bench/policy.ts
	@[ "$(BENCH_QUICK)" = 1 ] || node bench/hbone-cpu.ts
	@[ "$(BENCH_QUICK)" = 1 ] || node bench/l7.ts
	@[ "$(BENCH_QUICK)" = 1 ] || node bench/retries.ts
	@[ "$(BENCH_QUICK)" = 1 ] || node bench/telemetry-ab.ts
	@[ "$(BENCH_QUICK)" = 1 ] || node bench/upgrade.ts

# The agent's memory (idle, under load, up to 10,000 open connections, stalled readers,
# 200 pods), its CPU per new connection, beside HAProxy and iperf3: docs/benchmarks-footprint.md.
bench-footprint: build
	@bash scripts/bench-deps.sh
	@node bench/footprint.ts

# Every fuzz target with 1,000,000 generated inputs (WEFT_FUZZ_RUNS to change); not in
# make test, which replays the kept corpus (fuzz/corpus/) instead.
fuzz: build
	@node scripts/fuzz.ts

clean:
	rm -rf $(BUILD)
