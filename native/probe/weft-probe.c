// weft-probe ready|live [--socket PATH] [--timeout S]: the chart's exec readiness probe. It asks the
// agent of its own container over the unix socket the agent serves with --health-socket (the
// pod's own /tmp), as `weft probe` does, in C: the kubelet runs it every few seconds on every
// node, and a Node process for it would cost 0.1-0.25 s of CPU and 45-60 MiB each time.
// Exit 0 on 200; else 1 with one line on stderr saying why; 2 for a usage error.
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_SOCKET "/tmp/weft-health.sock"
#define DEFAULT_TIMEOUT_MS 1000
// The agent's answers are one short line; more is not an agent's.
#define MAX_ANSWER 1024

static const char usage[] =
    "Usage: weft-probe <ready|live> [--socket PATH] [--timeout S]\n"
    "\n"
    "Asks this container's agent over its --health-socket whether it is ready (or live):\n"
    "`weft probe` in C, for the kubelet's exec probe. Exits 0 on 200; else 1 with one line\n"
    "saying why; 2 for a usage error.\n"
    "\n"
    "Options:\n"
    "  --socket PATH   the agent's --health-socket (default " DEFAULT_SOCKET ")\n"
    "  --timeout S     give up after S seconds, from 0.1 to 60 (default 1)\n";

static int usage_error(const char *what, const char *arg) {
  fprintf(stderr, "weft-probe: %s%s. Run 'weft-probe --help'.\n", what, arg);
  return 2;
}

static long long now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int fail(const char *fmt, const char *a, const char *b) {
  fputs("weft-probe: ", stderr);
  fprintf(stderr, fmt, a, b);
  fputc('\n', stderr);
  return 1;
}

/** Waits for fd to be ready for events until the deadline; 0 on timeout. */
static int wait_for(int fd, short events, long long deadline) {
  for (;;) {
    long long left = deadline - now_ms();
    if (left <= 0) return 0;
    struct pollfd p = {fd, events, 0};
    int n = poll(&p, 1, (int)left);
    if (n < 0 && errno == EINTR) continue;
    return n;
  }
}

int main(int argc, char **argv) {
  if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
    fputs(usage, stdout);
    return 0;
  }
  if (argc < 2) {
    fputs(usage, stderr);
    return 2;
  }
  const char *what = argv[1];
  if (strcmp(what, "ready") != 0 && strcmp(what, "live") != 0)
    return usage_error("unknown subcommand ", what);
  const char *path = DEFAULT_SOCKET;
  long timeout = DEFAULT_TIMEOUT_MS;
  for (int i = 2; i < argc; i += 2) {
    if (i + 1 >= argc) return usage_error("missing value for ", argv[i]);
    if (!strcmp(argv[i], "--socket")) {
      path = argv[i + 1];
    } else if (!strcmp(argv[i], "--timeout")) {
      char *end;
      double secs = strtod(argv[i + 1], &end);
      if (*argv[i + 1] == '\0' || *end != '\0' || !(secs >= 0.1 && secs <= 60))
        return usage_error("--timeout expects seconds from 0.1 to 60, not ", argv[i + 1]);
      timeout = (long)(secs * 1000 + 0.5);
    } else {
      return usage_error("unknown option ", argv[i]);
    }
  }
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof addr.sun_path) return usage_error("socket path too long: ", path);
  strcpy(addr.sun_path, path);

  struct stat st;
  if (stat(path, &st) != 0) {
    if (errno == ENOENT) return fail("agent not started: no socket at %s%s", path, "");
    if (errno == EACCES)
      return fail("%s: permission denied (the socket is its agent's user's only)%s", path, "");
    return fail("%s: %s", path, strerror(errno));
  }
  if (!S_ISSOCK(st.st_mode))
    return fail("%s is not a socket (give the agent's --health-socket)%s", path, "");

  long long deadline = now_ms() + timeout;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail("socket: %s%s", strerror(errno), "");
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    if (errno == ECONNREFUSED) return fail("agent not running: nothing listens on %s%s", path, "");
    if (errno == EACCES)
      return fail("%s: permission denied (the socket is its agent's user's only)%s", path, "");
    return fail("%s: %s", path, strerror(errno));
  }
  char req[64];
  int len = snprintf(req, sizeof req, "GET /healthz/%s HTTP/1.0\r\nHost: localhost\r\n\r\n", what);
  if (write(fd, req, (size_t)len) != len) return fail("%s: %s", path, strerror(errno));

  char answer[MAX_ANSWER + 1];
  size_t got = 0;
  for (;;) {
    int r = wait_for(fd, POLLIN, deadline);
    if (r == 0) {
      char secs[32];
      snprintf(secs, sizeof secs, "%g", timeout / 1000.0);
      return fail("no answer from the agent on %s within %s s", path, secs);
    }
    if (r < 0) return fail("%s: %s", path, strerror(errno));
    ssize_t n = read(fd, answer + got, MAX_ANSWER + 1 - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail("%s: %s", path, strerror(errno));
    if (n == 0) break;
    got += (size_t)n;
    if (got > MAX_ANSWER)
      return fail("not a weft agent on %s: an answer over %s bytes", path, "1024");
  }
  close(fd);
  answer[got] = '\0';

  int status = 0;
  if (sscanf(answer, "HTTP/1.%*1[01] %3d", &status) != 1)
    return fail("not a weft agent on %s: %s", path, got ? "not an HTTP answer" : "(empty)");
  // The body's first line is the agent's word.
  char *body = strstr(answer, "\r\n\r\n");
  body = body ? body + 4 : answer + got;
  body[strcspn(body, "\r\n")] = '\0';
  if (*body == '\0') body = "(empty)";
  if (status == 200) {
    puts(body);
    return 0;
  }
  if (status == 503) {
    fprintf(stderr, "weft-probe: not %s: %s\n", what, body);
    return 1;
  }
  char code[8];
  snprintf(code, sizeof code, "%d", status);
  fprintf(stderr, "weft-probe: not a weft agent on %s: %s %s\n", path, code, body);
  return 1;
}
