/* statusd — command-line subcommands that query the status-code registry.
 *
 * Both take the subcommand's own argument vector: argv[0] is the subcommand name ("explain" or
 * "list"), the options and operands follow. They print to stdout, diagnostics to stderr, and
 * return the process exit status: 0 on success, 1 when stdout could not be written, 2 on a usage
 * error or an unknown status code. */
#ifndef HS_CLI_H
#define HS_CLI_H

/* statusd explain [--json] CODE|CLASS...   e.g. 418, 404 500, 4xx */
int hs_cli_explain(int argc, char **argv);

/* statusd list [--class CLASS] [--unofficial] [--json] */
int hs_cli_list(int argc, char **argv);

#endif
