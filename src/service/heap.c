/* heap: transparent huge pages for glibc's heap (see heap.h for why). */
#include "heap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HUGETLB_TUNABLE "glibc.malloc.hugetlb"

void heap_use_hugepages(char **argv)
{
    const char *want = getenv("DECONFLICT_HUGEPAGES");
    if (want && strcmp(want, "0") == 0)
        return;
    const char *t = getenv("GLIBC_TUNABLES");
    if (t && strstr(t, HUGETLB_TUNABLE))
        return; /* set by us before the restart, or by the user: theirs wins */
    char old[2048], buf[4096];
    if (t && (size_t)snprintf(old, sizeof old, "%s", t) >= sizeof old)
        return;
    int n = t && *t ? snprintf(buf, sizeof buf, "%s:" HUGETLB_TUNABLE "=1", old)
                    : snprintf(buf, sizeof buf, HUGETLB_TUNABLE "=1");
    if (n < 0 || (size_t)n >= sizeof buf)
        return;
    if (setenv("GLIBC_TUNABLES", buf, 1) != 0)
        return;
    /* The program's own path, not /proc/self/exe: the kernel names the
     * process after the file it runs (ps and top would show "exe"). */
    char self[4096];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len > 0) {
        self[len] = 0;
        execv(self, argv);
    }
    /* Still here: run as we are. Leave the variable unset again, so that
     * nothing started later believes the tunable is in force. */
    if (t)
        setenv("GLIBC_TUNABLES", old, 1);
    else
        unsetenv("GLIBC_TUNABLES");
}
