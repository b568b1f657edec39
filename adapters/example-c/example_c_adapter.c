/*
 * example-c: fal-ai/ip-adapter-face-id on fal's queue API, as a studio adapter written in C with json-c.
 *
 * It proves the adapter ABI (Sources/CStudioAdapter/include/studio_adapter.h) is language-neutral: no
 * Swift, only the header and the JSON shapes of Sources/AdapterSDK/Messages.swift. See README.md for
 * the mapping and the conventions it relies on.
 *
 * Rules this file keeps: every string it returns comes from malloc (strdup) and is released by
 * free_string; every pointer and length the host passes is checked before use; provider bodies are
 * parsed with a bounded nesting depth, a size cap and UTF-8 validation, so hostile input yields a typed
 * error, never a crash. Nothing here keeps a pointer the host gave it after a call returns.
 */
#define _GNU_SOURCE /* strcasestr */
#include "example_c_adapter.h"
#include "base64.h"

#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SUBMIT_URL "https://queue.fal.run/fal-ai/ip-adapter-face-id"
#define QUEUE_PREFIX "https://queue.fal.run/"
#define PROVIDER "fal"

#define MAX_REQUEST_JSON ((size_t)16 << 20) /* the host's request: prompts, attributes, a 128-D embedding */
#define MAX_BODY ((size_t)32 << 20)         /* a provider response body */
#define MAX_IMAGE ((size_t)16 << 20)        /* one reference image, before base64 */
#define MAX_DEPTH 32                        /* JSON nesting, for every parse */
#define MAX_URL 8192                        /* a URL taken from a provider body */
#define MAX_OUTPUTS 16
#define MAX_DETAIL 400                      /* bytes of provider error text kept in a message */
#define MAX_SIDE 4096
#define SEED_MODULUS 2147483647ull          /* seeds kept in a positive 32-bit int, as the Replicate adapter does */

/* MARK: - Small helpers */

/* Cuts `s` so that it does not end in the middle of a UTF-8 sequence (after snprintf truncation). */
static void trim_utf8(char *s) {
    size_t len = strlen(s);
    if (len == 0) return;
    size_t lead = len - 1, back = 0;
    while (lead > 0 && back < 3 && ((unsigned char)s[lead] & 0xC0) == 0x80) { lead--; back++; }
    unsigned char c = (unsigned char)s[lead];
    size_t need = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (need == 0 || lead + need > len) s[lead] = '\0';
}

/* Serializes `root`, releases it, and returns a malloc'd copy (NULL when out of memory). */
static char *finish(json_object *root) {
    if (root == NULL) return NULL;
    const char *text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    char *out = text ? strdup(text) : NULL;
    json_object_put(root);
    return out;
}

/* Adds `value` under `key`; a NULL value (allocation failure) clears *ok. */
static void add(json_object *object, const char *key, json_object *value, int *ok) {
    if (value == NULL || object == NULL || json_object_object_add(object, key, value) != 0) {
        json_object_put(value);
        *ok = 0;
    }
}

/* {"error":{code,message,retryable,retryAfterSeconds?}}; retry_after < 0 leaves it out. */
static char *error_reply(const char *code, const char *message, int retryable, double retry_after) {
    int ok = 1;
    json_object *root = json_object_new_object(), *e = json_object_new_object();
    add(e, "code", json_object_new_string(code), &ok);
    add(e, "message", json_object_new_string(message), &ok);
    add(e, "retryable", json_object_new_boolean(retryable), &ok);
    if (retry_after >= 0) add(e, "retryAfterSeconds", json_object_new_double(retry_after), &ok);
    add(root, "error", e, &ok);
    if (!ok) { json_object_put(root); return NULL; }
    return finish(root);
}

static char *error_replyf(const char *code, int retryable, double retry_after, const char *format, const char *detail) {
    char message[1024];
    snprintf(message, sizeof message, format, detail ? detail : "");
    trim_utf8(message);
    return error_reply(code, message, retryable, retry_after);
}

/* Parses exactly `length` bytes as one JSON value (strict, UTF-8 validated, bounded depth). Returns
 * 1 and the value (NULL for JSON null) on success, 0 with a reason otherwise. */
static int parse_json(const char *text, size_t length, json_object **out, const char **why) {
    *out = NULL;
    if (length > INT_MAX) { *why = "too large"; return 0; }
    if (text == NULL) text = "";
    struct json_tokener *tok = json_tokener_new_ex(MAX_DEPTH);
    if (tok == NULL) { *why = "out of memory"; return 0; }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *value = json_tokener_parse_ex(tok, text, (int)length);
    enum json_tokener_error err = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (err != json_tokener_success) {
        json_object_put(value);
        *why = err == json_tokener_continue ? "incomplete JSON" : json_tokener_error_desc(err);
        return 0;
    }
    for (size_t i = end; i < length; i++) {
        char c = text[i];
        if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
            json_object_put(value);
            *why = "trailing data after the JSON value";
            return 0;
        }
    }
    *out = value;
    return 1;
}

/* The string under `key`, with its length, or NULL when absent or not a string. */
static const char *get_string(json_object *object, const char *key, size_t *length) {
    json_object *v = NULL;
    if (!json_object_is_type(object, json_type_object) || !json_object_object_get_ex(object, key, &v)) return NULL;
    if (!json_object_is_type(v, json_type_string)) return NULL;
    int n = json_object_get_string_len(v);
    if (n < 0) return NULL;
    if (length) *length = (size_t)n;
    return json_object_get_string(v);
}

/* The integer under `key` (int64 range) into *out; 0 when absent or not an integer. */
static int get_int(json_object *object, const char *key, int64_t *out) {
    json_object *v = NULL;
    if (!json_object_is_type(object, json_type_object) || !json_object_object_get_ex(object, key, &v)) return 0;
    if (!json_object_is_type(v, json_type_int)) return 0;
    *out = json_object_get_int64(v);
    return 1;
}

/* A URL a provider body gave us, usable as a poll or output URL: https, bounded, no control bytes or
 * embedded NUL. */
static int usable_url(const char *url, size_t length, const char *prefix) {
    if (url == NULL || length == 0 || length > MAX_URL || strlen(url) != length) return 0;
    if (strncmp(url, prefix, strlen(prefix)) != 0 || length <= strlen(prefix)) return 0;
    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char)url[i];
        if (c <= 0x20 || c == 0x7F) return 0;
    }
    return 1;
}

/* MARK: - Manifest */

static const char manifest[] =
    "{\"name\":\"example-c\",\"version\":\"1.0.0\",\"provider\":\"fal\",\"model\":\"fal-ai/ip-adapter-face-id\","
    "\"summary\":\"IP-Adapter FaceID on fal's queue API, written in C with json-c: one face reference (data URL), "
    "negative prompt, no identity-strength knob\","
    "\"surface\":{\"referenceFields\":[\"face_image_url\"],\"maxReferences\":1,"
    "\"negativePrompt\":{\"supported\":true,\"weighting\":\"plain\"},\"strengthKnobs\":[],\"mode\":\"poll\","
    "\"auth\":{\"scheme\":\"key\",\"credential\":\"FAL_KEY\"},"
    "\"allowedHosts\":[\"queue.fal.run\",\"fal.media\",\"v2.fal.media\",\"v3.fal.media\",\"v3b.fal.media\"],\"outputs\":[\"image\"]}}";

static char *manifest_json(void) { return strdup(manifest); }

/* MARK: - build_request */

static char *build_request(const char *request_json, const studio_image *images, size_t image_count) {
    if (request_json == NULL) return error_reply("invalid_request", "no request JSON was given", 0, -1);
    size_t length = strnlen(request_json, MAX_REQUEST_JSON + 1);
    if (length > MAX_REQUEST_JSON) return error_reply("invalid_request", "request JSON is larger than 16 MiB", 0, -1);
    json_object *request = NULL;
    const char *why = NULL;
    if (!parse_json(request_json, length, &request, &why)) return error_replyf("invalid_request", 0, -1, "request JSON: %s", why);

    char *reply = NULL;
    size_t prompt_length = 0, negative_length = 0;
    const char *prompt = get_string(request, "prompt", &prompt_length);
    const char *negative = get_string(request, "negativePrompt", &negative_length);
    int64_t width = 0, height = 0, seed_signed = 0;
    json_object *seed_value = NULL;
    if (!json_object_is_type(request, json_type_object) || prompt == NULL || negative == NULL ||
        !get_int(request, "width", &width) || !get_int(request, "height", &height) || !get_int(request, "seed", &seed_signed) ||
        !json_object_object_get_ex(request, "seed", &seed_value)) {
        reply = error_reply("invalid_request", "request JSON lacks prompt, negativePrompt, seed, width or height of the right type", 0, -1);
        goto done;
    }
    if (seed_signed < 0) { reply = error_reply("invalid_request", "seed is negative", 0, -1); goto done; }
    uint64_t seed = json_object_get_uint64(seed_value) % SEED_MODULUS;
    if (width < 1 || width > MAX_SIDE || height < 1 || height > MAX_SIDE) {
        reply = error_reply("invalid_request", "width and height must be 1...4096", 0, -1);
        goto done;
    }

    /* The face: the first reference image (ip-adapter-face-id takes one; extra ones are ignored). */
    if (images == NULL || image_count == 0) {
        reply = error_reply("invalid_request", "ip-adapter-face-id needs one face image; none was given", 0, -1);
        goto done;
    }
    const studio_image *face = &images[0];
    if (face->bytes == NULL || face->length == 0) { reply = error_reply("invalid_request", "the face image is empty", 0, -1); goto done; }
    if (face->length > MAX_IMAGE) { reply = error_reply("invalid_request", "the face image is larger than 16 MiB", 0, -1); goto done; }
    const char *mime = face->mime_type;
    if (mime == NULL || (strcmp(mime, "image/png") != 0 && strcmp(mime, "image/jpeg") != 0)) {
        reply = error_reply("invalid_request", "the face image must be image/png or image/jpeg", 0, -1);
        goto done;
    }
    /* data:<mime>;base64,<bytes> */
    size_t encoded = example_base64_encoded_length(face->length);
    size_t prefix = strlen("data:") + strlen(mime) + strlen(";base64,");
    if (encoded == 0 || encoded > INT_MAX - prefix - 1) { reply = error_reply("invalid_request", "the face image is too large", 0, -1); goto done; }
    char *data_url = malloc(prefix + encoded + 1);
    if (data_url == NULL) goto done;
    snprintf(data_url, prefix + 1, "data:%s;base64,", mime);
    size_t written = example_base64_encode(face->bytes, face->length, data_url + prefix);
    data_url[prefix + written] = '\0';

    int ok = 1;
    json_object *body = json_object_new_object();
    add(body, "face_image_url", json_object_new_string_len(data_url, (int)(prefix + written)), &ok);
    free(data_url);
    if (prompt_length > INT_MAX || negative_length > INT_MAX) ok = 0;
    add(body, "prompt", json_object_new_string_len(prompt, (int)prompt_length), &ok);
    add(body, "negative_prompt", json_object_new_string_len(negative, (int)negative_length), &ok);
    add(body, "seed", json_object_new_int64((int64_t)seed), &ok);
    add(body, "num_samples", json_object_new_int(1), &ok);
    add(body, "width", json_object_new_int64(width), &ok);
    add(body, "height", json_object_new_int64(height), &ok);
    const char *body_text = ok ? json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE) : NULL;

    json_object *root = json_object_new_object(), *plans = json_object_new_array(), *plan = json_object_new_object();
    json_object *headers = json_object_new_object();
    add(headers, "Content-Type", json_object_new_string("application/json"), &ok);
    add(plan, "purpose", json_object_new_string("submit"), &ok);
    add(plan, "method", json_object_new_string("POST"), &ok);
    add(plan, "url", json_object_new_string(SUBMIT_URL), &ok);
    add(plan, "headers", headers, &ok);
    add(plan, "jsonBody", body_text ? json_object_new_string(body_text) : NULL, &ok);
    add(plan, "authenticated", json_object_new_boolean(1), &ok);
    json_object_put(body);
    if (plans == NULL || plan == NULL || json_object_array_add(plans, plan) != 0) { json_object_put(plan); ok = 0; }
    add(root, "plans", plans, &ok);
    if (!ok) { json_object_put(root); goto done; }
    reply = finish(root);

done:
    json_object_put(request);
    return reply;
}

/* MARK: - parse_response */

/* Delta-seconds from a Retry-After value, or -1 (an HTTP-date, or anything else, is not used). */
static double retry_after_seconds(const char *value) {
    if (value == NULL) return -1;
    while (*value == ' ' || *value == '\t') value++;
    if (*value < '0' || *value > '9') return -1;
    char *end = NULL;
    double v = strtod(value, &end);
    while (end && (*end == ' ' || *end == '\t')) end++;
    if (end == NULL || *end != '\0' || !isfinite(v) || v < 0 || v > 86400 * 7) return -1;
    return v;
}

/* The human text of a fal error body: the `msg` of each `detail` item, or `detail` itself when it is a
 * string; otherwise the body's size. Written into buffer (UTF-8 safe). */
static void error_detail(json_object *body, size_t body_length, char *buffer, size_t size) {
    buffer[0] = '\0';
    json_object *detail = NULL;
    if (json_object_is_type(body, json_type_object) && json_object_object_get_ex(body, "detail", &detail)) {
        if (json_object_is_type(detail, json_type_string)) {
            snprintf(buffer, size, "%s", json_object_get_string(detail));
        } else if (json_object_is_type(detail, json_type_array)) {
            size_t n = json_object_array_length(detail), used = 0;
            for (size_t i = 0; i < n && used + 1 < size; i++) {
                const char *msg = get_string(json_object_array_get_idx(detail, i), "msg", NULL);
                if (msg == NULL) continue;
                int w = snprintf(buffer + used, size - used, "%s%s", used ? "; " : "", msg);
                if (w < 0) break;
                used += (size_t)w;
            }
        }
    }
    if (buffer[0] == '\0') snprintf(buffer, size, "%zu-byte body", body_length);
    trim_utf8(buffer);
}

/* {"update":{state,pollURL?,outputs,jobId?}}; `outputs` (an array object) is taken over. */
static char *update_reply(const char *state, const char *poll_url, json_object *outputs, const char *job_id, size_t job_id_length) {
    int ok = 1;
    json_object *root = json_object_new_object(), *u = json_object_new_object();
    add(u, "state", json_object_new_string(state), &ok);
    if (poll_url) add(u, "pollURL", json_object_new_string(poll_url), &ok);
    add(u, "outputs", outputs ? outputs : json_object_new_array(), &ok);
    if (job_id && job_id_length <= 512) add(u, "jobId", json_object_new_string_len(job_id, (int)job_id_length), &ok);
    add(root, "update", u, &ok);
    if (!ok) { json_object_put(root); return NULL; }
    return finish(root);
}

/* The result body: {image:{url}} and/or {images:[{url}]} -> succeeded with outputs. */
static char *result_reply(json_object *body) {
    json_object *outputs = json_object_new_array(), *image = NULL, *list = NULL;
    if (outputs == NULL) return NULL;
    const char *url;
    size_t length = 0;
    if (json_object_object_get_ex(body, "image", &image) && (url = get_string(image, "url", &length)) != NULL) {
        if (!usable_url(url, length, "https://")) { json_object_put(outputs); return error_reply("malformed_response", "fal result image URL is not a usable https URL", 0, -1); }
        json_object *o = json_object_new_object();
        int ok = 1;
        add(o, "url", json_object_new_string_len(url, (int)length), &ok);
        add(o, "kind", json_object_new_string("image"), &ok);
        if (!ok || json_object_array_add(outputs, o) != 0) { json_object_put(outputs); return NULL; }
    }
    if (json_object_object_get_ex(body, "images", &list) && json_object_is_type(list, json_type_array)) {
        size_t n = json_object_array_length(list);
        for (size_t i = 0; i < n && json_object_array_length(outputs) < MAX_OUTPUTS; i++) {
            url = get_string(json_object_array_get_idx(list, i), "url", &length);
            if (url == NULL) continue;
            if (!usable_url(url, length, "https://")) { json_object_put(outputs); return error_reply("malformed_response", "fal result image URL is not a usable https URL", 0, -1); }
            json_object *o = json_object_new_object();
            int ok = 1;
            add(o, "url", json_object_new_string_len(url, (int)length), &ok);
            add(o, "kind", json_object_new_string("image"), &ok);
            if (!ok || json_object_array_add(outputs, o) != 0) { json_object_put(outputs); return NULL; }
        }
    }
    if (json_object_array_length(outputs) == 0) {
        json_object_put(outputs);
        return error_reply("malformed_response", "fal result has neither image.url nor images[].url", 0, -1);
    }
    size_t id_length = 0;
    const char *id = get_string(body, "request_id", &id_length);
    return update_reply("succeeded", NULL, outputs, id, id_length);
}

/* A non-2xx answer as a typed error. */
static char *http_error(int64_t status, json_object *body, size_t body_length, double retry_after, const char *fal_retryable) {
    char detail[MAX_DETAIL + 1], message[1024];
    error_detail(body, body_length, detail, sizeof detail);
    const char *code;
    int retryable = 0;
    double after = -1;
    if (status == 401 || status == 403) {
        code = "auth";
        snprintf(message, sizeof message, "fal refused the credentials (%lld): %s", (long long)status, detail);
    } else if (status == 400 || status == 404 || status == 409 || status == 413 || status == 422) {
        code = strcasestr(detail, "no face") ? "no_face" : "invalid_request";
        snprintf(message, sizeof message, "fal rejected the request (%lld): %s", (long long)status, detail);
    } else if (status == 429) {
        code = "rate_limited"; retryable = 1; after = retry_after;
        snprintf(message, sizeof message, "fal is throttling (429): %s", detail);
    } else if (status >= 500 && status <= 599) {
        code = "server"; after = retry_after;
        retryable = !(fal_retryable && strcmp(fal_retryable, "false") == 0);
        snprintf(message, sizeof message, "fal failed (%lld): %s", (long long)status, detail);
    } else {
        code = "server";
        snprintf(message, sizeof message, "fal answered %lld: %s", (long long)status, detail);
    }
    trim_utf8(message);
    return error_reply(code, message, retryable, after);
}

static char *parse_response(const char *response_json, const uint8_t *body, size_t body_length) {
    if (response_json == NULL) return error_reply("invalid_request", "no response JSON was given", 0, -1);
    size_t length = strnlen(response_json, MAX_REQUEST_JSON + 1);
    if (length > MAX_REQUEST_JSON) return error_reply("invalid_request", "response JSON is larger than 16 MiB", 0, -1);
    json_object *response = NULL, *parsed = NULL, *headers = NULL;
    const char *why = NULL;
    if (!parse_json(response_json, length, &response, &why)) return error_replyf("invalid_request", 0, -1, "response JSON: %s", why);

    char *reply = NULL;
    const char *purpose = get_string(response, "purpose", NULL);
    int64_t status = 0;
    if (purpose == NULL || !get_int(response, "status", &status)) {
        reply = error_reply("invalid_request", "response JSON lacks purpose or status", 0, -1);
        goto done;
    }
    json_object_object_get_ex(response, "headers", &headers);
    double retry_after = retry_after_seconds(get_string(headers, "retry-after", NULL));
    const char *fal_retryable = get_string(headers, "x-fal-retryable", NULL);

    if (body == NULL && body_length > 0) { reply = error_reply("malformed_response", "body length without body bytes", 0, -1); goto done; }
    int body_ok = 0;
    why = "larger than 32 MiB";
    if (body_length <= MAX_BODY) body_ok = parse_json((const char *)body, body_length, &parsed, &why);

    if (status < 200 || status > 299) { reply = http_error(status, body_ok ? parsed : NULL, body_length, retry_after, fal_retryable); goto done; }
    if (!body_ok || !json_object_is_type(parsed, json_type_object)) {
        reply = error_replyf("malformed_response", 0, -1, "fal returned a body that is not a JSON object (%s)", body_ok ? "not an object" : why);
        goto done;
    }

    size_t id_length = 0, url_length = 0;
    const char *id = get_string(parsed, "request_id", &id_length);
    if (strcmp(purpose, "submit") == 0) {
        /* {request_id, status_url, response_url, cancel_url} */
        const char *status_url = get_string(parsed, "status_url", &url_length);
        if (id == NULL || !usable_url(status_url, url_length, QUEUE_PREFIX)) {
            reply = error_reply("malformed_response", "fal submit answer lacks request_id or a queue.fal.run status_url", 0, -1);
            goto done;
        }
        reply = update_reply("queued", status_url, NULL, id, id_length);
    } else if (strcmp(purpose, "poll") == 0) {
        const char *state = get_string(parsed, "status", NULL);
        if (state == NULL) { reply = result_reply(parsed); goto done; }
        /* A status answer: {status, queue_position, response_url, logs}. */
        const char *response_url = get_string(parsed, "response_url", &url_length);
        if (!usable_url(response_url, url_length, QUEUE_PREFIX)) {
            reply = error_reply("malformed_response", "fal status answer lacks a queue.fal.run response_url", 0, -1);
            goto done;
        }
        if (strcmp(state, "COMPLETED") == 0) {
            /* Finished: the next poll fetches the result itself. */
            reply = update_reply("running", response_url, NULL, id, id_length);
        } else if (strcmp(state, "IN_QUEUE") == 0 || strcmp(state, "IN_PROGRESS") == 0) {
            /* Keep polling the status endpoint: <response_url>/status. */
            char *status_url = malloc(url_length + sizeof "/status");
            if (status_url == NULL) goto done;
            memcpy(status_url, response_url, url_length);
            memcpy(status_url + url_length, "/status", sizeof "/status");
            reply = update_reply(strcmp(state, "IN_QUEUE") == 0 ? "queued" : "running", status_url, NULL, id, id_length);
            free(status_url);
        } else {
            reply = error_replyf("malformed_response", 0, -1, "fal queue status '%s' is unknown", state);
        }
    } else {
        reply = error_replyf("unsupported", 0, -1, "example-c plans no '%s' requests", purpose);
    }

done:
    json_object_put(parsed);
    json_object_put(response);
    return reply;
}

/* MARK: - The vtable */

static void free_string(char *string) { free(string); }

static const studio_adapter_vtable_v1 vtable = {
    .abi_version = STUDIO_ADAPTER_ABI_VERSION,
    .struct_size = (uint32_t)sizeof(studio_adapter_vtable_v1),
    .manifest_json = manifest_json,
    .build_request = build_request,
    .parse_response = parse_response,
    .free_string = free_string,
};

const studio_adapter_vtable_v1 *studio_adapter_v1(uint32_t host_abi_version) {
    return host_abi_version == STUDIO_ADAPTER_ABI_VERSION ? &vtable : NULL;
}
