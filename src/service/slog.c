/* slog: structured stderr logging (see slog.h). One fprintf per line so
 * that lines from different threads do not interleave. */
#include "slog.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int slog_quiet;

void slog_set_quiet(int quiet)
{
    slog_quiet = quiet;
}

char *slog_quote(const char *s, char *buf, size_t n)
{
    size_t o = 0;
    if (!n)
        return buf;
    for (; s && *s && o + 7 < n; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            buf[o++] = '\\';
            buf[o++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            o += (size_t)snprintf(buf + o, n - o, "\\u%04x", c);
        } else {
            buf[o++] = (char)c;
        }
    }
    buf[o] = 0;
    return buf;
}

void slog_line(const char *level, const char *event, const char *fmt, ...)
{
    if (slog_quiet && strcmp(level, "info") == 0)
        return;
    char extra[2048];
    extra[0] = 0;
    if (fmt && fmt[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(extra, sizeof extra, fmt, ap);
        va_end(ap);
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char tbuf[40];
    strftime(tbuf, sizeof tbuf, "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(stderr, "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"event\":\"%s\"%s%s}\n", tbuf,
            ts.tv_nsec / 1000000, level, event, extra[0] ? "," : "", extra);
}
