/* file.c - reading a whole file that must be a regular one: a FIFO, a device or a directory
 * named by mistake is refused at once, instead of blocking the reader or reading as empty. */
#include "common/file.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* What a file that is not a regular one is, for the message. */
static const char *
file_kind(mode_t mode)
{
	return S_ISFIFO(mode) ? "a FIFO" : S_ISSOCK(mode) ? "a socket" :
	    S_ISCHR(mode) ? "a character device" : S_ISBLK(mode) ? "a block device" : "not a file";
}

/* Puts "PATH: reason" in err and returns e. */
static enum file_err
failure(struct buf *err, const char *path, const char *reason, enum file_err e)
{
	(void)buf_printf(err, "%s: %s", path, reason);
	return e;
}

/* Refuses anything but a regular file, with the reason in err. */
static enum file_err
check_regular(const char *path, const struct stat *st, struct buf *err)
{
	if (S_ISDIR(st->st_mode))
		return failure(err, path, "is a directory", FILE_DIRECTORY);
	if (!S_ISREG(st->st_mode)) {
		(void)buf_printf(err, "%s: is not a regular file (%s)", path,
		    file_kind(st->st_mode));
		return FILE_NOT_REGULAR;
	}
	return FILE_OK;
}

/* Reads fd to its end into out, up to max_bytes. */
static enum file_err
read_all(const char *path, int fd, size_t max_bytes, struct buf *out, struct buf *err)
{
	char chunk[8192];
	size_t start = out->len;
	ssize_t n;

	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		enum file_err e = FILE_OK;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			e = failure(err, path, strerror(errno), FILE_READ);
		else if (out->len - start + (size_t)n > max_bytes) {
			(void)buf_printf(err, "%s: larger than %zu bytes", path, max_bytes);
			e = FILE_TOO_LARGE;
		}
		else if (buf_append(out, chunk, (size_t)n) != 0)
			e = failure(err, path, "out of memory", FILE_NO_MEMORY);
		if (e != FILE_OK) {
			buf_truncate(out, start);
			return e;
		}
	}
	return FILE_OK;
}

enum file_err
file_read_regular(const char *path, size_t max_bytes, struct buf *out, struct buf *err)
{
	struct stat st;
	enum file_err e;
	int fd;

	/* Looked at before it is opened, so that nothing but a regular file is ever opened (the
	 * opening of some devices has effects); and again after, on what was opened. */
	if (stat(path, &st) != 0)
		return failure(err, path, strerror(errno), FILE_OPEN);
	if ((e = check_regular(path, &st, err)) != FILE_OK)
		return e;
	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)) < 0)
		return failure(err, path, strerror(errno), FILE_OPEN);
	if (fstat(fd, &st) != 0)
		e = failure(err, path, strerror(errno), FILE_OPEN);
	else if ((e = check_regular(path, &st, err)) == FILE_OK)
		e = read_all(path, fd, max_bytes, out, err);
	close(fd);
	return e;
}
