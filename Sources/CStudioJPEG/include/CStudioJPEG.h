#ifndef CSTUDIOJPEG_H
#define CSTUDIOJPEG_H
// Placeholder; the JPEG shim is filled in by the StudioImage work.
int cstudio_jpeg_version(void);
#endif
