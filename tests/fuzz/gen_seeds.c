/* Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/)
 * with the real encoders: Raft messages of every type, control requests of
 * every op, fsm commands of every type and a snapshot, on-disk records of
 * every kind, layout headers, configuration files and VM descriptions. Each
 * file starts with the mode byte its target reads (see each fuzz_*.c).
 *
 *   build-fuzz/fuzz/gen-seeds tests/fuzz/corpus
 *
 * Seeds make the fuzzer start from valid inputs, past the magic numbers,
 * lengths and checksums a mutation rarely gets right. The scenario targets
 * (paxos, lockspace, voter_store) build their valid state themselves through
 * the real code and read the input as a script; their seeds are short
 * scripts written here as byte strings. */
#include <errno.h>
#include <jansson.h>
#include <sys/stat.h>
#include "common/crc32c.h"
#include "common/le.h"
#include "disklock/layout.h"
#include "disklock/lockspace.h"
#include "disklock/mailbox.h"
#include "disklock/ondisk.h"
#include "fencelock/error.h"
#include "plugin/host/ctl_proto.h"
#include "plugin/model/fsm.h"
#include "raft/msg.h"
#include "raft/raft.h"
#include "raft/tcp_auth.h"
#include "raft/transport.h"
#include "tests/fuzz/fuzz.h"
#include "tests/unit/model/fsm_v3_fixture.h"

static const char *g_root;

/* Writes mode byte + body as <root>/<target>/<name>. */
static void seed(const char *target, const char *name, int mode, const void *body, size_t len)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", g_root, target);
	if (mkdir(path, 0755) != 0 && errno != EEXIST) {
		perror(path);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/%s/%s", g_root, target, name);
	FILE *f = fopen(path, "wb");
	if (f == NULL) {
		perror(path);
		exit(1);
	}
	if (mode >= 0)
		fputc(mode, f);
	if (len > 0 && fwrite(body, 1, len, f) != len) {
		perror(path);
		exit(1);
	}
	fclose(f);
}

/* ---- raft messages ---- */

static void raft_seed(const char *name, const struct raft_msg *m)
{
	uint8_t buf[4096];
	int n = raft_msg_encode(m, buf, sizeof(buf));
	FUZZ_CHECK(n > 0, "encoding seed %s failed", name);
	seed("raft_msg", name, -1, buf, (size_t)n);
}

static void raft_seeds(void)
{
	static uint8_t cmd[] = "a command";
	struct raft_config cfg = {.n = 3, .servers = {{1, RAFT_VOTER}, {2, RAFT_VOTER}, {2000, RAFT_LEARNER}}};
	uint8_t cbuf[64];
	int cn = raft_config_encode(&cfg, cbuf, sizeof(cbuf));
	FUZZ_CHECK(cn > 0, "config encode failed");
	seed("raft_msg", "config", -1, cbuf, (size_t)cn);
	struct raft_entry ents[3] = {
		{.term = 2, .index = 7, .type = RAFT_ENTRY_NORMAL, .len = sizeof(cmd), .data = cmd},
		{.term = 2, .index = 8, .type = RAFT_ENTRY_CONFIG, .len = (uint32_t)cn, .data = cbuf},
		{.term = 3, .index = 9, .type = RAFT_ENTRY_NOOP, .len = 0, .data = NULL},
	};
	struct raft_msg m = {.type = RAFT_MSG_APPEND, .from = 1, .to = 2, .term = 3};
	m.append = (struct raft_msg_append){.prev_index = 6, .prev_term = 2, .commit = 6, .lease_ctx = 11,
					    .n_entries = 3, .entries = ents};
	raft_seed("append", &m);
	m.append.n_entries = 0;
	m.append.entries = NULL;
	raft_seed("heartbeat", &m);
	m = (struct raft_msg){.type = RAFT_MSG_APPEND_RESP, .from = 2, .to = 1, .term = 3};
	m.append_resp = (struct raft_msg_append_resp){.success = 1, .match_index = 9, .last_index = 9, .lease_ctx = 11};
	raft_seed("append_resp", &m);
	m = (struct raft_msg){.type = RAFT_MSG_VOTE, .from = 1, .to = 2, .term = 4};
	m.vote = (struct raft_msg_vote){.pre = 1, .last_index = 9, .last_term = 3};
	raft_seed("prevote", &m);
	m = (struct raft_msg){.type = RAFT_MSG_VOTE_RESP, .from = 2, .to = 1, .term = 4};
	m.vote_resp = (struct raft_msg_vote_resp){.pre = 0, .granted = 1};
	raft_seed("vote_resp", &m);
	m = (struct raft_msg){.type = RAFT_MSG_SNAPSHOT, .from = 1, .to = 3, .term = 4};
	m.snapshot.index = 9;
	m.snapshot.snap_term = 3;
	m.snapshot.config = cfg;
	m.snapshot.len = sizeof(cmd);
	m.snapshot.data = cmd;
	raft_seed("snapshot", &m);
	m = (struct raft_msg){.type = RAFT_MSG_TIMEOUT_NOW, .from = 1, .to = 2, .term = 4};
	raft_seed("timeout_now", &m);
}

/* ---- control requests ---- */

static void ctl_seeds(void)
{
	struct ctl_req reqs[] = {
		{.op = CTL_OP_STATUS},
		{.op = CTL_OP_VMS},
		{.op = CTL_OP_VM_REGISTER, .uid = "vm-1", .n_volumes = 2,
		 .volumes = {{.path = "/dev/mapper/vm1-root", .id = "dm:LVM-AbCd"},
			     {.path = "/var/lib/vm1/seed.img", .id = "file:fsid=00000001deadbeef:/var/lib/vm1/seed.img",
			      .ro = true}},
		 .spec = "{\"uid\":\"vm-1\"}", .restart = FL_RESTART_NEVER},
		{.op = CTL_OP_VM_UNREGISTER, .uid = "vm-1"},
		{.op = CTL_OP_VM_ACQUIRE, .uid = "vm-1", .pid = 4242, .state = "fl1:7:2:3:demo:slot-0"},
		{.op = CTL_OP_VM_RELEASE, .uid = "vm-1"},
		{.op = CTL_OP_VM_INQUIRE, .uid = "vm-1"},
		{.op = CTL_OP_VM_STARTED, .uid = "vm-1", .pid = 4242},
		{.op = CTL_OP_VM_EXITED, .uid = "vm-1", .pid = 4242, .exit_code = -1, .exit_signal = 9},
		{.op = CTL_OP_VM_EXITED, .uid = "vm-1", .pid = 4242, .exit_code = 3},
		{.op = CTL_OP_HOST_ADD, .host_id = 4, .host_name = "h4", .host_addr = "198.18.0.4:7404"},
		{.op = CTL_OP_HOST_REMOVE, .host_id = 4},
	};
	uint8_t *stream = NULL;
	size_t stream_len = 0;
	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		json_t *o = NULL;
		char err[CTL_ERR_MAX];
		FUZZ_CHECK(ctl_req_encode(&reqs[i], &o, err, sizeof(err)) == 0, "ctl seed %zu: %s", i, err);
		char *body = json_dumps(o, JSON_COMPACT);
		char name[64];
		snprintf(name, sizeof(name), "body-%02zu-%s", i, ctl_op_name(reqs[i].op));
		seed("ctl_proto", name, 1, body, strlen(body));
		free(body);
		uint8_t *frame;
		size_t len;
		FUZZ_CHECK(ctl_frame_pack(o, CTL_MSG_MAX_BYTES, &frame, &len) == 0, "pack failed");
		stream = realloc(stream, stream_len + len);
		memcpy(stream + stream_len, frame, len);
		stream_len += len;
		free(frame);
		json_decref(o);
	}
	seed("ctl_proto", "stream-every-op", 0, stream, stream_len);
	json_t *e = ctl_resp_error(-FL_EBUSY, "busy");
	char *body = json_dumps(e, JSON_COMPACT);
	seed("ctl_proto", "response-error", 1, body, strlen(body));
	free(body);
	json_decref(e);
	free(stream);
}

/* ---- fsm ---- */

static size_t fsm_seed_cmd(struct fsm_cmd *c, uint8_t *buf, size_t cap)
{
	size_t len = 0;
	FUZZ_CHECK(fsm_cmd_encode(c, buf, cap, &len) == 0, "fsm seed %s does not encode", fsm_cmd_type_name(c->type));
	return len;
}

/* One command of every type, in an order that applies. */
static uint32_t fsm_cmds(struct fsm_cmd *c)
{
	uint32_t n = 0;
	for (uint32_t h = 1; h <= 2; h++) {
		c[n] = (struct fsm_cmd){.type = FSM_CMD_HOST_ADD, .host_id = h, .role = FSM_ROLE_VOTER};
		snprintf(c[n].name, sizeof(c[n].name), "h%u", h);
		snprintf(c[n++].addr, sizeof(c[0].addr), "198.18.0.%u:7000", h);
	}
	c[n] = (struct fsm_cmd){.type = FSM_CMD_HOST_RENAME, .host_id = 2};
	snprintf(c[n++].name, sizeof(c[0].name), "h2b");
	c[n] = (struct fsm_cmd){.type = FSM_CMD_VM_REGISTER, .restart = FSM_RESTART_ALWAYS, .nvol = 2,
				.spec = (const uint8_t *)"spec", .spec_len = 4};
	snprintf(c[n].uid, sizeof(c[0].uid), "vm0");
	snprintf(c[n].vol[0].path, sizeof(c[0].vol[0].path), "/dev/v0");
	snprintf(c[n].vol[0].id, sizeof(c[0].vol[0].id), "id:v0");
	snprintf(c[n].vol[1].id, sizeof(c[0].vol[1].id), "id:v1");
	snprintf(c[n++].vol[1].path, sizeof(c[0].vol[1].path), "/dev/v1");
	c[n] = (struct fsm_cmd){.type = FSM_CMD_SLOT_ALLOC, .slot = FSM_SLOT_ANY};
	snprintf(c[n].uid, sizeof(c[0].uid), "vm0");
	snprintf(c[n++].volid, sizeof(c[0].volid), "id:v0");
	c[n] = (struct fsm_cmd){.type = FSM_CMD_VM_PLACE, .host_id = 1};
	snprintf(c[n++].uid, sizeof(c[0].uid), "vm0");
	c[n] = (struct fsm_cmd){.type = FSM_CMD_VM_REPORT, .host_id = 1, .incarnation = 1, .running = 1};
	snprintf(c[n++].uid, sizeof(c[0].uid), "vm0");
	c[n++] = (struct fsm_cmd){.type = FSM_CMD_FENCE_REQUEST, .host_id = 2, .reason = FSM_FENCE_PARTITIONED};
	c[n++] = (struct fsm_cmd){.type = FSM_CMD_FENCE_ACK, .host_id = 2, .fence_index = 8};
	c[n++] = (struct fsm_cmd){.type = FSM_CMD_FENCE_CLEAR, .host_id = 2};
	c[n++] = (struct fsm_cmd){.type = FSM_CMD_QUARANTINE_SET, .host_id = 2, .until_us = 5000000};
	c[n++] = (struct fsm_cmd){.type = FSM_CMD_QUARANTINE_CLEAR, .host_id = 2};
	c[n++] = (struct fsm_cmd){.type = FSM_CMD_SLOT_FREE, .slot = 0};
	c[n] = (struct fsm_cmd){.type = FSM_CMD_VM_UNREGISTER};
	snprintf(c[n++].uid, sizeof(c[0].uid), "vm0");
	c[n++] = (struct fsm_cmd){.type = FSM_CMD_HOST_REMOVE, .host_id = 2};
	c[n++] = (struct fsm_cmd){.type = FSM_CMD_NOTE, .flag = FSM_NOTE_LEADER};
	c[n++] = (struct fsm_cmd){.type = FSM_CMD_NOTE, .flag = FSM_NOTE_HOST_STATE, .host_id = 1,
				  .reason = FSM_CAUSE_DEAD};
	c[n++] = (struct fsm_cmd){.type = FSM_CMD_NOTE, .flag = FSM_NOTE_VOTER, .host_id = 1};
	for (uint32_t i = 0; i < n; i++) {
		c[i].stamp_us = 1000000u * (i + 1);
		c[i].origin = (struct fsm_origin){.wall_us = 1780000000000000ull + c[i].stamp_us, .leader = 1,
						  .by_host = 1, .cause = FSM_CAUSE_OPERATOR, .by_op = i % 2 == 0,
						  .by_uid = 1000};
	}
	return n;
}

static void fsm_seeds(void)
{
	static struct fsm_cmd c[32];
	static uint8_t buf[FSM_CMD_MAX_BYTES], raw[64 * 1024];
	uint32_t n = fsm_cmds(c);
	size_t raw_len = 0;
	struct fsm f;
	struct fsm_limits lim = {FUZZ_FSM_MAX_HOSTS, FUZZ_FSM_MAX_VMS, FUZZ_FSM_MAX_SLOTS, FUZZ_FSM_SPEC_MAX};
	FUZZ_CHECK(fsm_init(&f, &lim) == 0, "fsm_init failed");
	static uint8_t snap_at_7[4096];
	size_t snap_len = 0;
	for (uint32_t i = 0; i < n; i++) {
		size_t len = fsm_seed_cmd(&c[i], buf, sizeof(buf));
		char name[64];
		snprintf(name, sizeof(name), "cmd-%02u-%s", i, fsm_cmd_type_name(c[i].type));
		seed("fsm", name, 0, buf, len);
		fl_put_le16(raw + raw_len, (uint16_t)len);
		memcpy(raw + raw_len + 2, buf, len);
		raw_len += 2 + len;
		/* A deterministic rejection is a seed as good as an applied command. */
		if (fsm_apply(&f, i + 1, 1, buf, len) != 0)
			fprintf(stderr, "gen-seeds: fsm command %u (%s) rejected\n", i, fsm_cmd_type_name(c[i].type));
		if (i == 7)
			FUZZ_CHECK(fsm_snapshot(&f, snap_at_7 + 2, sizeof(snap_at_7) - 2, &snap_len) == 0, "snapshot failed");
	}
	seed("fsm", "raw-sequence", 3, raw, raw_len);
	fl_put_le16(snap_at_7, (uint16_t)snap_len);
	/* A snapshot, then generated commands (mode 2's tail). */
	memcpy(snap_at_7 + 2 + snap_len, "\x01\x05\x02\x00\x00\x00\x00\x01\x03", 9);
	seed("fsm", "snapshot-then-commands", 2, snap_at_7, 2 + snap_len + 9);
	static const uint8_t gen[] = {4, 1, 1, 1, 1, 0, 0, 1, 1, 2, 1, 1, 0, 0, 0, 0, 0, 5, 3, 0, 0, 2, 2, 1, 1,
				      5, 1, 0, 2, 6, 3, 1, 1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 255, 0, 1, 1, 1, 0, 0};
	seed("fsm", "generated", 1, gen, sizeof(gen));
	/* A version 3 snapshot (before the event history), written by that code. */
	static uint8_t v3[2 + sizeof(k_v3_snapshot) + 9];
	fl_put_le16(v3, (uint16_t)sizeof(k_v3_snapshot));
	memcpy(v3 + 2, k_v3_snapshot, sizeof(k_v3_snapshot));
	memcpy(v3 + 2 + sizeof(k_v3_snapshot), "\x01\x05\x02\x00\x00\x00\x00\x01\x03", 9);
	seed("fsm", "snapshot-v3-then-commands", 2, v3, sizeof(v3));
	fsm_free(&f);
}

/* ---- on-disk records ---- */

static void ondisk_seeds(void)
{
	for (uint32_t ss = 512; ss <= 4096; ss *= 8) {
		int m4 = ss == 4096 ? 4 : 0;
		uint8_t *s = calloc(1, ss);
		char name[64];
		struct fl_leader l;
		ls_record_init_ms(&l, "fuzzls", ss, 1u << 20, 1000);
		l.owner_id = 3;
		l.owner_generation = 2;
		l.timestamp = 1234;
		ls_record_encode_sector(&l, s, ss);
		snprintf(name, sizeof(name), "delta-held-%u", ss);
		seed("ondisk", name, m4, s, ss);
		l.timestamp = 0;
		ls_record_encode_sector(&l, s, ss);
		snprintf(name, sizeof(name), "delta-free-%u", ss);
		seed("ondisk", name, m4, s, ss);
		memset(s, 0, ss);
		struct fl_leader p = {.magic = FL_PAXOS_MAGIC, .version = FL_PAXOS_VERSION, .sector_size = ss,
				      .num_hosts = 4, .max_hosts = 2000, .owner_id = 2, .owner_generation = 5,
				      .lver = 9, .timestamp = 77};
		if (fl_name_set(p.space_name, "fuzzls") != 0 || fl_name_set(p.resource_name, "slot-0") != 0)
			abort();
		fl_leader_encode(&p, s);
		snprintf(name, sizeof(name), "paxos-leader-%u", ss);
		seed("ondisk", name, m4, s, ss);
		memset(s, 0, ss);
		struct fl_dblock d = {.mbal = 2002, .bal = 2002, .inp = 2, .inp2 = 5, .inp3 = 99, .lver = 9};
		fl_dblock_encode(&d, s);
		struct fl_mode_block mb = {.flags = FL_MODE_SHARED, .generation = 5};
		fl_mode_encode(&mb, s + FL_MODE_OFFSET);
		snprintf(name, sizeof(name), "dblock-mode-%u", ss);
		seed("ondisk", name, m4, s, ss);
		memset(s, 0, ss);
		struct fl_request r = {.magic = FL_REQUEST_MAGIC, .version = FL_REQUEST_VERSION, .lver = 9};
		fl_request_encode(&r, s);
		snprintf(name, sizeof(name), "request-%u", ss);
		seed("ondisk", name, m4, s, ss);
		struct mb_record rec = {.magic = MB_REQ_MAGIC, .kind = MB_FENCE, .from = 1, .to = 2, .seq = 3, .time_s = 50};
		mb_record_encode(&rec, s, ss);
		snprintf(name, sizeof(name), "mailbox-request-%u", ss);
		seed("ondisk", name, m4, s, ss);
		free(s);
	}
	/* A whole mailbox of host 2 with max_hosts 2 (5 sectors): status, a
	 * pending fence from host 1, an old ack. Mode byte 8; then max_hosts - 1
	 * and owner - 1. */
	uint8_t box[2 + 5 * 512] = {1, 1};
	struct mb_record st = {.magic = MB_STATUS_MAGIC, .kind = MB_RUNNING, .from = 2, .to = 2};
	mb_record_encode(&st, box + 2, 512);
	struct mb_record rq = {.magic = MB_REQ_MAGIC, .kind = MB_FENCE, .from = 1, .to = 2, .seq = 4};
	mb_record_encode(&rq, box + 2 + 512, 512);
	struct mb_record ak = {.magic = MB_ACK_MAGIC, .kind = MB_FENCED, .from = 2, .to = 1, .seq = 3};
	mb_record_encode(&ak, box + 2 + 3 * 512, 512);
	seed("ondisk", "mailbox-box", 8, box, sizeof(box));
}

/* ---- layout ---- */

static void layout_seeds(void)
{
	struct lay_params p = {.cluster = "demo", .io_timeout_ms = 1000, .max_hosts = 64, .volume_slots = 128,
			       .sector_size = 512};
	memset(p.uuid, 0xab, sizeof(p.uuid));
	for (int k = 0; k < 2; k++) {
		struct lay_layout l;
		char err[128];
		FUZZ_CHECK(lay_compute(&p, &l, err, sizeof(err)) == 0, "%s", err);
		uint8_t s[512 + 64];
		lay_header_encode(&l, s, 512);
		/* Then lay_compute parameters: name length, name, T, hosts, slots, sector size. */
		uint8_t *q = s + 512;
		*q++ = 4;
		memcpy(q, "demo", 4);
		q += 4;
		fl_put_le16(q, 1), q += 2;
		fl_put_le16(q, 64), q += 2;
		fl_put_le32(q, 128), q += 4;
		*q++ = (uint8_t)k;
		memset(q, 0xcd, 16), q += 16;
		fl_put_le32(q, 8u << 20), q += 4;
		*q++ = 0;
		*q++ = 1;
		seed("layout", k ? "header-4k" : "header-512", k ? 4 : 0, s, (size_t)(q - s));
		p.sector_size = 4096;
		p.max_hosts = 250;
	}
	struct lay_voter_header v = {.term = 3, .vote = 2000, .ring_offset = 1024, .ring_bytes = 4u << 20,
				     .snap_offset = 4u << 20, .snap_bytes = 4u << 20};
	uint8_t s[512];
	lay_voter_encode(&v, s, 512);
	seed("layout", "voter-header", 0, s, 512);
}

/* ---- text inputs ---- */

static void text_seed(const char *target, const char *name, int mode, const char *text)
{
	seed(target, name, mode, text, strlen(text));
}

static void config_seeds(void)
{
	text_seed("config", "example", -1,
		  "[cluster]\nname = demo\ndevice = /dev/disk/by-id/wwn-0x5000\nio_timeout = 1\n"
		  "partition_tolerance = 10\n[host]\nid = 1\nname = h1\nlisten = 198.18.0.1:7401\n"
		  "control_socket = /run/fencelock/h1.sock\nstate_dir = /var/lib/fencelock/h1\n"
		  "recover_command = /usr/libexec/fencelock/recover\n[peers]\n1 = 198.18.0.1:7401\n"
		  "2 = 198.18.0.2:7401\n3 = 198.18.0.3:7401\n");
	text_seed("config", "every-key", -1,
		  "[cluster]\nname = c1\ndevice = /dev/sdb\nio_timeout = 2000ms\npartition_tolerance = 20s\n"
		  "[host]\nid = 2\nname = h2\nlisten = 198.18.0.2:7402\ncontrol_socket = /run/fl.sock\n"
		  "control_group = root\nstate_dir = /var/lib/fl\nrun_dir = /run/fl\nkill_path = /usr/bin/kill-vm\n"
		  "vm_kill_grace = 500ms\nwatchdog = off\nlog_level = debug\nmetrics_file = /var/lib/node/fl.prom\n");
	text_seed("config", "duration", -1, "1500ms\n");
	text_seed("config", "address", -1, "198.18.0.9:65535\n");
}

static void vmspec_seeds(void)
{
	text_seed("vmspec", "firecracker-config", 0,
		  "{\"boot-source\":{\"kernel_image_path\":\"/k\"},\"drives\":[{\"drive_id\":\"root\","
		  "\"path_on_host\":\"/dev/mapper/vm1-root\",\"is_root_device\":true,\"is_read_only\":false},"
		  "{\"drive_id\":\"ci\",\"path_on_host\":\"ci.img\",\"is_read_only\":true},"
		  "{\"drive_id\":\"vu\",\"socket\":\"/run/vhost.sock\"}]}");
	static const char fc_args[] = "--id\0vm-1\0--config-file\0x.json\1"
				      "{\"drives\":[{\"drive_id\":\"r\",\"path_on_host\":\"/dev/v1\",\"is_read_only\":false}]}";
	seed("vmspec", "firecracker-args", 1, fc_args, sizeof(fc_args) - 1);
	static const char ch_args[] = "--kernel\0/k\0--disk\0path=/dev/v1,readonly=off\0path=/dev/v2,readonly=on"
				      "\0--disk=path=rel.img,direct=on";
	seed("vmspec", "ch-args", 2, ch_args, sizeof(ch_args) - 1);
	static const char ch_disks[] = "path=/dev/v1,readonly=true\0vhost_user=true,socket=/s\0path=/dev/v1";
	seed("vmspec", "ch-disks", 3, ch_disks, sizeof(ch_disks) - 1);
	static const char vols[] = "/dev/v1:ro\0/dev/v2:rw\0rel/img\0/dev/v1\0/dev/v3:id=san-7:ro";
	seed("vmspec", "volume-args", 4, vols, sizeof(vols) - 1);
	text_seed("vmspec", "rerun-spec", 5,
		  "{\"uid\":\"vm-42\",\"wrapper\":\"fencelock exec\",\"mode\":\"firecracker\",\"argv\":"
		  "[\"/usr/bin/firecracker\",\"--id\",\"vm-42\",\"--config-file\",\"c.json\"],\"cwd\":\"/var/lib/vm\","
		  "\"restart\":\"on-failure\",\"volumes\":[{\"path\":\"/dev/mapper/vm42-root\",\"ro\":false},"
		  "{\"path\":\"/srv/ci.img\",\"ro\":true,\"id\":\"ci-image\"}]}");
}

/* QEMU command lines as the test guest, libvirt and Flintlock-style
 * wrappers write them (mode 0 argv, 1 -drive values, 2 -blockdev values). */
static void vmspec_qemu_seeds(void)
{
	static const char args[] =
		"-name\0guest=vm-7,debug-threads=on\0-uuid\0" "5b1f8a9e-0c3d-4b8e-9f00-123456789abc\0-M\0pc\0-accel\0tcg"
		"\0-drive\0id=d0,file=/srv/a,,b.img,format=raw,if=none,cache=none,aio=native,file.locking=off"
		"\0-device\0virtio-blk-pci,drive=d0\0-drive\0file=/srv/seed.iso,media=cdrom\0-hda\0/srv/hda.img"
		"\0-cdrom\0/srv/i.iso\0-append\0console=ttyS0 fl.fs=1\0-snapshot";
	seed("vmspec_qemu", "argv", 0, args, sizeof(args) - 1);
	static const char drives[] = "file=/srv/ro.img,readonly=on,if=virtio\0if=none,id=empty\0file=file:/srv/p.img"
				     "\0file=nbd:192.0.2.1:10809\0file=json:{\"driver\":\"file\",,\"filename\":\"/v/j\"}"
				     "\0file.driver=host_device,file.filename=/dev/sdb,read-only=off";
	seed("vmspec_qemu", "drives", 1, drives, sizeof(drives) - 1);
	static const char blockdevs[] =
		"driver=file,node-name=f0,filename=/dev/mapper/mpatha,cache.direct=on\0driver=raw,node-name=r0,file=f0"
		"\0driver=qcow2,node-name=q1,read-only=on,file.driver=file,file.filename=/srv/base.qcow2"
		"\0{\"driver\":\"raw\",\"file\":{\"driver\":\"host_device\",\"filename\":\"/dev/sdc\",\"read-only\":true}}"
		"\0driver=nbd,server.type=inet,server.host=192.0.2.1,node-name=n0";
	seed("vmspec_qemu", "blockdevs", 2, blockdevs, sizeof(blockdevs) - 1);
}


/* ---- the Raft TCP transport: frames as transport.h describes them ---- */

static size_t tcp_frame(uint8_t *out, uint64_t from, uint64_t to, const uint8_t *payload, uint32_t len)
{
	static const uint8_t uuid[16] = {0xfe, 0x1c, 0x10, 0xc4, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
	fl_put_le32(out, RAFT_TCP_MAGIC);
	fl_put_le16(out + 4, RAFT_TCP_VERSION);
	fl_put_le16(out + 6, RAFT_TCP_FRAME_HEADER_BYTES);
	memcpy(out + 8, uuid, sizeof(uuid));
	fl_put_le64(out + 24, from);
	fl_put_le64(out + 32, to);
	fl_put_le32(out + 40, len);
	memcpy(out + RAFT_TCP_FRAME_HEADER_BYTES, payload, len);
	fl_put_le32(out + 44, ~fl_crc32c(fl_crc32c(~0u, out, 44), payload, len));
	return RAFT_TCP_FRAME_HEADER_BYTES + len;
}

static void tcp_seeds(void)
{
	static uint8_t stream[8192];
	struct raft_msg m = {.type = RAFT_MSG_VOTE, .from = 2, .to = 1, .term = 4};
	m.vote = (struct raft_msg_vote){.pre = 1, .last_index = 9, .last_term = 3};
	uint8_t p[256];
	int n = raft_msg_encode(&m, p, sizeof(p));
	FUZZ_CHECK(n > 0, "encode failed");
	size_t off = tcp_frame(stream, 2, 1, p, (uint32_t)n);
	m = (struct raft_msg){.type = RAFT_MSG_APPEND, .from = 2, .to = 1, .term = 4};
	n = raft_msg_encode(&m, p, sizeof(p));
	off += tcp_frame(stream + off, 2, 1, p, (uint32_t)n);
	seed("raft_tcp", "two-frames", 0, stream, off);
	off = tcp_frame(stream, 3, 1, p, (uint32_t)n);
	off += tcp_frame(stream + off, 2, 1, p, (uint32_t)n); /* sender changes: dropped */
	seed("raft_tcp", "sender-changes", 0, stream, off);
	/* Mode 1 descriptors: flags, u16 length, payload. */
	static const uint8_t d[] = {0x00, 8, 0, 'F', 'L', 'R', 'M', 1, 6, 2, 0, 0x20, 4, 0, 1, 2, 3, 4, 0x01, 0, 0};
	seed("raft_tcp", "descriptors", 1, d, sizeof(d));
}

/* ---- scenario targets: byte scripts (see each target's header) ---- */

static void scenario_seeds(void)
{
	/* voter_store: steps, then (op, args...) per step, then damage. */
	static const uint8_t vs1[] = {12, 0, 3, 1, 0, 40, 1, 2, 0, 1, 10, 1, 4, 0, 0, 8, 0, 0, 16, 3,
				      2, 30, 1, 3, 9, 2, 1, 0, 0, 2, 1, 3, 0, 5, 0, 2, 1, 0, 0, 50, 0, 0};
	seed("voter_store", "workload-no-damage", -1, vs1, sizeof(vs1));
	static const uint8_t vs2[] = {6, 0, 2, 0, 0, 10, 1, 20, 0, 30, 2, 1, 1, 3, 1, 0, 12, 2,
				      2, 0, 0, 120, 0, 4, 1, 7, 0, 24, 0, 2, 1, 1, 1, 1};
	seed("voter_store", "workload-meta-damage", -1, vs2, sizeof(vs2));
	static const uint8_t vs3[] = {30, 0, 3, 0, 0, 90, 1, 90, 0, 90, 0, 3, 0, 0, 90, 1, 90, 0, 90, 3,
				      3, 0, 0, 90, 1, 90, 0, 90, 3, 1, 3, 0, 0, 90, 1, 90, 0, 90, 1, 1};
	seed("voter_store", "ring-wraps", -1, vs3, sizeof(vs3));
	/* paxos: hosts, seed, holder, history..., holder shared, gen, damage..., A. */
	static const uint8_t px1[] = {2, 1, 1, 2, 0, 0, 1, 0, 0, 1, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0};
	seed("paxos", "two-hosts", -1, px1, sizeof(px1));
	static const uint8_t px2[] = {5, 7, 3, 4, 1, 0, 1, 2, 0, 0, 4, 1, 0, 1, 1, 1, 2, 9, 40, 0, 5, 10,
				      3, 2, 9, 1, 0, 2, 1, 2, 6, 1, 13, 0, 2, 0, 1, 0, 1, 5};
	seed("paxos", "torn-leader-plausible-dblocks", -1, px2, sizeof(px2));
	static const uint8_t px3[] = {6, 3, 5, 3, 2, 1, 1, 3, 1, 0, 1, 0, 1, 1, 12, 3, 0, 1, 2, 1, 4,
				      9, 0, 0, 2, 1, 6, 1, 0, 0, 3, 3, 0, 0, 5, 0, 1, 1, 2, 3};
	seed("paxos", "shared-holder", -1, px3, sizeof(px3));
	/* lockspace: seed, X, T(H), T(A), options, others..., faults, time, flip. */
	static const uint8_t ls1[] = {1, 2, 0, 0, 1, 0, 0, 5, 0};
	seed("lockspace", "contender-waits", -1, ls1, sizeof(ls1));
	static const uint8_t ls2[] = {3, 4, 1, 2, 15, 3, 2, 0, 1, 2, 5, 9, 1, 1, 0, 3, 7, 4, 0, 9, 2, 1, 20, 3, 4, 8};
	seed("lockspace", "stale-owner-repair-flip", -1, ls2, sizeof(ls2));
	static const uint8_t ls3[] = {9, 0, 2, 0, 3, 4, 1, 1, 0, 1, 3, 6, 0, 2, 2, 0, 1, 0, 1, 30};
	seed("lockspace", "holder-io-errors", -1, ls3, sizeof(ls3));
}

/* ---- the handshake: real HELLO, REPLY and FINISH (raft/tcp_auth.h) ---- */

static void handshake_seeds(void)
{
	static const uint8_t uuid[16] = {0xfe, 0x1c, 0x10, 0xc4, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
	FUZZ_CHECK(ta_init() == 0, "libsodium init failed");
	struct ta_keys keys = {.n = 1};
	memset(keys.key[0], 0x31, TA_KEY_BYTES); /* the target's first key */
	struct ta_hs hi, hr;
	uint8_t msg[1 + TA_HELLO_BYTES + TA_FINISH_BYTES], reply[TA_REPLY_BYTES], finish[TA_FINISH_BYTES];
	msg[0] = 0; /* responder's key choice: key 0 only */
	ta_hello_make(&hi, uuid, 2, 1, msg + 1);
	ta_reply_make(&hr, &keys, msg + 1, reply);
	struct ta_session si;
	FUZZ_CHECK(ta_reply_check(&hi, &keys, reply, finish, &si) == 0, "a real reply was refused");
	memcpy(msg + 1 + TA_HELLO_BYTES, finish, TA_FINISH_BYTES); /* a FINISH of another exchange */
	seed("raft_handshake", "hello-then-finish", 0, msg, sizeof(msg));
	uint8_t r[1 + TA_REPLY_BYTES] = {0};
	memcpy(r + 1, reply, TA_REPLY_BYTES); /* a REPLY to another HELLO */
	seed("raft_handshake", "reply", 1, r, sizeof(r));
	/* Mode 2: key choices, then frames (how, u16 length, payload). */
	static const uint8_t fr[] = {0, 1, 0, 5, 0, 'h', 'e', 'l', 'l', 'o', 0, 0, 0, 1, 3, 0, 1, 2, 3, 7, 9};
	seed("raft_handshake", "frames", 2, fr, sizeof(fr));
	static const uint8_t no_shared[] = {2, 4};
	seed("raft_handshake", "no-shared-key", 2, no_shared, sizeof(no_shared));
	static const uint8_t hdr[] = {20, 0, 0, 0, 16, 4, 0, 0, 15, 0, 0, 0, 0xff, 0xff, 0xff, 0xff};
	seed("raft_handshake", "frame-headers", 3, hdr, sizeof(hdr));
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR (tests/fuzz/corpus)\n", argv[0]);
		return 2;
	}
	g_root = argv[1];
	if (mkdir(g_root, 0755) != 0 && errno != EEXIST) {
		perror(g_root);
		return 1;
	}
	fuzz_quiet();
	raft_seeds();
	ctl_seeds();
	fsm_seeds();
	ondisk_seeds();
	layout_seeds();
	config_seeds();
	vmspec_seeds();
	vmspec_qemu_seeds();
	tcp_seeds();
	handshake_seeds();
	scenario_seeds();
	return 0;
}
