# SPDX-License-Identifier: GPL-2.0
#
# hv_pci SWIOTLB companion: per-device SWIOTLB pools for virtio devices in
# WSL 2-style Hyper-V guests.
#
# When the kernel build system includes this directory as an external module
# (make -C <kernel> M=$(pwd)), only Kbuild matters; everything below is the
# project's own front end.

ifneq ($(KERNELRELEASE),)
include $(src)/Kbuild
else

SHELL := /bin/bash
FLAVOR ?= default
export KDIR CACHE_DIR ACCEL

.PHONY: help deps fetch kernel overlay patches run test test-full test-debug test-wsl stress bench check clean-cache

help: ## List the targets
	@echo "Targets (variables: KDIR=<own 7.x tree>, FLAVOR=$(FLAVOR), CACHE_DIR, ACCEL=kvm|tcg):"
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## (.*)/  \1\t\2/' | expand -t 16

deps: ## Install packages, rust-src, bindgen-cli and virtme-ng (idempotent)
	@scripts/deps.sh

fetch: deps ## Fetch and extract Debian's linux-source-7.3 into the cache
	@scripts/fetch-kernel.sh

kernel: deps ## Configure and build the guest kernel and the module (FLAVOR=...)
	@scripts/build-kernel.sh $(FLAVOR)

overlay: ## Apply the overlay to a kernel tree in place: make overlay KSRC=<tree>
	@test -n "$(KSRC)" || { echo "usage: make overlay KSRC=<kernel tree>"; exit 2; }
	@scripts/apply-overlay.sh "$(KSRC)"

patches: deps ## Write the git-am series for a pristine 7.3.x tree (OUT=dir; KVER=6.18 KSRC=<6.18.y tree>)
	@KVER="$(KVER)" KSRC="$(KSRC)" scripts/mkpatches.sh $(OUT)

run: deps ## Build, boot a guest and show the pools working
	@scripts/run.sh

test: deps ## Run every test (tools, build, guests); ends with "N passed, N failed"
	@tests/run.sh

test-full: deps ## make test plus a CONFIG_SWIOTLB_DYNAMIC=y kernel (one more full build)
	@tests/run.sh --full

test-debug: deps ## The guest suite on a KASAN/lockdep/kmemleak/DMA-API-debug kernel; any report fails
	@tests/run.sh --debug

test-wsl: deps ## The 6.18 series and the driver on a WSL 6.18.y tree: KSRC=<tree> [MS_PATCH= WSL_CONFIG= WSL_LEAN=2|1|0 WSL_BUILTIN=1]
	@KSRC="$(KSRC)" MS_PATCH="$(MS_PATCH)" WSL_CONFIG="$(WSL_CONFIG)" WSL_LEAN="$(WSL_LEAN)" \
		WSL_BUILTIN="$(WSL_BUILTIN)" tests/wsl.sh

stress: deps ## Slow abuse tests: 1000 load cycles, GiBs verified (disks, net, virtio-fs), 100 hot-plugs, exhaustion
	@tests/stress.sh

bench: deps ## Benchmarks: global vs shared vs per-device pools (REPS=5 MS=500 NDEV=3 FILES=2000 FILES_REPS=3 FLOOD_FILES=FILES/4 BENCH="micro e2e files"; PROFILE=1 adds perf and lock_stat)
	@tests/bench/run.sh

check: deps ## rustfmt, clippy (CLIPPY=1) and checkpatch --strict on our code
	@scripts/check.sh

clean-cache: ## Remove the build cache (kernel source, build trees, ccache)
	rm -rf "$${CACHE_DIR:-$${XDG_CACHE_HOME:-$$HOME/.cache}/hv-swiotlb}"

endif
