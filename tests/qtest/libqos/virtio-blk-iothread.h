/*
 * virtio-blk-pci with an IOThread behind a vIOMMU, for qtests that are
 * not in the qos graph
 *
 * Copyright (c) 2026 QEMU Storage Series contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef LIBQOS_VIRTIO_BLK_IOTHREAD_H
#define LIBQOS_VIRTIO_BLK_IOTHREAD_H

#include "libqos-pc.h"
#include "virtio-pci.h"

#define QVBLK_TIMEOUT_US    (30 * 1000 * 1000)

typedef struct QVBlk {
    QOSState *qs;
    QVirtioPCIDevice *dev;
    QVirtQueue *vq;
    char *image;
    uint64_t req;       /* the request's header, data and status byte */
} QVBlk;

/*
 * Boot a q35 machine with @iommu_args, and a virtio-blk-pci at 04.0 on a
 * 1 MiB image, its queue processed by IOThread t0, its DMA translated
 * (iommu_platform=on); start its driver
 */
QVBlk *qvblk_boot(const char *iommu_args);

/* qvblk_boot(), the device's drive @blockdev (node-name d0), not an image */
QVBlk *qvblk_boot_on(const char *iommu_args, const char *blockdev);

void qvblk_free(QVBlk *v);

/*
 * Queue a request of @type for sector 0 whose header and status byte are
 * at @iova + the offset of those in v->req, and whose 512 bytes of data
 * are at @data; its head
 */
uint32_t qvblk_queue(QVBlk *v, uint32_t type, uint64_t iova, uint64_t data);

/* Queue the request, its data after its header; wait, return its status */
uint8_t qvblk_rw(QVBlk *v, uint32_t type, uint64_t iova);

/*
 * Behind a vIOMMU that maps the IOVAs at @alias to guest memory at 0: a
 * write and a read whose buffers are at those IOVAs, which a device that
 * does not translate would not find
 */
void qvblk_io_through_alias(QVBlk *v, uint64_t alias);

#endif
