/* Internal: opening a file to read that must be a regular file. A FIFO, a terminal or a device
 * at the path would block open() or read() forever (or never end); it is opened without
 * blocking, found not to be a regular file and closed again. */
#ifndef BT_REGULAR_FILE_H
#define BT_REGULAR_FILE_H

#include <stdint.h>
#include <stdio.h>

typedef enum bt_regular_step {
    BT_REGULAR_OK = 0,
    BT_REGULAR_OPEN,        /* open() failed; errno says why */
    BT_REGULAR_STAT,        /* fstat() or fcntl() failed; errno says why */
    BT_REGULAR_NOT_REGULAR, /* a directory, FIFO, socket or device: closed again */
    BT_REGULAR_FDOPEN,      /* fdopen() failed; errno says why */
} bt_regular_step;

/* Opens `path` read-only (close-on-exec, no controlling terminal) without blocking, checks that
 * it is a regular file and puts the descriptor back into blocking mode. *fd and *size (bytes)
 * are set on success only. On failure nothing is left open and errno is kept. */
bt_regular_step bt_regular_file_open(const char *path, int *fd, uint64_t *size);

/* The same as a stdio stream ("rb"). */
bt_regular_step bt_regular_file_fopen(const char *path, FILE **file, uint64_t *size);

#endif
