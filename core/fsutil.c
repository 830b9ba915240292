/*
 * fsutil.c -- recursive removal, mkdir -p, whole-file read and atomic write.
 */
#define _XOPEN_SOURCE 700
#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"

static int rm_entry(const char *p, const struct stat *st, int flag,
                    struct FTW *ftw) {
  (void)st; (void)ftw;
  return (flag == FTW_DP ? rmdir(p) : unlink(p)) == 0 || errno == ENOENT ? 0 : -1;
}

int af_fs_rmtree(const char *path) {
  if (path == NULL || *path == '\0' || strcmp(path, "/") == 0) return -1;
  return nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS) == 0 || errno == ENOENT ? 0 : -1;
}

int af_fs_mkdirs(const char *path) {
  char *p = af_strdup(path);
  if (p == NULL) return -1;
  int rc = 0;
  for (char *s = p + 1; rc == 0; s++) {
    if (*s != '/' && *s != '\0') continue;
    char c = *s;
    *s = '\0';
    if (mkdir(p, 0700) != 0 && errno != EEXIST) rc = -1;
    *s = c;
    if (c == '\0') break;
  }
  af_free(p);
  return rc;
}

char *af_fs_read(const char *path, size_t max, size_t *len, char **err) {
  char *data = NULL;
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    *err = af_asprintf("cannot read %s: %s", path, strerror(errno));
    return NULL;
  }
  struct stat st;
  if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
    *err = af_asprintf("cannot read %s: not a regular file", path);
    goto done;
  }
  if ((size_t)st.st_size > max) {
    *err = af_asprintf("%s is too large (%lld bytes, at most %zu)", path,
                       (long long)st.st_size, max);
    goto done;
  }
  data = af_malloc((size_t)st.st_size + 1);
  if (data == NULL) {
    *err = af_strdup("out of memory");
    goto done;
  }
  size_t n = fread(data, 1, (size_t)st.st_size, f);
  data[n] = '\0';
  if (len) *len = n;
done:
  fclose(f);
  return data;
}

int af_fs_write(const char *path, const char *data, size_t len, char **err) {
  int rc = -1;
  char *tmp = af_asprintf("%s.tmp.%d", path, (int)getpid());
  if (tmp == NULL) {
    *err = af_strdup("out of memory");
    return -1;
  }
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) {
    *err = af_asprintf("cannot write %s: %s", path, strerror(errno));
    goto done;
  }
  size_t off = 0;
  while (off < len) {
    ssize_t w = write(fd, data + off, len - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;
    off += (size_t)w;
  }
  if (off != len || fsync(fd) != 0) {
    *err = af_asprintf("cannot write %s: %s", path, strerror(errno));
    close(fd);
    unlink(tmp);
    goto done;
  }
  close(fd);
  if (rename(tmp, path) != 0) {
    *err = af_asprintf("cannot write %s: %s", path, strerror(errno));
    unlink(tmp);
    goto done;
  }
  rc = 0;
done:
  af_free(tmp);
  return rc;
}
