/**
 * @file main.c
 * weightfs-inspect COMMAND [options] ARGS: the command line. Finds the
 * command, parses the options it accepts, checks the number of operands and
 * runs it; every command prints its own output and returns an exit code.
 */
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "decode.h"
#include "inspect.h"
#include "mountpath.h"

static const struct command *const commands[] = {
	&cmd_summary, &cmd_ls, &cmd_stats, &cmd_verify, &cmd_diff,
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void global_help(void)
{
	printf("usage: " PROG " COMMAND [options] ARGS...\n"
	       "       " PROG " --help | --version\n"
	       "\n"
	       "Summarise, list, verify, compute statistics of and diff models (safetensors,\n"
	       "PyTorch, GGUF, ONNX, TensorFlow bundles)\n"
	       "from the shell, with the library of the weightfs mount (no FUSE).\n"
	       "\n"
	       "commands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		printf("    %s %s\n        %s\n", commands[i]->name, commands[i]->synopsis, commands[i]->summary);
	printf("\n"
	       "SOURCE is what the mount takes: a model directory, a model file (its\n"
	       "format detected by content), an index .json file, a TensorFlow checkpoint\n"
	       "prefix, a Hugging Face cache snapshot or repository,\n"
	       "or a remote model: https://host/path/, hf://ORG/NAME[@REV], s3://BUCKET/PREFIX/\n"
	       "(see ENVIRONMENT in weightfs-inspect(1) for tokens and credentials);\n"
	       "or a file or directory inside a weightfs mount (the tensors beneath it).\n"
	       "\n"
	       "options of every command:\n"
	       "    --json                 one JSON document on stdout, for scripts\n"
	       "    -h, --help             the command's help, with an example\n"
	       "\n"
	       "exit codes: 0 ok, 1 internal error, 2 usage, 3 SOURCE unreadable,\n"
	       "            4 invalid model\n"
	       "\n"
	       "examples:\n"
	       "    " PROG " summary ~/models/Llama-3.2-1B\n"
	       "    " PROG " stats ~/models/Llama-3.2-1B 'model.layers.0.*'\n"
	       "    " PROG " COMMAND --help\n");
}

static void command_help(const struct command *c)
{
	printf("usage: " PROG " %s [options] %s\n\n%s", c->name, c->synopsis, c->help);
}

static int usage_error(const struct command *c, const char *what)
{
	errorf("%s", what);
	if (c)
		fprintf(stderr, "usage: " PROG " %s [options] %s (see " PROG " %s --help)\n", c->name,
			c->synopsis, c->name);
	else
		fprintf(stderr, "usage: " PROG " COMMAND [options] ARGS... (see " PROG " --help)\n");
	return EXIT_USAGE;
}

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i]->name, name) == 0)
			return commands[i];
	return NULL;
}

/* Shards are kept open: use every descriptor the hard limit allows. */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

enum { O_JSON = 256, O_HASH, O_STRICT, O_NO_PROGRESS, O_PATHS, O_MAP };

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage_error(NULL, "missing COMMAND");
	const char *name = argv[1];
	if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0) {
		global_help();
		return EXIT_OK;
	}
	if (strcmp(name, "-V") == 0 || strcmp(name, "--version") == 0) {
		printf(PROG " " WEIGHTFS_VERSION "\n");
		return EXIT_OK;
	}
	if (strcmp(name, "help") == 0) {
		const struct command *c = argc > 2 ? find_command(argv[2]) : NULL;
		if (argc > 2 && c == NULL)
			return usage_error(NULL, "help: unknown command");
		if (c)
			command_help(c);
		else
			global_help();
		return EXIT_OK;
	}
	const struct command *cmd = find_command(name);
	if (cmd == NULL) {
		char msg[300];
		snprintf(msg, sizeof(msg), "unknown command \"%.200s\"", name);
		return usage_error(NULL, msg);
	}

	static const struct option longopts[] = {
		{"json", no_argument, NULL, O_JSON},
		{"help", no_argument, NULL, 'h'},
		{"hash", no_argument, NULL, O_HASH},
		{"strict", no_argument, NULL, O_STRICT},
		{"jobs", required_argument, NULL, 'j'},
		{"no-progress", no_argument, NULL, O_NO_PROGRESS},
		{"map", required_argument, NULL, O_MAP},
		{"paths", optional_argument, NULL, O_PATHS},
		{NULL, 0, NULL, 0},
	};
	struct cli cli = {.progress = true};
	int opt;
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc - 1, argv + 1, ":hj:", longopts, NULL)) != -1) {
		char msg[300];
		unsigned need = 0;
		const char *optname = "";
		switch (opt) {
		case 'h':
			command_help(cmd);
			return EXIT_OK;
		case O_JSON:
			cli.json = true;
			break;
		case O_HASH:
			need = OPT_HASH;
			optname = "--hash";
			cli.hash = true;
			break;
		case O_STRICT:
			need = OPT_STRICT;
			optname = "--strict";
			cli.strict = true;
			break;
		case O_PATHS:
			need = OPT_PATHS;
			optname = "--paths";
			cli.paths = optarg ? optarg : "modules";
			break;
		case O_MAP:
			need = OPT_MAP;
			optname = "--map";
			cli.map = optarg;
			break;
		case O_NO_PROGRESS:
			need = OPT_JOBS;
			optname = "--no-progress";
			cli.progress = false;
			break;
		case 'j': {
			need = OPT_JOBS;
			optname = "-j";
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end || v < 1 || v > 1024) {
				snprintf(msg, sizeof(msg), "-j %.200s: expected a number of threads from 1 to 1024", optarg);
				return usage_error(cmd, msg);
			}
			cli.jobs = (unsigned)v;
			break;
		}
		case ':':
			snprintf(msg, sizeof(msg), "option %.200s needs a value", argv[optind]);
			return usage_error(cmd, msg);
		default: /* getopt has moved past the option it did not know */
			if (optopt)
				snprintf(msg, sizeof(msg), "unknown option -%c", optopt);
			else
				snprintf(msg, sizeof(msg), "unknown option %.200s", argv[optind]);
			return usage_error(cmd, msg);
		}
		if (need && !(cmd->options & need)) {
			snprintf(msg, sizeof(msg), "%s does not take %s", cmd->name, optname);
			return usage_error(cmd, msg);
		}
	}
	if (cli.paths && !cli.hash)
		return usage_error(cmd, "--paths names the lines of --hash: give --hash too");
	cli.args = argv + 1 + optind;
	cli.nargs = (size_t)(argc - 1 - optind);
	if (cli.nargs < cmd->min_args)
		return usage_error(cmd, cli.nargs ? "missing operand" : "missing SOURCE");
	if (cli.nargs > cmd->max_args) {
		char msg[300];
		snprintf(msg, sizeof(msg), "unexpected operand \"%.200s\"", cli.args[cmd->max_args]);
		return usage_error(cmd, msg);
	}
	/* A path inside a weightfs mount: its model, restricted to the tensors beneath it. */
	struct mount_args ma;
	int resolved = resolve_mount_paths(&cli, cmd, &ma);
	if (resolved != EXIT_OK) {
		mount_args_free(&ma);
		return resolved;
	}
	raise_fd_limit();
	dec_init();
	/* ls and stats of a large model write megabytes: fewer, larger writes. */
	static char outbuf[1 << 16];
	if (!isatty(STDOUT_FILENO))
		setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
	int status = cmd->run(&cli);
	mount_args_free(&ma);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		errorf("writing the output failed");
		if (status == EXIT_OK)
			status = EXIT_INTERNAL;
	}
	return status;
}
