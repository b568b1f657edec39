/*
 * studio adapter ABI, version 1.
 *
 * An adapter is a shared library that exports
 *
 *     const studio_adapter_vtable_v1 *studio_adapter_v1(uint32_t host_abi_version);
 *
 * The host passes the ABI version it speaks; an adapter that cannot serve it returns NULL. The host
 * checks `abi_version` and `struct_size` before touching any other field. Fields are only ever
 * appended: a later minor revision adds members at the end and a larger `struct_size`; a host reads
 * only the members that fit in the `struct_size` it was given. A breaking change gets a new entry
 * symbol (`studio_adapter_v2`).
 *
 * Control messages are UTF-8 JSON, NUL-terminated. Image bytes travel as pointer + length. Every
 * string an adapter returns was allocated by the adapter and is released with its `free_string`;
 * the host never frees adapter memory with its own allocator, and an adapter never keeps a pointer
 * the host gave it after the call returns.
 *
 * Adapters are pure translators: they receive no secrets and do no I/O. `build_request` turns a
 * request (character, prompt, negatives, strictness) into HTTP request plans whose credentials are
 * placeholders the host fills; `parse_response` turns an HTTP response into a job state, output URLs
 * or a typed error. The JSON shapes are defined by AdapterSDK (Sources/AdapterSDK/Messages.swift).
 */
#ifndef STUDIO_ADAPTER_H
#define STUDIO_ADAPTER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define STUDIO_ADAPTER_ABI_VERSION 1u

/* One image handed to an adapter: encoded bytes (PNG or JPEG) and their MIME type. */
typedef struct studio_image {
    const uint8_t *bytes;
    size_t length;
    const char *mime_type; /* "image/png" or "image/jpeg" */
} studio_image;

typedef struct studio_adapter_vtable_v1 {
    /* STUDIO_ADAPTER_ABI_VERSION the adapter was built against. */
    uint32_t abi_version;
    /* sizeof(studio_adapter_vtable_v1) in the adapter's build. */
    uint32_t struct_size;
    /* The manifest as JSON (name, version, surface). Free with free_string. */
    char *(*manifest_json)(void);
    /* request_json + the reference images -> {"plans": [...]} or {"error": {...}}. Free with free_string. */
    char *(*build_request)(const char *request_json, const studio_image *images, size_t image_count);
    /* response_json (status, headers, context) + body bytes -> {"update": {...}} or {"error": {...}}. */
    char *(*parse_response)(const char *response_json, const uint8_t *body, size_t body_length);
    /* Releases a string returned by this adapter. */
    void (*free_string)(char *string);
} studio_adapter_vtable_v1;

typedef const studio_adapter_vtable_v1 *(*studio_adapter_entry_v1)(uint32_t host_abi_version);

/* The version this header describes (for Swift, where the macro is not imported as a constant of the right type). */
uint32_t studio_adapter_abi_version(void);
/* sizeof(studio_adapter_vtable_v1) in this build. */
uint32_t studio_adapter_vtable_v1_size(void);

#ifdef __cplusplus
}
#endif

#endif
