#!/usr/bin/env bash
# libfencelock exports its public API and nothing else: the dynamic symbols
# nm finds defined in the built library are exactly the calls of
# include/fencelock/fencelock.h and fl_strerror of fencelock/error.h. An
# internal function (the config parser, the protocol codec, the event loop,
# fl_assert_fail...) showing up here means a missing -fvisibility=hidden or a
# stray FL_PUBLIC; a public call missing means a missing FL_PUBLIC. The public
# headers also compile on their own, as C and as C++.
source "$FL_ROOT/tests/lib/common.sh"
command -v nm >/dev/null || fail "nm missing (binutils)"
major=$(sed -n 's/^#define FENCELOCK_VERSION_MAJOR \([0-9]*\)$/\1/p' "$FL_ROOT/include/fencelock/fencelock.h")
so=$FL_BUILD/libfencelock.so.$major
[ -e "$so" ] || fail "$so not built (make BUILD=$FL_BUILD all)"

want="fl_client_error fl_client_set_timeout_ms fl_client_socket fl_connect fl_disconnect fl_request
fl_status fl_strerror fl_version fl_vm_acquire fl_vm_clear fl_vm_exited fl_vm_inquire fl_vm_register
fl_vm_register_ids fl_vm_release fl_vm_started fl_vm_unregister"
tr ' ' '\n' <<<"$want" | sort > "$T/want"
nm -D --defined-only "$so" | awk '{print $3}' | sed 's/@.*//' | sort > "$T/got"
diff -u "$T/want" "$T/got" > "$T/diff" || fail "exported symbols differ from the public API (- missing, + leaked): $(cat "$T/diff")"

# Every FL_PUBLIC declaration of the headers is in the list (and so exported).
grep -ho 'FL_PUBLIC [^(]*(' "$FL_ROOT"/include/fencelock/*.h | grep -o 'fl_[a-z_]*' | sort > "$T/declared"
diff -u "$T/want" "$T/declared" > "$T/diff2" || fail "FL_PUBLIC declarations differ from the list: $(cat "$T/diff2")"

for h in fencelock/error.h fencelock/fencelock.h; do
    printf '#include <%s>\n' "$h" > "$T/h.c"
    "${CC:-cc}" -std=c11 -Wall -Wextra -Werror -I"$FL_ROOT/include" -c -o /dev/null "$T/h.c" 2> "$T/cc.err" \
        || fail "$h does not compile alone as C: $(cat "$T/cc.err")"
    if command -v "${CXX:-c++}" >/dev/null; then
        cp "$T/h.c" "$T/h.cc"
        "${CXX:-c++}" -Wall -Wextra -Werror -I"$FL_ROOT/include" -c -o /dev/null "$T/h.cc" 2> "$T/cc.err" \
            || fail "$h does not compile alone as C++: $(cat "$T/cc.err")"
    fi
done
exit 0
