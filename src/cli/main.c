/* main: entry point of the `deconflict` command; dispatches to the
 * subcommands of SPEC section 6. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f, "usage:\n"
               "  deconflict check SCENARIO.json [--json]\n"
#ifdef DC_HAVE_SERVICE
               "  deconflict serve [--data DIR] [--listen ADDR:PORT] [--clock-start T]\n"
               "                   [--scenario FILE]\n"
               "  deconflict party add ID NAME --data DIR\n"
               "  deconflict audit verify --data DIR\n"
#endif
    );
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "check") == 0)
        return cli_check(argc - 1, argv + 1);
#ifdef DC_HAVE_SERVICE
    if (strcmp(cmd, "serve") == 0)
        return cli_serve(argc - 1, argv + 1);
    if (strcmp(cmd, "party") == 0)
        return cli_party(argc - 1, argv + 1);
    if (strcmp(cmd, "audit") == 0)
        return cli_audit(argc - 1, argv + 1);
#endif
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "deconflict: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
