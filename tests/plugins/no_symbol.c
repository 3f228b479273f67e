/* tests/plugins/no_symbol.c: a fixture that is a valid shared object but exports no
 * `tranche_plugin` descriptor, only an unrelated function, so dlsym() finds nothing. */
#include <tranche/plugin.h>

__attribute__((visibility("default"))) int
not_a_tranche_plugin(void)
{
    return TRANCHE_OK;
}
