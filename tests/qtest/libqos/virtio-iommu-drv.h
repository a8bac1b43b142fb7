/*
 * A small virtio-iommu driver for qtests that are not in the qos graph:
 * attach endpoints, map IOVAs, and receive fault events with their
 * interrupt
 *
 * Copyright (c) 2026 QEMU Storage Series contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef LIBQOS_VIRTIO_IOMMU_DRV_H
#define LIBQOS_VIRTIO_IOMMU_DRV_H

#include "../libqtest.h"
#include "libqos-malloc.h"
#include "pci.h"
#include "virtio-pci.h"
#include "standard-headers/linux/virtio_iommu.h"

typedef struct QViommu {
    QTestState *qts;
    QGuestAllocator *alloc;
    QVirtioPCIDevice *dev;
    QVirtQueue *req, *event;
    uint64_t fault;             /* the one buffer on the event queue */
    uint32_t fault_head;
    int gsi;                    /* its interrupt at the IOAPIC */
} QViommu;

/*
 * Start the driver of the virtio-iommu-pci at @devfn of @bus, on a q35
 * machine whose IOAPIC inputs the test intercepts
 * (qtest_irq_intercept_in(qts, "ioapic")): virtio-iommu-pci has no MSI-X,
 * its interrupt is a PCI INTx, found as the GSI that its first request
 * raises.  One buffer waits on the event queue for a fault.
 */
void qviommu_start(QViommu *v, QTestState *qts, QPCIBus *bus,
                   QGuestAllocator *alloc, int devfn);

/* Attach endpoint @sid to @domain; the request's status */
uint8_t qviommu_attach(QViommu *v, uint32_t domain, uint32_t sid);

/* Map [@iova, @iova + @size) of @domain to @gpa, read-write; the status */
uint8_t qviommu_map(QViommu *v, uint32_t domain, uint64_t iova,
                    uint64_t size, uint64_t gpa);

/*
 * The same with the permissions of @flags (VIRTIO_IOMMU_MAP_F_READ,
 * VIRTIO_IOMMU_MAP_F_WRITE): the device may only read, or only write,
 * what a driver maps for one direction
 */
uint8_t qviommu_map_flags(QViommu *v, uint32_t domain, uint64_t iova,
                          uint64_t size, uint64_t gpa, uint32_t flags);

/*
 * Wait for the interrupt of a fault event, then for the event, and return
 * it; the buffer goes back on the event queue
 */
void qviommu_wait_fault(QViommu *v, struct virtio_iommu_fault *fault);

void qviommu_stop(QViommu *v);

#endif
