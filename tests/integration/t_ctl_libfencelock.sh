#!/usr/bin/env bash
# libfencelock is usable on its own: a VM manager's program built against
# include/fencelock/fencelock.h and $BUILD/libfencelock.a only (plus jansson
# and inih) registers a VM, acquires its leases for a pid, inquires the lease
# state, reads the status and releases, against a stub daemon.
source "$FL_ROOT/tests/lib/common.sh"
source "$FL_ROOT/tests/integration/ctl_lib.sh"
LIB=$FL_BUILD/libfencelock.a
[ -f "$LIB" ] || fail "$LIB not built (make BUILD=$FL_BUILD all)"
command -v "${CC:-cc}" >/dev/null || skip "no C compiler"

cat > "$T/vmm.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fencelock/fencelock.h>
#define CHECK(x) do { int rv_ = (x); if (rv_ != 0) { fprintf(stderr, "%s: %d: %s\n", #x, rv_, fl_client_error(c)); return 1; } } while (0)
int main(int argc, char **argv)
{
	struct fl_client *c = NULL;
	if (fl_connect(NULL, &c) != 0) { fprintf(stderr, "connect failed\n"); return 1; }
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
	printf("unknown=%d msg=%s\n", busy, fl_client_error(c));
	fl_disconnect(c);
	return 0;
}
C
"${CC:-cc}" -std=c11 -D_GNU_SOURCE -Wall -Werror -I"$FL_ROOT/include" -o "$T/vmm" "$T/vmm.c" "$LIB" \
    $(pkg-config --libs jansson inih) 2> "$T/cc.err" || fail "cannot build against libfencelock alone: $(cat "$T/cc.err")"
stub_start -F 3000 -K 700
export FENCELOCK_SOCKET=$SOCK
expect_rc 0 "$T/vmm" "$T/a.img" "$T/b.img"
grep -q "^guard=$T/guard/lib-vm F=3000 K=700 state=stub:held:1 quorate=yes$" <<<"$out" || fail "library output: $out"
grep -q "^unknown=-13 msg=VM nosuch is not registered; register it first$" <<<"$out" || fail "error mapping: $out"
for e in "register lib-vm volumes=2 restart=never" "release lib-vm"; do
    has_event "$e" || fail "missing event '$e': $(cat "$EVENTS")"
done
exit 0
