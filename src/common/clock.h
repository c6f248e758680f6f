/* Internal: the clocks that time steps, rounds and budgets. Part of the common static library,
 * so the command-line tool uses the same ones. */
#ifndef BT_CLOCK_H
#define BT_CLOCK_H

/* Monotonic wall-clock seconds (CLOCK_MONOTONIC): only differences mean anything. */
double bt_clock_seconds(void);

/* CPU seconds of the calling thread (CLOCK_THREAD_CPUTIME_ID); 0 where that clock fails. */
double bt_clock_thread_cpu_seconds(void);

#endif
