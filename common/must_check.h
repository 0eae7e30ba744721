/* FL_MUST_CHECK marks a function whose result reports a failure the caller
 * must act on (an -FL_E* code, or a result that is meaningless unless
 * looked at): the compiler warns, and -Werror fails the build, where a call
 * drops it. Ignoring one on purpose takes a comment saying why; gcc does not
 * take a (void) cast as an answer, so such a call assigns the result and
 * says why it may be dropped. */
#ifndef FL_MUST_CHECK_H
#define FL_MUST_CHECK_H

#define FL_MUST_CHECK __attribute__((warn_unused_result))

#endif
