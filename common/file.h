/* file.h - reading a whole file that must be a regular one: a FIFO, a device or a directory
 * named by mistake is refused at once, instead of blocking the reader or reading as empty. */
#ifndef COMMON_FILE_H
#define COMMON_FILE_H

#include <stddef.h>

#include "common/buf.h"

enum file_err {
	FILE_OK,
	FILE_OPEN,		/* cannot be opened or examined (missing, no permission, ...) */
	FILE_DIRECTORY,		/* is a directory */
	FILE_NOT_REGULAR,	/* a FIFO, a socket, a device */
	FILE_TOO_LARGE,		/* larger than the caller's limit */
	FILE_READ,		/* a read failed */
	FILE_NO_MEMORY,
};

/* Appends the contents of `path` to out, at most max_bytes. Never blocks on anything but the
 * disk: the file is opened non-blocking, and only a regular file is read. On error out is
 * unchanged and one line goes to err: "PATH: is a directory", "PATH: is not a regular file (a
 * FIFO)", "PATH: No such file or directory", ... */
enum file_err file_read_regular(const char *path, size_t max_bytes, struct buf *out,
    struct buf *err);

#endif
