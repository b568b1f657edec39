#ifndef CSTUDIOJPEG_H
#define CSTUDIOJPEG_H

/*
 * CStudioCodecs: the C side of StudioImage's codecs.
 *
 * libjpeg and libpng's classic API report fatal errors with longjmp, which Swift cannot
 * use. Every entry point here owns its own setjmp, so an error unwinds only C frames and
 * comes back to Swift as a status code plus a message. Nothing here prints to stderr.
 *
 * Decoding is two-phase so that Swift can check the header's size (and refuse huge
 * images) before it allocates the pixel buffer:
 *
 *     d = cstudio_jpeg_decoder_create(bytes, n);      // bytes must outlive d
 *     status = cstudio_jpeg_read_header(d, &w, &h);   // cheap: markers only
 *     status = cstudio_jpeg_decode_rgb(d, buf, w*h*3);
 *     cstudio_jpeg_decoder_destroy(d);
 *
 * and likewise for PNG. This header includes neither jpeglib.h nor png.h.
 */

#include <stddef.h>
#include <stdint.h>

/* Status codes shared by every function below. */
#define CSTUDIO_OK 0
#define CSTUDIO_NOT_AN_IMAGE 1  /* wrong signature */
#define CSTUDIO_TRUNCATED 2     /* the data ends early */
#define CSTUDIO_CORRUPT 3       /* malformed or damaged data */
#define CSTUDIO_TOO_LARGE 4     /* beyond a size limit, or out of memory */
#define CSTUDIO_UNSUPPORTED 5   /* valid but a feature this build does not decode */
#define CSTUDIO_BAD_CALL 6      /* the caller broke a precondition (buffer too small, wrong phase) */

/* Room for one message, including the terminating NUL. */
#define CSTUDIO_MESSAGE_CAPACITY 256

/* MARK: - JPEG decoding */

/* An opaque JPEG decoding session over a caller-owned byte buffer. */
typedef struct cstudio_jpeg_decoder cstudio_jpeg_decoder;

/* Starts a session over `data[0..<size]`, which must stay valid until destroy. NULL when out of memory. */
cstudio_jpeg_decoder *cstudio_jpeg_decoder_create(const uint8_t *data, size_t size);

/*
 * Reads the markers up to the first scan and reports the image size.
 * `is_cmyk` is set to 1 for four-component (CMYK/YCCK) images, which decode through
 * PIL's CMYK-to-RGB formula; 0 otherwise.
 */
int cstudio_jpeg_read_header(cstudio_jpeg_decoder *decoder, uint32_t *width, uint32_t *height, int *is_cmyk);

/*
 * Decodes the whole image as interleaved 8-bit RGB into `out` (`out_size` >= width*height*3)
 * with libjpeg's default settings (islow IDCT, fancy upsampling). Grey images come out R=G=B.
 * Data-corruption warnings and the premature-end warning abort with CORRUPT / TRUNCATED.
 */
int cstudio_jpeg_decode_rgb(cstudio_jpeg_decoder *decoder, uint8_t *out, size_t out_size);

/* The message that goes with the last non-OK status (never NULL; "" when none). */
const char *cstudio_jpeg_decoder_message(const cstudio_jpeg_decoder *decoder);

/* Ends the session and frees everything it holds. NULL is allowed. */
void cstudio_jpeg_decoder_destroy(cstudio_jpeg_decoder *decoder);

/* MARK: - JPEG encoding */

/*
 * Encodes `pixels` (width*height*components bytes; components 1 = grey, 3 = RGB,
 * 4 = CMYK written Adobe-inverted as Photoshop does) as a baseline JPEG with standard
 * tables at `quality` (1...100) and 4:2:0 chroma subsampling for RGB.
 * On success `*out` is a malloc'd buffer of `*out_size` bytes that the caller releases
 * with cstudio_free. On failure `message` (capacity CSTUDIO_MESSAGE_CAPACITY) says why.
 */
int cstudio_jpeg_encode(const uint8_t *pixels, uint32_t width, uint32_t height, int components,
                        int quality, uint8_t **out, size_t *out_size, char *message);

/* Releases a buffer returned by this library. NULL is allowed. */
void cstudio_free(void *pointer);

/* MARK: - PNG decoding (libpng progressive API) */

/* An opaque PNG decoding session over a caller-owned byte buffer. */
typedef struct cstudio_png_decoder cstudio_png_decoder;

/* Starts a session over `data[0..<size]`, which must stay valid until destroy. NULL when out of memory. */
cstudio_png_decoder *cstudio_png_decoder_create(const uint8_t *data, size_t size);

/* Reads the signature and the chunks before the image data; reports IHDR's fields. */
int cstudio_png_read_header(cstudio_png_decoder *decoder, uint32_t *width, uint32_t *height,
                            int *bit_depth, int *color_type, int *interlaced);

/*
 * Decodes the image as interleaved 8-bit RGB into `out` (`out_size` >= width*height*3),
 * matching PIL's `Image.open(f).convert('RGB')` exactly: palette and low bit depths
 * expanded, grey replicated, 16-bit samples reduced to their high byte (v >> 8) except
 * 16-bit plain greyscale, which PIL (and dlib) clip to min(v, 255); alpha and tRNS dropped
 * (not composited); no gamma or colour-profile conversion. Chunks after the image data are
 * not read.
 */
int cstudio_png_decode_rgb(cstudio_png_decoder *decoder, uint8_t *out, size_t out_size);

/* The message that goes with the last non-OK status (never NULL; "" when none). */
const char *cstudio_png_decoder_message(const cstudio_png_decoder *decoder);

/* Ends the session and frees everything it holds. NULL is allowed. */
void cstudio_png_decoder_destroy(cstudio_png_decoder *decoder);

#endif
