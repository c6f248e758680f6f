/* The files of `batchtune tune`: summary.json, evaluations.csv, accuracy.dat and accuracy.gp
 * (rendered to accuracy.svg and accuracy.png when gnuplot is on PATH). Every file is written to
 * a temporary name in the output folder and renamed, so a reader never sees half a file. */
#ifndef BT_TUNE_REPORT_H
#define BT_TUNE_REPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "batchtune_tuner.h"

/* What the files record besides the tuner's own results. */
typedef struct bt_tune_report {
    const bt_tuner_result *result;
    const bt_device_info *device;
    const char *data_dir;
    size_t train_subset;    /* 0: the whole training part */
    size_t features;
    unsigned classes;
    const char *status;     /* bt_status_name() of the tuning */
    const char *error;      /* the library's message when the tuning failed; "" otherwise */
    double tool_seconds;    /* wall clock of the whole command so far */
} bt_tune_report;

/* Create `path` and its missing parents. On failure prints why and returns false. */
bool bt_tune_make_dir(const char *path);

/* Write summary.json, evaluations.csv, accuracy.dat and accuracy.gp into `dir`. On failure prints
 * which file and why, and returns false. */
bool bt_tune_write_files(const char *dir, const bt_tune_report *report);

/* Run gnuplot on accuracy.gp in `dir` to make accuracy.svg and accuracy.png. Returns false, having
 * printed how to render later, when gnuplot is missing or fails. */
bool bt_tune_render_plot(const char *dir);

#endif
