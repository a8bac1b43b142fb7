/*
 * virtio-blk-pci with an IOThread behind a vIOMMU, for qtests that are
 * not in the qos graph
 *
 * Copyright (c) 2026 QEMU Storage Series contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "virtio-blk-iothread.h"
#include "standard-headers/linux/virtio_blk.h"
#include "standard-headers/linux/virtio_config.h"
#include "standard-headers/linux/virtio_ring.h"

static QVBlk *qvblk_start(QVBlk *v, const char *iommu_args,
                          const char *blockdev)
{
    uint64_t features = 1ull << VIRTIO_F_VERSION_1 |
                        1ull << VIRTIO_F_ACCESS_PLATFORM |
                        1ull << VIRTIO_RING_F_INDIRECT_DESC;

    v->qs = qtest_pc_boot("-M q35 %s "
                          "-object iothread,id=t0 %s "
                          "-device virtio-blk-pci,addr=04.0,drive=d0,"
                          "iothread=t0,iommu_platform=on,disable-legacy=on",
                          iommu_args, blockdev);
    v->dev = qvirtio_pci_start(v->qs->pcibus, QPCI_DEVFN(4, 0), features);
    v->vq = qvirtqueue_setup(&v->dev->vdev, &v->qs->alloc, 0);
    qvirtio_set_driver_ok(&v->dev->vdev);
    v->req = guest_alloc(&v->qs->alloc, 16 + 512 + 1);
    return v;
}

QVBlk *qvblk_boot(const char *iommu_args)
{
    QVBlk *v = g_new0(QVBlk, 1);
    int fd = g_file_open_tmp("qvblk-XXXXXX", &v->image, NULL);
    g_autofree char *blockdev = NULL;

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, 1024 * 1024), ==, 0);
    close(fd);
    blockdev = g_strdup_printf("-blockdev file,node-name=d0,filename=%s",
                               v->image);
    return qvblk_start(v, iommu_args, blockdev);
}

QVBlk *qvblk_boot_on(const char *iommu_args, const char *blockdev)
{
    return qvblk_start(g_new0(QVBlk, 1), iommu_args, blockdev);
}

void qvblk_free(QVBlk *v)
{
    qvirtqueue_cleanup(v->dev->vdev.bus, v->vq, &v->qs->alloc);
    qos_object_destroy(&v->dev->obj);
    qtest_shutdown(v->qs);
    if (v->image) {
        unlink(v->image);
        g_free(v->image);
    }
    g_free(v);
}

uint32_t qvblk_queue(QVBlk *v, uint32_t type, uint64_t iova, uint64_t data)
{
    QTestState *qts = v->qs->qts;
    struct virtio_blk_outhdr hdr = { .type = cpu_to_le32(type) };
    uint32_t head;

    qtest_memwrite(qts, v->req, &hdr, sizeof(hdr));
    qtest_writeb(qts, v->req + 16 + 512, 0xff);
    head = qvirtqueue_add(qts, v->vq, iova, 16, false, true);
    qvirtqueue_add(qts, v->vq, data, 512, type == VIRTIO_BLK_T_IN, true);
    qvirtqueue_add(qts, v->vq, iova + 16 + 512, 1, true, false);
    qvirtqueue_kick(qts, &v->dev->vdev, v->vq, head);
    return head;
}

uint8_t qvblk_rw(QVBlk *v, uint32_t type, uint64_t iova)
{
    QTestState *qts = v->qs->qts;
    uint32_t head = qvblk_queue(v, type, iova, iova + 16);

    qvirtio_wait_used_elem(qts, &v->dev->vdev, v->vq, head, NULL,
                           QVBLK_TIMEOUT_US);
    return qtest_readb(qts, v->req + 16 + 512);
}

void qvblk_io_through_alias(QVBlk *v, uint64_t alias)
{
    QTestState *qts = v->qs->qts;
    char data[512];

    qtest_memset(qts, v->req + 16, 0x5a, 512);
    g_assert_cmpint(qvblk_rw(v, VIRTIO_BLK_T_OUT, alias + v->req), ==,
                    VIRTIO_BLK_S_OK);
    qtest_memset(qts, v->req + 16, 0, 512);
    g_assert_cmpint(qvblk_rw(v, VIRTIO_BLK_T_IN, alias + v->req), ==,
                    VIRTIO_BLK_S_OK);
    qtest_memread(qts, v->req + 16, data, sizeof(data));
    g_assert_cmphex(data[0], ==, 0x5a);
    g_assert_cmphex(data[511], ==, 0x5a);
}
