/* A downstream consumer of an installed batchtune: built by .ci/run through find_package and
 * through pkg-config, to check the installed package, not the build tree. */
#include <batchtune.h>
#include <stdio.h>

int main(void)
{
    bt_device_info *list = NULL;
    size_t count = 0;
    if (bt_device_list(&list, &count) != BT_OK) {
        fprintf(stderr, "%s\n", bt_last_error());
        return 1;
    }
    printf("batchtune %s sees %zu device(s); the first is %s\n", bt_version(), count, list[0].name);
    bt_device_list_free(list);
    return 0;
}
