/*
 * sim_main.c - wxrecon-sim: a strict local WeChat Pay API v3 server.
 *
 *   wxrecon-sim [--port P] [--portfile F] [--keys DIR] [--state DIR] [--mchid M]
 *               [--appid A] [--release-time HH:MM] [--journal F]
 *               [--sign-mode pubkey|cert] [--bills DIR] [--quiet]
 *   wxrecon-sim generate ...        (the bill generator, sim_gen.c)
 *
 * Listens on 127.0.0.1 only; SIGTERM/SIGINT stop it cleanly (exit 0).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/xalloc.h"
#include "sim/sim.h"
#include "sim/sim_bill.h"

static const char usage[] =
        "usage: wxrecon-sim [--port P] [--portfile F] [--keys DIR] [--state DIR] [--mchid M]\n"
        "                   [--appid A] [--release-time HH:MM] [--journal F]\n"
        "                   [--sign-mode pubkey|cert] [--bills DIR] [--quiet]\n"
        "       wxrecon-sim generate ...\n";

static int parse_port(const char *s, unsigned *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v > 65535)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static int parse_hhmm(const char *s, int *out_minutes)
{
	if (strlen(s) != 5 || s[2] != ':' || s[0] < '0' || s[0] > '2' || s[1] < '0' || s[1] > '9' ||
	    s[3] < '0' || s[3] > '5' || s[4] < '0' || s[4] > '9')
		return -1;
	*out_minutes = ((s[0] - '0') * 10 + (s[1] - '0')) * 60 + (s[3] - '0') * 10 + (s[4] - '0');
	return *out_minutes < 24 * 60 ? 0 : -1;
}

static int write_portfile(const char *path, unsigned port, struct wxr_err *err)
{
	char text[16];
	int n = snprintf(text, sizeof(text), "%u\n", port);

	if (sim_write_file_atomic(path, text, (size_t)n) < 0)
		return err_set(err, WXR_EIO, "cannot write '%s': %s", path, strerror(errno));
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "portfile", required_argument, NULL, 'P' },
		{ "keys", required_argument, NULL, 'k' },
		{ "state", required_argument, NULL, 's' },
		{ "mchid", required_argument, NULL, 'm' },
		{ "appid", required_argument, NULL, 'a' },
		{ "release-time", required_argument, NULL, 'r' },
		{ "journal", required_argument, NULL, 'j' },
		{ "sign-mode", required_argument, NULL, 'S' },
		{ "bills", required_argument, NULL, 'b' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct sim_config cfg;
	struct wxr_err err = WXR_ERR_INIT;
	struct sim s;
	const char *portfile = NULL;
	unsigned port = 0;
	sigset_t set;
	int c, sig, r;

	if (argc > 1 && strcmp(argv[1], "generate") == 0)
		return sim_gen_main(argc - 1, argv + 1);

	memset(&cfg, 0, sizeof(cfg));
	cfg.keys_dir = "keys";
	cfg.tmp_dir = getenv("TMPDIR");
	cfg.mchid = "1900000001";
	cfg.appid = "wx8888888888888888";
	cfg.release_minutes = 10 * 60;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (parse_port(optarg, &port) < 0) {
				fprintf(stderr, "wxrecon-sim: --port: '%s' is not a port\n",
				        optarg);
				return 2;
			}
			break;
		case 'P':
			portfile = optarg;
			break;
		case 'k':
			cfg.keys_dir = optarg;
			break;
		case 's':
			cfg.state_dir = optarg;
			break;
		case 'm':
			cfg.mchid = optarg;
			break;
		case 'a':
			cfg.appid = optarg;
			break;
		case 'r':
			if (parse_hhmm(optarg, &cfg.release_minutes) < 0) {
				fprintf(stderr, "wxrecon-sim: --release-time: '%s' is not HH:MM\n",
				        optarg);
				return 2;
			}
			break;
		case 'j':
			cfg.journal_path = optarg;
			break;
		case 'S':
			if (strcmp(optarg, "pubkey") != 0 && strcmp(optarg, "cert") != 0) {
				fprintf(stderr,
				        "wxrecon-sim: --sign-mode: '%s' is not pubkey or cert\n",
				        optarg);
				return 2;
			}
			cfg.cert_mode = strcmp(optarg, "cert") == 0;
			break;
		case 'b':
			cfg.bills_dir = optarg;
			break;
		case 'q':
			cfg.quiet = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "wxrecon-sim: unexpected argument '%s'\n%s", argv[optind], usage);
		return 2;
	}

	/* The server's threads inherit this mask; only sigwait() below sees the signals. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	r = sim_init(&s, &cfg, &err);
	if (r < 0)
		goto fail;
	r = sim_start(&s, port, &err);
	if (r < 0)
		goto fail;
	if (portfile) {
		r = write_portfile(portfile, s.port, &err);
		if (r < 0) {
			sim_stop(&s);
			goto fail;
		}
	}
	printf("wxrecon-sim listening on http://127.0.0.1:%u\n", s.port);
	fflush(stdout);
	do {
		if (sigwait(&set, &sig) != 0)
			sig = SIGTERM;
	} while (sig != SIGINT && sig != SIGTERM);
	sim_stop(&s);
	sim_release(&s);
	return 0;
fail:
	fprintf(stderr, "wxrecon-sim: %s\n", err.msg);
	sim_release(&s);
	return wxr_exit_code(r);
}
