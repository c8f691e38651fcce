/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-wire.c - the wire codec over a real socketpair: framing with partial
 * reads and several messages per read, the size limit, bad lines that do not
 * break the stream, every message shape of wire_parse(), the builders, and
 * errors encoded and decoded for every entry of the error table.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include <shadowcopy/types.h>

#include "cleanup.h"
#include "wire.h"

struct pair {
	int fds[2];
	struct wire rx, tx; /* rx reads fds[0], tx writes fds[1] */
};

static int pair_setup(void **state)
{
	struct pair *p = calloc(1, sizeof(*p));

	assert_non_null(p);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p->fds), 0);
	wire_init(&p->rx, p->fds[0]);
	wire_init(&p->tx, p->fds[1]);
	*state = p;
	return 0;
}

static int pair_teardown(void **state)
{
	struct pair *p = *state;

	wire_done(&p->rx);
	wire_done(&p->tx);
	if (p->fds[0] >= 0)
		close(p->fds[0]);
	if (p->fds[1] >= 0)
		close(p->fds[1]);
	free(p);
	return 0;
}

static void send_raw(struct pair *p, const char *s)
{
	assert_int_equal(write(p->fds[1], s, strlen(s)), (ssize_t)strlen(s));
}

/* Wait (at most 5 s) until the fd is readable, then read. */
static int read_some(struct wire *w)
{
	struct pollfd pfd = { .fd = w->fd, .events = POLLIN };

	assert_int_equal(poll(&pfd, 1, 5000), 1);
	return wire_read(w);
}

/* The next message, which must be complete in what was already read. */
static json_t *next_message(struct wire *w)
{
	json_t *j = NULL;

	assert_int_equal(wire_next(w, &j), 1);
	assert_non_null(j);
	return j;
}

static void test_queue_flush_read(void **state)
{
	struct pair *p = *state;
	_cleanup_json_ json_t *msg = wire_request(1, "hello", json_pack("{s:s}", "version", "1.0"));
	_cleanup_json_ json_t *got = NULL;

	assert_false(wire_has_output(&p->tx));
	assert_int_equal(wire_queue(&p->tx, msg), 0);
	assert_true(wire_has_output(&p->tx));
	assert_int_equal(wire_flush(&p->tx), 0);
	assert_false(wire_has_output(&p->tx));
	assert_true(read_some(&p->rx) > 0);
	got = next_message(&p->rx);
	assert_true(json_equal(got, msg));
}

/* @len bytes of JSON object text, newline not included. */
static char *object_of_length(size_t len)
{
	char *s = malloc(len + 2);

	assert_non_null(s);
	assert_true(len >= 9);
	memcpy(s, "{\"a\":\"", 6);
	memset(s + 6, 'x', len - 8);
	memcpy(s + len - 2, "\"}", 3);
	return s;
}

/* A message larger than the socket buffer: wire_flush() leaves the rest
 * queued (returns 1) and sends it as the peer reads; nothing is lost. */
static void test_partial_writes(void **state)
{
	struct pair *p = *state;
	_cleanup_free_ char *big = object_of_length(2 * 1024 * 1024);
	_cleanup_json_ json_t *msg = json_loads(big, 0, NULL);
	_cleanup_json_ json_t *got = NULL;
	json_t *j = NULL;
	int r, flushes = 0;

	assert_non_null(msg);
	assert_int_equal(wire_queue(&p->tx, msg), 0);
	while ((r = wire_flush(&p->tx)) == 1) {
		flushes++;
		assert_true(wire_has_output(&p->tx));
		assert_true(read_some(&p->rx) > 0);
		assert_int_equal(wire_next(&p->rx, &j), 0);
	}
	assert_int_equal(r, 0);
	assert_true(flushes > 0);
	assert_false(wire_has_output(&p->tx));
	while ((r = wire_next(&p->rx, &got)) == 0)
		assert_true(read_some(&p->rx) > 0);
	assert_int_equal(r, 1);
	assert_true(json_equal(got, msg));
}

/* Nothing read yet: no message, and no access to a buffer that is not there. */
static void test_next_before_read(void **state)
{
	struct pair *p = *state;
	json_t *j = NULL;

	assert_int_equal(wire_next(&p->rx, &j), 0);
	assert_int_equal(wire_next(&p->rx, &j), 0);
	assert_null(j);
}

/* Send @msg through the pair, however big, and return what the reader got. */
static json_t *pump(struct pair *p, json_t *msg)
{
	json_t *got = NULL;
	int r;

	assert_int_equal(wire_queue(&p->tx, msg), 0);
	while (wire_flush(&p->tx) == 1)
		assert_true(read_some(&p->rx) > 0);
	while ((r = wire_next(&p->rx, &got)) == 0)
		assert_true(read_some(&p->rx) > 0);
	assert_int_equal(r, 1);
	return got;
}

/* After a big message the reader may give its buffer back; asking for the
 * next message must still just say "none yet", and the stream goes on. */
static void test_next_after_big_message(void **state)
{
	struct pair *p = *state;
	_cleanup_free_ char *text = object_of_length(2 * 1024 * 1024);
	_cleanup_json_ json_t *big = json_loads(text, 0, NULL);
	_cleanup_json_ json_t *small = json_pack("{s:i, s:{}}", "id", 1, "result");
	_cleanup_json_ json_t *got_big = NULL, *got_small = NULL;
	json_t *none = NULL;

	assert_non_null(big);
	got_big = pump(p, big);
	assert_true(json_equal(got_big, big));
	assert_int_equal(wire_next(&p->rx, &none), 0);
	assert_null(none);
	got_small = pump(p, small);
	assert_true(json_equal(got_small, small));
}

static void test_partial_reads(void **state)
{
	struct pair *p = *state;
	_cleanup_json_ json_t *got = NULL;
	json_t *none = NULL;

	send_raw(p, "{\"id\": 3, \"res");
	assert_true(read_some(&p->rx) > 0);
	assert_int_equal(wire_next(&p->rx, &none), 0);
	send_raw(p, "ult\": {\"a\"");
	assert_true(read_some(&p->rx) > 0);
	assert_int_equal(wire_next(&p->rx, &none), 0);
	send_raw(p, ": 1}}");
	assert_true(read_some(&p->rx) > 0);
	assert_int_equal(wire_next(&p->rx, &none), 0);
	assert_null(none);
	send_raw(p, "\n");
	assert_true(read_some(&p->rx) > 0);
	got = next_message(&p->rx);
	assert_int_equal(json_integer_value(json_object_get(got, "id")), 3);
	assert_int_equal(wire_next(&p->rx, &none), 0);
	assert_int_equal(wire_read(&p->rx), -EAGAIN);
}

static void test_several_in_one_read(void **state)
{
	struct pair *p = *state;
	json_t *none = NULL;

	send_raw(p, "{\"id\":1,\"result\":{}}\n{\"id\":2,\"result\":{}}\n{\"id\":3,\"res");
	assert_true(read_some(&p->rx) > 0);
	for (int i = 1; i <= 2; i++) {
		_cleanup_json_ json_t *got = next_message(&p->rx);

		assert_int_equal(json_integer_value(json_object_get(got, "id")), i);
	}
	assert_int_equal(wire_next(&p->rx, &none), 0);
	send_raw(p, "ult\":{}}\n");
	assert_true(read_some(&p->rx) > 0);
	_cleanup_json_ json_t *third = next_message(&p->rx);
	assert_int_equal(json_integer_value(json_object_get(third, "id")), 3);
}

static void test_bad_line_then_good(void **state)
{
	struct pair *p = *state;
	static const char *const bad[] = { "not json", "", "{\"id\": 1,", "42", "\"s\"",
					   "{\"id\":1,\"id\":2,\"result\":{}}" };
	json_t *none = NULL;

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		send_raw(p, bad[i]);
		send_raw(p, "\n{\"id\":9,\"result\":{}}\n");
		assert_true(read_some(&p->rx) > 0);
		assert_int_equal(wire_next(&p->rx, &none), -SC_E_INVALID_MESSAGE);
		assert_null(none);
		_cleanup_json_ json_t *got = next_message(&p->rx);
		assert_int_equal(json_integer_value(json_object_get(got, "id")), 9);
	}
}

/* A JSON line that is not an object decodes, and wire_parse refuses it. */
static void test_array_line(void **state)
{
	struct pair *p = *state;
	struct wire_message m;

	send_raw(p, "[1, 2]\n");
	assert_true(read_some(&p->rx) > 0);
	_cleanup_json_ json_t *got = next_message(&p->rx);
	assert_int_equal(wire_parse(got, &m), -SC_E_INVALID_MESSAGE);
}

static void test_limit_boundary(void **state)
{
	struct pair *p = *state;
	_cleanup_free_ char *fits = object_of_length(63);
	_cleanup_free_ char *too_long = object_of_length(64);
	json_t *j = NULL;

	p->rx.max = 64; /* newline included */
	send_raw(p, fits);
	send_raw(p, "\n");
	assert_true(read_some(&p->rx) > 0);
	_cleanup_json_ json_t *got = next_message(&p->rx);
	send_raw(p, too_long);
	send_raw(p, "\n");
	assert_true(read_some(&p->rx) > 0);
	assert_int_equal(wire_next(&p->rx, &j), -SC_E_MESSAGE_TOO_LARGE);
	assert_null(j);
}

static void test_limit_without_newline(void **state)
{
	struct pair *p = *state;
	char chunk[100];
	json_t *j = NULL;

	p->rx.max = 64;
	memset(chunk, 'x', sizeof(chunk));
	assert_int_equal(write(p->fds[1], chunk, sizeof(chunk)), (ssize_t)sizeof(chunk));
	assert_true(read_some(&p->rx) > 0);
	assert_int_equal(wire_next(&p->rx, &j), -SC_E_MESSAGE_TOO_LARGE);
}

static void test_queue_too_large(void **state)
{
	struct pair *p = *state;
	_cleanup_free_ char *big = object_of_length(100);
	_cleanup_json_ json_t *msg = json_loads(big, 0, NULL);

	assert_non_null(msg);
	p->tx.max = 64;
	assert_int_equal(wire_queue(&p->tx, msg), -SC_E_MESSAGE_TOO_LARGE);
	assert_false(wire_has_output(&p->tx));
}

/* The real 16 MiB limit: a child writes 17 MiB without a newline, the reader
 * must give up with MESSAGE_TOO_LARGE, having buffered about the limit only. */
static void test_real_limit(void **state)
{
	struct pair *p = *state;
	json_t *j = NULL;
	pid_t pid;
	int r = 0, status;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		static char chunk[65536];

		memset(chunk, 'x', sizeof(chunk));
		close(p->fds[0]);
		for (int i = 0; i < 17 * 16; i++)
			if (send(p->fds[1], chunk, sizeof(chunk), MSG_NOSIGNAL) < 0)
				_exit(0); /* the reader gave up: fine */
		_exit(0);
	}
	close(p->fds[1]);
	p->fds[1] = -1;
	while (r == 0) {
		int n = read_some(&p->rx);

		assert_true(n > 0);
		r = wire_next(&p->rx, &j);
	}
	assert_int_equal(r, -SC_E_MESSAGE_TOO_LARGE);
	assert_true(p->rx.in_len >= WIRE_MESSAGE_MAX);
	assert_true(p->rx.in_len <= WIRE_MESSAGE_MAX + 4 * 65536);
	close(p->fds[0]);
	p->fds[0] = -1;
	assert_int_equal(waitpid(pid, &status, 0), pid);
}

static void test_eof(void **state)
{
	struct pair *p = *state;

	send_raw(p, "{\"id\":1,\"result\":{}}\n");
	close(p->fds[1]);
	p->fds[1] = -1;
	assert_true(read_some(&p->rx) > 0);
	_cleanup_json_ json_t *got = next_message(&p->rx);
	assert_int_equal(wire_read(&p->rx), 0);
}

static void test_encode_one_line(void **state)
{
	_cleanup_json_ json_t *msg = json_pack("{s:s, s:{s:s}}", "text", "two\nlines\r\n",
					       "nested", "u", "caf\xc3\xa9 \xe2\x9c\x93");
	_cleanup_json_ json_t *back = NULL;
	_cleanup_free_ char *line = NULL;
	size_t len = 0;

	assert_int_equal(wire_encode(msg, &line, &len), 0);
	assert_int_equal(strlen(line), len);
	assert_int_equal(line[len - 1], '\n');
	assert_null(memchr(line, '\n', len - 1));
	assert_int_equal(wire_decode(line, len - 1, &back), 0);
	assert_true(json_equal(msg, back));
}

static json_t *parse_text(const char *text, struct wire_message *m, int expected)
{
	json_t *j = json_loads(text, JSON_DECODE_ANY, NULL);

	if (!j)
		fail_msg("bad test input: %s", text);
	if (wire_parse(j, m) != expected)
		fail_msg("wire_parse(%s) != %d", text, expected);
	return j;
}

static void test_parse_valid(void **state)
{
	struct wire_message m;
	json_t *j;

	j = parse_text("{\"id\": 7, \"method\": \"hello\", \"params\": {\"v\": 1}}", &m, 0);
	assert_int_equal(m.kind, WIRE_REQUEST);
	assert_true(m.has_id);
	assert_int_equal(m.id, 7);
	assert_string_equal(m.name, "hello");
	assert_ptr_equal(m.body, json_object_get(j, "params"));
	assert_ptr_equal(m.msg, j);
	json_decref(j);

	j = parse_text("{\"id\": 0, \"method\": \"unsubscribe\"}", &m, 0);
	assert_int_equal(m.kind, WIRE_REQUEST);
	assert_int_equal(m.id, 0);
	assert_null(m.body);
	json_decref(j);

	j = parse_text("{\"id\": 12, \"event\": \"identify\", \"params\": {}}", &m, 0);
	assert_int_equal(m.kind, WIRE_EVENT);
	assert_string_equal(m.name, "identify");
	json_decref(j);

	j = parse_text("{\"id\": 3, \"result\": {\"success\": true}, \"extra\": [1]}", &m, 0);
	assert_int_equal(m.kind, WIRE_RESULT);
	assert_int_equal(m.id, 3);
	assert_true(json_is_true(json_object_get(m.body, "success")));
	json_decref(j);

	j = parse_text("{\"id\": null, \"error\": {\"name\": \"INVALID_MESSAGE\"}}", &m, 0);
	assert_int_equal(m.kind, WIRE_ERROR);
	assert_false(m.has_id);
	json_decref(j);

	j = parse_text("{\"result\": {}}", &m, 0); /* no id at all reads as null */
	assert_int_equal(m.kind, WIRE_RESULT);
	assert_false(m.has_id);
	json_decref(j);

	j = parse_text("{\"id\": 9007199254740993, \"result\": {}}", &m, 0);
	assert_int_equal(m.id, 9007199254740993LL);
	json_decref(j);
}

static void test_parse_invalid(void **state)
{
	static const char *const bad[] = {
		"[]",
		"\"text\"",
		"null",
		"{}",
		"{\"id\": 1}",
		"{\"id\": \"1\", \"method\": \"hello\"}",
		"{\"id\": -1, \"method\": \"hello\"}",
		"{\"id\": 1.5, \"method\": \"hello\"}",
		"{\"id\": true, \"result\": {}}",
		"{\"method\": \"hello\"}",
		"{\"id\": null, \"method\": \"hello\"}",
		"{\"event\": \"identify\"}",
		"{\"id\": 1, \"method\": 5}",
		"{\"id\": 1, \"method\": null}",
		"{\"id\": 1, \"event\": [\"identify\"]}",
		"{\"id\": 1, \"method\": \"hello\", \"params\": []}",
		"{\"id\": 1, \"method\": \"hello\", \"params\": \"x\"}",
		"{\"id\": 1, \"event\": \"freeze\", \"params\": 3}",
		"{\"id\": 1, \"result\": []}",
		"{\"id\": 1, \"result\": true}",
		"{\"id\": 1, \"error\": \"BAD_STATE\"}",
		"{\"id\": 1, \"error\": null}",
	};
	struct wire_message m;

	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		json_decref(parse_text(bad[i], &m, -SC_E_INVALID_MESSAGE));
}

/* After a failure the id is still reported when it could be read, so that
 * the error reply can name it. */
static void test_parse_invalid_keeps_id(void **state)
{
	struct wire_message m;

	json_decref(parse_text("{\"id\": 5, \"method\": 3}", &m, -SC_E_INVALID_MESSAGE));
	assert_true(m.has_id);
	assert_int_equal(m.id, 5);
	json_decref(parse_text("{\"id\": \"5\", \"method\": \"x\"}", &m, -SC_E_INVALID_MESSAGE));
	assert_false(m.has_id);
}

static void test_builders(void **state)
{
	_cleanup_json_ json_t *req = wire_request(4, "subscribe", NULL);
	_cleanup_json_ json_t *ev = wire_event(5, "freeze", json_pack("{s:b}", "x", 1));
	_cleanup_json_ json_t *res = wire_result(true, 6, json_pack("{s:i}", "n", 2));
	_cleanup_json_ json_t *anon = wire_result(false, 0, NULL);
	struct wire_message m;

	assert_int_equal(wire_parse(req, &m), 0);
	assert_int_equal(m.kind, WIRE_REQUEST);
	assert_int_equal(m.id, 4);
	assert_string_equal(m.name, "subscribe");
	assert_true(json_is_object(m.body));
	assert_int_equal(json_object_size(m.body), 0);
	assert_int_equal(wire_parse(ev, &m), 0);
	assert_int_equal(m.kind, WIRE_EVENT);
	assert_string_equal(m.name, "freeze");
	assert_true(json_is_true(json_object_get(m.body, "x")));
	assert_int_equal(wire_parse(res, &m), 0);
	assert_int_equal(m.kind, WIRE_RESULT);
	assert_int_equal(m.id, 6);
	assert_int_equal(json_integer_value(json_object_get(m.body, "n")), 2);
	assert_int_equal(wire_parse(anon, &m), 0);
	assert_false(m.has_id);
	assert_true(json_is_null(json_object_get(anon, "id")));
	assert_true(json_is_object(m.body));
}

static void check_error_round_trip(int error, const char *name, uint32_t hresult)
{
	_cleanup_json_ json_t *e = wire_error(true, 11, error, "failed: %s %d", "x", 42);
	_cleanup_json_ json_t *copy = NULL;
	_cleanup_free_ char *line = NULL;
	struct wire_message m;
	const char *message = NULL;
	char code[16];
	size_t len;

	assert_non_null(e);
	assert_int_equal(wire_encode(e, &line, &len), 0);
	assert_int_equal(wire_decode(line, len - 1, &copy), 0);
	assert_int_equal(wire_parse(copy, &m), 0);
	assert_int_equal(m.kind, WIRE_ERROR);
	assert_int_equal(m.id, 11);
	assert_string_equal(json_string_value(json_object_get(m.body, "name")), name);
	snprintf(code, sizeof(code), "0x%08x", hresult);
	assert_string_equal(json_string_value(json_object_get(m.body, "code")), code);
	assert_int_equal(wire_error_decode(m.body, &message), error);
	assert_string_equal(message, "failed: x 42");
}

static void test_error_round_trip(void **state)
{
#define CHECK_(n, num, hr, msg) check_error_round_trip(-SC_E_##n, #n, hr);
	SC_ERROR_MAP(CHECK_)
#undef CHECK_
	check_error_round_trip(-EACCES, "EACCES", 0x80070005u);
	check_error_round_trip(-ENOMEM, "ENOMEM", 0x8007000eu);
	check_error_round_trip(-EINVAL, "EINVAL", 0x80070057u);
	check_error_round_trip(-EIO, "EIO", 0x80004005u);
}

static void test_error_null_id(void **state)
{
	_cleanup_json_ json_t *e = wire_error(false, 0, -SC_E_INVALID_MESSAGE, "bad");
	struct wire_message m;

	assert_int_equal(wire_parse(e, &m), 0);
	assert_int_equal(m.kind, WIRE_ERROR);
	assert_false(m.has_id);
	assert_true(json_is_null(json_object_get(e, "id")));
}

static void test_error_decode_unknown(void **state)
{
	_cleanup_json_ json_t *unknown = json_pack("{s:s, s:s}", "name", "NO_SUCH_ERROR",
						   "message", "m");
	_cleanup_json_ json_t *nameless = json_pack("{s:i}", "message", 3);
	_cleanup_json_ json_t *numeric = json_pack("{s:i}", "name", 4097);
	const char *message = "untouched";

	assert_int_equal(wire_error_decode(unknown, &message), -SC_E_UNEXPECTED);
	assert_string_equal(message, "m");
	assert_int_equal(wire_error_decode(nameless, &message), -SC_E_UNEXPECTED);
	assert_null(message);
	assert_int_equal(wire_error_decode(numeric, NULL), -SC_E_UNEXPECTED);
}

#define PAIR_TEST(f) cmocka_unit_test_setup_teardown(f, pair_setup, pair_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		PAIR_TEST(test_queue_flush_read),
		PAIR_TEST(test_partial_writes),
		PAIR_TEST(test_next_before_read),
		PAIR_TEST(test_next_after_big_message),
		PAIR_TEST(test_partial_reads),
		PAIR_TEST(test_several_in_one_read),
		PAIR_TEST(test_bad_line_then_good),
		PAIR_TEST(test_array_line),
		PAIR_TEST(test_limit_boundary),
		PAIR_TEST(test_limit_without_newline),
		PAIR_TEST(test_queue_too_large),
		PAIR_TEST(test_real_limit),
		PAIR_TEST(test_eof),
		cmocka_unit_test(test_encode_one_line),
		cmocka_unit_test(test_parse_valid),
		cmocka_unit_test(test_parse_invalid),
		cmocka_unit_test(test_parse_invalid_keeps_id),
		cmocka_unit_test(test_builders),
		cmocka_unit_test(test_error_round_trip),
		cmocka_unit_test(test_error_null_id),
		cmocka_unit_test(test_error_decode_unknown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
