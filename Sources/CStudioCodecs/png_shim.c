/*
 * PNG decoding over libpng's progressive (classic) API, with libpng's longjmp error
 * protocol contained in this file. See CStudioCodecs.h for the contract.
 *
 * The simplified API (png_image_*) is not used for decoding because it converts gamma:
 * it treats 16-bit data as linear and re-encodes it to sRGB, honours gAMA chunks, and
 * premultiplies alpha in linear formats. PIL applies none of that, and pixel parity
 * with PIL matters more here than colour management. libpng itself is linked through
 * the CPNG system-library target that StudioImage also depends on.
 */
#include "CStudioCodecs.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

/* Lifecycle of one decoding session. */
enum { PNG_PHASE_NEW, PNG_PHASE_HEADER, PNG_PHASE_DONE };

struct cstudio_png_decoder {
    png_structp png;
    png_infop info;
    jmp_buf jump;
    const uint8_t *data;
    size_t size;
    size_t position;
    int hit_end;   /* the read callback ran out of data */
    int status;
    int phase;
    char message[CSTUDIO_MESSAGE_CAPACITY];
};

/* Records a status and message unless one is already recorded. */
static int png_fail(cstudio_png_decoder *d, int status, const char *message) {
    if (d->status == CSTUDIO_OK) {
        d->status = status;
        snprintf(d->message, sizeof d->message, "%s", message);
    }
    return d->status;
}

/* libpng error callback: classify, record, unwind to the entry point's setjmp. */
static void on_png_error(png_structp png, png_const_charp text) {
    cstudio_png_decoder *d = (cstudio_png_decoder *)png_get_error_ptr(png);
    const char *message = text != NULL ? text : "libpng error";
    int status = CSTUDIO_CORRUPT;
    if (d->hit_end) {
        status = CSTUDIO_TRUNCATED;
    } else if (strstr(message, "Not a PNG file") != NULL) {
        status = CSTUDIO_NOT_AN_IMAGE;
    } else if (strstr(message, "exceeds user limit") != NULL || strstr(message, "Out of memory") != NULL ||
               strstr(message, "out of memory") != NULL || strstr(message, "too large") != NULL) {
        status = CSTUDIO_TOO_LARGE;
    }
    png_fail(d, status, message);
    longjmp(d->jump, 1);
}

/* libpng warning callback: ancillary-chunk problems are not fatal and are not printed. */
static void on_png_warning(png_structp png, png_const_charp text) {
    (void)png;
    (void)text;
}

/* libpng read callback over the in-memory buffer; running out is a libpng error. */
static void read_from_memory(png_structp png, png_bytep out, size_t count) {
    cstudio_png_decoder *d = (cstudio_png_decoder *)png_get_io_ptr(png);
    if (count > d->size - d->position) {
        d->hit_end = 1;
        png_error(png, "premature end of file");
    }
    memcpy(out, d->data + d->position, count);
    d->position += count;
}

cstudio_png_decoder *cstudio_png_decoder_create(const uint8_t *data, size_t size) {
    cstudio_png_decoder *d = calloc(1, sizeof *d);
    if (d == NULL) return NULL;
    d->data = data;
    d->size = size;
    d->phase = PNG_PHASE_NEW;
    d->status = CSTUDIO_OK;
    return d;
}

/*
 * Read transform for 16-bit greyscale (colour type 0) only, where PIL does not keep the
 * high byte: it opens the file as mode "I;16" and convert('RGB') clips each value to 255
 * (dlib's load_image clips the same way). Runs after libpng's own transforms, so the
 * row is 16-bit big-endian RGB by then; it becomes 8-bit RGB in place.
 */
static void clip_16_to_8(png_structp png, png_row_infop row, png_bytep data) {
    (void)png;
    if (row->bit_depth != 16 || row->channels != 3) return;
    const size_t samples = (size_t)row->width * 3;
    for (size_t i = 0; i < samples; i++) {
        data[i] = data[2 * i] != 0 ? 255 : data[2 * i + 1];
    }
    row->bit_depth = 8;
    row->pixel_depth = 24;
    row->rowbytes = samples;
}

/* A big-endian 32-bit value. */
static png_uint_32 read_be32(const uint8_t *p) {
    return ((png_uint_32)p[0] << 24) | ((png_uint_32)p[1] << 16) | ((png_uint_32)p[2] << 8) | (png_uint_32)p[3];
}

/*
 * Reads IHDR straight from the bytes, without libpng: png_read_info would go on reading
 * every chunk up to the image data, and a header's size must be checkable on its own.
 * libpng re-reads and validates IHDR (CRC included) when decoding starts.
 */
int cstudio_png_read_header(cstudio_png_decoder *d, uint32_t *width, uint32_t *height,
                            int *bit_depth, int *color_type, int *interlaced) {
    if (d == NULL) return CSTUDIO_BAD_CALL;
    if (d->phase != PNG_PHASE_NEW) return png_fail(d, CSTUDIO_BAD_CALL, "header already read");
    d->phase = PNG_PHASE_DONE; /* any failure below ends the session */
    if (d->size < 8) return png_fail(d, CSTUDIO_TRUNCATED, "premature end of file");
    if (png_sig_cmp(d->data, 0, 8) != 0) return png_fail(d, CSTUDIO_NOT_AN_IMAGE, "not a PNG signature");
    /* signature(8) length(4) "IHDR"(4) width(4) height(4) depth type compression filter interlace CRC(4) */
    if (d->size < 33) return png_fail(d, CSTUDIO_TRUNCATED, "premature end of file");
    if (read_be32(d->data + 8) != 13 || memcmp(d->data + 12, "IHDR", 4) != 0) {
        return png_fail(d, CSTUDIO_CORRUPT, "the first chunk is not a valid IHDR");
    }
    *width = read_be32(d->data + 16);
    *height = read_be32(d->data + 20);
    *bit_depth = d->data[24];
    *color_type = d->data[25];
    *interlaced = d->data[28] != 0;
    d->phase = PNG_PHASE_HEADER;
    return CSTUDIO_OK;
}

int cstudio_png_decode_rgb(cstudio_png_decoder *d, uint8_t *out, size_t out_size) {
    if (d == NULL) return CSTUDIO_BAD_CALL;
    if (d->phase != PNG_PHASE_HEADER) return png_fail(d, CSTUDIO_BAD_CALL, "header not read");
    d->phase = PNG_PHASE_DONE;
    const png_uint_32 w = read_be32(d->data + 16), h = read_be32(d->data + 20);
    /* row = w * 3, total = row * h, each checked for overflow. */
    size_t row = 0, total = 0;
    if (__builtin_mul_overflow((size_t)w, (size_t)3, &row) || __builtin_mul_overflow(row, (size_t)h, &total)) {
        return png_fail(d, CSTUDIO_TOO_LARGE, "image size overflows");
    }
    if (out == NULL || out_size < total) {
        return png_fail(d, CSTUDIO_BAD_CALL, "output buffer too small");
    }
    if (setjmp(d->jump)) {
        return d->status;
    }
    d->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, d, on_png_error, on_png_warning);
    if (d->png == NULL) return png_fail(d, CSTUDIO_TOO_LARGE, "cannot create libpng reader");
    d->info = png_create_info_struct(d->png);
    if (d->info == NULL) return png_fail(d, CSTUDIO_TOO_LARGE, "cannot create libpng info");
    /* The caller has applied its own pixel limit; allow any size the PNG format allows. */
    png_set_user_limits(d->png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);
    png_set_read_fn(d->png, d, read_from_memory);
    png_read_info(d->png, d->info);
    if (png_get_image_width(d->png, d->info) != w || png_get_image_height(d->png, d->info) != h) {
        return png_fail(d, CSTUDIO_CORRUPT, "IHDR changed while reading");
    }
    /*
     * Transformations to 8-bit RGB in PIL's convert('RGB') manner. No png_set_gamma,
     * png_set_alpha_mode or png_set_background call is made, so libpng does no gamma or
     * compositing work.
     */
    png_set_expand(d->png);        /* palette -> RGB, grey 1/2/4 -> 8 bits, tRNS -> alpha */
    if (png_get_bit_depth(d->png, d->info) == 16 && png_get_color_type(d->png, d->info) == PNG_COLOR_TYPE_GRAY) {
        png_set_read_user_transform_fn(d->png, clip_16_to_8); /* PIL's I;16 -> RGB: min(v, 255) */
        png_set_user_transform_info(d->png, NULL, 8, 3);
    } else {
        png_set_strip_16(d->png);  /* 16 -> 8 bits by keeping the high byte (v >> 8), as PIL */
    }
    png_set_strip_alpha(d->png);   /* drop alpha (also the alpha tRNS produced) */
    png_set_gray_to_rgb(d->png);   /* grey -> R = G = B */
    const int passes = png_set_interlace_handling(d->png);
    png_read_update_info(d->png, d->info);
    if (png_get_channels(d->png, d->info) != 3 || png_get_bit_depth(d->png, d->info) != 8 ||
        png_get_rowbytes(d->png, d->info) != row) {
        return png_fail(d, CSTUDIO_UNSUPPORTED, "libpng could not convert this PNG to 8-bit RGB");
    }
    /*
     * Every pass is read into the same rows: libpng fills in just that pass's pixels
     * (this is what png_read_image does, without its array of row pointers).
     */
    for (int pass = 0; pass < passes; pass++) {
        for (png_uint_32 y = 0; y < h; y++) {
            png_read_row(d->png, out + (size_t)y * row, NULL);
        }
    }
    return CSTUDIO_OK;
}

const char *cstudio_png_decoder_message(const cstudio_png_decoder *d) {
    return d == NULL ? "" : d->message;
}

void cstudio_png_decoder_destroy(cstudio_png_decoder *d) {
    if (d == NULL) return;
    if (d->png != NULL) {
        if (setjmp(d->jump) == 0) png_destroy_read_struct(&d->png, d->info != NULL ? &d->info : NULL, NULL);
    }
    free(d);
}
