/*
 * fsutil.h -- small file-system helpers shared by the core modules.
 */
#ifndef AF_FSUTIL_H
#define AF_FSUTIL_H

#include <stddef.h>

/* Remove a directory tree (does not follow symlinks). 0 or -1. */
int af_fs_rmtree(const char *path);
/* mkdir -p with mode 0700 for new components. 0 or -1. */
int af_fs_mkdirs(const char *path);
/* Read a whole file (NUL-terminated); NULL with *err on failure.
 * Files above max bytes are refused. */
char *af_fs_read(const char *path, size_t max, size_t *len, char **err);
/* Write atomically (temp file + rename). 0, or -1 with *err. */
int af_fs_write(const char *path, const char *data, size_t len, char **err);

#endif
