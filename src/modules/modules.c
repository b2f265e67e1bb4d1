/* statusd — the module list: tried in this order for every request (design habit 9). */
#include "hs/http.h"

extern const hs_module_t hs_module_reference;
extern const hs_module_t hs_module_testapi;
extern const hs_module_t hs_module_static;

const hs_module_t *const hs_modules[] = {
    &hs_module_reference, /* /codes, whatever --root and --api say; declines every other path */
    &hs_module_testapi,
    &hs_module_static,
    NULL,
};
