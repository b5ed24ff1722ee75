/*
 * fuzz_config: libFuzzer target for the INI parser (config_load_string).
 *
 * Beyond "no crash, no leak, no undefined behaviour" (ASan, UBSan), the
 * contract of the module: a file is accepted whole or refused with errors,
 * and every error names the file and a line, except the one about the file
 * as a whole (no [db.N] at all). An accepted configuration equals itself
 * for every reload comparison and can be dumped.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#define NAME "fuzz.ini"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Each line of err: "fuzz.ini:LINE: ..." or a whole-file error. */
static void
check_errors(const char *err)
{
	const char *line = err, *nl;
	size_t prefix = strlen(NAME ":");

	if (*err == '\0')
		abort();        /* refused without a word */
	for (; *line; line = nl + 1) {
		if (strncmp(line, NAME ":", prefix) != 0 &&
		    strncmp(line, "... more errors", 15) != 0)
			abort();
		if (strncmp(line, NAME ":", prefix) == 0 &&
		    !(line[prefix] >= '1' && line[prefix] <= '9') &&
		    strncmp(line + prefix, " no database configured", 23) != 0)
			abort();
		if ((nl = strchr(line, '\n')) == NULL)
			break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[CONFIG_ERRLEN];
	struct config *cfg;
	char *text;
	FILE *null;

	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	err[0] = '\0';
	cfg = config_load_string(text, NAME, err, sizeof(err));
	free(text);
	if (cfg == NULL) {
		check_errors(err);
		return 0;
	}
	if (!config_same_fixed(cfg, cfg) ||
	    !config_same_role(cfg, cfg, "queue_runner") ||
	    !config_same_role(cfg, cfg, "injector") ||
	    !config_same_role(cfg, cfg, "controller") || cfg->ndbs == 0 ||
	    cfg->nservers == 0)
		abort();
	if ((null = fopen("/dev/null", "w")) != NULL) {
		config_dump(cfg, null);
		fclose(null);
	}
	config_free(cfg);
	return 0;
}
