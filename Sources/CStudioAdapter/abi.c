#include "studio_adapter.h"

uint32_t studio_adapter_abi_version(void) { return STUDIO_ADAPTER_ABI_VERSION; }
uint32_t studio_adapter_vtable_v1_size(void) { return (uint32_t)sizeof(studio_adapter_vtable_v1); }
