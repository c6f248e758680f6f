/* Sums of evaluation statistics on the device, so evaluation reads back one pair per chunk
 * instead of one per example. One work-group of BT_REDUCE_GROUP work-items (a build option, from
 * the host's definition).
 *
 * reduce_pairs(stats, m, partials, slot)
 *   stats:    m pairs (cost, correct) from output_evaluate
 *   partials: out; partials[2*slot] = sum of costs, partials[2*slot+1] = sum of correct */

__kernel __attribute__((reqd_work_group_size(BT_REDUCE_GROUP, 1, 1))) void
reduce_pairs(__global const float *stats, uint m, __global float *partials, uint slot)
{
    __local float cost[BT_REDUCE_GROUP];
    __local float correct[BT_REDUCE_GROUP];
    uint lid = get_local_id(0);
    float c = 0.0f, k = 0.0f;
    for (uint i = lid; i < m; i += BT_REDUCE_GROUP) {
        c += stats[2 * (size_t)i];
        k += stats[2 * (size_t)i + 1];
    }
    cost[lid] = c;
    correct[lid] = k;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint stride = BT_REDUCE_GROUP / 2; stride > 0; stride /= 2) {
        if (lid < stride) {
            cost[lid] += cost[lid + stride];
            correct[lid] += correct[lid + stride];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0) {
        partials[2 * (size_t)slot] = cost[0];
        partials[2 * (size_t)slot + 1] = correct[0];
    }
}
