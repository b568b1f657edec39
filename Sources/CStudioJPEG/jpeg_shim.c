#include "CStudioJPEG.h"
int cstudio_jpeg_version(void) { return 0; }
