/* Internal: recording the thread's last error. Every failing library function ends with
 * `return bt_fail(status, "what failed: why; what to do", ...)`. */
#ifndef BT_ERROR_H
#define BT_ERROR_H

#include "batchtune.h"

#if defined(__GNUC__)
#define BT_PRINTF_LIKE(fmt_index, first_arg) __attribute__((format(printf, fmt_index, first_arg)))
#else
#define BT_PRINTF_LIKE(fmt_index, first_arg)
#endif

/* Set the calling thread's last error to the formatted message and return `status`. */
bt_status bt_fail(bt_status status, const char *fmt, ...) BT_PRINTF_LIKE(2, 3);

/* Append text to the last error (e.g. a build log); returns the status last set by bt_fail. */
bt_status bt_fail_append(const char *text);

/* Symbolic name of an OpenCL error code ("CL_OUT_OF_RESOURCES"), or "unknown OpenCL error". */
const char *bt_cl_error_name(cl_int code);

/* For OpenCL calls: on failure record "<what>: <CL_NAME> (<code>)" and return BT_ERR_OPENCL (or
 * BT_ERR_DEVICE_MEMORY for allocation failures). */
bt_status bt_fail_cl(cl_int code, const char *what);

#define BT_TRY(expr)                                                                            \
    do {                                                                                        \
        bt_status bt_try_status_ = (expr);                                                      \
        if (bt_try_status_ != BT_OK)                                                            \
            return bt_try_status_;                                                              \
    } while (0)

#define BT_CL_TRY(call, what)                                                                   \
    do {                                                                                        \
        cl_int bt_cl_err_ = (call);                                                             \
        if (bt_cl_err_ != CL_SUCCESS)                                                           \
            return bt_fail_cl(bt_cl_err_, what);                                                \
    } while (0)

#endif
