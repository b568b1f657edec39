/*
 * example-c: a studio adapter written in C (json-c), for fal-ai/ip-adapter-face-id on fal's queue API.
 * Its only export is the ABI v1 entry point declared in studio_adapter.h.
 */
#ifndef EXAMPLE_C_ADAPTER_H
#define EXAMPLE_C_ADAPTER_H

#include "studio_adapter.h"

#ifdef __cplusplus
extern "C" {
#endif

__attribute__((visibility("default")))
const studio_adapter_vtable_v1 *studio_adapter_v1(uint32_t host_abi_version);

#ifdef __cplusplus
}
#endif

#endif
