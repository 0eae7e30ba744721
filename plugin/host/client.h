/* Internal side of libfencelock for fencelock's own tools: requests and
 * replies as jansson objects instead of JSON text. */
#ifndef FL_PLUGIN_CLIENT_H
#define FL_PLUGIN_CLIENT_H

#include <jansson.h>
#include "fencelock/fencelock.h"
#include "plugin/host/ctl_proto.h"

/* Sends req (validated by ctl_req_encode) and returns the reply object in
 * *reply (new reference, also for error replies; NULL on transport errors).
 * Returns 0 if the reply says ok, else its -FL_E code or a transport error,
 * with the sentence in fl_client_error(). */
int fl_client_call(struct fl_client *c, const struct ctl_req *req, json_t **reply);

/* For the paged ops (vms, leases): asks page after page, from req->after,
 * and returns in *reply the first page's reply with every page's list
 * appended to its own ("vms" or "leases") and "next" null. Pages are read
 * from different moments, in uid order: a VM registered or removed in
 * between may be missing or listed, none twice. Returns as fl_client_call. */
int fl_client_call_all(struct fl_client *c, const struct ctl_req *req, json_t **reply);

#endif
