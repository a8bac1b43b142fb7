/*
 * QTest testcase for the AMD IOMMU's DMA remapping
 *
 * Copyright (c) 2026 QEMU Storage Series contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "libqtest.h"
#include "libqos/amd-iommu.h"
#include "libqos/virtio-blk-iothread.h"
#include "hw/i386/amd_iommu.h"
#include "standard-headers/linux/virtio_blk.h"

/*
 * virtio-blk with an IOThread behind the AMD IOMMU, which starts to
 * translate its DMA while its queue is live; then requests whose buffers
 * are at IOVAs that the IOMMU maps to other guest memory.  Turning the
 * translation on must not leave the device without memory for a moment,
 * which virtio takes for rings outside RAM (the device needed a reset).
 */
static void test_virtio_blk_iothread(void)
{
    QVBlk *v;
    char data[512];

    if (!qtest_has_device("virtio-blk-pci")) {
        g_test_skip("no virtio-blk-pci device");
        return;
    }
    v = qvblk_boot("-device amd-iommu,dma-remap=on");
    qamdvi_enable(v->qs->qts, &v->qs->alloc, QPCI_DEVFN(4, 0));

    qtest_memset(v->qs->qts, v->req + 16, 0x5a, 512);
    g_assert_cmpint(qvblk_rw(v, VIRTIO_BLK_T_OUT, QAMDVI_ALIAS + v->req), ==,
                    VIRTIO_BLK_S_OK);
    qtest_memset(v->qs->qts, v->req + 16, 0, 512);
    g_assert_cmpint(qvblk_rw(v, VIRTIO_BLK_T_IN, QAMDVI_ALIAS + v->req), ==,
                    VIRTIO_BLK_S_OK);
    qtest_memread(v->qs->qts, v->req + 16, data, sizeof(data));
    g_assert_cmphex(data[0], ==, 0x5a);
    g_assert_cmphex(data[511], ==, 0x5a);
    qvblk_free(v);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    if (qtest_has_machine("q35") && qtest_has_device("amd-iommu")) {
        qtest_add_func("/q35/amd-iommu/virtio-blk-iothread",
                       test_virtio_blk_iothread);
    }
    return g_test_run();
}
