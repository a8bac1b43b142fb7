# The entry points people type.  Every target calls a script in scripts/.
#   make            fetch the base, assemble build/src, build build/qemu
#   make demo       build when needed, then boot a guest that shows the series
#   make check      build when needed, then every test suite; ends "N passed, N failed"
#   make bench      the benchmarks (prints tables, draws plots in build/bench)
#   make export     the series, one a topic, as git format-patch files in build/export
#   make export-bisect  build every commit of the series and run the tests it touches
#                      (FIRST=N LAST=M: patch numbers; KEEP_GOING=1 lists every bad one)
#   make oss-fuzz   scripts/oss-fuzz/build.sh as OSS-Fuzz runs it, then check its output
#   make fuzz-devices  generic-fuzz on the series' device configurations (FUZZ_SECONDS each)
#   make zoned-crash   SIGKILL rounds on a zoned qcow2 image: ZONED_CRASH_ROUNDS (1000) of a
#                      qemu-io workload, ZONED_CRASH_GUEST_ROUNDS (5) of a Linux guest's
#   make fio-zbd    fio's own zoned test suite (t/zbd) in Linux guests: every section of its
#                   run-tests-against-nullb through virtio-blk, scsi-hd and nvme
#                   (FRONTENDS=..., SECTIONS=..., JOBS=N, FIO_ZBD_BACKEND=qcow2 for zoned
#                   qcow2 images; table in build/fio-zbd/results.txt)
#   make refresh    write edits made in build/src back into patches/ and the overlay
#   make deps       install the Debian packages (as root)

SHELL := /bin/bash
.DEFAULT_GOAL := all
.PHONY: all deps fetch assemble build demo check bench export export-bisect oss-fuzz fuzz-devices zoned-crash fio-zbd refresh clean distclean

all: build

deps:
	@scripts/install-deps.sh

fetch:
	@scripts/fetch-base.sh >/dev/null

assemble:
	@scripts/assemble.sh

build: assemble
	@scripts/build.sh

demo: build
	@scripts/demo.sh

check: build
	@scripts/check.sh $(CHECK_ARGS)

bench: build
	@scripts/bench.sh

export: assemble
	@scripts/export.sh

export-bisect: assemble
	@scripts/export-bisect.sh $(FIRST) $(LAST)

oss-fuzz: assemble
	@scripts/oss-fuzz-local.sh

fuzz-devices: assemble
	@scripts/fuzz-devices.sh

ZONED_CRASH_ROUNDS ?= 1000
ZONED_CRASH_GUEST_ROUNDS ?= 5
zoned-crash: build
	@QEMU_ZONED_CRASH_ROUNDS=$(ZONED_CRASH_ROUNDS) scripts/run-iotests.sh -qcow2 qcow2-zoned-crash
	@scripts/guest-tests/qcow2-zoned-crash-guest.sh $(ZONED_CRASH_GUEST_ROUNDS)

fio-zbd: build
	@scripts/fio-zbd-matrix.sh

refresh:
	@scripts/refresh.sh

clean:
	rm -rf build/qemu build/project build/export build/bench build/fio-zbd

distclean:
	rm -rf build
