// OpenBLAS's cblas.h (Debian: /usr/include/x86_64-linux-gnu/openblas-pthread, found through pkg-config).
// It also declares openblas_set_num_threads / openblas_get_num_threads.
#include <cblas.h>
