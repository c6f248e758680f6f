/* `batchtune tune` end to end, as a child process on a tiny MNIST-format folder: exit codes,
 * the printed ranking, and files that parse (summary.json with cJSON, evaluations.csv by hand)
 * and agree with each other; bad options; Ctrl-C. */
#define _POSIX_C_SOURCE 200809L
#include "test_support.h"

#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#ifndef BT_TOOL_PATH
#error "BT_TOOL_PATH must name the built batchtune tool"
#endif

#define TRAIN_FILE_COUNT 2300 /* the last VALIDATION of them validate */
#define VALIDATION 300
#define MAX_ROWS 4096

static char *data_dir;
static char *output; /* stdout and stderr of the last run */
/* A PATH without gnuplot. It keeps the linker: PoCL runs `ld` to link a kernel that is not in its
 * cache yet, and without it aborts the tool (in a fresh build tree, whose cache is empty). */
static char *no_gnuplot_path;

/* ---- helpers -------------------------------------------------------------------------------- */

/* A folder holding only a link to the `ld` found on PATH (none if there is none). */
static char *make_no_gnuplot_path(void)
{
    char *dir = bt_test_make_tmpdir("bt-test-path");
    const char *path = getenv("PATH");
    while (path && *path) {
        size_t len = strcspn(path, ":");
        char ld[4096];
        int n = snprintf(ld, sizeof ld, "%.*s/ld", (int)len, path);
        if (len > 0 && n > 0 && (size_t)n < sizeof ld && access(ld, X_OK) == 0) {
            char *link = bt_test_path(dir, "ld");
            assert_int_equal(symlink(ld, link), 0);
            free(link);
            break;
        }
        path += len + (path[len] == ':');
    }
    return dir;
}

static int setup(void **state)
{
    (void)state;
    data_dir = bt_test_make_toy_mnist("bt-test-tune-data", TRAIN_FILE_COUNT, 20);
    no_gnuplot_path = make_no_gnuplot_path();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    bt_test_remove_tree(data_dir);
    free(data_dir);
    bt_test_remove_tree(no_gnuplot_path);
    free(no_gnuplot_path);
    free(output);
    return 0;
}

/* Run `<env> <tool> tune <args> 2>&1`; returns the exit status, keeps the output. */
static int run_tune_env(const char *env, const char *args)
{
    char tune_args[2048];
    int len = snprintf(tune_args, sizeof tune_args, "tune %s", args);
    assert_true(len > 0 && (size_t)len < sizeof tune_args);
    free(output);
    return bt_test_run_tool(BT_TOOL_PATH, env, tune_args, &output);
}

static int run_tune(const char *args)
{
    return run_tune_env(NULL, args);
}

static int run_tune_without_gnuplot(const char *args)
{
    char env[1100];
    int len = snprintf(env, sizeof env, "PATH='%s'", no_gnuplot_path);
    assert_true(len > 0 && (size_t)len < sizeof env);
    return run_tune_env(env, args);
}

static void expect_exit(const char *args, int expected)
{
    int code = run_tune(args);
    if (code != expected)
        fail_msg("batchtune tune %s: exit %d, expected %d; output:\n%s", args, code, expected,
                 output);
}

static void assert_output_contains(const char *needle)
{
    if (!strstr(output, needle))
        fail_msg("expected \"%s\" in the output:\n%s", needle, output);
}

static bool exists(const char *dir, const char *name)
{
    char *path = bt_test_path(dir, name);
    struct stat st;
    bool found = stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
    free(path);
    return found;
}

/* No temporary file of the atomic writes may be left behind. */
static void assert_no_temporaries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strstr(e->d_name, ".tmp"))
            fail_msg("temporary file %s left in %s", e->d_name, dir);
    closedir(d);
}

static cJSON *parse_json_file(const char *dir, const char *name)
{
    char *path = bt_test_path(dir, name);
    char *text = bt_test_read_text(path);
    cJSON *root = cJSON_Parse(text);
    if (!root)
        fail_msg("%s does not parse as JSON near: %.40s", path, cJSON_GetErrorPtr());
    free(text);
    free(path);
    return root;
}

static cJSON *get(const cJSON *object, const char *name)
{
    cJSON *item = cJSON_GetObjectItemCaseSensitive(object, name);
    if (!item)
        fail_msg("no \"%s\" in the JSON", name);
    return item;
}

static double number(const cJSON *object, const char *name)
{
    cJSON *item = get(object, name);
    if (cJSON_IsNull(item))
        return NAN;
    assert_true(cJSON_IsNumber(item));
    return item->valuedouble;
}

static const char *string(const cJSON *object, const char *name)
{
    cJSON *item = get(object, name);
    assert_true(cJSON_IsString(item));
    return item->valuestring;
}

/* One row of evaluations.csv. */
typedef struct csv_row {
    size_t batch_size;
    double eta;
    unsigned long long seed;
    size_t evaluation;
    double train_seconds, epochs;
    unsigned long long examples_seen, steps;
    double accuracy, cost;
} csv_row;

#define CSV_HEADER                                                                              \
    "batch_size,eta,seed,evaluation,train_seconds,epochs,examples_seen,steps,accuracy,cost"

/* Parse evaluations.csv by hand: the header, then exactly 10 numeric fields per line. */
static size_t parse_csv(const char *dir, csv_row *rows, size_t max)
{
    char *path = bt_test_path(dir, "evaluations.csv");
    char *text = bt_test_read_text(path);
    char *line = strtok(text, "\n");
    if (!line || strcmp(line, CSV_HEADER) != 0)
        fail_msg("%s: bad header '%s'", path, line ? line : "(none)");
    size_t n = 0;
    while ((line = strtok(NULL, "\n")) != NULL) {
        assert_true(n < max);
        csv_row *r = &rows[n++];
        int consumed = 0;
        int fields = sscanf(line, "%zu,%lf,%llu,%zu,%lf,%lf,%llu,%llu,%lf,%lf%n", &r->batch_size,
                            &r->eta, &r->seed, &r->evaluation, &r->train_seconds, &r->epochs,
                            &r->examples_seen, &r->steps, &r->accuracy, &r->cost, &consumed);
        if (fields != 10 || line[consumed] != '\0')
            fail_msg("%s: malformed line %zu: '%s'", path, n + 1, line);
    }
    free(text);
    free(path);
    return n;
}

/* Every candidate of the JSON is in the CSV with as many rows as its evaluations, in time order;
 * its time to target lies between the rows around the first crossing. */
static void check_files_agree(const cJSON *root, const csv_row *rows, size_t n_rows,
                              size_t n_candidates)
{
    double target = number(get(root, "parameters"), "target_accuracy");
    const cJSON *cands = get(root, "candidates");
    assert_int_equal(cJSON_GetArraySize(cands), (int)n_candidates);
    size_t total = 0;
    const cJSON *cand;
    cJSON_ArrayForEach(cand, cands)
    {
        size_t m = (size_t)number(cand, "batch_size");
        const cJSON *trial;
        cJSON_ArrayForEach(trial, get(cand, "trials"))
        {
            unsigned long long seed = (unsigned long long)number(trial, "seed");
            int evals = cJSON_GetArraySize(get(trial, "evaluations"));
            size_t found = 0, crossing = 0;
            double previous = -1.0, before = 0.0, at = 0.0;
            for (size_t i = 0; i < n_rows; ++i) {
                if (rows[i].batch_size != m || rows[i].seed != seed)
                    continue;
                assert_int_equal(rows[i].evaluation, found);
                assert_true(rows[i].train_seconds > previous);
                if (!crossing && rows[i].accuracy >= target) {
                    crossing = found + 1;
                    at = rows[i].train_seconds;
                } else if (!crossing) {
                    before = rows[i].train_seconds;
                }
                previous = rows[i].train_seconds;
                ++found;
            }
            assert_int_equal(found, (size_t)evals);
            total += found;
            double ttt = number(trial, "time_to_target_seconds");
            assert_int_equal(cJSON_IsTrue(get(trial, "reached")), crossing != 0);
            if (crossing > 1)
                assert_true(ttt >= before - 1e-6 && ttt <= at + 1e-6);
        }
    }
    assert_int_equal(total, n_rows);
}

/* The winner is the first of the ranking, and reached the target no later than anyone. */
static void check_winner(const cJSON *root)
{
    const cJSON *winner = get(root, "winner");
    const cJSON *ranking = get(root, "ranking");
    if (cJSON_IsNull(winner))
        return;
    size_t m = (size_t)number(winner, "batch_size");
    assert_int_equal((size_t)cJSON_GetArrayItem(ranking, 0)->valuedouble, m);
    if (!cJSON_IsTrue(get(winner, "reached")))
        return;
    double best = number(winner, "time_to_target_seconds");
    const cJSON *cand;
    cJSON_ArrayForEach(cand, get(root, "candidates"))
    {
        if (cJSON_IsTrue(get(cand, "reached")))
            assert_true(number(cand, "time_to_target_seconds") >= best);
        if ((size_t)number(cand, "batch_size") == m)
            assert_int_equal((int)number(cand, "rank"), 1);
    }
}

static bool gnuplot_installed(void)
{
    return system("command -v gnuplot >/dev/null 2>&1") == 0;
}

/* The text plot: the axis label, the target, and a legend entry right of the plot's border
 * for each candidate (m = 1, 4, 16 are marked a, b, c in the order given; "*" marks the
 * winner). */
static void assert_text_plot(const char *dir)
{
    char *path = bt_test_path(dir, "accuracy.txt");
    char *text = bt_test_read_text(path);
    assert_non_null(strstr(text, "training time (s, log scale)"));
    assert_non_null(strstr(text, "target"));
    static const size_t ms[] = {1, 4, 16};
    static const char marks[] = "abc";
    bool found[3] = {false, false, false};
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char *legend = strrchr(line, '|');
        size_t m = 0;
        char mark = 0, star[2] = "";
        if (!legend || (sscanf(legend + 1, " %zu %1[*] %c", &m, star, &mark) != 3 &&
                        sscanf(legend + 1, " %zu %c", &m, &mark) != 2))
            continue;
        for (size_t i = 0; i < 3; ++i)
            found[i] = found[i] || (m == ms[i] && mark == marks[i]);
    }
    for (size_t i = 0; i < 3; ++i)
        if (!found[i])
            fail_msg("no legend entry '%zu %c' in %s", ms[i], marks[i], path);
    free(text);
    free(path);
}

/* ---- the tests ------------------------------------------------------------------------------ */

static void test_full_sweep_files_parse_and_agree(void **state)
{
    (void)state;
    char *out = bt_test_make_tmpdir("bt-test-tune-out");
    char args[1024];
    snprintf(args, sizeof args,
             "--data '%s' --validation %d --layers 16,12,10 -m 1,4,16 --budget 0.6 "
             "--eval-interval 0.1 --target 0.8 --no-early-stop --out '%s/results'",
             data_dir, VALIDATION, out);
    expect_exit(args, 0);
    assert_output_contains("rank");
    assert_output_contains("winner: m = ");
    assert_output_contains("full sweep");

    char *results = bt_test_path(out, "results");
    cJSON *root = parse_json_file(results, "summary.json");
    assert_string_equal(string(root, "version"), bt_version());
    assert_true(strlen(string(get(root, "device"), "name")) > 0);
    const cJSON *params = get(root, "parameters");
    assert_string_equal(string(params, "rule"), "sqrt");
    assert_true(number(params, "target_accuracy") == 0.8);
    assert_true(number(params, "budget_seconds") == 0.6);
    assert_false(cJSON_IsTrue(get(params, "early_stop")));
    assert_int_equal(cJSON_GetArraySize(get(params, "batch_sizes")), 3);
    assert_true(number(get(root, "workload"), "train_examples") ==
                TRAIN_FILE_COUNT - VALIDATION);
    assert_false(cJSON_IsTrue(get(get(root, "totals"), "interrupted")));
    const size_t sizes[3] = {1, 4, 16};
    for (int i = 0; i < 3; ++i) {
        const cJSON *cand = cJSON_GetArrayItem(get(root, "candidates"), i);
        assert_int_equal((size_t)number(cand, "batch_size"), sizes[i]);
        assert_true(fabs(number(cand, "eta") - 3.0 * sqrt((double)sizes[i] / 10.0)) < 1e-9);
        assert_int_equal(cJSON_GetArraySize(get(cand, "trials")), 1);
        assert_string_equal(string(cand, "stop"), "budget");
    }
    assert_int_equal(cJSON_GetArraySize(get(root, "ranking")), 3);
    check_winner(root);

    csv_row *rows = malloc(MAX_ROWS * sizeof *rows);
    assert_non_null(rows);
    size_t n_rows = parse_csv(results, rows, MAX_ROWS);
    check_files_agree(root, rows, n_rows, 3);
    free(rows);
    cJSON_Delete(root);

    assert_true(exists(results, "accuracy.dat"));
    assert_true(exists(results, "accuracy.gp"));
    if (gnuplot_installed()) {
        assert_true(exists(results, "accuracy.svg"));
        assert_true(exists(results, "accuracy.png"));
        assert_true(exists(results, "accuracy.txt"));
        assert_text_plot(results);
    } else {
        assert_output_contains("gnuplot accuracy.gp");
    }
    assert_no_temporaries(results);
    free(results);
    bt_test_remove_tree(out);
    free(out);
}

static void test_early_stopping_and_quiet(void **state)
{
    (void)state;
    char *out = bt_test_make_tmpdir("bt-test-tune-out");
    char args[1024];
    snprintf(args, sizeof args,
             "--data '%s' --validation %d --layers 16,12,10 -m 2,8,32,128 --budget 0.8 "
             "--eval-interval 0.1 --target 0.8 --repeats 2 --rule linear --m-ref 8 --eta 2 "
             "-q --out '%s'",
             data_dir, VALIDATION, out);
    /* Without gnuplot on PATH the data and script are still written, with how to render. */
    int code = run_tune_without_gnuplot(args);
    if (code != 0)
        fail_msg("batchtune tune %s: exit %d; output:\n%s", args, code, output);
    assert_null(strstr(output, "rank"));
    assert_output_contains(out);
    assert_output_contains("gnuplot accuracy.gp");
    assert_false(exists(out, "accuracy.svg"));
    assert_true(exists(out, "accuracy.gp"));

    cJSON *root = parse_json_file(out, "summary.json");
    const cJSON *params = get(root, "parameters");
    assert_true(cJSON_IsTrue(get(params, "early_stop")));
    assert_int_equal(cJSON_GetArraySize(get(params, "stage_budgets_seconds")), 3);
    assert_true(number(params, "repeats") == 2);
    const cJSON *cand;
    size_t i = 0;
    const size_t sizes[4] = {2, 8, 32, 128};
    cJSON_ArrayForEach(cand, get(root, "candidates"))
    {
        assert_int_equal((size_t)number(cand, "batch_size"), sizes[i]);
        /* The linear rule: eta(m) = 2 * m / 8. */
        assert_true(fabs(number(cand, "eta") - 2.0 * (double)sizes[i] / 8.0) < 1e-9);
        assert_int_equal(cJSON_GetArraySize(get(cand, "trials")), 2);
        ++i;
    }
    assert_int_equal(i, 4);
    check_winner(root);
    csv_row *rows = malloc(MAX_ROWS * sizeof *rows);
    assert_non_null(rows);
    check_files_agree(root, rows, parse_csv(out, rows, MAX_ROWS), 4);
    free(rows);
    cJSON_Delete(root);
    assert_no_temporaries(out);
    bt_test_remove_tree(out);
    free(out);
}

/* Issue 16, case 4: the set of result files never mixes two runs. A new run in a folder that
 * holds an earlier run's files (a plot among them) and the leftovers of a killed run replaces
 * the set whole: the earlier plot, which this run (without gnuplot) does not make, is removed,
 * manifest.txt names exactly the new files with their sizes, and no staging folder or
 * temporary file is left. When a file cannot be put in place, the run fails without a manifest
 * (no set is complete) and still leaves no staging folder. */
static void assert_no_staging(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strstr(e->d_name, "staging"))
            fail_msg("staging folder %s left in %s", e->d_name, dir);
    closedir(d);
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char *path = bt_test_path(dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
    free(path);
}

static void test_result_set_is_never_a_mix(void **state)
{
    (void)state;
    char *out = bt_test_make_tmpdir("bt-test-tune-set");
    write_file(out, "summary.json", "{\"old\": true}\n");
    write_file(out, "accuracy.png", "an older run's plot");
    write_file(out, "accuracy.svg", "an older run's plot");
    write_file(out, "manifest.txt", "an older run's manifest\n");
    write_file(out, ".accuracy.tmp.png", "a killed gnuplot's output");
    write_file(out, "summary.json.tmp.999999999.0", "a killed run's temporary file");
    char *stale = bt_test_path(out, ".tune-staging.999999999");
    assert_int_equal(mkdir(stale, 0777), 0);
    write_file(stale, "summary.json", "a killed run's staged file");
    free(stale);

    char args[1024];
    snprintf(args, sizeof args,
             "--data '%s' --validation %d --layers 16,10 -m 8,32 --budget 0.3 "
             "--eval-interval 0.1 --target 0.8 -q --out '%s'",
             data_dir, VALIDATION, out);
    int code = run_tune_without_gnuplot(args);
    if (code != 0)
        fail_msg("batchtune tune %s: exit %d; output:\n%s", args, code, output);
    assert_false(exists(out, "accuracy.png"));
    assert_false(exists(out, "accuracy.svg"));
    assert_no_temporaries(out);
    assert_no_staging(out);
    cJSON *root = parse_json_file(out, "summary.json");
    assert_null(cJSON_GetObjectItem(root, "old"));
    cJSON_Delete(root);

    char *manifest_path = bt_test_path(out, "manifest.txt");
    char *manifest = bt_test_read_text(manifest_path);
    const char *names[] = {"summary.json", "evaluations.csv", "accuracy.dat", "accuracy.gp"};
    const char *line = manifest;
    assert_true(strncmp(line, "batchtune-tune-results 1\n", 25) == 0);
    line = strchr(line, '\n') + 1;
    for (size_t i = 0; i < sizeof names / sizeof *names; ++i) {
        char name[64];
        unsigned long long size = 0;
        unsigned long crc = 0;
        assert_int_equal(sscanf(line, "%63s %llu %8lx", name, &size, &crc), 3);
        assert_string_equal(name, names[i]);
        char *path = bt_test_path(out, names[i]);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal((unsigned long long)st.st_size, size);
        free(path);
        line = strchr(line, '\n') + 1;
    }
    assert_string_equal(line, ""); /* nothing else: no plot of the older run */
    free(manifest);

    /* accuracy.gp cannot be replaced (a non-empty folder of that name): no manifest. */
    char *blocker = bt_test_path(out, "accuracy.gp");
    assert_int_equal(unlink(blocker), 0);
    assert_int_equal(mkdir(blocker, 0777), 0);
    write_file(blocker, "x", "x");
    code = run_tune_without_gnuplot(args);
    assert_int_not_equal(code, 0);
    assert_output_contains("accuracy.gp");
    struct stat st;
    assert_int_not_equal(stat(manifest_path, &st), 0);
    assert_no_temporaries(out);
    assert_no_staging(out);
    free(blocker);
    free(manifest_path);
    free(out);
}

static void test_bad_options_exit_2(void **state)
{
    (void)state;
    char args[1024];
    static const struct {
        const char *options, *phrase;
    } cases[] = {
        {"-m ''", "empty"},
        {"-m 1,,4", "--batch-sizes"},
        {"-m 0,4", "--batch-sizes"},
        {"-m 4,4", "twice"},
        {"-m 1,5000", "larger than the 2000 training examples"},
        {"--rule cubic", "linear"},
        {"--target 0", "--target"},
        {"--target 1.5", "--target"},
        {"--target 80", "0.8"},
        {"--target -0.5", "--target"},
        {"--budget 0", "--budget"},
        {"--budget 1 --eval-interval 2", "interval"},
        {"--repeats 0", "--repeats"},
        {"--eta -3", "--eta"},
        {"--m-ref 0", "--m-ref"},
        {"--layers 784,30,10", "pixels"},
        {"--train-subset 5000", "--train-subset"},
        {"--bogus", "unknown option"},
        {"extra-argument", "extra-argument"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
        snprintf(args, sizeof args, "--data '%s' --validation %d --layers 16,12,10 %s",
                 data_dir, VALIDATION, cases[i].options);
        /* The last --layers wins, so a case may override the default above. */
        expect_exit(args, 2);
        assert_output_contains(cases[i].phrase);
    }
    expect_exit("--help", 0);
    assert_output_contains("--no-early-stop");
    expect_exit("--data /no/such/folder", 1);
    assert_output_contains("/no/such/folder");
}

static bool path_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static void sleep_seconds(double seconds)
{
    struct timespec ts = {(time_t)seconds, (long)((seconds - floor(seconds)) * 1e9)};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* The text plot in accuracy.gp leaves out every curve whose points are all at 0 s (gnuplot 5.4's
 * dumb terminal crashes on such a curve on its log axis). Returns how many such curves
 * accuracy.dat holds. */
static size_t check_text_plot_skips_empty_curves(const char *results)
{
    char *dat_path = bt_test_path(results, "accuracy.dat");
    char *gp_path = bt_test_path(results, "accuracy.gp");
    char *dat = bt_test_read_text(dat_path);
    char *gp = bt_test_read_text(gp_path);
    const char *text_plot = strstr(gp, "set terminal dumb");
    assert_non_null(text_plot);
    size_t empty = 0;
    for (const char *at = strstr(dat, "# block "); at; ) {
        size_t block = strtoul(at + 8, NULL, 10);
        const char *next = strstr(at + 1, "# block ");
        bool later = false;
        for (const char *line = strchr(at, '\n'); line && (!next || line < next);
             line = strchr(line + 1, '\n')) {
            if (line[1] != '#' && line[1] != '\n' && line[1] != '\0' &&
                strtod(line + 1, NULL) > 0.0)
                later = true;
        }
        if (!later) {
            ++empty;
            char ref[64];
            snprintf(ref, sizeof ref, "index %zu using", block);
            if (strstr(text_plot, ref))
                fail_msg("the text plot draws block %zu, whose points are all at 0 s:\n%s", block,
                         text_plot);
        }
        at = next;
    }
    free(gp);
    free(dat);
    free(gp_path);
    free(dat_path);
    return empty;
}

/* Ctrl-C (SIGINT) in the middle, or SIGTERM (a scheduler's time limit) or SIGHUP treated alike:
 * exit 130, and the files hold the results so far. Returns how many curves hold only their
 * point at 0 s. */
static size_t check_signal_writes_partial_results(int signo, double delay)
{
    char *out = bt_test_make_tmpdir("bt-test-tune-out");
    char *results = bt_test_path(out, "results");
    char *log = bt_test_path(out, "log.txt");
    char validation[16];
    snprintf(validation, sizeof validation, "%d", VALIDATION);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)
            _exit(125);
        execl(BT_TOOL_PATH, BT_TOOL_PATH, "tune", "--data", data_dir, "--validation",
              validation, "--layers", "16,12,10", "-m", "1,4,16", "--budget", "30",
              "--eval-interval", "0.1", "--no-early-stop", "--out", results, (char *)NULL);
        _exit(126);
    }
    /* The folder is made after the Ctrl-C handler is in place and the data is loaded. */
    for (int i = 0; i < 2400 && !path_exists(results); ++i)
        sleep_seconds(0.05);
    assert_true(path_exists(results));
    sleep_seconds(delay);
    assert_int_equal(kill(pid, signo), 0);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    char *text = bt_test_read_text(log);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 130)
        fail_msg("expected exit 130 after signal %d, got status %d; output:\n%s", signo, status,
                 text);
    if (!strstr(text, "interrupted"))
        fail_msg("no 'interrupted' in the output:\n%s", text);
    free(text);

    cJSON *root = parse_json_file(results, "summary.json");
    const cJSON *totals = get(root, "totals");
    assert_true(cJSON_IsTrue(get(totals, "interrupted")));
    assert_string_equal(string(totals, "status"), "BT_ERR_INTERRUPTED");
    assert_int_equal(cJSON_GetArraySize(get(root, "candidates")), 3);
    csv_row *rows = malloc(MAX_ROWS * sizeof *rows);
    assert_non_null(rows);
    check_files_agree(root, rows, parse_csv(results, rows, MAX_ROWS), 3);
    free(rows);
    cJSON_Delete(root);
    assert_no_temporaries(results);
    size_t empty = check_text_plot_skips_empty_curves(results);
    fprintf(stderr, "%zu curves hold only their point at 0 s\n", empty);
    free(log);
    free(results);
    bt_test_remove_tree(out);
    free(out);
    return empty;
}

static void test_ctrl_c_writes_partial_results(void **state)
{
    (void)state;
    (void)check_signal_writes_partial_results(SIGINT, 1.0);
}

static void test_sigterm_writes_partial_results(void **state)
{
    (void)state;
    (void)check_signal_writes_partial_results(SIGTERM, 1.0);
}

static void test_sighup_writes_partial_results(void **state)
{
    (void)state;
    (void)check_signal_writes_partial_results(SIGHUP, 1.0);
}

/* A very early Ctrl-C: candidates that hold only their evaluation at 0 s. Without such a curve
 * the run shows nothing, so a machine fast enough to leave none is given earlier interrupts. */
static void test_early_ctrl_c_leaves_empty_curves_out_of_the_text_plot(void **state)
{
    (void)state;
    const double delays[] = {0.1, 0.03, 0.0};
    size_t empty = 0;
    for (size_t i = 0; i < sizeof delays / sizeof delays[0] && empty == 0; ++i)
        empty = check_signal_writes_partial_results(SIGINT, delays[i]);
    if (empty == 0)
        fail_msg("no interrupt left a curve that holds only its point at 0 s");
}

int main(void)
{
    bt_test_require_opencl();
    unsetenv("BATCHTUNE_KERNEL_DIR"); /* the child must see the same kernels */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_sweep_files_parse_and_agree),
        cmocka_unit_test(test_early_stopping_and_quiet),
        cmocka_unit_test(test_bad_options_exit_2),
        cmocka_unit_test(test_result_set_is_never_a_mix),
        cmocka_unit_test(test_ctrl_c_writes_partial_results),
        cmocka_unit_test(test_sigterm_writes_partial_results),
        cmocka_unit_test(test_sighup_writes_partial_results),
        cmocka_unit_test(test_early_ctrl_c_leaves_empty_curves_out_of_the_text_plot),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
