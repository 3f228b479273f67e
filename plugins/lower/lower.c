/* plugins/lower/lower.c: the `lower` plugin, which maps ASCII A-Z to a-z, like `LC_ALL=C tr A-Z
 * a-z`. It is upper.c compiled with CASE_LOWER defined: one source, two plugins. */
#define CASE_LOWER 1
#include "../upper/upper.c"
