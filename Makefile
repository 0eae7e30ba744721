# fencelock — plain Makefile, out-of-tree objects under $(BUILD).
#
# Layout conventions (so that adding a file never needs a Makefile edit):
#   common/*.c, disklock/*.c, raft/*.c, plugin/{model,arbiter,host}/*.c
#                                                    -> one static library each
#   tests/unit/<module>/test_*.c                     -> one cmocka binary each,
#       linked with that module and everything below it
#   programs: a line in PROGRAMS plus <name>_SRCS below
#
# Targets: all (default), test, test-cluster, test-scale, sim-scale, demo, asan, fuzz, bench, install, clean, and the
# per-module test targets test-common, test-disklock, test-raft, test-model,
# test-arbiter, test-host, test-sim.

BUILD    ?= build
PREFIX   ?= /usr/local
LIBDIR   ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
DESTDIR  ?=
CC       ?= cc
SAN      ?=
V        ?= 0
Q        := $(if $(filter 1,$(V)),,@)

# Only the host layer (plugin/host: control protocol, config, VM specs) links
# jansson and inih; the decision engine and the simulator link neither, so a
# call into them from plugin/model or plugin/arbiter fails to link.
PKGS      := jansson inih
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
HOST_LIBS  := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# libsodium: only the Raft TCP transport (raft/tcp.c, tcp_auth.c) and the
# CLI's keygen use it; the simulator never pulls those objects in.
SODIUM_CFLAGS := $(shell pkg-config --cflags libsodium 2>/dev/null)
SODIUM_LIBS   := $(shell pkg-config --libs libsodium 2>/dev/null || echo -lsodium)

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wpointer-arith -Wformat=2 -Wconversion -Wsign-conversion -Wno-unused-parameter
CFLAGS   ?= -O2 -g
override CFLAGS += -std=c11 -D_GNU_SOURCE $(WARN) -Iinclude -I. $(PKG_CFLAGS) $(SODIUM_CFLAGS) -MMD -MP $(SAN)
LDFLAGS  += $(SAN)
LDLIBS   := -laio -lpthread -lm

# The rooms of plugin/ (what each may use: docs/design.md, "Code layout"):
#   model    pure functions of the replicated state      -> common, disklock encodings
#   arbiter  the decision engine the simulator drives    -> model, disklock, raft, common
#   host     faces the OS and the wire (ctl, config, guard, VM specs) -> common (+ jansson, inih)
#   daemon, cli  programs that put the rooms together
MODULES  := common disklock raft model arbiter host sim
# A module's tests link against the module and those it builds on.
common_DEPS   := common
disklock_DEPS := disklock common
raft_DEPS     := raft common
model_DEPS    := model disklock common
arbiter_DEPS  := arbiter model disklock raft common
host_DEPS     := host disklock common
sim_DEPS      := sim arbiter model disklock raft common
# Extra libraries a module's tests link.
host_LDLIBS   := $(HOST_LIBS)
raft_LDLIBS   := $(SODIUM_LIBS)
# Where a module's sources live (default: the folder of its name).
model_DIR     := plugin/model
arbiter_DIR   := plugin/arbiter
host_DIR      := plugin/host
sim_DIR       := tests/sim
mod_dir   = $(or $($(1)_DIR),$(1))

lib_srcs  = $(wildcard $(call mod_dir,$(1))/*.c)
lib_objs  = $(patsubst %.c,$(BUILD)/obj/%.o,$(call lib_srcs,$(1)))
lib_file  = $(BUILD)/lib/libfl_$(1).a
# Modules without sources yet contribute no library.
have_src  = $(foreach m,$(1),$(if $(wildcard $(call mod_dir,$(m))/*.c),$(m)))
dep_libs  = $(foreach m,$(call have_src,$($(1)_DEPS)),$(call lib_file,$(m)))

# ---- programs --------------------------------------------------------------
PROGRAMS       := fencelock fencelockd
fencelock_SRCS := $(wildcard plugin/cli/*.c)
fencelock_LIBS := host arbiter model disklock raft common
fencelock_EXTRA_LIBS := $(HOST_LIBS) $(SODIUM_LIBS)
# The daemon: main, the control backend, the VM runtime (plugin/daemon/daemon.h).
fencelockd_SRCS := $(wildcard plugin/daemon/*.c)
fencelockd_LIBS := host arbiter model disklock raft common
# liburcu: the read views' snapshot, published by the loop, read by the control thread.
fencelockd_EXTRA_LIBS := $(HOST_LIBS) $(SODIUM_LIBS) $(shell pkg-config --libs liburcu-memb 2>/dev/null)

# The whole-cluster simulator (a development tool: built by `all`, not installed).
DEV_PROGRAMS       := fencelock-sim
fencelock-sim_SRCS := $(wildcard tests/sim/cli/*.c)
fencelock-sim_LIBS := sim arbiter model disklock raft common
# Only the command line writes its JSON report with jansson; the simulated cluster does not.
fencelock-sim_EXTRA_LIBS := $(shell pkg-config --libs jansson 2>/dev/null)

# Test-only helper programs (tests/tools/<name>/*.c), not installed.
TOOLS          := $(notdir $(patsubst %/,%,$(dir $(wildcard tests/tools/*/main.c))))

PROG_BINS := $(addprefix $(BUILD)/,$(PROGRAMS))
DEV_BINS  := $(addprefix $(BUILD)/,$(DEV_PROGRAMS))
TOOL_BINS := $(addprefix $(BUILD)/tools/,$(TOOLS))

UNIT_SRCS := $(foreach m,$(MODULES),$(wildcard tests/unit/$(m)/test_*.c))
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))

.PHONY: all test demo asan bench install install-lib clean deps check-tools lint sim sim-mutants sim-subsecond sim-scale test-scale \
        $(addprefix test-,$(MODULES)) test-interop test-cluster test-microvm soak test-density
.DEFAULT_GOAL := all
# Keep intermediate objects (test fixtures built by chained rules): make
# would delete them after linking, and scripts/sim-mutants.sh links them.
.SECONDARY:

all: $(PROG_BINS) $(DEV_BINS) $(TOOL_BINS) $(UNIT_BINS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

define MODULE_RULES
$(call lib_file,$(1)): $(call lib_objs,$(1))
	@mkdir -p $$(dir $$@)
	@rm -f $$@
	$$(Q)$$(AR) rcs $$@ $$^
# Non-test_*.c files in tests/unit/<module>/ (fixtures) are linked into every test of the module.
$(BUILD)/tests/$(1)/%: tests/unit/$(1)/%.c $(patsubst %.c,$(BUILD)/obj/%.o,$(filter-out tests/unit/$(1)/test_%,$(wildcard tests/unit/$(1)/*.c))) $(call dep_libs,$(1))
	@mkdir -p $$(dir $$@)
	$$(Q)$$(CC) $$(CFLAGS) -Itests/unit -o $$@ $$< $(patsubst %.c,$(BUILD)/obj/%.o,$(filter-out tests/unit/$(1)/test_%,$(wildcard tests/unit/$(1)/*.c))) $(call dep_libs,$(1)) $$(LDFLAGS) $$(LDLIBS) $$($(1)_LDLIBS) -lcmocka
test-$(1): $(filter $(BUILD)/tests/$(1)/%,$(UNIT_BINS)) $(PROG_BINS) $(TOOL_BINS)
	@scripts/run-unit.sh $(BUILD) $(1)
endef
$(foreach m,$(MODULES),$(eval $(call MODULE_RULES,$(m))))

define PROGRAM_RULES
$(BUILD)/$(1): $(patsubst %.c,$(BUILD)/obj/%.o,$($(1)_SRCS)) $(foreach l,$(call have_src,$($(1)_LIBS)),$(call lib_file,$(l)))
	@mkdir -p $$(dir $$@)
	$$(Q)$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS) $($(1)_EXTRA_LIBS)
endef
$(foreach p,$(PROGRAMS) $(DEV_PROGRAMS),$(eval $(call PROGRAM_RULES,$(p))))

# ---- libfencelock ------------------------------------------------------------
# The control-socket client library for VM managers (include/fencelock/fencelock.h),
# shipped as a shared library: libfencelock.so.MAJOR.MINOR.PATCH (the version
# of the header) with soname libfencelock.so.MAJOR. Its objects are compiled
# apart, -fPIC -fvisibility=hidden, so only the calls marked FL_PUBLIC are
# exported (tests/integration/t_lib_exports.sh lists them). It links what the
# client needs and nothing more: the client, the protocol codec, the value
# syntax, error codes, assertions and the monotonic clock, plus jansson (the
# codec's); no inih, no event loop.
fl_version_part = $(shell sed -n 's/^\#define FENCELOCK_VERSION_$(1) \([0-9][0-9]*\)$$/\1/p' include/fencelock/fencelock.h)
LIB_MAJOR   := $(call fl_version_part,MAJOR)
LIB_VERSION := $(LIB_MAJOR).$(call fl_version_part,MINOR).$(call fl_version_part,PATCH)
LIB_SONAME  := libfencelock.so.$(LIB_MAJOR)
LIB_SO      := $(BUILD)/libfencelock.so.$(LIB_VERSION)
LIB_LIBS    := $(shell pkg-config --libs jansson 2>/dev/null)
LIBFENCELOCK_SRCS := plugin/host/client.c plugin/host/ctl_proto.c plugin/host/cfg_syntax.c \
                     plugin/host/volid.c common/error.c common/assert.c common/monotonic.c
$(BUILD)/pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) -fPIC -fvisibility=hidden -c -o $@ $<
# -z defs: an undefined symbol fails the link here, not in a VM manager's
# process (not with sanitizers, whose runtime the executable provides).
$(LIB_SO): $(patsubst %.c,$(BUILD)/pic/%.o,$(LIBFENCELOCK_SRCS))
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS) -shared -Wl,-soname,$(LIB_SONAME) $(if $(SAN),,-Wl,-z,defs) -o $@ $^ $(LIB_LIBS)
	@ln -sf $(notdir $@) $(BUILD)/$(LIB_SONAME)
	@ln -sf $(LIB_SONAME) $(BUILD)/libfencelock.so
all: $(LIB_SO)

# Tools: every tests/tools/<name>/*.c; tools/<name>/LIBS may name extra pkg-config packages.
# Tools link the host layer too (ctlstub plays fencelockd's control socket and guard side),
# and the model and Raft transport (flraftatk speaks the Raft port's protocol).
define TOOL_RULES
$(BUILD)/tools/$(1): $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard tests/tools/$(1)/*.c)) $(foreach l,host model disklock raft common,$(call lib_file,$(l)))
	@mkdir -p $$(dir $$@)
	$$(Q)$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS) $$(HOST_LIBS) $$(SODIUM_LIBS) $$(shell cat tests/tools/$(1)/LIBS 2>/dev/null)
endef
$(foreach t,$(TOOLS),$(eval $(call TOOL_RULES,$(t))))
$(BUILD)/obj/tests/tools/%.o: CFLAGS += $(shell pkg-config --cflags fuse3 2>/dev/null)
$(BUILD)/obj/tests/unit/%.o: CFLAGS += -Itests/unit

# Build information for --version and fencelock_build_info (common/version.c):
# the git commit, in $(BUILD)/gen/fl_build.h, rewritten only when it changes
# so that an unchanged tree relinks nothing.
FL_GIT_COMMIT := $(shell git describe --always --dirty 2>/dev/null || echo unknown)
.PHONY: FORCE
FORCE:
$(BUILD)/gen/fl_build.h: FORCE
	@mkdir -p $(dir $@)
	@printf '#define FL_BUILD_COMMIT "%s"\n' '$(FL_GIT_COMMIT)' > $@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi
$(BUILD)/obj/common/version.o: $(BUILD)/gen/fl_build.h
$(BUILD)/obj/common/version.o: CFLAGS += -I$(BUILD)/gen

# Tests that assert a path allocates nothing (tests/unit/alloc_count.h) link
# with the allocator's entry points wrapped; the renewal test also moves the
# loop's clock (fl_monotonic_us) so that many renewals take milliseconds.
ALLOC_WRAP := -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=posix_memalign,--wrap=aligned_alloc
$(BUILD)/tests/disklock/test_renew_noalloc: LDFLAGS += $(ALLOC_WRAP) -Wl,--wrap=fl_monotonic_us
$(BUILD)/tests/raft/test_heartbeat_noalloc: LDFLAGS += $(ALLOC_WRAP)

deps:
	@scripts/deps.sh

test: deps
	@$(MAKE) --no-print-directory all
	@scripts/lint.sh
	@scripts/run-tests.sh $(BUILD)

test-interop: all
	@tests/interop/run.sh $(BUILD)

# The sixteen cluster scenarios (tests/cluster/t_scen_*.sh: real fencelockd
# hosts in network namespaces under network, storage and process faults),
# one at a time, then their table; JSON in $(BUILD)/cluster/scenarios.json.
# Needs root (namespaces, nft, FUSE); ~7 min. SCENARIOS="1 3" runs some only.
test-cluster: all
	@tests/cluster/run-scenarios.sh $(BUILD) $(SCENARIOS)

# SCALE_HOSTS (default 32) real daemons in network namespaces (tests/cluster/
# t_scale_32.sh): per-host CPU, RSS, storage and network bytes, a crashed
# learner's VMs running elsewhere, a dead voter replaced. Needs root; about
# 4 minutes; run it under flock /tmp/fl-heavy.lock on a shared machine.
test-scale: all
	@tests/cluster/run-scenarios.sh $(BUILD) --json $(BUILD)/cluster/scale.json t_scale_32

# The scenarios with real VMs: QEMU (TCG) running the test guest of
# tests/microvm (built from Debian's kernel and busybox-static by
# tests/microvm/build-guest.sh) under `fencelock exec`; the guest writes its
# virtio-blk volume with O_DIRECT and vmcheck reads it. Host crash, isolation
# longer than P, storage frozen, daemon paused longer than D, whole-cluster
# restart. Needs root; ~8 min. MICROVM_SCENARIOS="1" picks some.
MICROVM_SCENARIOS ?= 1 3 11 13 14
test-microvm: all
	@SC_VMM=qemu tests/cluster/run-scenarios.sh $(BUILD) --json $(BUILD)/cluster/scenarios-microvm.json $(MICROVM_SCENARIOS)

demo: deps
	@$(MAKE) --no-print-directory all
	@VMM=$(VMM) scripts/demo.sh $(BUILD)

asan:
	@$(MAKE) --no-print-directory BUILD=build-asan CC=clang \
	    SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	    CFLAGS="-O1 -g" all
	@ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 scripts/run-unit.sh build-asan all
	@for n in 2 3 4; do ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    build-asan/fencelock-sim --seeds 1..15 --hosts $$n || exit 1; done


# ---- Raft benchmark: fencelock vs etcd (not in all, test or install) -------
BENCH_RAFT_PROGRAMS := fl-raft-bench-server fl-raft-bench-client
fl-raft-bench-server_SRCS := bench/raft/server.c
fl-raft-bench-server_LIBS := raft common
fl-raft-bench-server_EXTRA_LIBS := $(SODIUM_LIBS)
fl-raft-bench-client_SRCS := bench/raft/client.c
fl-raft-bench-client_LIBS := common
$(foreach p,$(BENCH_RAFT_PROGRAMS),$(eval $(call PROGRAM_RULES,$(p))))
.PHONY: bench-raft
bench-raft: $(addprefix $(BUILD)/,$(BENCH_RAFT_PROGRAMS))
	@scripts/bench-raft.sh $(BUILD)

# make bench: every benchmark side by side (scripts/bench.sh); not part of make test.
BENCH_PROGRAMS := fl-bench-renewal fl-bench-registry
fl-bench-renewal_SRCS := bench/renewal/main.c
fl-bench-renewal_LIBS := disklock common
fl-bench-registry_SRCS := bench/registry/main.c
fl-bench-registry_LIBS := model disklock common
$(foreach p,$(BENCH_PROGRAMS),$(eval $(call PROGRAM_RULES,$(p))))
bench: all $(addprefix $(BUILD)/,$(BENCH_PROGRAMS) $(BENCH_RAFT_PROGRAMS))
	@scripts/bench.sh $(BUILD)

# ---- fuzzing: libFuzzer targets (tests/fuzz/fuzz_*.c; docs/fuzzing.md) ----
# `make fuzz` builds every target with clang, libFuzzer, ASan and UBSan into
# build-fuzz/ and runs each for FUZZ_SECONDS from its committed seed corpus
# (tests/fuzz/corpus/<target>/); a crash fails it and keeps the input in
# build-fuzz/fuzz-out/<target>/. `make test` runs each briefly (tests/fuzz/run.sh).
FUZZ_SECONDS ?= 60
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRCS))
FUZZ_LIBS := host arbiter model disklock raft common
FUZZ_SAN  := -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
$(BUILD)/fuzz/%: tests/fuzz/%.c tests/fuzz/fuzz.h $(foreach l,$(FUZZ_LIBS),$(call lib_file,$(l)))
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) -fsanitize=fuzzer -o $@ $< $(foreach l,$(FUZZ_LIBS),$(call lib_file,$(l))) \
	    $(LDFLAGS) $(LDLIBS) $(HOST_LIBS) $(SODIUM_LIBS)
.PHONY: fuzz fuzz-build fuzz-bins
# The seed generator (tests/fuzz/gen_seeds.c) writes real encoded records with
# the real encoders; its output is committed under tests/fuzz/corpus/.
$(BUILD)/fuzz/gen-seeds: tests/fuzz/gen_seeds.c tests/fuzz/fuzz.h $(foreach l,$(FUZZ_LIBS),$(call lib_file,$(l)))
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) -o $@ $< $(foreach l,$(FUZZ_LIBS),$(call lib_file,$(l))) $(LDFLAGS) $(LDLIBS) $(HOST_LIBS) $(SODIUM_LIBS)
fuzz-bins: $(FUZZ_BINS) $(BUILD)/fuzz/gen-seeds
fuzz-build:
	@$(MAKE) --no-print-directory BUILD=build-fuzz CC=clang SAN="$(FUZZ_SAN)" CFLAGS="-O1 -g" fuzz-bins
fuzz: fuzz-build
	@tests/fuzz/fuzz.sh build-fuzz $(FUZZ_SECONDS)

# The whole-cluster simulator: a longer seed sweep, and the mutation check.
SEEDS ?= 1..2000
sim: all
	$(BUILD)/fencelock-sim --seeds $(SEEDS) --hosts 3
	$(BUILD)/fencelock-sim --seeds $(SEEDS) --hosts 5

sim-mutants: all
	@scripts/sim-mutants.sh $(BUILD)

# The simulator at sub-second io_timeout (tests/sim/subsecond.sh): every
# nemesis at T = 0.25 s and 0.5 s with scheduling jitter, and a blip sweep
# (partitions shorter than P, storage stalls shorter than F) that must
# restart nothing. About ten minutes on two cores; not part of make test.
sim-subsecond: all
	@tests/sim/subsecond.sh $(BUILD)

# The simulator at 32, 64 and 128 hosts (tests/sim/scale.sh): every nemesis,
# the default voter set, 0 violations required; about 15 minutes on two
# cores; not part of make test (t_sim_scale_smoke.sh is its short form).
sim-scale: all
	@tests/sim/scale.sh $(BUILD)

# The VM-churn soak (tests/soak/soak.sh): three real daemons, SOAK_CYCLES
# (default 1000) VM stop/start cycles, RSS and state_dir of every daemon
# sampled; fails when either still grows after the warm-up. Table and plot
# in $(BUILD)/soak/. Not part of make test (its short form is).
soak: all
	@tests/soak/soak.sh $(BUILD)

# Density at full size (tests/density/density.sh): 1,000 guarded VMs on one
# host of three with status answering in < 100 ms, 200 of them started at
# once within 10 s, then a host with 500 VMs crashing (all running elsewhere
# within D + 3 s, no overlap). A few minutes; not part of make test (its
# small form, tests/integration/t_daemon_density.sh, is).
test-density: all
	@tests/density/density.sh $(BUILD)

print-%:
	@echo $($*)

# make lint: cppcheck, the 70-line function limit, shellcheck, the .clang-format
# check and dead file references (scripts/lint.sh says which files each covers).
# make test runs it first.
lint:
	@scripts/lint.sh

# install-lib: the library, its symlinks, the public headers and fencelock.pc,
# written here from dist/fencelock.pc.in so that its paths are those of this
# PREFIX (tests/integration/t_ctl_libfencelock.sh installs into a scratch root).
install-lib: $(LIB_SO)
	install -d $(DESTDIR)$(INCLUDEDIR)/fencelock $(DESTDIR)$(LIBDIR)/pkgconfig
	install -m 0755 $(LIB_SO) $(DESTDIR)$(LIBDIR)/
	ln -sf $(notdir $(LIB_SO)) $(DESTDIR)$(LIBDIR)/$(LIB_SONAME)
	ln -sf $(LIB_SONAME) $(DESTDIR)$(LIBDIR)/libfencelock.so
	install -m 0644 include/fencelock/*.h $(DESTDIR)$(INCLUDEDIR)/fencelock/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
	    -e 's|@VERSION@|$(LIB_VERSION)|' dist/fencelock.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/fencelock.pc
	chmod 0644 $(DESTDIR)$(LIBDIR)/pkgconfig/fencelock.pc
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && command -v ldconfig >/dev/null; then ldconfig; fi

# install: the programs, the unit (its ExecStart names BINDIR), man pages, the
# example configuration (SYSCONFDIR/fencelock/fencelock.conf.example; an existing
# fencelock.conf is never touched) and the recover helper it names
# (LIBEXECDIR/fencelock/recover), bash completion, the Prometheus alert rules and
# Grafana dashboard (DATADIR/fencelock), the operator documentation
# (DATADIR/doc/fencelock), plus install-lib. tests/integration/t_make_install.sh
# checks the tree.
BINDIR     ?= $(PREFIX)/bin
LIBEXECDIR ?= $(PREFIX)/libexec
DATADIR    ?= $(PREFIX)/share
MANDIR     ?= $(DATADIR)/man
SYSCONFDIR ?= /etc
UNITDIR    ?= $(PREFIX)/lib/systemd/system
BASHCOMPDIR ?= $(DATADIR)/bash-completion/completions
install: $(PROG_BINS) install-lib
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UNITDIR) \
	    $(DESTDIR)$(LIBEXECDIR)/fencelock $(DESTDIR)$(SYSCONFDIR)/fencelock $(DESTDIR)$(BASHCOMPDIR) \
	    $(DESTDIR)$(DATADIR)/fencelock/prometheus $(DESTDIR)$(DATADIR)/fencelock/grafana $(DESTDIR)$(DATADIR)/doc/fencelock
	install -m 0755 $(PROG_BINS) $(DESTDIR)$(BINDIR)/
	install -m 0644 dist/fencelock.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 dist/fencelockd.8 $(DESTDIR)$(MANDIR)/man8/
	sed 's|^ExecStart=/usr/local/bin/fencelockd |ExecStart=$(BINDIR)/fencelockd |' dist/fencelockd.service \
	    > $(DESTDIR)$(UNITDIR)/fencelockd.service && chmod 0644 $(DESTDIR)$(UNITDIR)/fencelockd.service
	sed 's|@BINDIR@|$(BINDIR)|g' dist/recover > $(DESTDIR)$(LIBEXECDIR)/fencelock/recover
	chmod 0755 $(DESTDIR)$(LIBEXECDIR)/fencelock/recover
	sed 's|@LIBEXECDIR@|$(LIBEXECDIR)|g' dist/fencelock.conf.example > $(DESTDIR)$(SYSCONFDIR)/fencelock/fencelock.conf.example
	chmod 0644 $(DESTDIR)$(SYSCONFDIR)/fencelock/fencelock.conf.example
	install -m 0644 dist/bash-completion/fencelock $(DESTDIR)$(BASHCOMPDIR)/fencelock
	ln -sf fencelock $(DESTDIR)$(BASHCOMPDIR)/fencelockd
	install -m 0644 dist/prometheus/fencelock-alerts.yml $(DESTDIR)$(DATADIR)/fencelock/prometheus/
	install -m 0644 dist/grafana/fencelock-dashboard.json $(DESTDIR)$(DATADIR)/fencelock/grafana/
	install -m 0644 README.md docs/operations.md docs/control-protocol.md docs/design.md $(DESTDIR)$(DATADIR)/doc/fencelock/
	install -d $(DESTDIR)$(PREFIX)/lib/fencelock/shims $(DESTDIR)$(PREFIX)/lib/systemd/system/flintlockd.service.d
	for s in firecracker cloud-hypervisor qemu; do \
	    sed 's|@BINDIR@|$(BINDIR)|g' dist/shims/$$s > $(DESTDIR)$(PREFIX)/lib/fencelock/shims/$$s && \
	    chmod 0755 $(DESTDIR)$(PREFIX)/lib/fencelock/shims/$$s || exit 1; \
	done
	install -m 0644 dist/flintlockd.service.d/fencelock.conf $(DESTDIR)$(PREFIX)/lib/systemd/system/flintlockd.service.d/

clean:
	rm -rf $(BUILD) build-asan build-fuzz

-include $(shell find $(BUILD)/obj $(BUILD)/pic -name '*.d' 2>/dev/null)

# The Mermaid diagrams of docs/ parsed by the Mermaid library itself (npm:
# mermaid, jsdom; installed under $(BUILD)/docs-check on first use). Not in
# make test: it needs node and the npm registry; the state names in the
# diagrams are checked against the code in make test
# (tests/integration/t_docs_diagrams_match_code.sh).
.PHONY: check-diagrams
check-diagrams:
	@command -v node >/dev/null && command -v npm >/dev/null || { echo "check-diagrams: needs node and npm (apt-get install npm)"; exit 2; }
	@mkdir -p $(BUILD)/docs-check && cp tests/docs/package.json tests/docs/mermaid-check.mjs $(BUILD)/docs-check/
	@[ -d $(BUILD)/docs-check/node_modules/mermaid ] || npm install --prefix $(BUILD)/docs-check --no-audit --no-fund --silent
	@for f in docs/*.md; do grep -q '```mermaid' $$f || continue; echo "$$f:"; node $(BUILD)/docs-check/mermaid-check.mjs $$f || exit 1; done
