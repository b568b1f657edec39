// A small, non-variadic C surface over libcurl's easy interface for Swift (curl_easy_setopt is
// variadic and cannot be called from Swift). One transfer per handle; the write and header
// callbacks live here in C and fill buffers owned by the handle, so Swift passes no callbacks.
#ifndef CCURL_SHIM_H
#define CCURL_SHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ccurl_transfer ccurl_transfer;

/// Outcome classes of ccurl_perform.
typedef enum {
    CCURL_OK = 0,
    CCURL_TIMEOUT = 1,
    CCURL_TOO_LARGE = 2,
    CCURL_CONNECTION = 3,
    CCURL_INVALID_URL = 4,
    CCURL_OTHER = 5,
} ccurl_result;

/// A new transfer (curl_global_init runs once, first). NULL when libcurl cannot start one.
/// Defaults: no redirects followed, http/https only, no signals, no Expect: 100-continue.
ccurl_transfer *ccurl_new(void);
void ccurl_free(ccurl_transfer *t);

/// 0 on success, nonzero otherwise (the libcurl code).
int ccurl_set_url(ccurl_transfer *t, const char *url);
/// "GET", "HEAD", "POST", "PUT", "DELETE", ... (anything but GET/HEAD goes as a custom request).
int ccurl_set_method(ccurl_transfer *t, const char *method);
/// One "Name: value" line; the list is sent with the request.
int ccurl_add_header(ccurl_transfer *t, const char *line);
/// Request body (copied). Sent with any method other than GET/HEAD.
int ccurl_set_body(ccurl_transfer *t, const uint8_t *bytes, size_t count);
/// Milliseconds; 0 means libcurl's default (connect) or none (total).
int ccurl_set_timeouts(ccurl_transfer *t, long connect_ms, long total_ms);
/// The transfer aborts with CCURL_TOO_LARGE once the body would exceed this many bytes (0: no cap).
int ccurl_set_max_response(ccurl_transfer *t, size_t max_bytes);

/// Performs the transfer. A 3xx is a normal completion (redirects are never followed).
ccurl_result ccurl_perform(ccurl_transfer *t);
long ccurl_response_code(const ccurl_transfer *t);
/// libcurl's error text for the last perform (never contains request headers).
const char *ccurl_error(const ccurl_transfer *t);
/// The raw libcurl code of the last perform.
int ccurl_curl_code(const ccurl_transfer *t);

/// Response body bytes (valid until ccurl_free).
const uint8_t *ccurl_body(const ccurl_transfer *t, size_t *count);
/// Response headers of the final response as "name: value\n" lines, names lower-cased.
const char *ccurl_headers(const ccurl_transfer *t, size_t *count);

#ifdef __cplusplus
}
#endif
#endif
