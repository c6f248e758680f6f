/* Whole-or-nothing file writes through a temporary file and rename. */
#define _POSIX_C_SOURCE 200809L
#include "common/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Temporary names taken by others (a concurrent writer, a stale file of a reused pid) are
 * skipped; this many in a row is not a coincidence. */
#define MAX_NAME_TRIES 64

bt_atomic_step bt_atomic_file_open(bt_atomic_file *f, const char *path)
{
    f->file = NULL;
    size_t tmp_len = strlen(path) + 48;
    f->path = strdup(path);
    f->tmp_path = malloc(tmp_len);
    if (!f->path || !f->tmp_path) {
        bt_atomic_file_release(f);
        return BT_ATOMIC_NO_MEMORY;
    }
    /* pid and a per-process counter: concurrent writers never share a temporary file. */
    static atomic_uint writes;
    int fd = -1;
    for (int tries = 0; fd < 0 && tries < MAX_NAME_TRIES; ++tries) {
        snprintf(f->tmp_path, tmp_len, "%s.tmp.%ld.%u", path, (long)getpid(),
                 atomic_fetch_add(&writes, 1u));
        fd = open(f->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd >= 0) {
        f->file = fdopen(fd, "wb");
        if (!f->file) {
            int saved = errno;
            close(fd);
            unlink(f->tmp_path);
            errno = saved;
        }
    }
    return f->file ? BT_ATOMIC_OK : BT_ATOMIC_CREATE;
}

bt_atomic_step bt_atomic_file_commit(bt_atomic_file *f, bool sync)
{
    bt_atomic_step step = BT_ATOMIC_OK;
    if (fflush(f->file) != 0 || ferror(f->file)) {
        step = BT_ATOMIC_WRITE;
        if (errno == 0)
            errno = EIO;
    } else if (sync && fsync(fileno(f->file)) != 0) {
        step = BT_ATOMIC_SYNC;
    }
    int saved = errno;
    int close_failed = fclose(f->file);
    f->file = NULL;
    if (close_failed != 0 && step == BT_ATOMIC_OK) {
        step = BT_ATOMIC_CLOSE;
        saved = errno;
    }
    if (step == BT_ATOMIC_OK && rename(f->tmp_path, f->path) != 0) {
        step = BT_ATOMIC_RENAME;
        saved = errno;
    }
    if (step != BT_ATOMIC_OK)
        unlink(f->tmp_path);
    errno = saved;
    return step;
}

void bt_atomic_file_abort(bt_atomic_file *f)
{
    if (!f->file)
        return;
    int saved = errno;
    fclose(f->file);
    f->file = NULL;
    unlink(f->tmp_path);
    errno = saved;
}

void bt_atomic_file_release(bt_atomic_file *f)
{
    int saved = errno;
    free(f->path);
    free(f->tmp_path);
    f->path = NULL;
    f->tmp_path = NULL;
    errno = saved;
}

bt_atomic_step bt_atomic_write(const char *path, const bt_atomic_part *parts, size_t n_parts)
{
    bt_atomic_file f;
    bt_atomic_step step = bt_atomic_file_open(&f, path);
    for (size_t i = 0; i < n_parts && step == BT_ATOMIC_OK; ++i) {
        if (fwrite(parts[i].data, 1, parts[i].size, f.file) != parts[i].size) {
            bt_atomic_file_abort(&f);
            step = BT_ATOMIC_WRITE;
        }
    }
    if (step == BT_ATOMIC_OK)
        step = bt_atomic_file_commit(&f, false);
    bt_atomic_file_release(&f);
    return step;
}
