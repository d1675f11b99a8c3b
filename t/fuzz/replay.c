/* replay.c - runs a fuzz target over its committed corpus: the fuzzers' finds, as a test. */
#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

/* Reads a whole file; false on error. */
static bool
slurp(const char *path, struct buf *out)
{
	char chunk[4096];
	FILE *f = fopen(path, "rb");
	size_t n;
	bool ok = f != NULL;

	while (ok && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		ok = buf_append(out, chunk, n) == 0;
	if (f != NULL)
		ok = ok && !ferror(f) && fclose(f) == 0;
	return ok;
}

/* argv[0] ends in "replay-NAME": the corpus is $srcdir/t/fuzz/corpus/NAME. Every file of it
 * runs through the target; a crash fails the test, as would an empty corpus. */
int
main(int argc, char **argv)
{
	const char *name = strrchr(argv[0], '-');
	const char *srcdir = getenv("srcdir");
	char dir[512], path[1024];
	struct dirent *e;
	size_t ran = 0;
	DIR *d;

	if (name == NULL)
		return 2;
	snprintf(dir, sizeof(dir), "%s/t/fuzz/corpus/%s", srcdir != NULL ? srcdir : ".", name + 1);
	if ((d = opendir(dir)) == NULL) {
		fprintf(stderr, "replay: cannot open %s\n", dir);
		return 1;
	}
	if (LLVMFuzzerInitialize != NULL)
		(void)LLVMFuzzerInitialize(&argc, &argv);
	while ((e = readdir(d)) != NULL) {
		struct buf input = BUF_INIT;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (!slurp(path, &input)) {
			fprintf(stderr, "replay: cannot read %s\n", path);
			closedir(d);
			return 1;
		}
		(void)LLVMFuzzerTestOneInput((const uint8_t *)(input.data != NULL ? input.data : ""),
		    input.len);
		buf_free(&input);
		ran++;
	}
	closedir(d);
	printf("replay %s: %zu inputs, no crash\n", name + 1, ran);
	return ran > 0 ? 0 : 1;
}
