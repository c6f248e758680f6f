/* Opening regular files to read without blocking on FIFOs and devices. */
#define _POSIX_C_SOURCE 200809L
#include "common/regular_file.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static void close_keeping_errno(int fd)
{
    int saved = errno;
    close(fd);
    errno = saved;
}

bt_regular_step bt_regular_file_open(const char *path, int *fd, uint64_t *size)
{
    int f = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (f < 0)
        return BT_REGULAR_OPEN;
    struct stat st;
    if (fstat(f, &st) != 0) {
        close_keeping_errno(f);
        return BT_REGULAR_STAT;
    }
    if (!S_ISREG(st.st_mode)) {
        close(f);
        errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
        return BT_REGULAR_NOT_REGULAR;
    }
    int flags = fcntl(f, F_GETFL);
    if (flags < 0 || fcntl(f, F_SETFL, flags & ~O_NONBLOCK) != 0) {
        close_keeping_errno(f);
        return BT_REGULAR_STAT;
    }
    *fd = f;
    *size = (uint64_t)st.st_size;
    return BT_REGULAR_OK;
}

bt_regular_step bt_regular_file_fopen(const char *path, FILE **file, uint64_t *size)
{
    int fd = -1;
    uint64_t bytes = 0;
    bt_regular_step step = bt_regular_file_open(path, &fd, &bytes);
    if (step != BT_REGULAR_OK)
        return step;
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        close_keeping_errno(fd);
        return BT_REGULAR_FDOPEN;
    }
    *file = f;
    *size = bytes;
    return BT_REGULAR_OK;
}
