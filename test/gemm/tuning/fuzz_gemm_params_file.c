/* libFuzzer target for the GEMM-tuning file parser without a device
 * (bt_gemm_tuning_parse_text: the checksum line, the key lines and the parameter groups).
 *
 *   fuzz_gemm_params_file -max_len=4096 test/fuzz-corpus/fuzz_gemm_params_file */
#include "fuzz_support.h"

#include "batchtune.h"
#include "gemm/tuning/gemm_tuning_impl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The reader hands the parser a NUL-terminated copy of the file. */
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    bt_gemm_tuning_file_key key;
    bt_gemm_params params;
    bt_status status = bt_gemm_tuning_parse_text(text, size, &key, &params);
    bt_fuzz_report(status);
    if (status == BT_OK) {
        /* The key lines point into the text, and each is a whole line without its line break. */
        const char *keys[] = {key.format, key.platform, key.device, key.driver, key.clblast};
        for (size_t i = 0; i < sizeof keys / sizeof *keys; ++i) {
            if (keys[i] < text || keys[i] >= text + size + 1 || strchr(keys[i], '\n'))
                abort();
        }
    } else if (status != BT_ERR_FORMAT || strncmp(bt_last_error(), "corrupt", 7) != 0) {
        abort();
    }
    free(text);
    return 0;
}
