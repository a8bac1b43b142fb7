/*
 * QTest testcase for devices whose IOThreads make DMA through a
 * virtio-iommu
 *
 * Copyright (c) 2026 QEMU Storage Series contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "libqtest.h"
#include "libqos/virtio-blk-iothread.h"
#include "libqos/virtio-iommu-drv.h"
#include "standard-headers/linux/virtio_blk.h"

#define DOMAIN      1
#define VBLK_SID    QPCI_DEVFN(4, 0)        /* bus 0 */
#define ALIAS       (4ULL << 30)            /* mapped to guest memory at 0 */

/*
 * virtio-blk with an IOThread behind a virtio-iommu at 05.0, attached to a
 * domain that maps the first 3 GiB 1:1, and [ALIAS, ALIAS + 1 GiB) to
 * guest memory at 0.  NULL, the test skipped, where QEMU has no
 * virtio-iommu or virtio-blk.
 */
static QVBlk *vblk_boot(QViommu *vi)
{
    QVBlk *v;

    if (!qtest_has_device("virtio-iommu-pci") ||
        !qtest_has_device("virtio-blk-pci")) {
        g_test_skip("no virtio-iommu-pci or virtio-blk-pci device");
        return NULL;
    }
    v = qvblk_boot("-device virtio-iommu-pci,addr=05.0");
    qtest_irq_intercept_in(v->qs->qts, "ioapic");
    qviommu_start(vi, v->qs->qts, v->qs->pcibus, &v->qs->alloc,
                  QPCI_DEVFN(5, 0));
    g_assert_cmpint(qviommu_attach(vi, DOMAIN, VBLK_SID), ==,
                    VIRTIO_IOMMU_S_OK);
    g_assert_cmpint(qviommu_map(vi, DOMAIN, 0, 3ULL << 30, 0), ==,
                    VIRTIO_IOMMU_S_OK);
    g_assert_cmpint(qviommu_map(vi, DOMAIN, ALIAS, 1ULL << 30, 0), ==,
                    VIRTIO_IOMMU_S_OK);
    return v;
}

/*
 * The IOThread's requests, their buffers at IOVAs that the virtio-iommu
 * maps to other guest memory, work
 */
static void test_virtio_blk(void)
{
    QViommu vi;
    QVBlk *v = vblk_boot(&vi);

    if (!v) {
        return;
    }
    qvblk_io_through_alias(v, ALIAS);
    qviommu_stop(&vi);
    qvblk_free(v);
}

/*
 * A read into an IOVA that the virtio-iommu does not map: virtio-blk finds
 * the fault where it maps the request, in the IOThread.  The driver gets
 * the fault event and its interrupt, and the device needs a reset (the
 * buffer is not RAM).  The event used to be put on the event queue from
 * the IOThread, whose virtio_notify() sets the queue's guest notifier
 * there: virtio-iommu has none, and the interrupt was lost.
 */
static void test_virtio_blk_fault(void)
{
    QViommu vi;
    QVBlk *v = vblk_boot(&vi);
    struct virtio_iommu_fault fault;

    if (!v) {
        return;
    }
    qvblk_queue(v, VIRTIO_BLK_T_IN, v->req, 6ULL << 30);
    qviommu_wait_fault(&vi, &fault);
    g_assert_cmpint(fault.reason, ==, VIRTIO_IOMMU_FAULT_R_MAPPING);
    g_assert_cmphex(le32_to_cpu(fault.endpoint), ==, VBLK_SID);
    g_assert_cmphex(le64_to_cpu(fault.address), ==, 6ULL << 30);
    g_assert_true(qvirtio_wait_needs_reset(&v->dev->vdev, QVBLK_TIMEOUT_US));
    qviommu_stop(&vi);
    qvblk_free(v);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    if (qtest_has_machine("q35")) {
        qtest_add_func("/q35/virtio-iommu-iothread/virtio-blk",
                       test_virtio_blk);
        qtest_add_func("/q35/virtio-iommu-iothread/virtio-blk-fault",
                       test_virtio_blk_fault);
    }
    return g_test_run();
}
