/* The files of `batchtune tune` (see tune_report.h). */
#define _POSIX_C_SOURCE 200809L
#include "tune_report.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "common/atomic_file.h"
#include "common/checksum.h"
#include "predict_report.h"

#define CMD "tune"

/* ---- folders and atomic files --------------------------------------------------------------- */

bool bt_tune_make_dir(const char *path)
{
    char buf[4096];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof buf) {
        fprintf(stderr, "batchtune %s: --out '%s': the path is empty or too long\n", CMD, path);
        return false;
    }
    memcpy(buf, path, len + 1);
    /* Each prefix ending before a '/', then the whole path. */
    for (size_t i = 1; i <= len; ++i) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char saved = buf[i];
        buf[i] = '\0';
        struct stat st;
        if (mkdir(buf, 0777) != 0 && (errno != EEXIST || stat(buf, &st) != 0 ||
                                      !S_ISDIR(st.st_mode))) {
            fprintf(stderr, "batchtune %s: cannot create the folder %s: %s\n", CMD, buf,
                    errno == EEXIST ? "a file of that name exists" : strerror(errno));
            return false;
        }
        buf[i] = saved;
    }
    if (access(path, W_OK | X_OK) != 0) {
        fprintf(stderr, "batchtune %s: cannot write in %s: %s\n", CMD, path, strerror(errno));
        return false;
    }
    return true;
}

typedef bool (*write_fn)(FILE *out, const void *data);

/* Write "<dir>/<name>" through a temporary file in the same folder and rename it into place. */
static bool write_atomic(const char *dir, const char *name, write_fn write, const void *data)
{
    char final[4200];
    int n = snprintf(final, sizeof final, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= sizeof final) {
        fprintf(stderr, "batchtune %s: the path of %s in %s is too long\n", CMD, name, dir);
        return false;
    }
    bt_atomic_file f;
    bt_atomic_step step = bt_atomic_file_open(&f, final);
    if (step != BT_ATOMIC_OK) {
        fprintf(stderr, "batchtune %s: cannot create a file in %s: %s\n", CMD, dir,
                strerror(step == BT_ATOMIC_NO_MEMORY ? ENOMEM : errno));
        bt_atomic_file_release(&f);
        return false;
    }
    if (write(f.file, data)) {
        step = bt_atomic_file_commit(&f, true);
    } else {
        bt_atomic_file_abort(&f);
        step = BT_ATOMIC_WRITE;
    }
    bt_atomic_file_release(&f);
    if (step == BT_ATOMIC_OK)
        return true;
    fprintf(stderr, "batchtune %s: cannot write %s: %s\n", CMD, final, strerror(errno));
    return false;
}

/* ---- summary.json ---------------------------------------------------------------------------- */

/* cJSON returns NULL when out of memory: `ok` turns false and the rest is skipped. */
typedef struct json {
    bool ok;
} json;

static cJSON *json_add(json *j, cJSON *parent, const char *name, cJSON *item)
{
    bool added = j->ok && item && parent &&
                 (name ? cJSON_AddItemToObject(parent, name, item)
                       : cJSON_AddItemToArray(parent, item));
    if (!added) {
        cJSON_Delete(item);
        j->ok = false;
        return NULL;
    }
    return item;
}

/* Numbers that are not finite (not reached, not measured) are null. */
static void json_number(json *j, cJSON *parent, const char *name, double value)
{
    json_add(j, parent, name, isfinite(value) ? cJSON_CreateNumber(value) : cJSON_CreateNull());
}

static void json_string(json *j, cJSON *parent, const char *name, const char *value)
{
    json_add(j, parent, name, cJSON_CreateString(value ? value : ""));
}

static void json_bool(json *j, cJSON *parent, const char *name, bool value)
{
    json_add(j, parent, name, cJSON_CreateBool(value));
}

static cJSON *json_object(json *j, cJSON *parent, const char *name)
{
    return json_add(j, parent, name, cJSON_CreateObject());
}

static cJSON *json_array(json *j, cJSON *parent, const char *name)
{
    return json_add(j, parent, name, cJSON_CreateArray());
}

static void json_device(json *j, cJSON *root, const bt_device_info *d)
{
    cJSON *o = json_object(j, root, "device");
    json_string(j, o, "name", d->name);
    json_string(j, o, "vendor", d->vendor);
    json_string(j, o, "platform", d->platform_name);
    json_string(j, o, "type", bt_device_type_str(d->type));
    json_string(j, o, "driver_version", d->driver_version);
    json_string(j, o, "device_version", d->device_version);
    json_string(j, o, "opencl_c_version", d->opencl_c_version);
    json_number(j, o, "compute_units", d->compute_units);
    json_number(j, o, "global_mem_bytes", (double)d->global_mem_bytes);
    json_number(j, o, "index", (double)d->index);
}

static void json_workload(json *j, cJSON *root, const bt_tune_report *rep)
{
    const bt_tuner_opts *o = bt_tuner_result_opts(rep->result);
    const bt_tuner_summary *s = bt_tuner_result_summary(rep->result);
    cJSON *w = json_object(j, root, "workload");
    json_string(j, w, "data", rep->data_dir);
    json_number(j, w, "train_examples", (double)s->train_count);
    json_number(j, w, "validation_examples", (double)s->validation_count);
    json_number(j, w, "train_subset", rep->train_subset ? (double)rep->train_subset : NAN);
    json_number(j, w, "features", (double)rep->features);
    json_number(j, w, "classes", rep->classes);
    json_number(j, w, "chance_accuracy", s->chance_accuracy);
    cJSON *net = json_object(j, w, "network");
    cJSON *layers = json_array(j, net, "layers");
    for (size_t i = 0; i < o->network.n_sizes; ++i)
        json_number(j, layers, NULL, (double)o->network.sizes[i]);
    json_string(j, net, "hidden", bt_activation_str(o->network.hidden));
    json_string(j, net, "output", bt_activation_str(o->network.output));
    json_string(j, net, "cost", bt_cost_str(o->network.cost));
    json_string(j, net, "init", bt_init_str(o->network.init));
}

static void json_parameters(json *j, cJSON *root, const bt_tuner_result *result)
{
    const bt_tuner_opts *o = bt_tuner_result_opts(result);
    const bt_tuner_summary *s = bt_tuner_result_summary(result);
    cJSON *p = json_object(j, root, "parameters");
    cJSON *sizes = json_array(j, p, "batch_sizes");
    for (size_t i = 0; i < o->n_batch_sizes; ++i)
        json_number(j, sizes, NULL, (double)o->batch_sizes[i]);
    json_number(j, p, "eta_ref", o->eta_ref);
    json_number(j, p, "m_ref", (double)o->m_ref);
    json_string(j, p, "rule", bt_lr_rule_str(o->rule));
    json_number(j, p, "lambda", o->lambda);
    json_number(j, p, "target_accuracy", o->target_accuracy);
    json_number(j, p, "budget_seconds", o->budget_seconds);
    json_number(j, p, "eval_interval_seconds", o->eval_interval_seconds);
    json_number(j, p, "repeats", (double)o->repeats);
    json_number(j, p, "seed", (double)o->network.seed);
    json_bool(j, p, "early_stop", o->early_stop);
    json_number(j, p, "halving_factor", (double)o->halving_factor);
    cJSON *stages = json_array(j, p, "stage_budgets_seconds");
    for (size_t i = 0; i < s->stages; ++i)
        json_number(j, stages, NULL, s->stage_budgets[i]);
    json_number(j, p, "stuck_margin", o->stuck_margin);
    json_number(j, p, "stuck_evaluations", (double)o->stuck_evaluations);
    json_number(j, p, "stuck_budget_fraction", o->stuck_budget_fraction);
}

static void json_trial(json *j, cJSON *parent, const bt_tuner_trial *t)
{
    cJSON *o = json_add(j, parent, NULL, cJSON_CreateObject());
    json_number(j, o, "seed", (double)t->seed);
    json_bool(j, o, "reached", t->reached);
    json_number(j, o, "time_to_target_seconds", t->time_to_target);
    json_number(j, o, "epochs_to_target", t->epochs_to_target);
    json_number(j, o, "best_accuracy", t->best_accuracy);
    json_number(j, o, "final_accuracy", t->final_accuracy);
    json_string(j, o, "health", bt_tuner_health_str(t->health));
    json_string(j, o, "reason", t->reason);
    json_string(j, o, "stop", bt_tuner_stop_str(t->stop));
    json_number(j, o, "stage", (double)t->stage);
    json_number(j, o, "train_seconds", t->train_seconds);
    json_number(j, o, "steps", (double)t->steps);
    json_number(j, o, "examples_seen", (double)t->examples_seen);
    json_number(j, o, "examples_per_second", t->examples_per_second);
    json_number(j, o, "step_seconds", t->step_seconds);
    cJSON *evals = json_array(j, o, "evaluations");
    for (size_t i = 0; i < t->n_points && j->ok; ++i) {
        const bt_tuner_point *p = &t->points[i];
        cJSON *e = json_add(j, evals, NULL, cJSON_CreateObject());
        json_number(j, e, "train_seconds", p->train_seconds);
        json_number(j, e, "epochs", p->epochs);
        json_number(j, e, "examples_seen", (double)p->examples_seen);
        json_number(j, e, "steps", (double)p->steps);
        json_number(j, e, "accuracy", p->accuracy);
        json_number(j, e, "cost", p->cost);
    }
}

static void json_candidate(json *j, cJSON *parent, const bt_tuner_candidate *c)
{
    cJSON *o = json_add(j, parent, NULL, cJSON_CreateObject());
    json_number(j, o, "batch_size", (double)c->batch_size);
    json_number(j, o, "eta", c->eta);
    json_number(j, o, "rank", (double)c->rank);
    json_bool(j, o, "reached", c->reached);
    json_number(j, o, "time_to_target_seconds", c->time_to_target);
    json_number(j, o, "time_to_target_spread_seconds", c->time_to_target_spread);
    json_number(j, o, "best_accuracy", c->best_accuracy);
    json_number(j, o, "best_accuracy_spread", c->best_accuracy_spread);
    json_number(j, o, "examples_per_second", c->examples_per_second);
    json_number(j, o, "step_seconds", c->step_seconds);
    json_number(j, o, "update_time_ratio", c->update_time_ratio);
    json_string(j, o, "health", bt_tuner_health_str(c->health));
    json_string(j, o, "reason", c->reason);
    json_string(j, o, "stop", c->n_trials ? bt_tuner_stop_str(c->stop) : "not run");
    json_number(j, o, "stage", (double)c->stage);
    cJSON *trials = json_array(j, o, "trials");
    for (size_t k = 0; k < c->n_trials && j->ok; ++k)
        json_trial(j, trials, &c->trials[k]);
}

static void json_results(json *j, cJSON *root, const bt_tune_report *rep)
{
    const bt_tuner_summary *s = bt_tuner_result_summary(rep->result);
    cJSON *totals = json_object(j, root, "totals");
    json_string(j, totals, "status", rep->status);
    json_string(j, totals, "error", rep->error);
    json_bool(j, totals, "interrupted", s->interrupted);
    json_number(j, totals, "tuner_seconds", s->total_seconds);
    json_number(j, totals, "tool_seconds", rep->tool_seconds);
    json_number(j, totals, "train_seconds", s->train_seconds);
    json_number(j, totals, "evaluations", (double)s->evaluations);
    json_number(j, root, "reference_step_seconds", s->reference_step_seconds);
    cJSON *cands = json_array(j, root, "candidates");
    for (size_t i = 0; i < s->n_candidates && j->ok; ++i)
        json_candidate(j, cands, &s->candidates[i]);
    cJSON *ranking = json_array(j, root, "ranking");
    for (size_t i = 0; i < s->n_candidates; ++i)
        json_number(j, ranking, NULL, (double)s->candidates[s->ranking[i]].batch_size);
    if (!s->winner) {
        json_add(j, root, "winner", cJSON_CreateNull());
        return;
    }
    cJSON *w = json_object(j, root, "winner");
    json_number(j, w, "batch_size", (double)s->winner->batch_size);
    json_number(j, w, "eta", s->winner->eta);
    json_bool(j, w, "reached", s->winner->reached);
    json_number(j, w, "time_to_target_seconds", s->winner->time_to_target);
    json_number(j, w, "best_accuracy", s->winner->best_accuracy);
}

static bool write_text(FILE *out, const void *data)
{
    return fputs(data, out) >= 0;
}

static bool write_json(const char *dir, const bt_tune_report *rep)
{
    json j = {true};
    cJSON *root = cJSON_CreateObject();
    j.ok = root != NULL;
    char created[32] = "";
    time_t now = time(NULL);
    struct tm utc;
    if (gmtime_r(&now, &utc))
        strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &utc);
    json_string(&j, root, "tool", "batchtune tune");
    json_string(&j, root, "version", bt_version());
    json_string(&j, root, "created", created);
    json_device(&j, root, rep->device);
    json_workload(&j, root, rep);
    json_parameters(&j, root, rep->result);
    json_results(&j, root, rep);
    if (rep->prediction && j.ok) {
        cJSON *pred = json_object(&j, root, "prediction");
        if (pred)
            bt_predict_json(bt_predict_result_summary(rep->prediction), pred);
    }
    char *text = j.ok ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!text) {
        fprintf(stderr, "batchtune %s: out of memory for summary.json\n", CMD);
        return false;
    }
    size_t len = strlen(text);
    char *with_newline = malloc(len + 2);
    bool ok = with_newline != NULL;
    if (ok) {
        memcpy(with_newline, text, len);
        memcpy(with_newline + len, "\n", 2);
        ok = write_atomic(dir, "summary.json", write_text, with_newline);
    } else {
        fprintf(stderr, "batchtune %s: out of memory for summary.json\n", CMD);
    }
    free(with_newline);
    cJSON_free(text);
    return ok;
}

/* ---- evaluations.csv and the plot's data ------------------------------------------------------ */

static bool write_csv(FILE *out, const void *data)
{
    const bt_tuner_summary *s = data;
    bool ok = fputs("batch_size,eta,seed,evaluation,train_seconds,epochs,examples_seen,steps,"
                    "accuracy,cost\n",
                    out) >= 0;
    for (size_t c = 0; c < s->n_candidates && ok; ++c) {
        const bt_tuner_candidate *cand = &s->candidates[c];
        for (size_t k = 0; k < cand->n_trials && ok; ++k) {
            const bt_tuner_trial *t = &cand->trials[k];
            for (size_t i = 0; i < t->n_points && ok; ++i) {
                const bt_tuner_point *p = &t->points[i];
                ok = fprintf(out, "%zu,%.9g,%llu,%zu,%.9g,%.9g,%llu,%llu,%.9g,%.9g\n",
                             cand->batch_size, cand->eta, (unsigned long long)t->seed, i,
                             p->train_seconds, p->epochs, (unsigned long long)p->examples_seen,
                             (unsigned long long)p->steps, p->accuracy, p->cost) > 0;
            }
        }
    }
    return ok;
}

/* One block per trial (gnuplot's `index`), separated by two blank lines. */
static bool write_dat(FILE *out, const void *data)
{
    const bt_tuner_summary *s = data;
    bool ok = fputs("# validation accuracy against training wall-clock time; one block per batch "
                    "size and seed\n# train_seconds accuracy_percent epochs\n",
                    out) >= 0;
    size_t block = 0;
    for (size_t c = 0; c < s->n_candidates && ok; ++c) {
        const bt_tuner_candidate *cand = &s->candidates[c];
        for (size_t k = 0; k < cand->n_trials && ok; ++k) {
            const bt_tuner_trial *t = &cand->trials[k];
            ok = fprintf(out, "%s# block %zu: m = %zu, eta = %.4g, seed %llu\n",
                         block ? "\n\n" : "", block, cand->batch_size, cand->eta,
                         (unsigned long long)t->seed) > 0;
            for (size_t i = 0; i < t->n_points && ok; ++i)
                ok = fprintf(out, "%.6f %.4f %.6f\n", t->points[i].train_seconds,
                             100.0 * t->points[i].accuracy, t->points[i].epochs) > 0;
            ++block;
        }
    }
    return ok;
}

/* Distinct colours for up to 12 batch sizes; more cycle with a dash pattern. */
static const char *const colours[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                                      "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                                      "#bcbd22", "#17becf", "#000080", "#808000"};
#define N_COLOURS (sizeof colours / sizeof colours[0])

static bool gp_header(FILE *out, const bt_tune_report *rep)
{
    const bt_tuner_opts *o = bt_tuner_result_opts(rep->result);
    char sizes[256] = "";
    size_t used = 0;
    for (size_t i = 0; i < o->network.n_sizes && used < sizeof sizes; ++i) {
        int n = snprintf(sizes + used, sizeof sizes - used, "%s%zu", i ? "," : "",
                         o->network.sizes[i]);
        used += n > 0 ? (size_t)n : 0;
    }
    return fprintf(out,
                   "# Validation accuracy against training wall-clock time, one curve per batch "
                   "size,\n# written by batchtune tune. Render (or edit and re-render) in this "
                   "folder with\n#     gnuplot accuracy.gp\n# which writes accuracy.svg, accuracy.png "
                   "and accuracy.txt. The data is in accuracy.dat.\n"
                   "if (!exists(\"outbase\")) outbase = \"accuracy\"\n"
                   "target = %.6g\n"
                   "set title \"%s %s/%s %s on %s: eta %g at m %zu, %s rule\" noenhanced\n"
                   "set xlabel \"training time (s, wall clock; warm-up and evaluation not "
                   "counted)\"\n"
                   "set ylabel \"validation accuracy (%%)\"\n"
                   "set yrange [0:100]\nset xrange [0:*]\nset autoscale xfixmax\nset grid\n"
                   "set key outside right top title \"batch size m (eta)\" noenhanced\n"
                   "set terminal svg size 1000,620 dynamic font \"sans,12\" background "
                   "\"white\"\n"
                   "set output outbase.\".svg\"\n",
                   100.0 * o->target_accuracy, sizes, bt_activation_str(o->network.hidden),
                   bt_activation_str(o->network.output), bt_cost_str(o->network.cost),
                   rep->device->name, o->eta_ref, o->m_ref, bt_lr_rule_str(o->rule)) > 0;
}

/* One character per batch size in the text plot; candidates beyond these share '+'. */
static const char text_marks[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/* The same data as text (gnuplot's dumb terminal) for a terminal, and for places that show no
 * images: each evaluation is a letter for its batch size, on a logarithmic time axis because
 * the fast candidates' rise happens in the first few evaluations. The evaluations at 0 s have
 * no place on that axis and are left out, and so are the curves that hold nothing else (a very
 * early interrupt): gnuplot 5.4's dumb terminal crashes on a curve with no point to draw. */
static bool has_time_after_start(const bt_tuner_trial *t)
{
    for (size_t i = 0; i < t->n_points; ++i)
        if (t->points[i].train_seconds > 0.0)
            return true;
    return false;
}

static bool write_gp_text(FILE *out, const bt_tune_report *rep)
{
    const bt_tuner_opts *o = bt_tuner_result_opts(rep->result);
    const bt_tuner_summary *s = bt_tuner_result_summary(rep->result);
    double low = 100.0 * o->target_accuracy - 40.0;
    bool ok = fprintf(out,
                      "\n# The same curves as text, one letter per batch size, for a terminal "
                      "(accuracy.txt).\n"
                      "unset title\nset xlabel \"training time (s, log scale)\"\n"
                      "set ylabel \"accuracy %%\"\nset logscale x\nset xrange [%.6g:%.6g]\n"
                      "set yrange [%.6g:100]\nset key outside right top title \"m\"\n"
                      "set terminal dumb size 100,32\nset output outbase.\".txt\"\nplot \\\n",
                      0.8 * o->eval_interval_seconds, o->budget_seconds,
                      low > 0.0 ? low : 0.0) > 0;
    size_t block = 0, n_marks = sizeof text_marks - 1;
    for (size_t c = 0; c < s->n_candidates && ok; ++c) {
        const bt_tuner_candidate *cand = &s->candidates[c];
        char mark = c < n_marks ? text_marks[c] : '+';
        bool titled = false;
        for (size_t k = 0; k < cand->n_trials && ok; ++k, ++block) {
            if (!has_time_after_start(&cand->trials[k]))
                continue;
            char title[64] = "notitle";
            if (!titled)
                snprintf(title, sizeof title, "title \"%zu%s\"", cand->batch_size,
                         cand == s->winner ? " *" : "");
            titled = true;
            ok = fprintf(out,
                         "  'accuracy.dat' index %zu using ($1 > 0 ? $1 : NaN):2 with points "
                         "pt \"%c\" %s, \\\n",
                         block, mark, title) > 0;
        }
    }
    return ok && fputs("  target with lines dt 2 title \"target\"\nset output\n", out) >= 0;
}

static bool write_gp(FILE *out, const void *data)
{
    const bt_tune_report *rep = data;
    const bt_tuner_summary *s = bt_tuner_result_summary(rep->result);
    bool ok = gp_header(out, rep) && fputs("plot \\\n", out) >= 0;
    size_t block = 0;
    for (size_t c = 0; c < s->n_candidates && ok; ++c) {
        const bt_tuner_candidate *cand = &s->candidates[c];
        bool winner = cand == s->winner;
        for (size_t k = 0; k < cand->n_trials && ok; ++k, ++block) {
            char title[96] = "notitle";
            if (k == 0)
                snprintf(title, sizeof title, "title \"m = %zu (%.3g)%s\"", cand->batch_size,
                         cand->eta, winner ? ", winner" : "");
            ok = fprintf(out,
                         "  'accuracy.dat' index %zu using 1:2 with linespoints pt 7 ps 0.4 "
                         "lw %s lc rgb \"%s\" dt %zu %s, \\\n",
                         block, winner ? "3" : "1.5", colours[c % N_COLOURS],
                         1 + c / N_COLOURS, title) > 0;
        }
    }
    return ok &&
           fputs("  target with lines dt 2 lw 2 lc rgb \"black\" "
                 "title sprintf(\"target %g%%\", target)\n"
                 "set terminal pngcairo size 1200,750 font \"sans,11\" background \"white\"\n"
                 "set output outbase.\".png\"\nreplot\nset output\n",
                 out) >= 0 &&
           write_gp_text(out, rep);
}

static bool write_set(const char *dir, const bt_tune_report *rep)
{
    const bt_tuner_summary *s = bt_tuner_result_summary(rep->result);
    bool ok = write_json(dir, rep);
    ok = write_atomic(dir, "evaluations.csv", write_csv, s) && ok;
    ok = write_atomic(dir, "accuracy.dat", write_dat, s) && ok;
    ok = write_atomic(dir, "accuracy.gp", write_gp, rep) && ok;
    return ok;
}

/* ---- rendering -------------------------------------------------------------------------------- */

static bool on_path(const char *program)
{
    const char *path = getenv("PATH");
    char candidate[4096];
    while (path && *path) {
        size_t len = strcspn(path, ":");
        /* An empty PATH entry is the current folder. */
        int n = len ? snprintf(candidate, sizeof candidate, "%.*s/%s", (int)len, path, program)
                    : snprintf(candidate, sizeof candidate, "./%s", program);
        if (n > 0 && (size_t)n < sizeof candidate && access(candidate, X_OK) == 0)
            return true;
        path += len + (path[len] == ':');
    }
    return false;
}

extern char **environ;

/* gnuplot runs in `dir` (passed to the shell as $1, so no quoting problem) and writes into
 * temporary names that are renamed once it succeeded. posix_spawn, not fork: the process has
 * the OpenCL runtime's threads. */
static bool run_gnuplot(const char *dir)
{
    char *argv[] = {"sh", "-c",
                    "cd \"$1\" && exec gnuplot -e \"outbase='.accuracy.tmp'\" accuracy.gp",
                    "sh", (char *)dir, NULL};
    pid_t pid;
    int err = posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, environ);
    if (err != 0) {
        fprintf(stderr, "batchtune %s: cannot start gnuplot: %s\n", CMD, strerror(err));
        return false;
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            fprintf(stderr, "batchtune %s: waiting for gnuplot: %s\n", CMD, strerror(errno));
            return false;
        }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "batchtune %s: gnuplot failed (%s %d)\n", CMD,
                WIFEXITED(status) ? "exit status" : "signal",
                WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        return false;
    }
    static const char *const ext[3] = {"svg", "png", "txt"};
    for (int i = 0; i < 3; ++i) {
        char from[4200], to[4200];
        snprintf(from, sizeof from, "%s/.accuracy.tmp.%s", dir, ext[i]);
        snprintf(to, sizeof to, "%s/accuracy.%s", dir, ext[i]);
        if (rename(from, to) != 0) {
            fprintf(stderr, "batchtune %s: cannot rename %s to %s: %s\n", CMD, from, to,
                    strerror(errno));
            return false;
        }
    }
    return true;
}

static bool render_plot(const char *staging, const char *dir)
{
    if (!on_path("gnuplot")) {
        fprintf(stderr, "batchtune %s: gnuplot is not installed, so there is no accuracy.svg or "
                        "accuracy.png;\ninstall it (apt-get install gnuplot-nox) and render the "
                        "plot later with:\n    cd '%s' && gnuplot accuracy.gp\n",
                CMD, dir);
        return false;
    }
    if (!run_gnuplot(staging)) {
        fprintf(stderr, "batchtune %s: render the plot later with: cd '%s' && gnuplot "
                        "accuracy.gp\n",
                CMD, dir);
        return false;
    }
    return true;
}

/* ---- the set of files ------------------------------------------------------------------------- */

#define STAGING_PREFIX ".tune-staging."
#define MANIFEST "manifest.txt"
#define MANIFEST_FORMAT "batchtune-tune-results 1"

/* Every file of a set, in the manifest's order; the last three only when the plot rendered. */
static const char *const set_files[] = {"summary.json", "evaluations.csv", "accuracy.dat",
                                        "accuracy.gp",  "accuracy.svg",    "accuracy.png",
                                        "accuracy.txt"};
#define SET_FILES (sizeof set_files / sizeof *set_files)

static bool join(char *buf, size_t size, const char *dir, const char *name)
{
    int n = snprintf(buf, size, "%s/%s", dir, name);
    if (n >= 0 && (size_t)n < size)
        return true;
    fprintf(stderr, "batchtune %s: the path of %s in %s is too long\n", CMD, name, dir);
    return false;
}

/* Removes a staging folder: its files (it has no folders), then itself. */
static void remove_staging(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        char file[4400];
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
                join(file, sizeof file, path, e->d_name))
                unlink(file);
        }
        closedir(d);
    }
    rmdir(path);
}

/* What earlier runs killed before they could clean up (kill -9, a power cut) left in `dir`: the
 * staging folders of processes that are gone, the temporary files of atomic writes of the set's
 * files, and gnuplot's temporary outputs. */
static void remove_leftovers(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char path[4400];
    while ((e = readdir(d)) != NULL) {
        const char *name = e->d_name;
        bool stale = false;
        if (strncmp(name, STAGING_PREFIX, strlen(STAGING_PREFIX)) == 0) {
            char *end = NULL;
            long pid = strtol(name + strlen(STAGING_PREFIX), &end, 10);
            stale = pid <= 0 || *end != '\0' ||
                    (pid != (long)getpid() && kill((pid_t)pid, 0) != 0 && errno == ESRCH);
            if (stale && join(path, sizeof path, dir, name))
                remove_staging(path);
            continue;
        }
        stale = strncmp(name, ".accuracy.tmp.", 14) == 0;
        for (size_t i = 0; i < SET_FILES && !stale; ++i) {
            size_t len = strlen(set_files[i]);
            stale = strncmp(name, set_files[i], len) == 0 && strncmp(name + len, ".tmp.", 5) == 0;
        }
        stale = stale || strncmp(name, MANIFEST ".tmp.", strlen(MANIFEST ".tmp.")) == 0;
        if (stale && join(path, sizeof path, dir, name))
            unlink(path);
    }
    closedir(d);
}

/* Appends "<name> <bytes> <crc32>" of dir/name to the manifest's text. */
static bool manifest_line(const char *dir, const char *name, char *text, size_t size,
                          size_t *used)
{
    char path[4400];
    if (!join(path, sizeof path, dir, name))
        return false;
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "batchtune %s: cannot read %s back: %s\n", CMD, path, strerror(errno));
        return false;
    }
    unsigned char buf[65536];
    uint32_t crc = BT_CRC32_INIT;
    unsigned long long bytes = 0;
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        crc = bt_crc32_update(crc, buf, n);
        bytes += n;
    }
    bool ok = !ferror(f);
    fclose(f);
    if (!ok) {
        fprintf(stderr, "batchtune %s: cannot read %s back\n", CMD, path);
        return false;
    }
    int w = snprintf(text + *used, size - *used, "%s %llu %08lx\n", name, bytes,
                     (unsigned long)crc);
    if (w < 0 || (size_t)w >= size - *used)
        return false;
    *used += (size_t)w;
    return true;
}

/* Puts the staged set in place: the old manifest goes first (from then on the folder holds no
 * complete set), then each new file replaces the old one and an old plot file that the new set
 * lacks is removed, and the manifest naming the new set's files, sizes and CRC-32s comes last. */
static bool commit_set(const char *staging, const char *dir)
{
    char from[4400], to[4400];
    if (!join(to, sizeof to, dir, MANIFEST))
        return false;
    if (unlink(to) != 0 && errno != ENOENT) {
        fprintf(stderr, "batchtune %s: cannot remove the old %s: %s\n", CMD, to, strerror(errno));
        return false;
    }
    char text[2048];
    size_t used = (size_t)snprintf(text, sizeof text, MANIFEST_FORMAT "\n");
    for (size_t i = 0; i < SET_FILES; ++i) {
        if (!join(from, sizeof from, staging, set_files[i]) ||
            !join(to, sizeof to, dir, set_files[i]))
            return false;
        if (access(from, F_OK) != 0) {
            if (unlink(to) != 0 && errno != ENOENT) {
                fprintf(stderr, "batchtune %s: cannot remove the old %s: %s\n", CMD, to,
                        strerror(errno));
                return false;
            }
            continue;
        }
        if (rename(from, to) != 0) {
            fprintf(stderr, "batchtune %s: cannot rename %s to %s: %s\n", CMD, from, to,
                    strerror(errno));
            return false;
        }
        if (!manifest_line(dir, set_files[i], text, sizeof text, &used))
            return false;
    }
    if (!join(to, sizeof to, dir, MANIFEST))
        return false;
    bt_atomic_part part = {text, used};
    if (bt_atomic_write(to, &part, 1) != BT_ATOMIC_OK) {
        fprintf(stderr, "batchtune %s: cannot write %s: %s\n", CMD, to, strerror(errno));
        return false;
    }
    return true;
}

bool bt_tune_write_results(const char *dir, const bt_tune_report *rep, bool *plotted)
{
    *plotted = false;
    remove_leftovers(dir);
    char staging[4096];
    int n = snprintf(staging, sizeof staging, "%s/" STAGING_PREFIX "%ld", dir, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof staging) {
        fprintf(stderr, "batchtune %s: the path %s is too long\n", CMD, dir);
        return false;
    }
    remove_staging(staging); /* one this process left: a second write */
    if (mkdir(staging, 0777) != 0) {
        fprintf(stderr, "batchtune %s: cannot create the folder %s: %s\n", CMD, staging,
                strerror(errno));
        return false;
    }
    bool ok = write_set(staging, rep);
    if (ok)
        *plotted = render_plot(staging, dir);
    ok = ok && commit_set(staging, dir);
    remove_staging(staging);
    if (!ok)
        *plotted = false;
    return ok;
}
