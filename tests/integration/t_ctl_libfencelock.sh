#!/usr/bin/env bash
# libfencelock as a VM manager gets it: `make install-lib` into a scratch root
# installs libfencelock.so.MAJOR.MINOR.PATCH with its soname and dev links,
# the headers and fencelock.pc; a program built with nothing but
# `pkg-config --cflags --libs fencelock` loads that library, reports the
# version it was built against, registers a VM, acquires its leases for a
# pid, inquires the lease state, reads the status and releases, against a
# stub daemon.
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/integration/ctl_lib.sh"
command -v "${CC:-cc}" >/dev/null || skip "no C compiler"
command -v pkg-config >/dev/null || fail "pkg-config missing (scripts/deps.sh installs it)"

root=$T/root
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory -s -C "$FL_ROOT" BUILD="$FL_BUILD" \
    DESTDIR="$root" PREFIX=/usr install-lib > "$T/install.out" 2>&1 || fail "make install-lib: $(cat "$T/install.out")"
major=$(sed -n 's/^#define FENCELOCK_VERSION_MAJOR \([0-9]*\)$/\1/p' "$FL_ROOT/include/fencelock/fencelock.h")
lib=$root/usr/lib
[ -f "$(readlink -f "$lib/libfencelock.so")" ] || fail "no libfencelock.so dev link in $lib: $(ls -l "$lib")"
[ "$(readlink "$lib/libfencelock.so")" = "libfencelock.so.$major" ] || fail "dev link points at $(readlink "$lib/libfencelock.so")"
soname=$(readelf -d "$lib/libfencelock.so" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[ "$soname" = "libfencelock.so.$major" ] || fail "soname '$soname', expected libfencelock.so.$major"
grep -qx 'libdir=/usr/lib' "$lib/pkgconfig/fencelock.pc" || fail "fencelock.pc not generated from PREFIX=/usr: $(cat "$lib/pkgconfig/fencelock.pc")"

export PKG_CONFIG_PATH=$lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$root
flags=$(pkg-config --cflags --libs fencelock) || fail "pkg-config does not know fencelock"
cat > "$T/vmm.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fencelock/fencelock.h>
#define CHECK(x) do { int rv_ = (x); if (rv_ != 0) { fprintf(stderr, "%s: %d: %s\n", #x, rv_, fl_client_error(c)); return 1; } } while (0)
int main(int argc, char **argv)
{
	printf("built=%s loaded=%s\n", FENCELOCK_VERSION, fl_version());
	struct fl_client *c = NULL;
	if (argc != 3 || fl_connect(NULL, &c) != 0) { fprintf(stderr, "connect failed\n"); return 1; }
	struct fl_volume vols[] = {{argv[1], 0}, {argv[2], 1}};
	CHECK(fl_vm_register(c, "lib-vm", vols, 2, "{\"any\":\"spec\"}", FL_RESTART_NEVER));
	struct fl_lease_grant g;
	CHECK(fl_vm_acquire(c, "lib-vm", getpid(), NULL, &g));
	char state[256];
	CHECK(fl_vm_inquire(c, "lib-vm", state, sizeof(state)));
	char *status;
	CHECK(fl_status(c, &status));
	printf("guard=%s F=%u K=%u state=%s quorate=%s\n", g.guard_path, g.fence_after_ms, g.kill_grace_ms, state,
	       strstr(status, "\"quorate\":true") ? "yes" : "no");
	free(status);
	CHECK(fl_vm_release(c, "lib-vm", getpid()));
	int busy = fl_vm_acquire(c, "nosuch", getpid(), NULL, &g);
	printf("unknown=%d msg=%s (%s)\n", busy, fl_client_error(c), fl_strerror(busy));
	fl_disconnect(c);
	return 0;
}
C
# shellcheck disable=SC2086  # $flags is a list of compiler words
"${CC:-cc}" -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -o "$T/vmm" "$T/vmm.c" $flags 2> "$T/cc.err" \
    || fail "cannot build with pkg-config's flags ($flags): $(cat "$T/cc.err")"
readelf -d "$T/vmm" | grep -q "NEEDED.*\[libfencelock.so.$major\]" || fail "vmm does not need libfencelock.so.$major"
stub_start -F 3000 -K 700
export FENCELOCK_SOCKET=$SOCK
touch "$T/a.img" "$T/b.img"   # a volume must exist: its identity is read from it
expect_rc 0 env LD_LIBRARY_PATH="$lib" "$T/vmm" "$T/a.img" "$T/b.img"
v=$(sed -n 's/^#define FENCELOCK_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)$/\2/p' "$FL_ROOT/include/fencelock/fencelock.h" | paste -sd.)
grep -qx "built=$v loaded=$v" <<<"$out" || fail "version: $out"
grep -q "^guard=$T/guard/lib-vm F=3000 K=700 state=stub:held:1 quorate=yes$" <<<"$out" || fail "library output: $out"
grep -q "^unknown=-13 msg=VM nosuch is not registered; register it first (not found)$" <<<"$out" || fail "error mapping: $out"
for e in "register lib-vm volumes=2 restart=never" "release lib-vm"; do
    has_event "$e" || fail "missing event '$e': $(cat "$EVENTS")"
done
exit 0
