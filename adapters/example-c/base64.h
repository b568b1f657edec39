#ifndef EXAMPLE_C_BASE64_H
#define EXAMPLE_C_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Characters base64 (RFC 4648, padded) needs for `length` bytes, or 0 when that would overflow size_t
 * (a zero-length input also needs 0). */
__attribute__((visibility("hidden"))) size_t example_base64_encoded_length(size_t length);

/* Writes the padded base64 of bytes[0..<length] to out (which holds example_base64_encoded_length(length)
 * characters; no NUL is written). Returns the characters written. */
__attribute__((visibility("hidden"))) size_t example_base64_encode(const uint8_t *bytes, size_t length, char *out);

#endif
