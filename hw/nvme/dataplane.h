/*
 * QEMU NVM Express: I/O queues in IOThreads
 *
 * Copyright (c) 2026 QEMU Storage Series contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_NVME_DATAPLANE_H
#define HW_NVME_DATAPLANE_H

#include "block/aio.h"
#include "system/runstate.h"

typedef struct NvmeCtrl NvmeCtrl;
typedef struct NvmeSQueue NvmeSQueue;
typedef struct NvmeCQueue NvmeCQueue;
typedef struct NvmeNamespace NvmeNamespace;

/*
 * With iothread= (or iothread-vq-mapping=) the I/O queues run in IOThread
 * AioContexts and the admin queue in the main loop.  Each I/O completion
 * queue has one AioContext, the one its queue ID is mapped to; a submission
 * queue runs in the context of its completion queue, so the SQs that share
 * a CQ share a context.
 *
 * Ownership: the queue state (head, tail, request lists, BHs) of an I/O
 * queue belongs to its AioContext.  The main loop (admin commands, register
 * writes, reset, VM stop) changes the set of queues only between
 * nvme_dp_stop() and nvme_dp_start(), which detach the queues' notifiers in
 * their contexts, drain the namespaces and flush the completions.  MMIO
 * doorbell writes (vCPU thread, BQL) only publish a new tail or head and
 * kick the queue's BH.  Interrupts are raised in the main loop: the
 * AioContext signals a per-CQ EventNotifier.
 */
/* An MSI-X vector of I/O CQs with KVM's irqchip: its MSI route */
typedef struct NvmeDpVector {
    int virq;                   /* -1: no route */
    int users;                  /* I/O CQs with irqfds on it */
} NvmeDpVector;

typedef struct NvmeDataplane {
    AioContext **ioq_ctx;       /* [qid], 0 .. max_ioqpairs; [0] main loop */
    AioContext **ctxs;          /* the distinct IOThread contexts */
    int nr_ctxs;
    int stop_depth;             /* nvme_dp_stop() nesting, VM stop included */
    int subsys_stops;           /* nvme_dp_stop_subsys() nesting */
    uint32_t intx_status;       /* INTx vectors asserted by I/O CQs */
    QEMUBH *event_bh;           /* asynchronous events raised by IOThreads */
    bool invalid_db_value;      /* atomic: raise Invalid Doorbell Write Value */
    VMChangeStateEntry *vmstate;
    NvmeDpVector *vectors;      /* [msix_qsize] with irqfds, else NULL */
} NvmeDataplane;

/*
 * The device's DMA reentrancy guard, engaged around a main-loop callback
 * that is not a guarded BH: returns whether it was engaged already, for
 * nvme_guard_exit().  BQL holders only.
 */
bool nvme_guard_enter(NvmeCtrl *n);
void nvme_guard_exit(NvmeCtrl *n, bool engaged);

bool nvme_dp_realize(NvmeCtrl *n, Error **errp);
void nvme_dp_unrealize(NvmeCtrl *n);
bool nvme_dp_ns_realize(NvmeCtrl *n, NvmeNamespace *ns, Error **errp);
bool nvme_dp_check_subsys(NvmeCtrl *n, NvmeNamespace *ns, Error **errp);
void nvme_dp_ns_unrealize(NvmeCtrl *n, NvmeNamespace *ns);

AioContext *nvme_dp_cq_ctx(NvmeCtrl *n, uint16_t cqid);
void nvme_dp_stop(NvmeCtrl *n);
void nvme_dp_start(NvmeCtrl *n);
bool nvme_dp_defer_admin(NvmeCtrl *n);
void nvme_dp_stop_subsys(NvmeCtrl *n);
void nvme_dp_start_subsys(NvmeCtrl *n);

bool nvme_dp_prepare_cq(NvmeCtrl *n, NvmeCQueue *cq, uint16_t cqid);
void nvme_dp_init_cq(NvmeCQueue *cq);
void nvme_dp_free_cq(NvmeCQueue *cq);
void nvme_dp_free_sq(NvmeSQueue *sq);
void nvme_dp_notify_cq(NvmeCQueue *cq, bool posted);
void nvme_dp_update_intx(NvmeCtrl *n);
void nvme_dp_invalid_db_value(NvmeCtrl *n);

#endif /* HW_NVME_DATAPLANE_H */
