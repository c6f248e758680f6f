/* libFuzzer target for the dataset loader's file path: bt_idx_read_file (raw or gzip, with its
 * size checks) and the image/label pairing of bt_dataset_load_idx.
 *
 * Input: a 2-byte little-endian split point s, then the images file (min(s, rest) bytes), then
 * the labels file (the remaining bytes). Either file may be raw IDX or gzip.
 *
 *   fuzz_dataset -max_len=8192 test/fuzz-corpus/fuzz_dataset */
#include "fuzz_support.h"

#include "batchtune.h"

#define CLASSES 10u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t split = (size_t)data[0] | (size_t)data[1] << 8;
    data += 2;
    size -= 2;
    if (split > size)
        split = size;
    const char *images = bt_fuzz_write_temp(0, data, split);
    const char *labels = bt_fuzz_write_temp(1, data + split, size - split);
    bt_dataset *set = NULL;
    bt_status status = bt_dataset_load_idx(images, labels, CLASSES, &set);
    bt_fuzz_report(status);
    if (status == BT_OK) {
        /* What a successful load promises: a non-empty set whose labels are all classes. */
        size_t count = bt_dataset_count(set);
        size_t features = bt_dataset_features(set);
        if (!set || count == 0 || features == 0 || bt_dataset_classes(set) != CLASSES)
            abort();
        const uint8_t *pixels = bt_dataset_pixels(set);
        const uint8_t *label = bt_dataset_labels(set);
        volatile uint8_t sum = 0;
        for (size_t i = 0; i < count * features; ++i)
            sum = (uint8_t)(sum + pixels[i]);
        for (size_t i = 0; i < count; ++i) {
            if (label[i] >= CLASSES)
                abort();
        }
        (void)sum;
        bt_dataset_destroy(set);
    } else if (set || !bt_last_error()[0] || status == BT_ERR_INVALID_ARGUMENT) {
        /* A failure leaves no dataset and says why; the arguments given are always valid. */
        abort();
    }
    return 0;
}
