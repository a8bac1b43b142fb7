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

/*
 * The head of the command buffer goes round with its tail: once the IOMMU
 * has run the buffer's last entry, the head register reads 0, where the
 * tail is.  It read as the size of the buffer, beyond its last entry,
 * until the next command, and a driver that waits for the head to reach
 * the tail waited for ever.
 */
static void test_cmdbuf_wrap(void)
{
    QOSState *qs = qtest_pc_boot("-M q35 -device amd-iommu,dma-remap=on");
    QAmdvi a;

    qamdvi_enable(&a, qs->qts, &qs->alloc, QPCI_DEVFN(4, 0));
    /* qamdvi_enable() ran one command: 255 more fill the buffer */
    qamdvi_inval_all(&a, 255);
    g_assert_cmphex(a.cmd_tail, ==, 0);
    qamdvi_inval_all(&a, 2);
    qtest_shutdown(qs);
}

/*
 * The main loop invalidates the IOMMU's caches while the IOThread
 * translates: rounds of writes of 32 pages each, every page at an IOVA of
 * its own, with batches of INVALIDATE_IOMMU_ALL run while the writes are
 * in flight.  Every write completes with its data on the disk, and the
 * IOMMU logs no event.  The IOTLB, a hash table, was filled by the
 * IOThread and emptied by the main loop without a lock: translations read
 * entries that had just been freed, and writes failed (their buffers
 * translated to no memory) or corrupted QEMU's heap.
 */
#define INVAL_ROUNDS    200
#define INVAL_REQS      4
#define INVAL_PAGES     32

static void test_virtio_blk_iothread_inval(void)
{
    QAmdvi a;
    QVBlk *v;
    QTestState *qts;
    QVRingIndirectDesc *ind[INVAL_REQS];
    uint64_t hdrs, data, evt[2];
    g_autofree char *disk = NULL;
    gint64 start;
    gsize len;
    int round, r, p, done;

    if (!qtest_has_device("virtio-blk-pci")) {
        g_test_skip("no virtio-blk-pci device");
        return;
    }
    v = qvblk_boot("-device amd-iommu,dma-remap=on");
    qts = v->qs->qts;
    qamdvi_enable(&a, qts, &v->qs->alloc, QPCI_DEVFN(4, 0));
    qamdvi_enable_events(&a, &v->qs->alloc, v->qs->pcibus);

    /* a request's header, and its status byte 16 bytes after it */
    hdrs = guest_alloc(&v->qs->alloc, INVAL_REQS * 32);
    data = QEMU_ALIGN_UP(guest_alloc(&v->qs->alloc, (INVAL_PAGES + 1) * 4096),
                         4096);
    for (p = 0; p < INVAL_PAGES; p++) {
        qtest_memset(qts, data + p * 4096, p + 1, 4096);
    }
    for (r = 0; r < INVAL_REQS; r++) {
        struct virtio_blk_outhdr hdr = {
            .type = cpu_to_le32(VIRTIO_BLK_T_OUT),
            .sector = cpu_to_le64(r * INVAL_PAGES * 8),
        };

        qtest_memwrite(qts, hdrs + r * 32, &hdr, sizeof(hdr));
        ind[r] = qvring_indirect_desc_setup(qts, &v->dev->vdev,
                                            &v->qs->alloc, INVAL_PAGES + 2);
        qvring_indirect_desc_add(&v->dev->vdev, qts, ind[r],
                                 QAMDVI_ALIAS + hdrs + r * 32, 16, false);
        for (p = 0; p < INVAL_PAGES; p++) {
            qvring_indirect_desc_add(&v->dev->vdev, qts, ind[r],
                                     QAMDVI_ALIAS + data + p * 4096, 4096,
                                     false);
        }
        qvring_indirect_desc_add(&v->dev->vdev, qts, ind[r],
                                 QAMDVI_ALIAS + hdrs + r * 32 + 16, 1, true);
    }

    for (round = 0; round < INVAL_ROUNDS; round++) {
        /* the last round's requests are done: their descriptors are free */
        v->vq->free_head = 0;
        for (r = 0; r < INVAL_REQS; r++) {
            qtest_writeb(qts, hdrs + r * 32 + 16, 0xff);
            qvirtqueue_kick(qts, &v->dev->vdev, v->vq,
                            qvirtqueue_add_indirect(qts, v->vq, ind[r]));
        }
        for (r = 0; r < 4; r++) {
            qamdvi_inval_all(&a, 255);
        }
        start = g_get_monotonic_time();
        for (done = 0; done < INVAL_REQS; ) {
            uint32_t head;

            if (qvirtqueue_get_buf(qts, v->vq, &head, NULL)) {
                g_assert_cmpuint(head, <, INVAL_REQS);
                g_assert_cmphex(qtest_readb(qts, hdrs + head * 32 + 16), ==,
                                VIRTIO_BLK_S_OK);
                done++;
            }
            g_assert(g_get_monotonic_time() - start <= QVBLK_TIMEOUT_US);
        }
    }

    g_assert_false(qamdvi_next_event(&a, evt));
    g_assert_true(g_file_get_contents(v->image, &disk, &len, NULL));
    for (r = 0; r < INVAL_REQS; r++) {
        for (p = 0; p < INVAL_PAGES; p++) {
            const char *page = disk + (r * INVAL_PAGES + p) * 4096;

            g_assert_cmphex(page[0], ==, p + 1);
            g_assert_cmphex(page[4095], ==, p + 1);
        }
    }
    for (r = 0; r < INVAL_REQS; r++) {
        g_free(ind[r]);
    }
    qvblk_free(v);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    if (qtest_has_machine("q35") && qtest_has_device("amd-iommu")) {
        qtest_add_func("/q35/amd-iommu/cmdbuf-wrap", test_cmdbuf_wrap);
        qtest_add_func("/q35/amd-iommu/virtio-blk-iothread",
                       test_virtio_blk_iothread);
        qtest_add_func("/q35/amd-iommu/virtio-blk-iothread-inval",
                       test_virtio_blk_iothread_inval);
        qtest_add_func("/q35/amd-iommu/virtio-blk-iothread-fault",
                       test_virtio_blk_iothread_fault);
        qtest_add_func("/q35/amd-iommu/virtio-blk-iothread-fault-drain",
                       test_virtio_blk_iothread_fault_drain);
    }
    return g_test_run();
}
