/* Status strings and the per-thread last-error message. */
#include "common/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Large enough for a kernel build log; longer logs are cut with a marker. */
#define BT_ERROR_CAPACITY 16384

static _Thread_local char last_error[BT_ERROR_CAPACITY];
static _Thread_local bt_status last_status = BT_OK;

const char *bt_version(void) { return BT_VERSION_STRING; }

const char *bt_status_str(bt_status status)
{
    switch (status) {
#define BT_STATUS_TEXT_(name, text)                                                             \
    case name:                                                                                  \
        return text;
        BT_STATUS_LIST(BT_STATUS_TEXT_)
#undef BT_STATUS_TEXT_
    case BT_STATUS_COUNT_:
        break;
    }
    return "unknown status";
}

const char *bt_status_name(bt_status status)
{
    switch (status) {
#define BT_STATUS_NAME_(name, text)                                                             \
    case name:                                                                                  \
        return #name;
        BT_STATUS_LIST(BT_STATUS_NAME_)
#undef BT_STATUS_NAME_
    case BT_STATUS_COUNT_:
        break;
    }
    return "BT_UNKNOWN_STATUS";
}

const char *bt_last_error(void) { return last_error; }

void bt_clear_error(void)
{
    last_error[0] = '\0';
    last_status = BT_OK;
}

static void mark_truncated(void)
{
    static const char marker[] = "\n[message truncated]";
    memcpy(last_error + BT_ERROR_CAPACITY - sizeof marker, marker, sizeof marker);
}

bt_status bt_fail(bt_status status, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    int n = vsnprintf(last_error, sizeof last_error, fmt, args);
    va_end(args);
    if (n >= (int)sizeof last_error)
        mark_truncated();
    last_status = status;
    return status;
}

bt_status bt_fail_append(const char *text)
{
    size_t used = strlen(last_error);
    size_t room = sizeof last_error - used;
    int n = snprintf(last_error + used, room, "%s", text);
    if (n >= (int)room)
        mark_truncated();
    return last_status;
}

const char *bt_cl_error_name(cl_int code)
{
    switch (code) {
#define BT_CL_CASE_(c)                                                                          \
    case c:                                                                                     \
        return #c;
        BT_CL_CASE_(CL_SUCCESS)
        BT_CL_CASE_(CL_DEVICE_NOT_FOUND)
        BT_CL_CASE_(CL_DEVICE_NOT_AVAILABLE)
        BT_CL_CASE_(CL_COMPILER_NOT_AVAILABLE)
        BT_CL_CASE_(CL_MEM_OBJECT_ALLOCATION_FAILURE)
        BT_CL_CASE_(CL_OUT_OF_RESOURCES)
        BT_CL_CASE_(CL_OUT_OF_HOST_MEMORY)
        BT_CL_CASE_(CL_PROFILING_INFO_NOT_AVAILABLE)
        BT_CL_CASE_(CL_MEM_COPY_OVERLAP)
        BT_CL_CASE_(CL_IMAGE_FORMAT_MISMATCH)
        BT_CL_CASE_(CL_IMAGE_FORMAT_NOT_SUPPORTED)
        BT_CL_CASE_(CL_BUILD_PROGRAM_FAILURE)
        BT_CL_CASE_(CL_MAP_FAILURE)
        BT_CL_CASE_(CL_MISALIGNED_SUB_BUFFER_OFFSET)
        BT_CL_CASE_(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST)
        BT_CL_CASE_(CL_COMPILE_PROGRAM_FAILURE)
        BT_CL_CASE_(CL_LINKER_NOT_AVAILABLE)
        BT_CL_CASE_(CL_LINK_PROGRAM_FAILURE)
        BT_CL_CASE_(CL_DEVICE_PARTITION_FAILED)
        BT_CL_CASE_(CL_KERNEL_ARG_INFO_NOT_AVAILABLE)
        BT_CL_CASE_(CL_INVALID_VALUE)
        BT_CL_CASE_(CL_INVALID_DEVICE_TYPE)
        BT_CL_CASE_(CL_INVALID_PLATFORM)
        BT_CL_CASE_(CL_INVALID_DEVICE)
        BT_CL_CASE_(CL_INVALID_CONTEXT)
        BT_CL_CASE_(CL_INVALID_QUEUE_PROPERTIES)
        BT_CL_CASE_(CL_INVALID_COMMAND_QUEUE)
        BT_CL_CASE_(CL_INVALID_HOST_PTR)
        BT_CL_CASE_(CL_INVALID_MEM_OBJECT)
        BT_CL_CASE_(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR)
        BT_CL_CASE_(CL_INVALID_IMAGE_SIZE)
        BT_CL_CASE_(CL_INVALID_SAMPLER)
        BT_CL_CASE_(CL_INVALID_BINARY)
        BT_CL_CASE_(CL_INVALID_BUILD_OPTIONS)
        BT_CL_CASE_(CL_INVALID_PROGRAM)
        BT_CL_CASE_(CL_INVALID_PROGRAM_EXECUTABLE)
        BT_CL_CASE_(CL_INVALID_KERNEL_NAME)
        BT_CL_CASE_(CL_INVALID_KERNEL_DEFINITION)
        BT_CL_CASE_(CL_INVALID_KERNEL)
        BT_CL_CASE_(CL_INVALID_ARG_INDEX)
        BT_CL_CASE_(CL_INVALID_ARG_VALUE)
        BT_CL_CASE_(CL_INVALID_ARG_SIZE)
        BT_CL_CASE_(CL_INVALID_KERNEL_ARGS)
        BT_CL_CASE_(CL_INVALID_WORK_DIMENSION)
        BT_CL_CASE_(CL_INVALID_WORK_GROUP_SIZE)
        BT_CL_CASE_(CL_INVALID_WORK_ITEM_SIZE)
        BT_CL_CASE_(CL_INVALID_GLOBAL_OFFSET)
        BT_CL_CASE_(CL_INVALID_EVENT_WAIT_LIST)
        BT_CL_CASE_(CL_INVALID_EVENT)
        BT_CL_CASE_(CL_INVALID_OPERATION)
        BT_CL_CASE_(CL_INVALID_GL_OBJECT)
        BT_CL_CASE_(CL_INVALID_BUFFER_SIZE)
        BT_CL_CASE_(CL_INVALID_MIP_LEVEL)
        BT_CL_CASE_(CL_INVALID_GLOBAL_WORK_SIZE)
        BT_CL_CASE_(CL_INVALID_PROPERTY)
        BT_CL_CASE_(CL_INVALID_IMAGE_DESCRIPTOR)
        BT_CL_CASE_(CL_INVALID_COMPILER_OPTIONS)
        BT_CL_CASE_(CL_INVALID_LINKER_OPTIONS)
        BT_CL_CASE_(CL_INVALID_DEVICE_PARTITION_COUNT)
#undef BT_CL_CASE_
    case -1001:
        return "CL_PLATFORM_NOT_FOUND_KHR";
    default:
        return "unknown OpenCL error";
    }
}

bt_status bt_fail_cl(cl_int code, const char *what)
{
    bt_status status = (code == CL_MEM_OBJECT_ALLOCATION_FAILURE || code == CL_OUT_OF_RESOURCES ||
                        code == CL_INVALID_BUFFER_SIZE)
                           ? BT_ERR_DEVICE_MEMORY
                           : BT_ERR_OPENCL;
    return bt_fail(status, "%s: %s (%d)", what, bt_cl_error_name(code), (int)code);
}
