/* statusd — TEMPORARY: the Makefile's LIB_SRC does not yet compile the .c files of src/os/, so the privilege
 * drop (src/os/privdrop.c, declared in include/hs/os.h) is compiled in from here, as a weak
 * definition so that it can never clash with the real object once src/os/ is in the build.
 * Delete this file when LIB_SRC includes the .c files of src/os/. */
#define HS_OS_WEAK __attribute__((weak))
#include "../../os/privdrop.c"
