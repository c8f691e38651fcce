/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * main.c - shadowcopy-writer-hooks: a writer daemon that runs a directory of
 * hook executables around snapshot sets, compatible with qemu-guest-agent's
 * fsfreeze-hook.d (see shadowcopy-writer-hooks(8)).  It loads the
 * configuration, subscribes and runs until SIGTERM; the events are in events.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hooks-writer.h"
#include "writer-common.h"

static const struct writer_program program = {
	.name = "shadowcopy-writer-hooks",
	.summary = "Run a directory of hook scripts around Shadowcopy snapshot sets, as\n"
		   "qemu-guest-agent runs fsfreeze-hook.d: \"freeze\" before, \"thaw\" after.",
	.default_config = "/etc/shadowcopy/writer-hooks.conf",
};

static int main_run(struct hooks_writer *hw, const char *socket_path)
{
	char *description = NULL;
	struct writer_daemon d = {
		.identity = {
			.class_id = HOOKS_WRITER_CLASS_ID,
			.name = hw->name,
			.instance_name = hw->instance,
			.usage = SC_UT_USERDATA,
			.source = SC_ST_OTHER,
			.level = SC_APP_FRONT_END,
			.freeze_timeout_ms = hw->freeze_timeout_ms,
		},
	};
	int r;

	if (asprintf(&description, "hooks in %s", hw->directory) < 0)
		return WRITER_EXIT_FAILURE;
	d.description = description;
	events_daemon(hw, &d);
	r = writer_daemon_serve(&d, socket_path);
	free(description);
	return r;
}

int main(int argc, char **argv)
{
	struct hooks_writer hw = {};
	struct writer_args args;
	int r;

	wlog_set_ident(program.name);
	r = writer_daemon_parse_args(&program, argc, argv, &args);
	if (r <= 0)
		return r < 0 ? WRITER_EXIT_USAGE : WRITER_EXIT_OK;
	/* Without --config, a missing default file means every default. */
	r = config_load(&hw, args.config, strcmp(args.config, program.default_config) != 0);
	if (r < 0) {
		r = WRITER_EXIT_USAGE;
	} else if (args.check) {
		config_print(&hw);
		r = WRITER_EXIT_OK;
	} else {
		r = main_run(&hw, args.socket);
	}
	config_done(&hw);
	return r;
}
