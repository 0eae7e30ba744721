/* errno to fencelock error codes, for fencelock's own code only: the public
 * error.h gives library users the codes and fl_strerror(); how system errors
 * map onto them is an internal matter (libfencelock does not export it). */
#ifndef FL_COMMON_ERRMAP_H
#define FL_COMMON_ERRMAP_H

#include "fencelock/error.h"

/* Maps an errno value (positive) to a -FL_E code (-FL_EIO for any errno
 * without a closer match; 0 maps to 0). */
int fl_from_errno(int err);

#endif
