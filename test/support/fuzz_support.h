/* Shared by the libFuzzer targets: the entry point's prototype, and temporary files for parsers
 * that read from a path. Each temporary file is created once per process (mkstemp under $TMPDIR
 * or /tmp), rewritten for each input and removed at exit. */
#ifndef BT_FUZZ_SUPPORT_H
#define BT_FUZZ_SUPPORT_H

#define _POSIX_C_SOURCE 200809L
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batchtune.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BT_FUZZ_MAX_TEMPS 4

static char bt_fuzz_temp_paths[BT_FUZZ_MAX_TEMPS][256];

static inline void bt_fuzz_remove_temps(void)
{
    for (int i = 0; i < BT_FUZZ_MAX_TEMPS; ++i) {
        if (bt_fuzz_temp_paths[i][0])
            unlink(bt_fuzz_temp_paths[i]);
    }
}

/* Writes data[0..size) to temporary file `slot` and returns its path; aborts when it cannot (a
 * broken test machine, not a finding in the parser). */
static inline const char *bt_fuzz_write_temp(int slot, const uint8_t *data, size_t size)
{
    char *path = bt_fuzz_temp_paths[slot];
    if (!path[0]) {
        const char *dir = getenv("TMPDIR");
        snprintf(path, sizeof bt_fuzz_temp_paths[slot], "%s/bt-fuzz-%d-XXXXXX",
                 dir && *dir ? dir : "/tmp", slot);
        int fd = mkstemp(path);
        if (fd < 0)
            abort();
        close(fd);
        static int registered = 0;
        if (!registered++)
            atexit(bt_fuzz_remove_temps);
    }
    FILE *f = fopen(path, "wb");
    if (!f || (size > 0 && fwrite(data, 1, size, f) != size) || fclose(f) != 0)
        abort();
    return path;
}

/* With BT_FUZZ_VERBOSE set (replaying a corpus by hand), says what the parser made of each
 * input, to check that the seeds reach the paths they are meant for. */
static inline void bt_fuzz_report(bt_status status)
{
    if (getenv("BT_FUZZ_VERBOSE"))
        fprintf(stderr, "  %s\n", status == BT_OK ? "accepted" : bt_last_error());
}

#endif
