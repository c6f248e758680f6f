/* Internal: writing a file whole or not at all. The content goes to a fresh temporary file next
 * to it, "<path>.tmp.<pid>.<n>", which is then renamed over the path, so that a reader sees the
 * old file or the new one, never part of one. Reports by step and errno, not by message: each
 * caller words its own (the library through bt_fail, the tool on stderr). */
#ifndef BT_ATOMIC_FILE_H
#define BT_ATOMIC_FILE_H

#include <stdbool.h>
#include <stdio.h>

typedef struct bt_atomic_file {
    FILE *file;     /* what the caller writes to */
    char *path;     /* the file being replaced (a copy) */
    char *tmp_path; /* the temporary file */
} bt_atomic_file;

/* The step that failed; errno says why (but for BT_ATOMIC_NO_MEMORY). */
typedef enum bt_atomic_step {
    BT_ATOMIC_OK = 0,
    BT_ATOMIC_NO_MEMORY, /* for the paths */
    BT_ATOMIC_CREATE,    /* creating the temporary file */
    BT_ATOMIC_WRITE,     /* writing it: a write error, or flushing the stream */
    BT_ATOMIC_SYNC,      /* fsync */
    BT_ATOMIC_CLOSE,
    BT_ATOMIC_RENAME,
} bt_atomic_step;

/* Creates the temporary file for `path` (mode 0666 less the umask, as fopen gives) and opens
 * f->file on it. f->path and f->tmp_path name the two files for messages, whatever the result
 * (but BT_ATOMIC_NO_MEMORY), until bt_atomic_file_release. */
bt_atomic_step bt_atomic_file_open(bt_atomic_file *f, const char *path);

/* Flushes the stream (and with `sync` the data to disk), closes it and renames the temporary file
 * over the path. On failure the temporary file is removed, errno kept. */
bt_atomic_step bt_atomic_file_commit(bt_atomic_file *f, bool sync);

/* Closes and removes the temporary file, keeping errno: for a caller whose writing failed.
 * Nothing when no file is open. */
void bt_atomic_file_abort(bt_atomic_file *f);

/* Frees the names; after bt_atomic_file_open, whatever happened since. */
void bt_atomic_file_release(bt_atomic_file *f);

/* A piece of a file written from memory. */
typedef struct bt_atomic_part {
    const void *data;
    size_t size;
} bt_atomic_part;

/* The whole file from memory, the parts one after the other: open, write, commit (without
 * fsync), release. */
bt_atomic_step bt_atomic_write(const char *path, const bt_atomic_part *parts, size_t n_parts);

#endif
