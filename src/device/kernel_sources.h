/* Internal: the OpenCL C sources of cl/, embedded at build time by cmake/embed_kernels.cmake. */
#ifndef BT_KERNEL_SOURCES_H
#define BT_KERNEL_SOURCES_H

#include <stddef.h>

typedef struct bt_embedded_kernel {
    const char *name;   /* file name in cl/, e.g. "activation.cl" */
    const char *source; /* NUL-terminated */
    size_t length;      /* bytes, without the terminating NUL */
} bt_embedded_kernel;

/* Terminated by an entry whose name is NULL. */
extern const bt_embedded_kernel bt_embedded_kernels[];

/* The same names alone, NULL-terminated: what bt_kernel_source_names() returns. */
extern const char *const bt_embedded_kernel_names[];

#endif
