/*
 * store_embed.c -- a private PostgreSQL 15 under AF_STATE_DIR/pg: initdb on
 * first use, pg_ctl start on loopback and a free port, reuse when already
 * running, stop. Runs the Debian binaries in /usr/lib/postgresql/15/bin
 * directly (fork/exec, no shell); as root, through `runuser -u postgres`.
 */
#include "store_embed.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/rand.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"

#define PG_BIN "/usr/lib/postgresql/15/bin"

struct af_store_embedded {
  char *dir;     /* state_dir/pg */
  char *url;
  int started;   /* this process started the server */
};

/* Run argv (as postgres when root) with output appended to log. Exit code,
 * or -1 if it could not run. */
static int run(const char *log, char *const argv[]) {
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    if (getuid() == 0) {
      char *rv[16] = {"runuser", "-u", "postgres", "--"};
      int i = 4;
      for (int j = 0; argv[j] && i < 15; j++) rv[i++] = argv[j];
      rv[i] = NULL;
      execvp("runuser", rv);
    } else {
      execv(argv[0], argv);
    }
    _exit(127);
  }
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int free_port(void) {
  struct sockaddr_in a = {0};
  socklen_t len = sizeof a;
  int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;
  if (fd < 0) return -1;
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
      getsockname(fd, (struct sockaddr *)&a, &len) == 0)
    port = ntohs(a.sin_port);
  close(fd);
  return port;
}

/* The port of a running server, from postmaster.pid (line 4); -1 if none. */
static int running_port(const char *dir, const char *log) {
  char *data = af_asprintf("%s/data", dir), *pidfile = af_asprintf("%s/data/postmaster.pid", dir);
  char line[256];
  int port = -1;
  FILE *f = NULL;
  if (!data || !pidfile) goto done;
  char *argv[] = {PG_BIN "/pg_ctl", "-D", data, "status", NULL};
  if (run(log, argv) != 0) goto done;
  f = fopen(pidfile, "r");
  for (int i = 1; f && fgets(line, sizeof line, f); i++)
    if (i == 4) port = atoi(line);
done:
  if (f) fclose(f);
  af_free(data);
  af_free(pidfile);
  return port > 0 ? port : -1;
}

/* A random password of 32 hex characters, kept in dir/password. */
static char *password(const char *dir, uid_t owner, gid_t group, char **err) {
  char *path = af_asprintf("%s/password", dir);
  char buf[65] = {0};
  unsigned char raw[16];
  FILE *f = NULL;
  if (path == NULL) goto oom;
  f = fopen(path, "r");
  if (f) {
    if (fgets(buf, sizeof buf, f) == NULL || strlen(buf) < 32) {
      *err = af_asprintf("%s: unreadable or empty", path);
      goto fail;
    }
    buf[strcspn(buf, "\n")] = '\0';
    fclose(f);
    af_free(path);
    return af_strdup(buf);
  }
  if (RAND_bytes(raw, sizeof raw) != 1) {
    *err = af_strdup("embedded PostgreSQL: no random bytes for its password");
    goto fail;
  }
  for (int i = 0; i < 16; i++) snprintf(buf + 2 * i, 3, "%02x", raw[i]);
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0 || write(fd, buf, 32) != 32 || fchown(fd, owner, group) != 0) {
    *err = af_asprintf("%s: %s", path, strerror(errno));
    if (fd >= 0) close(fd);
    goto fail;
  }
  close(fd);
  af_free(path);
  return af_strdup(buf);
oom:
  *err = af_strdup("out of memory");
fail:
  if (f) fclose(f);
  af_free(path);
  return NULL;
}

int af_store_embedded_start(const char *state_dir, af_store_embedded **out, char **err) {
  af_store_embedded *e = NULL;
  char *data = NULL, *log = NULL, *srvlog = NULL, *pw = NULL, *pwfile = NULL, *opts = NULL;
  char *version = NULL;
  uid_t owner = getuid();
  gid_t group = getgid();
  struct stat st;
  int rc = -1;
  *out = NULL;
  if (state_dir == NULL || state_dir[0] != '/') {
    *err = af_strdup("AF_STATE_DIR: must be an absolute directory");
    return -1;
  }
  if (access(PG_BIN "/initdb", X_OK) != 0) {
    *err = af_strdup("embedded PostgreSQL: " PG_BIN "/initdb missing (apt-get install postgresql)");
    return -1;
  }
  if (getuid() == 0) {
    struct passwd *pw_ent = getpwnam("postgres");
    if (pw_ent == NULL) {
      *err = af_strdup("embedded PostgreSQL: running as root needs the postgres user");
      return -1;
    }
    owner = pw_ent->pw_uid;
    group = pw_ent->pw_gid;
  }
  e = af_calloc(1, sizeof *e);
  if (e == NULL || !(e->dir = af_asprintf("%s/pg", state_dir)) ||
      !(data = af_asprintf("%s/data", e->dir)) || !(log = af_asprintf("%s/commands.log", e->dir)) ||
      !(srvlog = af_asprintf("%s/postgres.log", e->dir)) ||
      !(pwfile = af_asprintf("%s/password", e->dir)) ||
      !(version = af_asprintf("%s/PG_VERSION", data))) {
    *err = af_strdup("out of memory");
    goto done;
  }
  if (mkdir(state_dir, 0700) != 0 && errno != EEXIST) {
    *err = af_asprintf("AF_STATE_DIR: %s: %s", state_dir, strerror(errno));
    goto done;
  }
  if (mkdir(e->dir, 0700) != 0 && errno != EEXIST) {
    *err = af_asprintf("AF_STATE_DIR: %s: %s", e->dir, strerror(errno));
    goto done;
  }
  if (stat(e->dir, &st) != 0 || (st.st_uid != owner && chown(e->dir, owner, group) != 0)) {
    *err = af_asprintf("AF_STATE_DIR: cannot give %s to the postgres user: %s", e->dir,
                       strerror(errno));
    goto done;
  }
  if (!(pw = password(e->dir, owner, group, err))) goto done;

  if (access(version, F_OK) != 0) {
    char *argv[] = {PG_BIN "/initdb", "-D", data, "-U", "postgres", "-A", "scram-sha-256",
                    "--pwfile", pwfile, "-E", "UTF8", "--locale=C.UTF-8", NULL};
    if (run(log, argv) != 0) {
      *err = af_asprintf("embedded PostgreSQL: initdb failed (see %s; as root, %s must be "
                         "reachable by the postgres user)", log, e->dir);
      goto done;
    }
  }
  int port = running_port(e->dir, log);
  for (int attempt = 0; port < 0 && attempt < 5; attempt++) {
    int p = free_port();
    af_free(opts);
    opts = af_asprintf("-c listen_addresses=127.0.0.1 -p %d -c unix_socket_directories=%s", p,
                       e->dir);
    if (p < 0 || opts == NULL) continue;
    char *argv[] = {PG_BIN "/pg_ctl", "-D", data, "-l", srvlog, "-w", "-t", "60", "-o", opts,
                    "start", NULL};
    if (run(log, argv) == 0) {
      port = p;
      e->started = 1;
    }
  }
  if (port < 0) {
    *err = af_asprintf("embedded PostgreSQL: could not start (see %s and %s)", log, srvlog);
    goto done;
  }
  e->url = af_asprintf("postgresql://postgres:%s@127.0.0.1:%d/postgres", pw, port);
  if (e->url == NULL) {
    *err = af_strdup("out of memory");
    goto done;
  }
  *out = e;
  e = NULL;
  rc = 0;
done:
  if (e) {
    char *ignored = NULL;
    af_store_embedded_stop(e, &ignored);
    af_free(ignored);
  }
  if (pw) memset(pw, 0, strlen(pw));
  af_free(pw);
  af_free(data);
  af_free(log);
  af_free(srvlog);
  af_free(pwfile);
  af_free(opts);
  af_free(version);
  return rc;
}

const char *af_store_embedded_url(const af_store_embedded *e) { return e->url; }

int af_store_embedded_stop(af_store_embedded *e, char **err) {
  int rc = 0;
  if (e == NULL) return 0;
  if (e->started) {
    char *data = af_asprintf("%s/data", e->dir), *log = af_asprintf("%s/commands.log", e->dir);
    char *argv[] = {PG_BIN "/pg_ctl", "-D", data, "-m", "fast", "-w", "stop", NULL};
    if (!data || !log || run(log, argv) != 0) {
      *err = af_asprintf("embedded PostgreSQL: stop failed (see %s/commands.log)", e->dir);
      rc = -1;
    }
    af_free(data);
    af_free(log);
  }
  if (e->url) memset(e->url, 0, strlen(e->url));
  af_free(e->url);
  af_free(e->dir);
  af_free(e);
  return rc;
}
