/* slog: structured log lines on stderr, one JSON object per line:
 * {"ts":"...","level":"info","event":"...", ...extra members}.
 * The extra members are a printf-formatted JSON fragment; strings from
 * outside must go through slog_quote. Tokens are never passed here. */
#ifndef DC_SLOG_H
#define DC_SLOG_H

#include <stddef.h>

void slog_line(const char *level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define slog_info(ev, ...) slog_line("info", ev, __VA_ARGS__)
#define slog_warn(ev, ...) slog_line("warn", ev, __VA_ARGS__)
#define slog_error(ev, ...) slog_line("error", ev, __VA_ARGS__)

/* slog_quote writes s as the inside of a JSON string (escaped, truncated
 * to fit) into buf and returns buf. */
char *slog_quote(const char *s, char *buf, size_t n);

/* slog_set_quiet(1) silences info lines (warnings and errors still go). */
void slog_set_quiet(int quiet);

#endif
