/* The files of `batchtune tune`: summary.json, evaluations.csv, accuracy.dat and accuracy.gp
 * (rendered to accuracy.svg, accuracy.png and accuracy.txt when gnuplot is on PATH), and
 * manifest.txt, written last, naming the files of one run with their sizes and CRC-32s. */
#ifndef BT_TUNE_REPORT_H
#define BT_TUNE_REPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "batchtune_predict.h"
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
    const bt_predict_result *prediction; /* --predict: written as "prediction"; else NULL */
} bt_tune_report;

/* Create `path` and its missing parents. On failure prints why and returns false. */
bool bt_tune_make_dir(const char *path);

/* Write summary.json, evaluations.csv, accuracy.dat and accuracy.gp, render accuracy.svg,
 * accuracy.png and accuracy.txt with gnuplot when it is on PATH (*plotted says whether), and
 * manifest.txt last: the format line, then each file of the set with its size and CRC-32. The
 * files are written into a staging folder in `dir` and moved into place only once all exist;
 * the old manifest is removed before the first one moves, and a plot file of an earlier run that
 * this one lacks is removed, so the folder never holds a manifest that names a mix of two runs.
 * Staging folders and temporary files are removed on every failure, and those left by runs that
 * were killed are removed by the next one. On failure prints which file and why, and returns
 * false. When gnuplot is missing or fails, prints how to render the plot later. */
bool bt_tune_write_results(const char *dir, const bt_tune_report *rep, bool *plotted);

#endif
