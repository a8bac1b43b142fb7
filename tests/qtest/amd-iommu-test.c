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
 * are at IOVAs that the IOMMU maps to other guest memory, by 4 KiB pages
 * and by 2 MiB pages.  Turning the translation on must not leave the
 * device without memory for a moment, which virtio takes for rings outside
 * RAM (the device needed a reset).  A 2 MiB page (a leaf of a level-2
 * table, Next Level 0, as Linux maps 2 MiB aligned buffers) must take each
 * byte to the guest memory at its offset in the page: it was taken for a
 * 4 KiB page, and every byte past its first 4 KiB went there.
 */
static void test_virtio_blk_iothread(void)
{
    QAmdvi a;
    QVBlk *v;

    if (!qtest_has_device("virtio-blk-pci")) {
        g_test_skip("no virtio-blk-pci device");
        return;
    }
    v = qvblk_boot("-device amd-iommu,dma-remap=on");
    qamdvi_enable(&a, v->qs->qts, &v->qs->alloc, QPCI_DEVFN(4, 0));

    qvblk_io_through_alias(v, QAMDVI_ALIAS);
    /* the request's buffer is not in the first 4 KiB of its 2 MiB page */
    g_assert_cmphex(v->req & 0x1ff000, !=, 0);
    qvblk_io_through_alias(v, QAMDVI_ALIAS_2M);
    qvblk_free(v);
}

/*
 * A read into an IOVA that the IOMMU does not map, with its event log and
 * interrupt on: the event log gets an I/O page fault of the device at that
 * address (events used to carry address 0), and the device needs a reset
 * (the buffer is not RAM).
 */
static void test_virtio_blk_iothread_fault(void)
{
    QAmdvi a;
    QVBlk *v;
    uint64_t evt[2];
    int i;

    if (!qtest_has_device("virtio-blk-pci")) {
        g_test_skip("no virtio-blk-pci device");
        return;
    }
    v = qvblk_boot("-device amd-iommu,dma-remap=on");
    qamdvi_enable(&a, v->qs->qts, &v->qs->alloc, QPCI_DEVFN(4, 0));
    qamdvi_enable_events(&a, &v->qs->alloc, v->qs->pcibus);

    qvblk_queue(v, VIRTIO_BLK_T_IN, v->req, 2ULL << 30);
    g_assert_true(qvirtio_wait_needs_reset(&v->dev->vdev, QVBLK_TIMEOUT_US));
    for (i = 0; !qamdvi_next_event(&a, evt); i++) {
        g_assert_cmpint(i, <, 5000);
        g_usleep(1000);
    }
    g_assert_cmphex(evt[0] >> 60, ==, AMDVI_EVENT_IOPF >> 12);
    g_assert_cmphex(evt[0] & 0xffff, ==, QPCI_DEVFN(4, 0));
    g_assert_cmphex(evt[1], ==, 2ULL << 30);
    qvblk_free(v);
}

/*
 * A fault that the IOThread finds while the main loop waits for it, with
 * the IOMMU's event log and its interrupt on: a read in flight for 300 ms,
 * the page of the queue's used ring unmapped meanwhile, and the VM stopped.
 * The stop drains the device's I/O with the BQL held, and the IOThread
 * finds the fault where it completes the read.  It used to log the event
 * and send the IOMMU's MSI from there, which took the BQL (an MMIO write
 * to the APIC): the IOThread waited for the main loop, the main loop for
 * the IOThread, and QEMU hung.  Now the stop completes, and the event is
 * in the log afterwards.
 */
static void test_virtio_blk_iothread_fault_drain(void)
{
    QAmdvi a;
    QVBlk *v;
    uint64_t evt[2], used;
    int i;

    if (!qtest_has_device("virtio-blk-pci")) {
        g_test_skip("no virtio-blk-pci device");
        return;
    }
    v = qvblk_boot_on("-device amd-iommu,dma-remap=on",
                      "-blockdev null-co,node-name=d0,size=1048576,"
                      "read-zeroes=on,latency-ns=300000000");
    qamdvi_enable(&a, v->qs->qts, &v->qs->alloc, QPCI_DEVFN(4, 0));
    qamdvi_enable_events(&a, &v->qs->alloc, v->qs->pcibus);

    /* the used ring has a page of its own (VIRTIO_PCI_VRING_ALIGN) */
    used = v->vq->used;
    g_assert_cmphex(used & 0xfff, ==, 0);
    qvblk_queue(v, VIRTIO_BLK_T_IN, v->req, v->req + 16);
    qamdvi_unmap_page(&a, used);
    qtest_qmp_assert_success(v->qs->qts, "{'execute': 'stop'}");
    qtest_qmp_assert_success(v->qs->qts, "{'execute': 'cont'}");

    for (i = 0; !qamdvi_next_event(&a, evt); i++) {
        g_assert_cmpint(i, <, 5000);
        g_usleep(1000);
    }
    g_assert_cmphex(evt[0] >> 60, ==, AMDVI_EVENT_IOPF >> 12);
    g_assert_cmphex(evt[0] & 0xffff, ==, QPCI_DEVFN(4, 0));
    g_assert_cmphex(evt[1] & ~0xfffULL, ==, used);
    qvblk_free(v);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    if (qtest_has_machine("q35") && qtest_has_device("amd-iommu")) {
        qtest_add_func("/q35/amd-iommu/virtio-blk-iothread",
                       test_virtio_blk_iothread);
        qtest_add_func("/q35/amd-iommu/virtio-blk-iothread-fault",
                       test_virtio_blk_iothread_fault);
        qtest_add_func("/q35/amd-iommu/virtio-blk-iothread-fault-drain",
                       test_virtio_blk_iothread_fault_drain);
    }
    return g_test_run();
}
