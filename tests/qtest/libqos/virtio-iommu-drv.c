/*
 * A small virtio-iommu driver for qtests that are not in the qos graph
 *
 * Copyright (c) 2026 QEMU Storage Series contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "qemu/host-utils.h"
#include "virtio-iommu-drv.h"
#include "standard-headers/linux/virtio_config.h"

#define QVIOMMU_TIMEOUT_US  (5 * G_USEC_PER_SEC)

/* The levels of q35's PCI interrupts (IOAPIC inputs 16-23), as a mask */
static uint8_t qviommu_pci_irqs(QViommu *v)
{
    uint8_t high = 0;
    int gsi;

    for (gsi = 16; gsi < 24; gsi++) {
        high |= qtest_get_irq(v->qts, gsi) << (gsi - 16);
    }
    return high;
}

/*
 * Wait for the device's interrupt; the first time, for one of the PCI
 * interrupts that were low (@before) to go up.  qvirtio_wait_used_elem()
 * acknowledges it: it reads ISR.
 */
static void qviommu_wait_irq(QViommu *v, uint8_t before)
{
    gint64 start = g_get_monotonic_time();
    uint8_t raised;

    for (;;) {
        raised = qviommu_pci_irqs(v) & ~before;
        if (v->gsi ? qtest_get_irq(v->qts, v->gsi) : raised != 0) {
            break;
        }
        g_assert(g_get_monotonic_time() - start <= QVIOMMU_TIMEOUT_US);
        g_usleep(10);
    }
    if (!v->gsi) {
        v->gsi = 16 + ctz32(raised);
    }
}

/* Send the request of @size bytes at @req, its tail last; the status */
static uint8_t qviommu_req(QViommu *v, void *req, size_t size)
{
    size_t out = size - sizeof(struct virtio_iommu_req_tail);
    uint64_t addr = guest_alloc(v->alloc, size);
    struct virtio_iommu_req_tail tail;
    uint32_t head;
    uint8_t before;

    qtest_memwrite(v->qts, addr, req, out);
    head = qvirtqueue_add(v->qts, v->req, addr, out, false, true);
    qvirtqueue_add(v->qts, v->req, addr + out, sizeof(tail), true, false);
    before = qviommu_pci_irqs(v);
    qvirtqueue_kick(v->qts, &v->dev->vdev, v->req, head);
    qviommu_wait_irq(v, before);
    qvirtio_wait_used_elem(v->qts, &v->dev->vdev, v->req, head, NULL,
                           QVIOMMU_TIMEOUT_US);
    qtest_memread(v->qts, addr + out, &tail, sizeof(tail));
    guest_free(v->alloc, addr);
    return tail.status;
}

static void qviommu_post_fault_buffer(QViommu *v)
{
    v->fault_head = qvirtqueue_add(v->qts, v->event, v->fault,
                                   sizeof(struct virtio_iommu_fault), true,
                                   false);
    qvirtqueue_kick(v->qts, &v->dev->vdev, v->event, v->fault_head);
}

void qviommu_start(QViommu *v, QTestState *qts, QPCIBus *bus,
                   QGuestAllocator *alloc, int devfn)
{
    uint64_t features = 1ull << VIRTIO_F_VERSION_1 |
                        1ull << VIRTIO_IOMMU_F_MAP_UNMAP;

    memset(v, 0, sizeof(*v));
    v->qts = qts;
    v->alloc = alloc;
    v->dev = qvirtio_pci_start(bus, devfn, features);
    v->req = qvirtqueue_setup(&v->dev->vdev, alloc, 0);
    v->event = qvirtqueue_setup(&v->dev->vdev, alloc, 1);
    qvirtio_set_driver_ok(&v->dev->vdev);

    v->fault = guest_alloc(alloc, sizeof(struct virtio_iommu_fault));
    qviommu_post_fault_buffer(v);
}

uint8_t qviommu_attach(QViommu *v, uint32_t domain, uint32_t sid)
{
    struct virtio_iommu_req_attach attach = {
        .head.type = VIRTIO_IOMMU_T_ATTACH,
        .domain = cpu_to_le32(domain),
        .endpoint = cpu_to_le32(sid),
    };

    return qviommu_req(v, &attach, sizeof(attach));
}

uint8_t qviommu_map_flags(QViommu *v, uint32_t domain, uint64_t iova,
                          uint64_t size, uint64_t gpa, uint32_t flags)
{
    struct virtio_iommu_req_map map = {
        .head.type = VIRTIO_IOMMU_T_MAP,
        .domain = cpu_to_le32(domain),
        .virt_start = cpu_to_le64(iova),
        .virt_end = cpu_to_le64(iova + size - 1),
        .phys_start = cpu_to_le64(gpa),
        .flags = cpu_to_le32(flags),
    };

    return qviommu_req(v, &map, sizeof(map));
}

uint8_t qviommu_map(QViommu *v, uint32_t domain, uint64_t iova,
                    uint64_t size, uint64_t gpa)
{
    return qviommu_map_flags(v, domain, iova, size, gpa,
                             VIRTIO_IOMMU_MAP_F_READ |
                             VIRTIO_IOMMU_MAP_F_WRITE);
}

void qviommu_wait_fault(QViommu *v, struct virtio_iommu_fault *fault)
{
    g_assert(v->gsi);
    qviommu_wait_irq(v, 0);
    qvirtio_wait_used_elem(v->qts, &v->dev->vdev, v->event, v->fault_head,
                           NULL, QVIOMMU_TIMEOUT_US);
    qtest_memread(v->qts, v->fault, fault, sizeof(*fault));
    qviommu_post_fault_buffer(v);
}

void qviommu_stop(QViommu *v)
{
    g_free(v->dev);
    v->dev = NULL;
}
