/*
 * JPEG decoding and encoding over libjpeg(-turbo), with libjpeg's longjmp error
 * protocol contained in this file. See CStudioCodecs.h for the contract.
 */
#include "CStudioCodecs.h"

#include <setjmp.h>
#include <stdio.h> /* jpeglib.h needs FILE and size_t declared first */
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h> /* before jerror.h: jconfig.h decides which codes exist */
#include <jerror.h>

/* MARK: - Error manager */

/* libjpeg's error manager extended with our jump target and the first fatal report. */
typedef struct studio_jpeg_error {
    struct jpeg_error_mgr pub; /* must be first: libjpeg casts between the two */
    jmp_buf jump;
    int status;                /* CSTUDIO_OK until something fatal was seen */
    char message[CSTUDIO_MESSAGE_CAPACITY];
} studio_jpeg_error;

/* Copies libjpeg's formatted text for the current message into `err->message`. */
static void store_message(j_common_ptr cinfo, studio_jpeg_error *err) {
    char text[JMSG_LENGTH_MAX];
    text[0] = '\0';
    (*cinfo->err->format_message)(cinfo, text);
    snprintf(err->message, sizeof err->message, "%s", text);
}

/* The status a fatal libjpeg error code maps to. */
static int status_for_error(int code) {
    switch (code) {
    case JERR_NO_SOI:
        return CSTUDIO_NOT_AN_IMAGE;
    case JERR_INPUT_EMPTY:
    case JERR_INPUT_EOF:
        return CSTUDIO_TRUNCATED;
    case JERR_IMAGE_TOO_BIG:
    case JERR_WIDTH_OVERFLOW:
    case JERR_OUT_OF_MEMORY:
        return CSTUDIO_TOO_LARGE;
    case JERR_BAD_PRECISION:
    case JERR_CONVERSION_NOTIMPL:
    case JERR_NOT_COMPILED:
    case JERR_ARITH_NOTIMPL:
        return CSTUDIO_UNSUPPORTED;
    default:
        return CSTUDIO_CORRUPT;
    }
}

/*
 * The status a libjpeg warning maps to: TRUNCATED for the premature-end warning,
 * CORRUPT for damaged entropy-coded data, OK for warnings about metadata or stray
 * bytes between segments (JWRN_EXTRANEOUS_DATA is common in camera files that PIL and
 * dlib both decode without complaint).
 */
static int status_for_warning(int code) {
    switch (code) {
    case JWRN_JPEG_EOF:
        return CSTUDIO_TRUNCATED;
    case JWRN_HIT_MARKER:
    case JWRN_HUFF_BAD_CODE:
    case JWRN_MUST_RESYNC:
    case JWRN_NOT_SEQUENTIAL:
    case JWRN_BOGUS_PROGRESSION:
#if JPEG_LIB_VERSION >= 70 || defined(C_ARITH_CODING_SUPPORTED) || defined(D_ARITH_CODING_SUPPORTED)
    case JWRN_ARITH_BAD_CODE:
#endif
        return CSTUDIO_CORRUPT;
    default:
        return CSTUDIO_OK;
    }
}

/* error_exit: record the error (a recorded truncation takes precedence) and unwind. */
static void on_error_exit(j_common_ptr cinfo) {
    studio_jpeg_error *err = (studio_jpeg_error *)cinfo->err;
    if (err->status == CSTUDIO_OK) {
        err->status = status_for_error(err->pub.msg_code);
        store_message(cinfo, err);
    }
    longjmp(err->jump, 1);
}

/*
 * emit_message: warnings (level -1) that mean damaged data are recorded, and the
 * decoding loop stops at the next check; trace messages are ignored.
 */
static void on_emit_message(j_common_ptr cinfo, int level) {
    studio_jpeg_error *err = (studio_jpeg_error *)cinfo->err;
    if (level >= 0) return;
    err->pub.num_warnings++;
    int status = status_for_warning(err->pub.msg_code);
    if (status != CSTUDIO_OK && err->status == CSTUDIO_OK) {
        err->status = status;
        if (err->pub.msg_code == JWRN_JPEG_EOF) {
            snprintf(err->message, sizeof err->message, "premature end of file");
        } else {
            store_message(cinfo, err);
        }
    }
}

/* output_message: never print. */
static void on_output_message(j_common_ptr cinfo) { (void)cinfo; }

/* Installs the error manager on a fresh struct. */
static void init_error(studio_jpeg_error *err) {
    memset(err, 0, sizeof *err);
    jpeg_std_error(&err->pub);
    err->pub.error_exit = on_error_exit;
    err->pub.emit_message = on_emit_message;
    err->pub.output_message = on_output_message;
    err->status = CSTUDIO_OK;
}

/* Sets a status and message that did not come from libjpeg. */
static int fail(studio_jpeg_error *err, int status, const char *message) {
    if (err->status == CSTUDIO_OK) {
        err->status = status;
        snprintf(err->message, sizeof err->message, "%s", message);
    }
    return err->status;
}

/* MARK: - Decoder */

/* Lifecycle of one decoding session. */
enum { PHASE_NEW, PHASE_HEADER, PHASE_DONE };

struct cstudio_jpeg_decoder {
    struct jpeg_decompress_struct cinfo;
    studio_jpeg_error err;
    const uint8_t *data;
    size_t size;
    int phase;
    int created;  /* jpeg_create_decompress succeeded */
    int is_cmyk;
};

cstudio_jpeg_decoder *cstudio_jpeg_decoder_create(const uint8_t *data, size_t size) {
    cstudio_jpeg_decoder *d = calloc(1, sizeof *d);
    if (d == NULL) return NULL;
    d->data = data;
    d->size = size;
    d->phase = PHASE_NEW;
    return d;
}

int cstudio_jpeg_read_header(cstudio_jpeg_decoder *d, uint32_t *width, uint32_t *height, int *is_cmyk) {
    if (d == NULL) return CSTUDIO_BAD_CALL;
    if (d->phase != PHASE_NEW) return fail(&d->err, CSTUDIO_BAD_CALL, "header already read");
    d->phase = PHASE_DONE; /* any failure below ends the session */
    init_error(&d->err);
    d->cinfo.err = &d->err.pub;
    if (setjmp(d->err.jump)) {
        return d->err.status;
    }
    jpeg_create_decompress(&d->cinfo);
    d->created = 1;
    if (d->size == 0) return fail(&d->err, CSTUDIO_TRUNCATED, "empty input");
    /* libjpeg's memory source takes an unsigned long length. */
    if ((unsigned long long)d->size > (unsigned long long)(unsigned long)-1) {
        return fail(&d->err, CSTUDIO_TOO_LARGE, "input too large for libjpeg");
    }
    jpeg_mem_src(&d->cinfo, d->data, (unsigned long)d->size);
    (void)jpeg_read_header(&d->cinfo, TRUE);
    if (d->err.status != CSTUDIO_OK) return d->err.status;

    switch (d->cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE:
    case JCS_YCbCr:
    case JCS_RGB:
        d->cinfo.out_color_space = JCS_RGB;
        d->is_cmyk = 0;
        break;
    case JCS_CMYK:
    case JCS_YCCK:
        d->cinfo.out_color_space = JCS_CMYK;
        d->is_cmyk = 1;
        break;
    default: {
        char text[CSTUDIO_MESSAGE_CAPACITY];
        snprintf(text, sizeof text, "unsupported JPEG colour space with %d components",
                 d->cinfo.num_components);
        return fail(&d->err, CSTUDIO_UNSUPPORTED, text);
    }
    }
    if (d->cinfo.image_width == 0 || d->cinfo.image_height == 0) {
        return fail(&d->err, CSTUDIO_CORRUPT, "JPEG header gives an empty image");
    }
    *width = (uint32_t)d->cinfo.image_width;
    *height = (uint32_t)d->cinfo.image_height;
    *is_cmyk = d->is_cmyk;
    d->phase = PHASE_HEADER;
    return CSTUDIO_OK;
}

/*
 * PIL's CMYK to RGB conversion of an Adobe-inverted CMYK row (PIL reads every
 * four-component JPEG with rawmode "CMYK;I"): with C = 255 - stored and nk = stored K,
 * R = nk - round(C * nk / 255) using PIL's integer rounding.
 */
static void cmyk_row_to_rgb(const JSAMPLE *in, uint8_t *out, JDIMENSION width) {
    for (JDIMENSION x = 0; x < width; x++, in += 4, out += 3) {
        int nk = in[3];
        for (int c = 0; c < 3; c++) {
            int ink = 255 - in[c];
            int t = ink * nk + 128;
            int scaled = ((t >> 8) + t) >> 8;
            int v = nk - scaled;
            out[c] = (uint8_t)(v < 0 ? 0 : (v > 255 ? 255 : v));
        }
    }
}

int cstudio_jpeg_decode_rgb(cstudio_jpeg_decoder *d, uint8_t *out, size_t out_size) {
    if (d == NULL) return CSTUDIO_BAD_CALL;
    if (d->phase != PHASE_HEADER) return fail(&d->err, CSTUDIO_BAD_CALL, "header not read");
    d->phase = PHASE_DONE;
    if (setjmp(d->err.jump)) {
        return d->err.status;
    }
    j_decompress_ptr cinfo = &d->cinfo;
    /* Default decompression parameters (set by jpeg_read_header) are kept as they are. */
    (void)jpeg_start_decompress(cinfo);
    if (d->err.status != CSTUDIO_OK) return d->err.status;

    const JDIMENSION w = cinfo->output_width, h = cinfo->output_height;
    const int expected_components = d->is_cmyk ? 4 : 3;
    if (cinfo->output_components != expected_components || w == 0 || h == 0) {
        return fail(&d->err, CSTUDIO_CORRUPT, "unexpected JPEG output format");
    }
    /* row = w * 3, total = row * h, each checked for overflow. */
    size_t row = 0, total = 0;
    if (__builtin_mul_overflow((size_t)w, (size_t)3, &row) || __builtin_mul_overflow(row, (size_t)h, &total)) {
        return fail(&d->err, CSTUDIO_TOO_LARGE, "image size overflows");
    }
    if (out == NULL || out_size < total) {
        return fail(&d->err, CSTUDIO_BAD_CALL, "output buffer too small");
    }

    JSAMPARRAY cmyk_row = NULL;
    if (d->is_cmyk) {
        /* Freed by libjpeg when the session is destroyed. */
        cmyk_row = (*cinfo->mem->alloc_sarray)((j_common_ptr)cinfo, JPOOL_IMAGE, w * 4, 1);
    }
    while (cinfo->output_scanline < h) {
        const JDIMENSION y = cinfo->output_scanline;
        uint8_t *dest = out + (size_t)y * row;
        JSAMPROW target = d->is_cmyk ? cmyk_row[0] : (JSAMPROW)dest;
        JDIMENSION got = jpeg_read_scanlines(cinfo, &target, 1);
        if (d->err.status != CSTUDIO_OK) return d->err.status;
        if (got != 1) return fail(&d->err, CSTUDIO_CORRUPT, "JPEG decoder produced no scanline");
        if (d->is_cmyk) cmyk_row_to_rgb(cmyk_row[0], dest, w);
    }
    /* The trailing markers (EOI) are not read: a complete image is accepted as is. */
    jpeg_abort_decompress(cinfo);
    return CSTUDIO_OK;
}

const char *cstudio_jpeg_decoder_message(const cstudio_jpeg_decoder *d) {
    return d == NULL ? "" : d->err.message;
}

void cstudio_jpeg_decoder_destroy(cstudio_jpeg_decoder *d) {
    if (d == NULL) return;
    if (d->created) {
        /* jpeg_destroy never calls error_exit, but keep a landing pad anyway. */
        if (setjmp(d->err.jump) == 0) jpeg_destroy_decompress(&d->cinfo);
    }
    free(d);
}

/* MARK: - Encoder */

/*
 * One compression session, kept in a struct so nothing setjmp-sensitive lives in locals.
 * It has its own growable output buffer rather than jpeg_mem_dest's, whose buffer pointer
 * the caller cannot free safely after an error (it is stale once the buffer has grown).
 */
typedef struct studio_jpeg_encoder {
    struct jpeg_compress_struct cinfo;
    struct jpeg_destination_mgr dest;
    studio_jpeg_error err;
    unsigned char *buffer;  /* malloc'd; ours until handed to the caller */
    size_t capacity;
    size_t size;            /* bytes written, set by term_destination */
    int created;
} studio_jpeg_encoder;

/* The encoder that owns `cinfo` (cinfo is its first member). */
static studio_jpeg_encoder *encoder_of(j_compress_ptr cinfo) { return (studio_jpeg_encoder *)(void *)cinfo; }

/* init_destination: start with a 64 KiB buffer. */
static void dest_init(j_compress_ptr cinfo) {
    studio_jpeg_encoder *e = encoder_of(cinfo);
    e->capacity = 65536;
    e->buffer = malloc(e->capacity);
    if (e->buffer == NULL) ERREXIT1(cinfo, JERR_OUT_OF_MEMORY, 100);
    e->dest.next_output_byte = e->buffer;
    e->dest.free_in_buffer = e->capacity;
}

/* empty_output_buffer: the buffer is full; double it. */
static boolean dest_grow(j_compress_ptr cinfo) {
    studio_jpeg_encoder *e = encoder_of(cinfo);
    size_t larger = 0;
    if (__builtin_mul_overflow(e->capacity, (size_t)2, &larger)) ERREXIT1(cinfo, JERR_OUT_OF_MEMORY, 101);
    unsigned char *grown = realloc(e->buffer, larger);
    if (grown == NULL) ERREXIT1(cinfo, JERR_OUT_OF_MEMORY, 102);
    e->buffer = grown;
    e->dest.next_output_byte = grown + e->capacity;
    e->dest.free_in_buffer = larger - e->capacity;
    e->capacity = larger;
    return TRUE;
}

/* term_destination: record how much was written. */
static void dest_term(j_compress_ptr cinfo) {
    studio_jpeg_encoder *e = encoder_of(cinfo);
    e->size = e->capacity - e->dest.free_in_buffer;
}

/* Runs the compression; returns a status and leaves the output in `e->buffer`. */
static int encode_into(studio_jpeg_encoder *e, const uint8_t *pixels, uint32_t width, uint32_t height,
                       int components, int quality) {
    if (setjmp(e->err.jump)) {
        return e->err.status;
    }
    jpeg_create_compress(&e->cinfo);
    e->created = 1;
    e->dest.init_destination = dest_init;
    e->dest.empty_output_buffer = dest_grow;
    e->dest.term_destination = dest_term;
    e->cinfo.dest = &e->dest;
    e->cinfo.image_width = width;
    e->cinfo.image_height = height;
    e->cinfo.input_components = components;
    e->cinfo.in_color_space = components == 1 ? JCS_GRAYSCALE : (components == 4 ? JCS_CMYK : JCS_RGB);
    jpeg_set_defaults(&e->cinfo);
    jpeg_set_quality(&e->cinfo, quality, TRUE);
    if (components == 4) {
        /* Photoshop convention: Adobe marker and inverted CMYK, which readers expect. */
        e->cinfo.write_Adobe_marker = TRUE;
    }
    jpeg_start_compress(&e->cinfo, TRUE);
    const size_t row = (size_t)width * (size_t)components;
    while (e->cinfo.next_scanline < e->cinfo.image_height) {
        JSAMPROW rowp = (JSAMPROW)(pixels + (size_t)e->cinfo.next_scanline * row);
        (void)jpeg_write_scanlines(&e->cinfo, &rowp, 1);
    }
    jpeg_finish_compress(&e->cinfo);
    return CSTUDIO_OK;
}

int cstudio_jpeg_encode(const uint8_t *pixels, uint32_t width, uint32_t height, int components,
                        int quality, uint8_t **out, size_t *out_size, char *message) {
    if (message != NULL) message[0] = '\0';
    if (out == NULL || out_size == NULL) return CSTUDIO_BAD_CALL;
    *out = NULL;
    *out_size = 0;
    if (pixels == NULL || width == 0 || height == 0 || width > JPEG_MAX_DIMENSION ||
        height > JPEG_MAX_DIMENSION || (components != 1 && components != 3 && components != 4) ||
        quality < 1 || quality > 100) {
        if (message != NULL) {
            snprintf(message, CSTUDIO_MESSAGE_CAPACITY,
                     "cannot encode %ux%u with %d components at quality %d as JPEG",
                     width, height, components, quality);
        }
        return CSTUDIO_BAD_CALL;
    }
    studio_jpeg_encoder *e = calloc(1, sizeof *e);
    if (e == NULL) return CSTUDIO_TOO_LARGE;
    init_error(&e->err);
    e->cinfo.err = &e->err.pub;
    int status = encode_into(e, pixels, width, height, components, quality);
    if (e->created) {
        if (setjmp(e->err.jump) == 0) jpeg_destroy_compress(&e->cinfo);
    }
    if (status == CSTUDIO_OK) {
        *out = e->buffer;
        *out_size = e->size;
    } else {
        free(e->buffer);
        if (message != NULL) snprintf(message, CSTUDIO_MESSAGE_CAPACITY, "%s", e->err.message);
    }
    free(e);
    return status;
}

void cstudio_free(void *pointer) { free(pointer); }
