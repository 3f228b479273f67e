#include <tranche/plugin.h>
