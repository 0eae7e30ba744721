/* `fencelock host add|remove|forget` and `fencelock vm inquire|release|unregister|clear`:
 * the administrative control ops. Membership changes go to the daemon, which
 * commits them through Raft (one server at a time); the VM commands let an
 * operator clean up after a VM manager that died without releasing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/assert.h"
#include "plugin/cli/cli.h"
#include "plugin/cli/cmd_ops.h"
#include "plugin/host/client.h"

static void admin_usage(FILE *f)
{
	fprintf(f,
		"usage: fencelock [-s SOCKET] host add ID NAME IPV4:PORT\n"
		"       fencelock [-s SOCKET] host remove ID\n"
		"       fencelock [-s SOCKET] host forget ID\n"
		"       fencelock [-s SOCKET] vm inquire|release|unregister|clear UID\n"
		"\n"
		"  host add      add a member (a Raft membership change; needs the leader)\n"
		"  host remove   remove a member (its VMs must have moved away); a removed host that\n"
		"                still runs is told, releases its delta lease and exits 4\n"
		"  host forget   drop a removed (LEFT) host's row from hosts, status and quorum\n"
		"  vm inquire    print the VM's opaque lease state (for a migration hand-off)\n"
		"  vm release    release the VM's volume leases on this host\n"
		"  vm unregister remove the VM from the cluster's registry\n"
		"  vm clear      clear the VM's FAILED mark (every eligible host failed to start\n"
		"                it): the cluster places it again\n"
		"\n%s",
		fl_cli_exit_codes_text);
}

static int parse_host_id(const char *s, uint32_t *id)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v < 1 || v > 2000)
		return -1;
	*id = (uint32_t)v;
	return 0;
}

/* Builds the request from argv; returns 0, or -1 on a usage error. */
static int admin_request(int argc, char **argv, struct ctl_req *req)
{
	memset(req, 0, sizeof(*req));
	if (argc < 3)
		return -1;
	const char *group = argv[0], *verb = argv[1];
	if (strcmp(group, "host") == 0) {
		if (strcmp(verb, "add") == 0 && argc == 5 && parse_host_id(argv[2], &req->host_id) == 0) {
			req->op = CTL_OP_HOST_ADD;
			req->host_name = argv[3];
			req->host_addr = argv[4];
			return 0;
		}
		if (strcmp(verb, "remove") == 0 && argc == 3 && parse_host_id(argv[2], &req->host_id) == 0) {
			req->op = CTL_OP_HOST_REMOVE;
			return 0;
		}
		if (strcmp(verb, "forget") == 0 && argc == 3 && parse_host_id(argv[2], &req->host_id) == 0) {
			req->op = CTL_OP_HOST_FORGET;
			return 0;
		}
		return -1;
	}
	FL_ASSERT(strcmp(group, "vm") == 0);
	if (argc != 3)
		return -1;
	req->uid = argv[2];
	if (strcmp(verb, "inquire") == 0)
		req->op = CTL_OP_VM_INQUIRE;
	else if (strcmp(verb, "release") == 0)
		req->op = CTL_OP_VM_RELEASE;
	else if (strcmp(verb, "unregister") == 0)
		req->op = CTL_OP_VM_UNREGISTER;
	else if (strcmp(verb, "clear") == 0)
		req->op = CTL_OP_VM_CLEAR;
	else
		return -1;
	return 0;
}

static void admin_report(const struct ctl_req *req, json_t *reply)
{
	switch (req->op) {
	case CTL_OP_HOST_ADD:
		printf("host %u (%s, %s) added\n", req->host_id, req->host_name, req->host_addr);
		break;
	case CTL_OP_HOST_REMOVE:
		printf("host %u removed\n", req->host_id);
		break;
	case CTL_OP_HOST_FORGET:
		printf("host %u forgotten\n", req->host_id);
		break;
	case CTL_OP_VM_INQUIRE: {
		const char *st = json_string_value(json_object_get(reply, "state"));
		printf("%s\n", st != NULL ? st : "");
		break;
	}
	case CTL_OP_VM_RELEASE:
		printf("leases of VM %s released\n", req->uid);
		break;
	case CTL_OP_VM_CLEAR:
		printf("VM %s cleared: it will be placed again\n", req->uid);
		break;
	default:
		printf("VM %s unregistered\n", req->uid);
		break;
	}
}

int fl_cli_admin(int argc, char **argv)
{
	FL_ASSERT(argc >= 1);
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		admin_usage(stdout);
		return FL_EXIT_OK;
	}
	struct ctl_req req;
	if (admin_request(argc, argv, &req) != 0) {
		admin_usage(stderr);
		return FL_EXIT_USAGE;
	}
	struct fl_client *c;
	int rv = fl_connect(NULL, &c);
	if (rv != 0) {
		const char *path = getenv(FL_SOCKET_ENV);
		fprintf(stderr, "fencelock %s: fencelockd unreachable at %s: %s; is it running?\n", argv[0],
			path != NULL ? path : FL_DEFAULT_SOCKET, fl_strerror(rv));
		return fl_cli_exit_connect(rv);
	}
	json_t *reply;
	rv = fl_client_call(c, &req, &reply);
	if (rv == 0)
		admin_report(&req, reply);
	else
		fprintf(stderr, "fencelock %s %s: %s\n", argv[0], argv[1], fl_client_error(c));
	json_decref(reply);
	fl_disconnect(c);
	return fl_cli_exit_for(rv);
}
