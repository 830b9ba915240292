/*
 * runner.c -- process-isolated C test runner with TAP output.
 *
 * Every test in test-list.h runs in a forked child with a timeout
 * (AF_TEST_TIMEOUT seconds, default 30, times AF_TEST_TIMEOUT_MULT, which
 * sanitizer builds raise). `af_tests` runs the unit tests, `af_tests --live`
 * the ones named live_* (they need Chromium); `af_tests NAME` runs one
 * in-process, handy under gdb or valgrind.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define AF_TEST_DECLARE(name) int test_##name(void);
#define AF_TEST_ENTRY(name) {#name, test_##name},
#include "test-list.h"

typedef struct { const char *name; int (*fn)(void); } test_entry;

static const test_entry tests[] = {AF_TEST_LIST(AF_TEST_ENTRY){NULL, NULL}};

static double env_num(const char *name, double dflt) {
  const char *v = getenv(name);
  return v && *v ? atof(v) : dflt;
}

/* Run one test in a child; 0 passed, 1 failed, 2 timed out. */
static int run_isolated(const test_entry *t, int timeout_s) {
  pid_t pid = fork();
  if (pid < 0) return 1;
  if (pid == 0) {
    setpgid(0, 0);
    exit(t->fn());
  }
  for (time_t start = time(NULL);;) {
    int status;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      if (WIFEXITED(status)) return WEXITSTATUS(status) == 0 ? 0 : 1;
      fprintf(stderr, "  killed by signal %d\n", WTERMSIG(status));
      return 1;
    }
    if (time(NULL) - start > timeout_s) {
      kill(-pid, SIGKILL);
      waitpid(pid, &status, 0);
      return 2;
    }
    usleep(2000);
  }
}

int main(int argc, char **argv) {
  int n = 0, failed = 0;
  int timeout_s = (int)(env_num("AF_TEST_TIMEOUT", 30) *
                        env_num("AF_TEST_TIMEOUT_MULT", 1));
  signal(SIGPIPE, SIG_IGN);
  int live = argc == 2 && strcmp(argv[1], "--live") == 0;
  if (argc == 2 && !live) {
    for (const test_entry *t = tests; t->name; t++)
      if (strcmp(t->name, argv[1]) == 0) return t->fn();
    fprintf(stderr, "af_tests: no test named '%s'\n", argv[1]);
    return 2;
  }
  for (const test_entry *t = tests; t->name; t++)
    if ((strncmp(t->name, "live_", 5) == 0) == live) n++;
  printf("1..%d\n", n);
  fflush(stdout);
  int i = 0;
  for (const test_entry *t = tests; t->name; t++) {
    if ((strncmp(t->name, "live_", 5) == 0) != live) continue;
    int r = run_isolated(t, timeout_s);
    i++;
    if (r) failed++;
    printf("%s %d - %s%s\n", r ? "not ok" : "ok", i, t->name,
           r == 2 ? " # timed out" : "");
    fflush(stdout);
  }
  printf("%d passed, %d failed\n", n - failed, failed);
  return failed ? 1 : 0;
}
