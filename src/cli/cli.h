/* cli: the `deconflict` command's subcommands. main.c dispatches; each
 * subcommand lives in its own file and returns the process exit code
 * (0 ok, 1 runtime failure, 2 invalid input or usage). */
#ifndef DC_CLI_H
#define DC_CLI_H

int cli_check(int argc, char **argv);

#ifdef DC_HAVE_SERVICE
int cli_serve(int argc, char **argv);
int cli_party(int argc, char **argv);
int cli_audit(int argc, char **argv);
#endif

#endif
