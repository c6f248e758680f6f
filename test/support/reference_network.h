/* Double-precision CPU reference of a fully-connected network: the oracle that the OpenCL
 * implementation is checked against. Plain C11 (libc + libm only), one example at a time, clarity
 * over speed. The math follows Nielsen, "Neural Networks and Deep Learning", chapters 2 and 3:
 *
 *   a_0 = x;  z_l = W_l a_{l-1} + b_l;  a_l = f(z_l)   (l = 1..L)
 *
 * with f the hidden activation for l < L and the output activation for l = L.
 *
 * Per-example costs, y = one-hot(label):
 *   quadratic       C = 0.5 * sum_j (a_j - y_j)^2
 *   cross-entropy   C = -sum_j [y_j ln a_j + (1 - y_j) ln(1 - a_j)]   (sigmoid outputs)
 *   log-likelihood  C = -ln a_label                                  (softmax outputs)
 *
 * Both log costs are computed from z (softplus, log-sum-exp), exact however saturated the
 * outputs are.
 *
 * Only three (output, cost) pairs are valid, the ones whose output delta is simple:
 *   (sigmoid, quadratic)          delta_L = (a - y) .* a .* (1 - a)
 *   (sigmoid, cross-entropy)      delta_L = a - y
 *   (softmax, log-likelihood)     delta_L = a - y
 * Softmax is an output activation only.
 *
 * Invalid use (m == 0, a label out of range, an allocation failure) makes the numeric results NaN
 * rather than silently plausible: an oracle that fails must make the comparison fail. */
#ifndef BT_REFERENCE_NETWORK_H
#define BT_REFERENCE_NETWORK_H

#include <stddef.h>

typedef enum { BT_REF_SIGMOID, BT_REF_TANH, BT_REF_RELU, BT_REF_SOFTMAX } bt_ref_activation;
typedef enum { BT_REF_QUADRATIC, BT_REF_CROSS_ENTROPY, BT_REF_LOG_LIKELIHOOD } bt_ref_cost;

typedef struct bt_ref_net {
    size_t layers; /* number of weight layers L = number of sizes - 1 */
    size_t *sizes; /* sizes[0..L] */
    bt_ref_activation hidden, output;
    bt_ref_cost cost;
    /* flat: for l = 1..L: W_l (sizes[l] x sizes[l-1], row-major, W[j][k] connects input k to
     * output j) then b_l (sizes[l]) */
    double *params;
    size_t param_count;
} bt_ref_net;

/* Params are zeroed. Returns 0, or -1 on bad arguments (fewer than 2 sizes, a zero size, softmax
 * as the hidden activation, an invalid (output, cost) pair) or allocation failure, in which case
 * *net is left zeroed so that bt_ref_net_free() on it is harmless. */
int bt_ref_net_init(bt_ref_net *net, const size_t *sizes, size_t n_sizes, bt_ref_activation hidden,
                    bt_ref_activation output, bt_ref_cost cost);
void bt_ref_net_free(bt_ref_net *net);

/* Index of W_l / b_l in params, layer 1..L. */
size_t bt_ref_param_offset_w(const bt_ref_net *net, size_t layer);
size_t bt_ref_param_offset_b(const bt_ref_net *net, size_t layer);

/* Nonzero when (output, cost) is one of the three valid pairs. */
int bt_ref_pair_is_valid(bt_ref_activation output, bt_ref_cost cost);

/* Forward pass for m examples: x is m x sizes[0] (row-major), writes the outputs (m x sizes[L])
 * if out != NULL. Returns the mean cost over the batch (no regularisation); labels[i] in
 * 0..sizes[L]-1. labels may be NULL when only the outputs are wanted: the result is then NaN. */
double bt_ref_forward(const bt_ref_net *net, const double *x, const int *labels, size_t m,
                      double *out);

/* Mean gradient over the batch of the unregularised cost: grad has param_count entries in the
 * params layout, grad = (1/m) * sum over examples of dC_x/dparams. Returns the mean cost. */
double bt_ref_gradient(const bt_ref_net *net, const double *x, const int *labels, size_t m,
                       double *grad);

/* One SGD step (Nielsen ch. 3 with L2):
 *   W <- (1 - eta*lambda/n) * W - (eta/m) * sum_x dC_x/dW
 *   b <- b - (eta/m) * sum_x dC_x/db
 * n is the training-set size, used only for the weight decay (lambda = 0 disables it, and then n
 * may be 0). Biases are not decayed. On invalid input the params become NaN. */
void bt_ref_step(bt_ref_net *net, const double *x, const int *labels, size_t m, double eta,
                 double lambda, size_t n);

/* Number of correct predictions: argmax of the output == label, ties going to the lowest index. */
size_t bt_ref_correct(const bt_ref_net *net, const double *x, const int *labels, size_t m);

/* Smallest |z_l| over all hidden layers (l < L) and all m examples; +inf when there is no hidden
 * layer or on invalid input. Lets ReLU tests keep away from the kink at 0, where finite
 * differences do not match the one-sided derivative. */
double bt_ref_min_abs_hidden_z(const bt_ref_net *net, const double *x, size_t m);

#endif
