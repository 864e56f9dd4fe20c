/**
 * Targeted mutants: realistic bugs injected through the engine's own seams (the transfer factory and
 * its dirty tracker and policy, the pager's page states, the decide function, the event sink), never
 * through flags in production code. A suite that never fails proves nothing: the mutant test asserts
 * that the named properties catch each of these within a bounded number of runs.
 */
import { Either, HashMap } from "effect"
import { decideWith, type Decision } from "../domain/decide.js"
import { xapiPlanner } from "../domain/ha.js"
import * as E from "../domain/events.js"
import { getVm, persistentState, type PoolRead } from "../domain/state.js"
import type { PoolCommand } from "../domain/commands.js"
import type { HostId } from "../domain/ids.js"
import {
  createPrecopy,
  phasesFor,
  dirtyModelFor,
  PageTracker,
  policyByName,
  transferMachine,
  xenLegacyPolicy,
  xenPolicy,
  type PrecopyPolicy
} from "../engine/migration/index.js"
import { PageState, PageStates } from "../engine/pageStates.js"
import type { DecideFn } from "../engine/simulation.js"
import type { TransferContext, TransferFactory } from "../engine/transfer.js"
import type { Seams } from "./engineRun.js"

export interface Mutant {
  readonly name: string
  /** The bug, in words. */
  readonly bug: string
  readonly seams: Seams
  /** The properties expected to catch it. */
  readonly caughtBy: ReadonlyArray<string>
}

/** The real factory's machine, with the policy and the dirty tracker open to substitution. */
const machineWith =
  (options: { policy?: (context: TransferContext) => PrecopyPolicy | undefined; tracker?: typeof PageTracker }) =>
  (base: TransferFactory): TransferFactory =>
  (context) => {
    const policy = options.policy?.(context)
    if (policy === undefined && (options.tracker === undefined || context.workload.model !== "pages"))
      return base(context)
    const model = dirtyModelFor({
      ...context.workload,
      memoryPages: context.memoryPages,
      pageSizeBytes: context.pageSizeBytes,
      prng: context.prng.fork("writer"),
      startUs: context.startUs
    })
    const Tracker = options.tracker
    const chosen = policy ?? policyByName(context.policy.name, context.policy)
    return transferMachine(
      createPrecopy({
        memoryPages: context.memoryPages,
        pageSizeBytes: context.pageSizeBytes,
        policy: chosen,
        phases: phasesFor(chosen, context.policy.phases ?? "default", context.workload.stateBytes),
        untouchedPages: Math.min(
          context.workload.untouchedPages ?? 0,
          context.memoryPages - Math.min(context.workload.workingSetPages, context.memoryPages)
        ),
        model:
          model.kind === "pages" && Tracker
            ? { ...model, tracker: (pages, writer) => new Tracker(pages, writer) }
            : model,
        latencyUs: context.latencyUs,
        startUs: context.startUs
      })
    )
  }

/** Log-dirty loses every fifth write's dirty bit: the page's new version is never re-sent. */
class DirtyBitLosingTracker extends PageTracker {
  private writesSeen = 0
  override write(gfn: number): void {
    if (++this.writesSeen % 5 === 0) {
      // The write lands in the guest's memory, but its dirty bit is cleared before the page is sent.
      this.sourceVersion[gfn] = this.sourceVersion[gfn]! + 1
      return
    }
    super.write(gfn)
  }
}

/**
 * A page-in loads the page at once, straight from paged (Xen's prep/load accepts a paged page), so it
 * skips paging-in: the page is rw, and the guest runs on it, before its data is read back. The pager's
 * resume a page-in latency later finds it rw and, like `p2m_mem_paging_resume` on a page that is not
 * paging in, does nothing. Every step is a legal edge on its own: the engine's assertion never fires.
 */
class PageInStraightFromPaged extends PageStates {
  override transition(gfn: number, from: PageState, to: PageState): void {
    if (from === PageState.Paged && to === PageState.PagingIn) {
      super.transition(gfn, PageState.Paged, PageState.PagingIn)
      super.transition(gfn, PageState.PagingIn, PageState.Rw)
    } else if (from === PageState.PagingIn && to === PageState.Rw && this.state(gfn) !== PageState.PagingIn) {
      return
    } else super.transition(gfn, from, to)
  }
}

/** Replaces every event a decision returns through `f` (and may add some after it). */
const mapEvents =
  (f: (event: E.PoolEvent, state: PoolRead, command: PoolCommand) => ReadonlyArray<E.PoolEvent>) =>
  (base: DecideFn): DecideFn =>
  (state, command, placement): Decision =>
    Either.map(base(state, command, placement), (events) => events.flatMap((e) => f(e, state, command)))

/** State that leaks from one run into the next (a module-level counter). */
let machinesBuilt = 0

export const mutants: ReadonlyArray<Mutant> = [
  {
    name: "ha-planner-ignores-vm-overhead",
    bug: "the HA planner counts a VM's static max without its overhead, so it finds failover plans the pool cannot carry out",
    seams: { decide: () => decideWith({ ...xapiPlanner, vmPages: (vm) => vm.memory.staticMaxPages }) },
    caughtBy: ["ha-failover"]
  },
  {
    name: "ha-planner-plans-for-ntol-minus-one",
    bug: "the HA planner plans for one host failure fewer than it is asked about (and reports the plan for ntol)",
    seams: { decide: () => decideWith({ ...xapiPlanner, failuresPlannedFor: (n) => Math.max(0, n - 1) }) },
    caughtBy: ["ha-failover"]
  },
  {
    name: "dirty-bit-lost",
    bug: "the dirty tracker clears a page's dirty bit before the page is sent (every fifth write is never re-sent)",
    seams: { transferFactory: machineWith({ tracker: DirtyBitLosingTracker }) },
    caughtBy: ["no-lost-writes"]
  },
  {
    name: "reservation-forgotten",
    bug: "a migration starts without reserving the VM's memory on the destination",
    seams: {
      decide: mapEvents((e) =>
        e._tag === "VmMigrationStarted" ? [new E.VmMigrationStarted({ ...e, reservedPages: 0 }, true)] : [e]
      )
    },
    caughtBy: ["memory-conservation", "pool-model"]
  },
  {
    name: "source-released-early",
    bug: "the source releases the VM's memory when the guest pauses for the final round, before the commit",
    seams: {
      decide: mapEvents((e, state) => {
        if (e._tag !== "VmMigrationStopAndCopyStarted") return [e]
        const pages = getVm(state, e.vm)?.populatedPages ?? 0
        return pages > 0 ? [e, new E.VmPagesPagedOut({ atUs: e.atUs, vm: e.vm, pages }, true)] : [e]
      })
    },
    caughtBy: ["atomic-migration", "pool-model"]
  },
  {
    name: "commit-reuses-domid",
    bug: "a committed migration keeps the source's domid instead of the destination's new one",
    seams: {
      decide: mapEvents((e, state) => {
        if (e._tag !== "VmMigrationCommitted") return [e]
        const domid = getVm(state, e.vm)?.domid ?? e.domid
        return [new E.VmMigrationCommitted({ ...e, domid: Math.max(1, domid) }, true)]
      })
    },
    caughtBy: ["atomic-migration", "pool-model"]
  },
  {
    name: "paged-pages-lost-at-commit",
    bug: "a commit pages every paged-out page back in on the destination instead of keeping it paged",
    seams: {
      decide: mapEvents((e, state) => {
        if (e._tag !== "VmMigrationCommitted") return [e]
        const pages = getVm(state, e.vm)?.pagedOutPages ?? 0
        return pages > 0 ? [e, new E.VmPagesPagedIn({ atUs: e.atUs, vm: e.vm, pages }, true)] : [e]
      })
    },
    caughtBy: ["paging"]
  },
  {
    name: "page-in-from-paged",
    bug: "a page-in makes the page rw straight from paged, skipping paging-in: the guest runs on it before its data is read back",
    seams: {
      pageStates: () => (spec) => new PageInStraightFromPaged(spec.staticMaxPages, spec.guestPages, spec.mruPages)
    },
    caughtBy: ["paging"]
  },
  {
    name: "admits-to-disabled-host",
    bug: "placement forgets that a disabled host takes no new VMs",
    seams: {
      decide: (base) => (state, command, placement) => {
        const first = base(state, command, placement)
        if (Either.isRight(first) || first.left._tag !== "HostDisabled") return first
        const host = first.left.host as HostId
        const kept = persistentState(state)
        return base(
          { ...kept, hosts: HashMap.modify(kept.hosts, host, (h) => ({ ...h, enabled: true })) },
          command,
          placement
        )
      }
    },
    caughtBy: ["pool-model"]
  },
  {
    name: "xen-iteration-cap-off-by-one",
    bug: "the xen policy stops at iteration 6 instead of 5 (six live rounds)",
    seams: {
      transferFactory: machineWith({
        policy: (c) =>
          c.policy.name !== "xen"
            ? undefined
            : xenPolicy(
                (stats) =>
                  (stats.dirtyCount >= 0 && stats.dirtyCount < 50) || stats.iteration >= 6 ? "stop" : "continue",
                "xen"
              )
      })
    },
    caughtBy: ["termination-bounds"]
  },
  {
    name: "xen-legacy-iteration-cap-off-by-one",
    bug: "the xen-legacy loop allows 30 live rounds instead of 29",
    seams: {
      transferFactory: machineWith({
        policy: (c) => (c.policy.name === "xen-legacy" ? xenLegacyPolicy({ maxIterations: 30 }) : undefined)
      })
    },
    caughtBy: ["termination-bounds"]
  },
  {
    name: "state-leaks-across-runs",
    bug: "the transfer numbers its machines with a counter kept across runs, which leaks into the round durations it reports",
    seams: {
      transferFactory: (base) => (context) => {
        const machine = base(context)
        const leaked = ++machinesBuilt
        return {
          ...machine,
          completeRound: (nowUs) => {
            const done = machine.completeRound(nowUs)
            return { ...done, record: { ...done.record, durationUs: done.record.durationUs + (leaked % 1000) } }
          }
        }
      }
    },
    caughtBy: ["determinism"]
  },
  {
    name: "zero-pages-sent-in-full",
    bug: "max-downtime forgets the guest's never-written pages and sends them as full pages",
    seams: {
      transferFactory: (base) => (context) => base({ ...context, workload: { ...context.workload, untouchedPages: 0 } })
    },
    caughtBy: ["migration-accounting"]
  },
  {
    name: "interrupted-round-forgotten",
    bug: "an aborted migration's round in flight is dropped: the bytes it sent go unaccounted",
    seams: {
      transferFactory: (base) => (context) => ({ ...base(context), partialRound: () => undefined })
    },
    caughtBy: ["migration-accounting"]
  },
  {
    name: "state-sent-for-free",
    bug: "the paused round sends the vCPU and device state without counting its bytes",
    seams: {
      transferFactory: (base) => (context) => {
        const machine = base(context)
        return {
          ...machine,
          completeRound: (nowUs) => {
            const done = machine.completeRound(nowUs)
            const { record } = done
            return { ...done, record: { ...record, bytesSent: record.bytesSent - (record.stateBytes ?? 0) } }
          }
        }
      }
    },
    caughtBy: ["migration-accounting"]
  },
  {
    name: "sink-drops-events",
    bug: "the event sink loses every 17th event on its way to the store",
    seams: {
      sink: (base) => {
        let seen = 0
        return (batch) => base(batch.filter(() => ++seen % 17 !== 0))
      }
    },
    caughtBy: ["replay-equivalence", "time-travel"]
  }
]
