/* Double-precision CPU reference network; see reference_network.h for the math. Everything is
 * computed one example at a time with plain loops, because this is the oracle the fast code is
 * judged by: it has to be obviously right, not fast. */
#include "reference_network.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- activations and costs ------------------------------------------------------------------ */

static double sigmoid(double z)
{
    /* exp(-z) may overflow to +inf for very negative z; 1/(1+inf) is then the correct limit 0. */
    return 1.0 / (1.0 + exp(-z));
}

/* Element-wise activation of one layer; softmax is the only one that needs the whole vector. */
static void activate_layer(bt_ref_activation f, const double *z, double *a, size_t n)
{
    if (f == BT_REF_SOFTMAX) {
        /* Subtracting the max leaves softmax unchanged and keeps exp() from overflowing. */
        double max = z[0];
        for (size_t j = 1; j < n; ++j)
            if (z[j] > max)
                max = z[j];
        double sum = 0.0;
        for (size_t j = 0; j < n; ++j) {
            a[j] = exp(z[j] - max);
            sum += a[j];
        }
        for (size_t j = 0; j < n; ++j)
            a[j] /= sum;
        return;
    }
    for (size_t j = 0; j < n; ++j) {
        switch (f) {
        case BT_REF_SIGMOID: a[j] = sigmoid(z[j]); break;
        case BT_REF_TANH: a[j] = tanh(z[j]); break;
        case BT_REF_RELU: a[j] = z[j] > 0.0 ? z[j] : 0.0; break;
        case BT_REF_SOFTMAX: break; /* handled above */
        }
    }
}

/* f'(z) of a hidden activation, written in terms of a = f(z) where that is the usual form. */
static double hidden_derivative(bt_ref_activation f, double z, double a)
{
    switch (f) {
    case BT_REF_SIGMOID: return a * (1.0 - a);
    case BT_REF_TANH: return 1.0 - a * a;
    case BT_REF_RELU: return z > 0.0 ? 1.0 : 0.0;
    case BT_REF_SOFTMAX: break; /* rejected as a hidden activation by bt_ref_net_init */
    }
    return NAN;
}

/* ln(1 + e^x), exact for any x: -ln sigmoid(-x). */
static double softplus(double x)
{
    return fmax(x, 0.0) + log1p(exp(-fabs(x)));
}

static double one_hot(size_t j, int label)
{
    return (size_t)label == j ? 1.0 : 0.0;
}

/* From z as well as a: ln a and ln(1 - a) lose their digits once a rounds towards 1, where
 * softplus and log-sum-exp of z stay exact. */
static double example_cost(bt_ref_cost cost, const double *z, const double *a, size_t n,
                           int label)
{
    double c = 0.0;
    switch (cost) {
    case BT_REF_QUADRATIC:
        for (size_t j = 0; j < n; ++j) {
            double diff = a[j] - one_hot(j, label);
            c += 0.5 * diff * diff;
        }
        return c;
    case BT_REF_CROSS_ENTROPY: /* -ln a = softplus(-z), -ln(1 - a) = softplus(z) */
        for (size_t j = 0; j < n; ++j)
            c += softplus((size_t)label == j ? -z[j] : z[j]);
        return c;
    case BT_REF_LOG_LIKELIHOOD: {
        double top = z[0], sum = 0.0;
        for (size_t j = 1; j < n; ++j)
            top = fmax(top, z[j]);
        for (size_t j = 0; j < n; ++j)
            sum += exp(z[j] - top);
        return log(sum) - (z[label] - top);
    }
    }
    return NAN;
}

/* ---- construction ---------------------------------------------------------------------------- */

int bt_ref_pair_is_valid(bt_ref_activation output, bt_ref_cost cost)
{
    return (output == BT_REF_SIGMOID && cost == BT_REF_QUADRATIC) ||
           (output == BT_REF_SIGMOID && cost == BT_REF_CROSS_ENTROPY) ||
           (output == BT_REF_SOFTMAX && cost == BT_REF_LOG_LIKELIHOOD);
}

static int hidden_is_valid(bt_ref_activation hidden)
{
    return hidden == BT_REF_SIGMOID || hidden == BT_REF_TANH || hidden == BT_REF_RELU;
}

/* Total parameter count, or 0 when a size is 0 or the count overflows size_t. */
static size_t count_params(const size_t *sizes, size_t n_sizes)
{
    size_t total = 0;
    for (size_t l = 1; l < n_sizes; ++l) {
        size_t rows = sizes[l], cols = sizes[l - 1];
        if (rows == 0 || cols == 0 || cols >= SIZE_MAX / rows)
            return 0;
        size_t layer = rows * (cols + 1); /* W_l then b_l; cannot overflow given the check */
        if (layer > SIZE_MAX / sizeof(double) - total)
            return 0;
        total += layer;
    }
    return total;
}

int bt_ref_net_init(bt_ref_net *net, const size_t *sizes, size_t n_sizes, bt_ref_activation hidden,
                    bt_ref_activation output, bt_ref_cost cost)
{
    if (!net)
        return -1;
    memset(net, 0, sizeof *net);
    if (!sizes || n_sizes < 2 || !hidden_is_valid(hidden) || !bt_ref_pair_is_valid(output, cost))
        return -1;
    size_t param_count = count_params(sizes, n_sizes);
    if (param_count == 0)
        return -1;

    size_t *sizes_copy = malloc(n_sizes * sizeof *sizes_copy);
    double *params = calloc(param_count, sizeof *params);
    if (!sizes_copy || !params) {
        free(sizes_copy);
        free(params);
        return -1;
    }
    memcpy(sizes_copy, sizes, n_sizes * sizeof *sizes_copy);

    net->layers = n_sizes - 1;
    net->sizes = sizes_copy;
    net->hidden = hidden;
    net->output = output;
    net->cost = cost;
    net->params = params;
    net->param_count = param_count;
    return 0;
}

void bt_ref_net_free(bt_ref_net *net)
{
    if (!net)
        return;
    free(net->sizes);
    free(net->params);
    memset(net, 0, sizeof *net);
}

size_t bt_ref_param_offset_w(const bt_ref_net *net, size_t layer)
{
    size_t offset = 0;
    for (size_t l = 1; l < layer; ++l)
        offset += net->sizes[l] * net->sizes[l - 1] + net->sizes[l];
    return offset;
}

size_t bt_ref_param_offset_b(const bt_ref_net *net, size_t layer)
{
    return bt_ref_param_offset_w(net, layer) + net->sizes[layer] * net->sizes[layer - 1];
}

/* ---- per-example workspace ------------------------------------------------------------------- */

/* a, z and delta of every layer for one example, each layer l stored from offset[l]. Slots of
 * layer 0 in z and delta exist but are unused, which keeps the indexing uniform. */
typedef struct workspace {
    size_t *offset; /* layers + 1 entries */
    double *a, *z, *delta;
} workspace;

static void workspace_free(workspace *ws)
{
    free(ws->offset);
    free(ws->a);
    free(ws->z);
    free(ws->delta);
    memset(ws, 0, sizeof *ws);
}

static int workspace_init(workspace *ws, const bt_ref_net *net)
{
    memset(ws, 0, sizeof *ws);
    size_t neurons = 0;
    ws->offset = malloc((net->layers + 1) * sizeof *ws->offset);
    if (!ws->offset)
        return -1;
    for (size_t l = 0; l <= net->layers; ++l) {
        ws->offset[l] = neurons;
        neurons += net->sizes[l];
    }
    ws->a = calloc(neurons, sizeof *ws->a);
    ws->z = calloc(neurons, sizeof *ws->z);
    ws->delta = calloc(neurons, sizeof *ws->delta);
    if (!ws->a || !ws->z || !ws->delta) {
        workspace_free(ws);
        return -1;
    }
    return 0;
}

static bt_ref_activation layer_activation(const bt_ref_net *net, size_t layer)
{
    return layer == net->layers ? net->output : net->hidden;
}

/* Fills ws->z and ws->a of every layer for one input row. */
static void forward_example(const bt_ref_net *net, workspace *ws, const double *x_row)
{
    memcpy(ws->a + ws->offset[0], x_row, net->sizes[0] * sizeof *x_row);
    for (size_t l = 1; l <= net->layers; ++l) {
        size_t rows = net->sizes[l], cols = net->sizes[l - 1];
        const double *w = net->params + bt_ref_param_offset_w(net, l);
        const double *b = net->params + bt_ref_param_offset_b(net, l);
        const double *a_prev = ws->a + ws->offset[l - 1];
        double *z = ws->z + ws->offset[l];
        for (size_t j = 0; j < rows; ++j) {
            double sum = b[j];
            for (size_t k = 0; k < cols; ++k)
                sum += w[j * cols + k] * a_prev[k];
            z[j] = sum;
        }
        activate_layer(layer_activation(net, l), z, ws->a + ws->offset[l], rows);
    }
}

/* delta_L for the three valid (output, cost) pairs. */
static void output_delta(const bt_ref_net *net, workspace *ws, int label)
{
    size_t last = net->layers, n = net->sizes[last];
    const double *a = ws->a + ws->offset[last];
    double *delta = ws->delta + ws->offset[last];
    for (size_t j = 0; j < n; ++j) {
        double diff = a[j] - one_hot(j, label);
        /* Only the quadratic cost keeps sigma'(z); cross-entropy and log-likelihood cancel it. */
        delta[j] = net->cost == BT_REF_QUADRATIC ? diff * a[j] * (1.0 - a[j]) : diff;
    }
}

/* delta_l = (W_{l+1}^T delta_{l+1}) .* f'(z_l) for l = L-1 .. 1. */
static void hidden_deltas(const bt_ref_net *net, workspace *ws)
{
    for (size_t l = net->layers - 1; l >= 1; --l) {
        size_t n = net->sizes[l], n_next = net->sizes[l + 1];
        const double *w_next = net->params + bt_ref_param_offset_w(net, l + 1);
        const double *delta_next = ws->delta + ws->offset[l + 1];
        for (size_t k = 0; k < n; ++k) {
            double sum = 0.0;
            for (size_t j = 0; j < n_next; ++j)
                sum += w_next[j * n + k] * delta_next[j];
            double z = ws->z[ws->offset[l] + k], a = ws->a[ws->offset[l] + k];
            ws->delta[ws->offset[l] + k] = sum * hidden_derivative(net->hidden, z, a);
        }
    }
}

/* grad += dC_x/dparams: dC/dW_l = delta_l a_{l-1}^T, dC/db_l = delta_l. */
static void accumulate_gradient(const bt_ref_net *net, const workspace *ws, double *grad)
{
    for (size_t l = 1; l <= net->layers; ++l) {
        size_t rows = net->sizes[l], cols = net->sizes[l - 1];
        double *gw = grad + bt_ref_param_offset_w(net, l);
        double *gb = grad + bt_ref_param_offset_b(net, l);
        const double *delta = ws->delta + ws->offset[l];
        const double *a_prev = ws->a + ws->offset[l - 1];
        for (size_t j = 0; j < rows; ++j) {
            for (size_t k = 0; k < cols; ++k)
                gw[j * cols + k] += delta[j] * a_prev[k];
            gb[j] += delta[j];
        }
    }
}

/* ---- batch entry points ---------------------------------------------------------------------- */

static int net_is_usable(const bt_ref_net *net)
{
    return net && net->sizes && net->params && net->layers >= 1;
}

static int labels_are_valid(const bt_ref_net *net, const int *labels, size_t m)
{
    if (!labels)
        return 0;
    for (size_t i = 0; i < m; ++i)
        if (labels[i] < 0 || (size_t)labels[i] >= net->sizes[net->layers])
            return 0;
    return 1;
}

static void fill_nan(double *dst, size_t count)
{
    for (size_t i = 0; i < count; ++i)
        dst[i] = NAN;
}

double bt_ref_forward(const bt_ref_net *net, const double *x, const int *labels, size_t m,
                      double *out)
{
    if (!net_is_usable(net) || !x || m == 0)
        return NAN;
    size_t n_in = net->sizes[0], n_out = net->sizes[net->layers];
    int want_cost = labels_are_valid(net, labels, m);
    workspace ws;
    if (workspace_init(&ws, net) != 0) {
        if (out)
            fill_nan(out, m * n_out);
        return NAN;
    }
    double total = 0.0;
    for (size_t i = 0; i < m; ++i) {
        forward_example(net, &ws, x + i * n_in);
        const double *a_out = ws.a + ws.offset[net->layers];
        if (out)
            memcpy(out + i * n_out, a_out, n_out * sizeof *a_out);
        if (want_cost)
            total += example_cost(net->cost, ws.z + ws.offset[net->layers], a_out, n_out,
                                   labels[i]);
    }
    workspace_free(&ws);
    return want_cost ? total / (double)m : NAN;
}

/* The gradient proper; returns -1 (grad untouched) on invalid input or allocation failure. */
static int compute_gradient(const bt_ref_net *net, const double *x, const int *labels, size_t m,
                            double *grad, double *mean_cost)
{
    if (!net_is_usable(net) || !x || !grad || m == 0 || !labels_are_valid(net, labels, m))
        return -1;
    workspace ws;
    if (workspace_init(&ws, net) != 0)
        return -1;
    size_t n_in = net->sizes[0], n_out = net->sizes[net->layers];
    double total = 0.0;
    memset(grad, 0, net->param_count * sizeof *grad);
    for (size_t i = 0; i < m; ++i) {
        forward_example(net, &ws, x + i * n_in);
        total += example_cost(net->cost, ws.z + ws.offset[net->layers],
                              ws.a + ws.offset[net->layers], n_out, labels[i]);
        output_delta(net, &ws, labels[i]);
        hidden_deltas(net, &ws);
        accumulate_gradient(net, &ws, grad);
    }
    for (size_t p = 0; p < net->param_count; ++p)
        grad[p] /= (double)m;
    workspace_free(&ws);
    *mean_cost = total / (double)m;
    return 0;
}

double bt_ref_gradient(const bt_ref_net *net, const double *x, const int *labels, size_t m,
                       double *grad)
{
    double mean_cost = NAN;
    if (compute_gradient(net, x, labels, m, grad, &mean_cost) != 0) {
        if (net && grad)
            fill_nan(grad, net->param_count);
        return NAN;
    }
    return mean_cost;
}

void bt_ref_step(bt_ref_net *net, const double *x, const int *labels, size_t m, double eta,
                 double lambda, size_t n)
{
    if (!net || !net->params)
        return;
    double mean_cost;
    double *grad = malloc(net->param_count * sizeof *grad);
    /* n only matters when there is decay; a decay with n == 0 has no meaning. */
    int bad_decay = lambda != 0.0 && n == 0;
    if (!grad || bad_decay || compute_gradient(net, x, labels, m, grad, &mean_cost) != 0) {
        free(grad);
        fill_nan(net->params, net->param_count);
        return;
    }
    /* (eta/m) * sum_x dC_x/dparam == eta * grad, since grad is already the batch mean. */
    double decay = lambda != 0.0 ? 1.0 - eta * lambda / (double)n : 1.0;
    for (size_t l = 1; l <= net->layers; ++l) {
        size_t w_at = bt_ref_param_offset_w(net, l), b_at = bt_ref_param_offset_b(net, l);
        for (size_t p = w_at; p < b_at; ++p)
            net->params[p] = decay * net->params[p] - eta * grad[p];
        for (size_t p = b_at; p < b_at + net->sizes[l]; ++p)
            net->params[p] -= eta * grad[p];
    }
    free(grad);
}

/* Index of the largest value; strict '>' makes ties go to the lowest index. */
static size_t argmax(const double *v, size_t n)
{
    size_t best = 0;
    for (size_t j = 1; j < n; ++j)
        if (v[j] > v[best])
            best = j;
    return best;
}

size_t bt_ref_correct(const bt_ref_net *net, const double *x, const int *labels, size_t m)
{
    if (!net_is_usable(net) || !x || !labels || m == 0)
        return 0;
    workspace ws;
    if (workspace_init(&ws, net) != 0)
        return 0;
    size_t n_in = net->sizes[0], n_out = net->sizes[net->layers], correct = 0;
    for (size_t i = 0; i < m; ++i) {
        forward_example(net, &ws, x + i * n_in);
        if (labels[i] >= 0 && argmax(ws.a + ws.offset[net->layers], n_out) == (size_t)labels[i])
            ++correct;
    }
    workspace_free(&ws);
    return correct;
}

double bt_ref_min_abs_hidden_z(const bt_ref_net *net, const double *x, size_t m)
{
    if (!net_is_usable(net) || !x || m == 0)
        return INFINITY;
    workspace ws;
    if (workspace_init(&ws, net) != 0)
        return INFINITY;
    double smallest = INFINITY;
    for (size_t i = 0; i < m; ++i) {
        forward_example(net, &ws, x + i * net->sizes[0]);
        for (size_t l = 1; l < net->layers; ++l)
            for (size_t j = 0; j < net->sizes[l]; ++j)
                smallest = fmin(smallest, fabs(ws.z[ws.offset[l] + j]));
    }
    workspace_free(&ws);
    return smallest;
}
