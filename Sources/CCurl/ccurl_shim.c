#include "ccurl_shim.h"

#include <curl/curl.h>
#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint8_t *data;
    size_t count;
    size_t capacity;
} buffer;

struct ccurl_transfer {
    CURL *easy;
    struct curl_slist *headers;
    buffer body;
    buffer head;
    size_t max_body;
    int exceeded;
    int code;
    char error[CURL_ERROR_SIZE];
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_status = CURLE_OK;
static void global_init(void) { global_status = curl_global_init(CURL_GLOBAL_DEFAULT); }

static int buffer_append(buffer *b, const void *bytes, size_t n) {
    if (n == 0) return 0;
    if (b->count + n > b->capacity) {
        size_t cap = b->capacity ? b->capacity : 4096;
        while (cap < b->count + n) cap *= 2;
        uint8_t *p = realloc(b->data, cap);
        if (!p) return -1;
        b->data = p;
        b->capacity = cap;
    }
    memcpy(b->data + b->count, bytes, n);
    b->count += n;
    return 0;
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *ctx) {
    ccurl_transfer *t = ctx;
    size_t n = size * nmemb;
    if (t->max_body && t->body.count + n > t->max_body) {
        t->exceeded = 1;
        return 0;  // anything but n aborts the transfer (CURLE_WRITE_ERROR)
    }
    if (buffer_append(&t->body, ptr, n) != 0) return 0;
    return n;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ctx) {
    ccurl_transfer *t = ctx;
    size_t n = size * nmemb;
    // A new status line (after 1xx or a retried auth) starts a new header block.
    if (n >= 5 && memcmp(ptr, "HTTP/", 5) == 0) {
        t->head.count = 0;
        return n;
    }
    size_t end = n;
    while (end > 0 && (ptr[end - 1] == '\r' || ptr[end - 1] == '\n')) end--;
    if (end == 0) return n;
    const char *colon = memchr(ptr, ':', end);
    if (!colon) return n;  // folded or malformed line: ignored
    size_t name_len = (size_t)(colon - ptr);
    size_t v = name_len + 1;
    while (v < end && (ptr[v] == ' ' || ptr[v] == '\t')) v++;
    size_t vend = end;
    while (vend > v && (ptr[vend - 1] == ' ' || ptr[vend - 1] == '\t')) vend--;
    for (size_t i = 0; i < name_len; i++) {
        char c = (char)tolower((unsigned char)ptr[i]);
        if (buffer_append(&t->head, &c, 1) != 0) return 0;
    }
    if (buffer_append(&t->head, ": ", 2) != 0) return 0;
    if (buffer_append(&t->head, ptr + v, vend - v) != 0) return 0;
    if (buffer_append(&t->head, "\n", 1) != 0) return 0;
    return n;
}

ccurl_transfer *ccurl_new(void) {
    pthread_once(&global_once, global_init);
    if (global_status != CURLE_OK) return NULL;
    ccurl_transfer *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->easy = curl_easy_init();
    if (!t->easy) { free(t); return NULL; }
    CURL *e = t->easy;
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->error);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");  // any encoding libcurl decodes
    t->headers = curl_slist_append(NULL, "Expect:");
    return t;
}

void ccurl_free(ccurl_transfer *t) {
    if (!t) return;
    curl_easy_cleanup(t->easy);
    curl_slist_free_all(t->headers);
    free(t->body.data);
    free(t->head.data);
    free(t);
}

int ccurl_set_url(ccurl_transfer *t, const char *url) {
    return (int)curl_easy_setopt(t->easy, CURLOPT_URL, url);
}

int ccurl_set_method(ccurl_transfer *t, const char *method) {
    if (strcmp(method, "GET") == 0) return (int)curl_easy_setopt(t->easy, CURLOPT_HTTPGET, 1L);
    if (strcmp(method, "HEAD") == 0) return (int)curl_easy_setopt(t->easy, CURLOPT_NOBODY, 1L);
    return (int)curl_easy_setopt(t->easy, CURLOPT_CUSTOMREQUEST, method);
}

int ccurl_add_header(ccurl_transfer *t, const char *line) {
    struct curl_slist *l = curl_slist_append(t->headers, line);
    if (!l) return (int)CURLE_OUT_OF_MEMORY;
    t->headers = l;
    return 0;
}

int ccurl_set_body(ccurl_transfer *t, const uint8_t *bytes, size_t count) {
    CURLcode c = curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)count);
    if (c != CURLE_OK) return (int)c;
    static const char empty[1] = {0};
    return (int)curl_easy_setopt(t->easy, CURLOPT_COPYPOSTFIELDS, count ? (const char *)bytes : empty);
}

int ccurl_set_timeouts(ccurl_transfer *t, long connect_ms, long total_ms) {
    CURLcode c = curl_easy_setopt(t->easy, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    if (c != CURLE_OK) return (int)c;
    return (int)curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, total_ms);
}

int ccurl_set_max_response(ccurl_transfer *t, size_t max_bytes) {
    t->max_body = max_bytes;
    return (int)curl_easy_setopt(t->easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max_bytes);
}

ccurl_result ccurl_perform(ccurl_transfer *t) {
    t->error[0] = 0;
    t->exceeded = 0;
    t->body.count = 0;
    t->head.count = 0;
    curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->headers);
    CURLcode c = curl_easy_perform(t->easy);
    t->code = (int)c;
    if (t->error[0] == 0) {
        strncpy(t->error, curl_easy_strerror(c), CURL_ERROR_SIZE - 1);
        t->error[CURL_ERROR_SIZE - 1] = 0;
    }
    if (t->exceeded || c == CURLE_FILESIZE_EXCEEDED) return CCURL_TOO_LARGE;
    switch (c) {
    case CURLE_OK: return CCURL_OK;
    case CURLE_OPERATION_TIMEDOUT: return CCURL_TIMEOUT;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL: return CCURL_INVALID_URL;
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR: return CCURL_CONNECTION;
    default: return CCURL_OTHER;
    }
}

long ccurl_response_code(const ccurl_transfer *t) {
    long code = 0;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &code);
    return code;
}

const char *ccurl_error(const ccurl_transfer *t) { return t->error; }
int ccurl_curl_code(const ccurl_transfer *t) { return t->code; }

const uint8_t *ccurl_body(const ccurl_transfer *t, size_t *count) {
    *count = t->body.count;
    return t->body.data;
}

const char *ccurl_headers(const ccurl_transfer *t, size_t *count) {
    *count = t->head.count;
    return (const char *)t->head.data;
}
