/*
 * QEMU NVM Express: I/O queues in IOThreads
 *
 * Copyright (c) 2026 QEMU Storage Series contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/main-loop.h"
#include "block/aio-wait.h"
#include "system/block-backend.h"
#include "system/iothread.h"
#include "hw/pci/msi.h"
#include "hw/pci/msix.h"
#include "system/kvm.h"
#include "hw/virtio/iothread-vq-mapping.h"

#include "nvme.h"
#include "dataplane.h"
#include "trace.h"

static bool nvme_dp_sq_in(NvmeCtrl *n, uint16_t qid, AioContext *ctx)
{
    return n->sq[qid] && n->sq[qid]->ctx == ctx;
}

static bool nvme_dp_cq_in(NvmeCtrl *n, uint16_t qid, AioContext *ctx)
{
    return n->cq[qid] && n->cq[qid]->ctx == ctx;
}

AioContext *nvme_dp_cq_ctx(NvmeCtrl *n, uint16_t cqid)
{
    if (!n->dp || !cqid) {
        return qemu_get_aio_context();
    }
    return n->dp->ioq_ctx[cqid];
}

typedef struct NvmeDpOp {
    NvmeCtrl *n;
    AioContext *ctx;
} NvmeDpOp;

static void nvme_dp_attach_sq(NvmeSQueue *sq)
{
    if (sq->ioeventfd_enabled) {
        /*
         * A handler removed while polling gets no poll_end: the EventIdx
         * is written again on the next nvme_process_sq(), which the
         * callers schedule.  There is no shadow tail to poll without
         * ioeventfd (it needs the doorbell buffer).
         */
        sq->polling = false;
        aio_set_event_notifier(sq->ctx, &sq->notifier, nvme_sq_notifier,
                               nvme_sq_poll, nvme_sq_poll_ready);
        aio_set_event_notifier_poll(sq->ctx, &sq->notifier,
                                    nvme_sq_poll_begin, nvme_sq_poll_end);
    }
}

static void nvme_dp_detach_sq(NvmeSQueue *sq)
{
    if (sq->ioeventfd_enabled) {
        aio_set_event_notifier(sq->ctx, &sq->notifier, NULL, NULL, NULL);
    }
}

static void nvme_dp_attach_cq(NvmeCQueue *cq)
{
    if (cq->ioeventfd_enabled) {
        aio_set_event_notifier(cq->ctx, &cq->notifier, nvme_cq_notifier,
                               nvme_cq_poll, nvme_cq_poll_ready);
    }
}

static void nvme_dp_detach_cq(NvmeCQueue *cq)
{
    if (cq->ioeventfd_enabled) {
        aio_set_event_notifier(cq->ctx, &cq->notifier, NULL, NULL, NULL);
    }
}

/*
 * Engage the device's reentrancy guard around a callback of the main loop
 * that is not a guarded BH, as aio_bh_call() does for those: DMA of the
 * controller that reaches its own MMIO is then refused by the memory core
 * instead of re-entering the controller.
 *
 * The guard is a plain flag, engaged by the memory core for every MMIO
 * access, so only BQL holders may use it.  A callback in an IOThread runs
 * without the BQL, next to vCPU accesses, which would see the guard engaged
 * and be refused.  There nvme_mmio_accepts() refuses the IOThread's
 * accesses instead.
 */
bool nvme_guard_enter(NvmeCtrl *n)
{
    MemReentrancyGuard *guard = &DEVICE(n)->mem_reentrancy_guard;
    bool engaged = guard->engaged_in_io;

    assert(bql_locked());
    guard->engaged_in_io = true;
    return engaged;
}

void nvme_guard_exit(NvmeCtrl *n, bool engaged)
{
    DEVICE(n)->mem_reentrancy_guard.engaged_in_io = engaged;
}

/* In @op->ctx: stop taking new commands from its queues */
static void nvme_dp_stop_bh(void *opaque)
{
    NvmeDpOp *op = opaque;
    NvmeCtrl *n = op->n;
    uint16_t qid;

    for (qid = 1; qid <= n->params.max_ioqpairs; qid++) {
        if (nvme_dp_sq_in(n, qid, op->ctx)) {
            NvmeSQueue *sq = n->sq[qid];

            sq->dp_stopped = true;
            nvme_dp_detach_sq(sq);
            qemu_bh_cancel(sq->bh);
        }
        if (nvme_dp_cq_in(n, qid, op->ctx)) {
            NvmeCQueue *cq = n->cq[qid];

            cq->dp_stopped = true;
            nvme_dp_detach_cq(cq);
        }
    }
}

/*
 * In @op->ctx, after the namespaces were drained: post what completed and
 * leave nothing scheduled, the main loop owns the queues from now on.
 */
static void nvme_dp_flush_bh(void *opaque)
{
    NvmeDpOp *op = opaque;
    NvmeCtrl *n = op->n;
    uint16_t qid;

    for (qid = 1; qid <= n->params.max_ioqpairs; qid++) {
        if (nvme_dp_cq_in(n, qid, op->ctx)) {
            qemu_bh_cancel(n->cq[qid]->bh);
            nvme_post_cqes(n->cq[qid]);
        }
    }
    for (qid = 1; qid <= n->params.max_ioqpairs; qid++) {
        if (nvme_dp_sq_in(n, qid, op->ctx)) {
            qemu_bh_cancel(n->sq[qid]->bh);
        }
    }
}

/* In @op->ctx: process the queues again, and what arrived meanwhile */
static void nvme_dp_start_bh(void *opaque)
{
    NvmeDpOp *op = opaque;
    NvmeCtrl *n = op->n;
    bool drained = n->drain_depth > 0;
    uint16_t qid;

    for (qid = 1; qid <= n->params.max_ioqpairs; qid++) {
        if (nvme_dp_cq_in(n, qid, op->ctx)) {
            NvmeCQueue *cq = n->cq[qid];

            cq->dp_stopped = false;
            if (!drained) {
                nvme_dp_attach_cq(cq);
            }
            qemu_bh_schedule(cq->bh);
        }
        if (nvme_dp_sq_in(n, qid, op->ctx)) {
            NvmeSQueue *sq = n->sq[qid];

            sq->dp_stopped = false;
            if (!drained) {
                nvme_dp_attach_sq(sq);
            }
            qemu_bh_schedule(sq->bh);
        }
    }
}

/*
 * nvme_dp_stop() and nvme_dp_start() wait for the IOThreads in aio_poll()
 * of the main context, which runs the main loop's BHs, the admin queues'
 * among them.  An admin command run there would find I/O queues half
 * stopped or half started (the stop it nests in returns at once) and
 * change them under an IOThread.  So while any controller is between the
 * two states, admin queues wait with their commands unfetched, and are
 * kicked when none is.  The list is empty outside of those waits.
 * Context: BQL held.
 */
static int nvme_dp_transitions;
static GSList *nvme_dp_deferred_admin;

static void nvme_dp_transition_begin(void)
{
    nvme_dp_transitions++;
}

static void nvme_dp_transition_end(void)
{
    assert(nvme_dp_transitions > 0);
    if (--nvme_dp_transitions) {
        return;
    }
    while (nvme_dp_deferred_admin) {
        NvmeCtrl *n = nvme_dp_deferred_admin->data;

        nvme_dp_deferred_admin = g_slist_delete_link(nvme_dp_deferred_admin,
                                                     nvme_dp_deferred_admin);
        if (n->sq[0]) {
            qemu_bh_schedule(n->sq[0]->bh);
        }
    }
}

bool nvme_dp_defer_admin(NvmeCtrl *n)
{
    if (n->drain_depth) {
        /* nvme_dp_drained_end_ctrl() kicks the admin queue */
        trace_pci_nvme_dp_defer_admin();
        return true;
    }
    if (!nvme_dp_transitions) {
        return false;
    }
    trace_pci_nvme_dp_defer_admin();
    if (!g_slist_find(nvme_dp_deferred_admin, n)) {
        nvme_dp_deferred_admin = g_slist_prepend(nvme_dp_deferred_admin, n);
    }
    return true;
}

static void nvme_dp_run_in_ctxs(NvmeCtrl *n, QEMUBHFunc *fn)
{
    int i;

    for (i = 0; i < n->dp->nr_ctxs; i++) {
        NvmeDpOp op = { .n = n, .ctx = n->dp->ctxs[i] };

        aio_wait_bh_oneshot(op.ctx, fn, &op);
    }
}

/*
 * Context: BQL held.  After this the IOThreads leave the I/O queues alone
 * and no command of them is in flight, until nvme_dp_start().  Nests.
 */
void nvme_dp_stop(NvmeCtrl *n)
{
    int i;

    if (!n->dp || n->dp->stop_depth++) {
        return;
    }

    trace_pci_nvme_dp_stop();
    nvme_dp_transition_begin();
    nvme_dp_run_in_ctxs(n, nvme_dp_stop_bh);

    for (i = 1; i <= NVME_MAX_NAMESPACES; i++) {
        NvmeNamespace *ns = nvme_ns(n, i);

        if (ns) {
            nvme_ns_drain(ns);
        }
    }

    nvme_dp_run_in_ctxs(n, nvme_dp_flush_bh);
    nvme_dp_transition_end();
}

/* Context: BQL held */
void nvme_dp_start(NvmeCtrl *n)
{
    if (!n->dp) {
        return;
    }
    assert(n->dp->stop_depth > 0);
    if (--n->dp->stop_depth) {
        return;
    }

    trace_pci_nvme_dp_start();
    nvme_dp_transition_begin();
    nvme_dp_run_in_ctxs(n, nvme_dp_start_bh);
    nvme_dp_transition_end();
}

static void nvme_dp_vm_state_change(void *opaque, bool running,
                                    RunState state)
{
    NvmeCtrl *n = opaque;

    /* no polling and no command processing while the VM is stopped */
    if (running) {
        nvme_dp_start(n);
    } else {
        nvme_dp_stop(n);
    }
}

/*
 * Drained sections of a namespace's BlockBackend: stop fetching commands
 * through the ioeventfds of every controller in IOThreads that can reach
 * it.  Requests that still come (MMIO doorbells, BHs) wait in the block
 * layer's queue.  Admin commands of every controller that can reach it,
 * in IOThreads or not, wait unfetched (nvme_dp_defer_admin()): those that
 * stop the I/O queues drain the namespaces, and Delete I/O SQ cancels the
 * queue's commands, which both wait for zns-blk commands of several
 * requests whose next request waits in that queue until the section ends.
 * Context: BQL held.
 */
static NvmeSubsystem *nvme_ns_subsys(NvmeNamespace *ns)
{
    return ns->subsys ? ns->subsys : ns->ctrl->subsys;
}

static void nvme_dp_for_each_ctrl(NvmeSubsystem *subsys,
                                  void (*fn)(NvmeCtrl *))
{
    int i;

    for (i = 0; i < NVME_MAX_CONTROLLERS; i++) {
        NvmeCtrl *n = nvme_subsys_ctrl(subsys, i);

        if (n) {
            fn(n);
        }
    }
}

static void nvme_dp_drained_begin_ctrl(NvmeCtrl *n)
{
    uint16_t qid;

    if (n->drain_depth++ || !n->dp || n->dp->stop_depth) {
        return;
    }
    for (qid = 1; qid <= n->params.max_ioqpairs; qid++) {
        if (n->sq[qid]) {
            nvme_dp_detach_sq(n->sq[qid]);
        }
        if (n->cq[qid]) {
            nvme_dp_detach_cq(n->cq[qid]);
        }
    }
}

static void nvme_dp_drained_end_ctrl(NvmeCtrl *n)
{
    uint16_t qid;

    if (!n->drain_depth || --n->drain_depth) {
        return;
    }
    /* admin commands that came while drained: nvme_dp_defer_admin() */
    if (n->sq[0]) {
        qemu_bh_schedule(n->sq[0]->bh);
    }
    if (!n->dp || n->dp->stop_depth) {
        return;
    }
    for (qid = 1; qid <= n->params.max_ioqpairs; qid++) {
        if (n->cq[qid]) {
            nvme_dp_attach_cq(n->cq[qid]);
            if (n->cq[qid]->ioeventfd_enabled) {
                event_notifier_set(&n->cq[qid]->notifier);
            }
        }
        if (n->sq[qid]) {
            nvme_dp_attach_sq(n->sq[qid]);
            /* doorbells written while drained */
            qemu_bh_schedule(n->sq[qid]->bh);
        }
    }
}

static void nvme_dp_drained_begin(void *opaque)
{
    nvme_dp_for_each_ctrl(nvme_ns_subsys(opaque), nvme_dp_drained_begin_ctrl);
}

static void nvme_dp_drained_end(void *opaque)
{
    nvme_dp_for_each_ctrl(nvme_ns_subsys(opaque), nvme_dp_drained_end_ctrl);
}

/*
 * Admin commands that change what every controller of the subsystem can
 * reach (Format NVM of a namespace, features and logs of the endurance
 * group) run with the I/O queues of all of them stopped, those in
 * IOThreads that is, until the command completes.  A controller that joins
 * the subsystem meanwhile is neither stopped nor started.  Context: BQL
 * held.
 */
static void nvme_dp_subsys_stop_ctrl(NvmeCtrl *n)
{
    if (!n->dp) {
        return;
    }
    n->dp->subsys_stops++;
    nvme_dp_stop(n);
}

static void nvme_dp_subsys_start_ctrl(NvmeCtrl *n)
{
    if (n->dp && n->dp->subsys_stops) {
        n->dp->subsys_stops--;
        nvme_dp_start(n);
    }
}

void nvme_dp_stop_subsys(NvmeCtrl *n)
{
    nvme_dp_for_each_ctrl(n->subsys, nvme_dp_subsys_stop_ctrl);
}

void nvme_dp_start_subsys(NvmeCtrl *n)
{
    nvme_dp_for_each_ctrl(n->subsys, nvme_dp_subsys_start_ctrl);
}

static const BlockDevOps nvme_dp_block_ops = {
    .drained_begin = nvme_dp_drained_begin,
    .drained_end = nvme_dp_drained_end,
};

/*
 * Where @n runs its I/O queues: the main loop without IOThreads, its
 * IOThread, or NULL when it has several (iothread-vq-mapping).
 */
static AioContext *nvme_dp_io_ctx(NvmeCtrl *n)
{
    if (!n->dp) {
        return qemu_get_aio_context();
    }
    return n->dp->nr_ctxs == 1 ? n->dp->ctxs[0] : NULL;
}

/* Zones that every controller of the subsystem reaches */
static bool nvme_dp_ns_zones_shared(NvmeNamespace *ns)
{
    return ns->params.shared && (ns->params.zoned || ns->params.zoned_backend);
}

/*
 * What nvme_dp_ns_realize() keeps to one IOThread of a controller can be
 * reached by every controller of the subsystem: the zones of a shared
 * zoned namespace, which each controller attaches (at CC.EN, or with
 * Namespace Attachment), and the reclaim unit handles of flexible data
 * placement, whose endurance group is the subsystem's.  Then all
 * controllers of the subsystem must run their I/O queues in one AioContext,
 * or two threads would change that state at once.  Check it for @n joining
 * its subsystem (@ns NULL), or for a namespace @ns realized on @n.
 * Context: BQL, realize.
 */
bool nvme_dp_check_subsys(NvmeCtrl *n, NvmeNamespace *ns, Error **errp)
{
    NvmeSubsystem *subsys = n->subsys;
    AioContext *ctx = nvme_dp_io_ctx(n);
    g_autofree char *what = NULL;
    int i;

    if (subsys->endgrp.fdp.enabled) {
        what = g_strdup("flexible data placement");
    } else if (ns && nvme_dp_ns_zones_shared(ns)) {
        what = g_strdup("a shared zoned namespace");
    } else if (!ns) {
        for (i = 1; i <= NVME_MAX_NAMESPACES && !what; i++) {
            NvmeNamespace *sns = nvme_subsys_ns(subsys, i);

            if (sns && nvme_dp_ns_zones_shared(sns)) {
                what = g_strdup_printf("shared zoned namespace %d", i);
            }
        }
    }
    if (!what) {
        return true;
    }

    /* @n with several IOThreads (nvme_dp_ns_realize() refuses @ns itself) */
    if (!ctx && !ns) {
        goto refuse;
    }
    for (i = 0; i < NVME_MAX_CONTROLLERS; i++) {
        NvmeCtrl *c = nvme_subsys_ctrl(subsys, i);

        if (c && c != n && nvme_dp_io_ctx(c) != ctx) {
            goto refuse;
        }
    }
    return true;

refuse:
    error_setg(errp, "%s needs all controllers of subsystem '%s' to run "
               "their I/O queues in one IOThread, or all in the main loop",
               what, subsys->params.nqn);
    error_append_hint(errp, "Give the controllers of the subsystem the same "
                      "iothread, or none.\n");
    return false;
}

/*
 * Follow the drained sections of a namespace of @n, and move it to the
 * controller's first IOThread
 */
bool nvme_dp_ns_realize(NvmeCtrl *n, NvmeNamespace *ns, Error **errp)
{
    ERRP_GUARD();
    BlockBackend *blk = ns->blkconf.blk;

    if (!n->dp) {
        blk_set_dev_ops(blk, &nvme_dp_block_ops, ns);
        return true;
    }

    /* zone state and write atomicity of a namespace are not thread-safe */
    if (n->dp->nr_ctxs > 1 &&
        (ns->params.zoned || ns->params.zoned_backend ||
         ns->atomic.atomic_writes || (ns->endgrp && ns->endgrp->fdp.enabled))) {
        error_setg(errp, "namespace %" PRIu32 ": zoned namespaces, atomic "
                   "writes and flexible data placement need a single "
                   "IOThread (iothread-vq-mapping has %d)", ns->params.nsid,
                   n->dp->nr_ctxs);
        return false;
    }

    /*
     * Any thread may submit requests to a BlockBackend; its AioContext is
     * where the block layer runs its own work for it.
     */
    if (blk_set_aio_context(blk, n->dp->ctxs[0], errp) < 0) {
        error_prepend(errp, "cannot move namespace %" PRIu32
                      " to iothread: ", ns->params.nsid);
        return false;
    }
    blk_set_dev_ops(blk, &nvme_dp_block_ops, ns);
    return true;
}

void nvme_dp_ns_unrealize(NvmeCtrl *n, NvmeNamespace *ns)
{
    BlockBackend *blk = ns->blkconf.blk;

    if (!blk) {
        return;
    }
    blk_set_dev_ops(blk, NULL, NULL);
    if (n->dp && blk_get_aio_context(blk) == n->dp->ctxs[0]) {
        /* best effort, as virtio-blk: a node in use elsewhere may refuse */
        blk_set_aio_context(blk, qemu_get_aio_context(), NULL);
    }
}

/* Interrupts of I/O CQs, raised in the main loop */

/* Context: BQL held */
void nvme_dp_update_intx(NvmeCtrl *n)
{
    uint32_t status = 0;
    uint16_t qid;

    for (qid = 1; qid <= n->params.max_ioqpairs; qid++) {
        NvmeCQueue *cq = n->cq[qid];

        if (cq && cq->irq_enabled && cq->vector < 32 &&
            qatomic_read(&cq->tail) != qatomic_read(&cq->head)) {
            status |= 1 << cq->vector;
        }
    }
    n->dp->intx_status = status;
    nvme_irq_check(n);
}

static void nvme_dp_irq_notified(EventNotifier *e)
{
    NvmeCQueue *cq = container_of(e, NvmeCQueue, irq_notifier);
    NvmeCtrl *n = cq->ctrl;
    PCIDevice *pci = PCI_DEVICE(n);
    bool posted, engaged;

    event_notifier_test_and_clear(e);
    posted = qatomic_xchg(&cq->irq_posted, false);

    /* the MSI-X message is DMA too, to an address the host chose */
    engaged = nvme_guard_enter(n);
    if (msix_enabled(pci)) {
        if (posted && cq->irq_enabled) {
            trace_pci_nvme_irq_msix(cq->vector);
            msix_notify(pci, cq->vector);
        }
    } else if (!pci_is_vf(pci)) {
        nvme_dp_update_intx(n);
    }
    nvme_guard_exit(n, engaged);
}

/*
 * In the CQ's context: completions were posted (@posted) or the head moved;
 * have the main loop raise or re-evaluate the interrupt.
 */
void nvme_dp_notify_cq(NvmeCQueue *cq, bool posted)
{
    if (posted) {
        qatomic_set(&cq->irq_posted, true);
    } else if (msix_enabled(PCI_DEVICE(cq->ctrl))) {
        return;     /* only INTx depends on the head */
    }
    event_notifier_set(&cq->irq_notifier);
}

/*
 * With KVM's irqchip the interrupt of an I/O CQ does not need the main
 * loop: its irq_notifier becomes an irqfd of the MSI route of its vector
 * while the vector is unmasked.  A masked vector goes through the main
 * loop's handler, where msix_notify() sets the pending bit.
 * Context: BQL held.
 */
static bool nvme_dp_irqfd_usable(NvmeCQueue *cq)
{
    NvmeCtrl *n = cq->ctrl;

    return n->dp->vectors && cq->irq_enabled &&
           cq->vector < n->params.msix_qsize && msix_enabled(PCI_DEVICE(n));
}

static void nvme_dp_irqfd_attach(NvmeCQueue *cq)
{
    NvmeCtrl *n = cq->ctrl;
    PCIDevice *pci = PCI_DEVICE(n);
    NvmeDpVector *v = &n->dp->vectors[cq->vector];

    if (cq->irqfd || !nvme_dp_irqfd_usable(cq) ||
        msix_is_masked(pci, cq->vector)) {
        return;
    }
    if (v->virq < 0) {
        KVMRouteChange c = kvm_irqchip_begin_route_changes(kvm_state);
        int virq = kvm_irqchip_add_msi_route(&c, cq->vector, pci);

        if (virq < 0) {
            return;     /* stay with the main loop */
        }
        kvm_irqchip_commit_route_changes(&c);
        v->virq = virq;
    }

    event_notifier_set_handler(&cq->irq_notifier, NULL);
    if (kvm_irqchip_add_irqfd_notifier_gsi(kvm_state, &cq->irq_notifier,
                                           NULL, v->virq) < 0) {
        event_notifier_set_handler(&cq->irq_notifier, nvme_dp_irq_notified);
        if (!v->users) {
            kvm_irqchip_release_virq(kvm_state, v->virq);
            v->virq = -1;
        }
        return;
    }
    qatomic_set(&cq->irq_posted, false);
    cq->irqfd = true;
    v->users++;
}

static void nvme_dp_irqfd_detach(NvmeCQueue *cq)
{
    NvmeDpVector *v;

    if (!cq->irqfd) {
        return;
    }
    v = &cq->ctrl->dp->vectors[cq->vector];
    kvm_irqchip_remove_irqfd_notifier_gsi(kvm_state, &cq->irq_notifier,
                                          v->virq);
    cq->irqfd = false;
    if (!--v->users) {
        kvm_irqchip_release_virq(kvm_state, v->virq);
        v->virq = -1;
    }
    /* a signal that came meanwhile is the handler's: it sets pending bits */
    qatomic_set(&cq->irq_posted, true);
    event_notifier_set_handler(&cq->irq_notifier, nvme_dp_irq_notified);
}

/* A vector was unmasked (or MSI-X enabled): route it, attach its CQs */
static int nvme_dp_vector_use(PCIDevice *pci, unsigned int vector,
                              MSIMessage msg)
{
    NvmeCtrl *n = NVME(pci);
    NvmeDpVector *v = &n->dp->vectors[vector];
    uint16_t qid;

    if (v->virq >= 0) {
        if (kvm_irqchip_update_msi_route(kvm_state, v->virq, msg, pci) < 0) {
            return 0;   /* the CQs keep their routes; nothing better */
        }
        kvm_irqchip_commit_routes(kvm_state);
    }
    for (qid = 1; qid <= n->params.max_ioqpairs; qid++) {
        if (n->cq[qid] && n->cq[qid]->vector == vector) {
            nvme_dp_irqfd_attach(n->cq[qid]);
        }
    }
    return 0;
}

/* A vector was masked (or MSI-X disabled): back to the main loop */
static void nvme_dp_vector_release(PCIDevice *pci, unsigned int vector)
{
    NvmeCtrl *n = NVME(pci);
    uint16_t qid;

    for (qid = 1; qid <= n->params.max_ioqpairs; qid++) {
        if (n->cq[qid] && n->cq[qid]->vector == vector) {
            nvme_dp_irqfd_detach(n->cq[qid]);
        }
    }
}

/*
 * An I/O CQ in an IOThread raises its interrupts through an EventNotifier.
 * It is created before the queue, so that Create I/O Completion Queue can
 * fail when QEMU is out of file descriptors.  Context: BQL held.
 */
bool nvme_dp_prepare_cq(NvmeCtrl *n, NvmeCQueue *cq, uint16_t cqid)
{
    if (!n->dp || !cqid) {
        return true;
    }
    if (event_notifier_init(&cq->irq_notifier, 0) < 0) {
        trace_pci_nvme_err_dp_irq_notifier(cqid);
        return false;
    }
    return true;
}

/* Context: BQL held; after nvme_dp_prepare_cq() */
void nvme_dp_init_cq(NvmeCQueue *cq)
{
    cq->dp_stopped = true;      /* until nvme_dp_start() */
    cq->irqfd = false;
    event_notifier_set_handler(&cq->irq_notifier, nvme_dp_irq_notified);
    nvme_dp_irqfd_attach(cq);
}

static void nvme_dp_sync_bh(void *opaque)
{
}

/* Context: BQL held; the queue's notifier is detached (nvme_dp_stop()) */
void nvme_dp_free_cq(NvmeCQueue *cq)
{
    qemu_bh_delete(cq->bh);
    /*
     * Let a callback of the queue that is running in its context finish;
     * admin queues wait meanwhile, as in nvme_dp_stop(): a reset frees the
     * queues, the admin queue's first, and another controller's admin
     * command (a namespace attachment) would post this one's events.
     */
    nvme_dp_transition_begin();
    aio_wait_bh_oneshot(cq->ctx, nvme_dp_sync_bh, NULL);
    nvme_dp_transition_end();
    nvme_dp_irqfd_detach(cq);
    event_notifier_set_handler(&cq->irq_notifier, NULL);
    event_notifier_cleanup(&cq->irq_notifier);
}

void nvme_dp_free_sq(NvmeSQueue *sq)
{
    qemu_bh_delete(sq->bh);
    /* As in nvme_dp_free_cq() */
    nvme_dp_transition_begin();
    aio_wait_bh_oneshot(sq->ctx, nvme_dp_sync_bh, NULL);
    nvme_dp_transition_end();
}

/* Asynchronous events found in an IOThread are raised in the main loop */

static void nvme_dp_event_bh(void *opaque)
{
    NvmeCtrl *n = opaque;

    if (qatomic_xchg(&n->dp->invalid_db_value, false)) {
        nvme_invalid_db_value(n);
    }
}

void nvme_dp_invalid_db_value(NvmeCtrl *n)
{
    qatomic_set(&n->dp->invalid_db_value, true);
    qemu_bh_schedule(n->dp->event_bh);
}

/* Configuration */

/* Drop the IOThread references taken by nvme_dp_realize() */
static void nvme_dp_free(NvmeCtrl *n, NvmeDataplane *dp)
{
    if (n->iothread_vq_mapping_list) {
        iothread_vq_mapping_cleanup(n->iothread_vq_mapping_list);
    } else {
        object_unref(OBJECT(n->iothread));
    }
    g_free(dp->ctxs);
    g_free(dp->ioq_ctx);
    g_free(dp);
}

bool nvme_dp_realize(NvmeCtrl *n, Error **errp)
{
    NvmeDataplane *dp;
    AioContext *ctx;
    int i, j;

    if (!n->iothread && !n->iothread_vq_mapping_list) {
        return true;
    }

    if (n->iothread && n->iothread_vq_mapping_list) {
        error_setg(errp, "iothread and iothread-vq-mapping cannot be set at "
                   "the same time");
        return false;
    }

    dp = g_new0(NvmeDataplane, 1);
    dp->ioq_ctx = g_new0(AioContext *, n->params.max_ioqpairs + 1);
    dp->ctxs = g_new0(AioContext *, n->params.max_ioqpairs);

    if (n->iothread_vq_mapping_list) {
        /*
         * "vqs" are NVMe I/O queue IDs, 1 to max_ioqpairs, as in every
         * NVMe command and log page; the admin queue stays in the main loop.
         * Without "vqs" the queue IDs go round-robin over the IOThreads.
         */
        if (!iothread_vq_mapping_apply_from(n->iothread_vq_mapping_list,
                                            &dp->ioq_ctx[1], 1,
                                            n->params.max_ioqpairs, errp)) {
            g_free(dp->ctxs);
            g_free(dp->ioq_ctx);
            g_free(dp);
            return false;
        }
    } else {
        object_ref(OBJECT(n->iothread));
        ctx = iothread_get_aio_context(n->iothread);
        for (i = 1; i <= n->params.max_ioqpairs; i++) {
            dp->ioq_ctx[i] = ctx;
        }
    }
    dp->ioq_ctx[0] = qemu_get_aio_context();

    for (i = 1; i <= n->params.max_ioqpairs; i++) {
        for (j = 0; j < dp->nr_ctxs; j++) {
            if (dp->ctxs[j] == dp->ioq_ctx[i]) {
                break;
            }
        }
        if (j == dp->nr_ctxs) {
            dp->ctxs[dp->nr_ctxs++] = dp->ioq_ctx[i];
        }
    }

    /*
     * Several IOThreads would race on what all I/O queues share: the
     * atomic write checks walk every SQ's requests.
     */
    if (dp->nr_ctxs > 1 && (n->params.atomic_awun || n->params.atomic_awupf)) {
        error_setg(errp, "iothread-vq-mapping: atomic.awun and atomic.awupf "
                   "need a single IOThread");
        nvme_dp_free(n, dp);
        return false;
    }

    if (kvm_msi_via_irqfd_enabled() && msix_present(PCI_DEVICE(n))) {
        dp->vectors = g_new(NvmeDpVector, n->params.msix_qsize);
        for (i = 0; i < n->params.msix_qsize; i++) {
            dp->vectors[i].virq = -1;
            dp->vectors[i].users = 0;
        }
        if (msix_set_vector_notifiers(PCI_DEVICE(n), nvme_dp_vector_use,
                                      nvme_dp_vector_release, NULL) < 0) {
            g_free(dp->vectors);
            dp->vectors = NULL;
        }
    }

    dp->event_bh = qemu_bh_new_guarded(nvme_dp_event_bh, n,
                                       &DEVICE(n)->mem_reentrancy_guard);
    dp->stop_depth = runstate_is_running() ? 0 : 1;
    /*
     * In qdev tree order, as virtio-blk's: on start after the devices
     * above the controller, on stop before them.
     */
    dp->vmstate = qdev_add_vm_change_state_handler(DEVICE(n),
                                                   nvme_dp_vm_state_change,
                                                   NULL, n);
    n->dp = dp;
    return true;
}

void nvme_dp_unrealize(NvmeCtrl *n)
{
    NvmeDataplane *dp = n->dp;

    if (!dp) {
        return;
    }

    qemu_del_vm_change_state_handler(dp->vmstate);
    qemu_bh_delete(dp->event_bh);
    if (dp->vectors) {
        msix_unset_vector_notifiers(PCI_DEVICE(n));
        g_free(dp->vectors);
    }
    nvme_dp_free(n, dp);
    n->dp = NULL;
}
