/**
 * Paging (xenpaging) and ballooning in the domain (XEN.md §5, DESIGN.md §2): the rules `decide` applies
 * to the paging target and to each step of the pager and the balloon driver, and how `evolve` folds
 * their events. Page-level state lives in the engine (engine/pageStates.ts); the log carries per-step
 * aggregates, and the state keeps three counts per VM:
 *
 * - `guestPages`: the guest's memory as its balloon driver leaves it (Xen's populated gfns, resident or
 *   paged). It follows `memory.targetPages` one balloon step at a time while the VM has a domain, and
 *   equals the target when it has none (the next domain is built at its target).
 * - `populatedPages`: those of them backed by a host frame (`tot_pages`); the host's physical use.
 * - `pagedOutPages`: those in the paging file (`paged_pages`).
 *
 * so that `populatedPages + pagedOutPages = guestPages` always (invariant `vmPagesAccounted`) and
 * `dynamicMin ≤ guestPages ≤ dynamicMax` (invariant `ballooningWithinLimits`).
 */
import { Either } from "effect"
import type * as C from "./commands.js"
import {
  HostNotEnoughFreeMemory,
  MemoryConstraintViolation,
  OtherOperationInProgress,
  PagingStepInvalid,
  VmBadPowerState,
  VmUnknown,
  type DomainError
} from "./errors.js"
import * as E from "./events.js"
import type { VmId } from "./ids.js"
import { hostPhysicalFreePages } from "./memory.js"
import { checkVmOperation } from "./operations.js"
import { getHost, getMigration, getVm, type Host, type PoolRead, type Vm } from "./state.js"

export type PagingCommand =
  C.SetPagingTarget | C.PageOut | C.PageIn | C.ServePageFaults | C.InflateBalloon | C.DeflateBalloon

type Decision = Either.Either<ReadonlyArray<E.PoolEvent>, DomainError>

const ok = (...events: ReadonlyArray<E.PoolEvent>): Decision => Either.right(events)
const fail = (error: DomainError): Decision => Either.left(error)

/** The new memory target: a domain balloons toward it step by step; without one, the next is built at it. */
export const withMemoryTarget = (vm: Vm, targetPages: number): Vm =>
  vm.residentOn === undefined
    ? { ...vm, memory: { ...vm.memory, targetPages }, guestPages: targetPages, populatedPages: targetPages }
    : { ...vm, memory: { ...vm.memory, targetPages } }

// --- decide -----------------------------------------------------------------------------------------

/**
 * The VM, if it has a domain (Running or Paused, resident on a host) that `step` may act on now: the
 * pager runs in dom0 whatever the guest does; the balloon driver runs in the guest, so only while it
 * runs (`guestMustRun`). Steps that change the size of the image wait while the VM migrates.
 */
const domainFor = (
  state: PoolRead,
  id: VmId,
  step: string,
  options: { readonly guestMustRun: boolean; readonly notWhileMigrating: boolean }
): Either.Either<{ vm: Vm; host: Host }, DomainError> => {
  const vm = getVm(state, id)
  if (!vm) return Either.left(new VmUnknown({ vm: id }))
  const expected: ReadonlyArray<E.PowerState> = options.guestMustRun ? ["Running"] : ["Running", "Paused"]
  const host = vm.residentOn ? getHost(state, vm.residentOn) : undefined
  if (!expected.includes(vm.powerState) || !host) {
    return Either.left(new VmBadPowerState({ vm: id, operation: step, expected: [...expected], actual: vm.powerState }))
  }
  if (options.notWhileMigrating && vm.migration !== undefined) {
    return Either.left(new OtherOperationInProgress({ vm: id, operation: step, inProgress: "pool_migrate" }))
  }
  return Either.right({ vm, host })
}

const invalid = (vm: VmId, step: string, reason: string): Decision => fail(new PagingStepInvalid({ vm, step, reason }))

const needFrames = (host: Host, vm: VmId, pages: number): HostNotEnoughFreeMemory | undefined => {
  const free = hostPhysicalFreePages(host)
  return pages > free
    ? new HostNotEnoughFreeMemory({ host: host.id, vm, requiredPages: pages, availablePages: free })
    : undefined
}

const setPagingTarget = (state: PoolRead, c: C.SetPagingTarget): Decision => {
  const vm = getVm(state, c.vm)
  if (!vm) return fail(new VmUnknown({ vm: c.vm }))
  const check = checkVmOperation(vm, "set_paging_target")
  if (Either.isLeft(check)) return fail(check.left)
  if (c.targetPages > vm.memory.staticMaxPages) {
    return fail(
      new MemoryConstraintViolation({
        vm: vm.id,
        constraint: `pagingTarget (${c.targetPages} pages) > staticMax (${vm.memory.staticMaxPages} pages)`
      })
    )
  }
  return ok(E.build(E.VmPagingTargetSet, { atUs: c.atUs, vm: vm.id, targetPages: c.targetPages }))
}

const pageOut = (state: PoolRead, c: C.PageOut): Decision =>
  Either.flatMap(domainFor(state, c.vm, "page-out", { guestMustRun: false, notWhileMigrating: true }), ({ vm }) => {
    if (vm.pagingTargetPages === undefined) return invalid(vm.id, "page-out", "the VM has no paging target")
    if (c.pages < 1 || c.pages > vm.populatedPages)
      return invalid(vm.id, "page-out", `${c.pages} pages, the VM has ${vm.populatedPages} populated`)
    return ok(E.build(E.VmPagesPagedOut, { atUs: c.atUs, vm: vm.id, pages: c.pages }))
  })

/**
 * A page-in takes a frame on the VM's host; during a migration's live rounds it takes one on the
 * destination as well (the reservation grows: the page now travels with its data).
 */
const pageIn = (state: PoolRead, c: C.PageIn): Decision =>
  Either.flatMap(
    domainFor(state, c.vm, "page-in", { guestMustRun: false, notWhileMigrating: false }),
    ({ vm, host }) => {
      if (c.pages < 1 || c.pages > vm.pagedOutPages)
        return invalid(vm.id, "page-in", `${c.pages} pages, the VM has ${vm.pagedOutPages} paged out`)
      const short = needFrames(host, vm.id, c.pages)
      if (short) return fail(short)
      const migration = vm.migration ? getMigration(state, vm.migration) : undefined
      if (migration) {
        if (migration.phase !== "reserved" && migration.phase !== "precopy") {
          return fail(new OtherOperationInProgress({ vm: vm.id, operation: "page-in", inProgress: "pool_migrate" }))
        }
        const destination = getHost(state, migration.destination)
        const destinationShort = destination && needFrames(destination, vm.id, c.pages)
        if (destinationShort) return fail(destinationShort)
      }
      return ok(E.build(E.VmPagesPagedIn, { atUs: c.atUs, vm: vm.id, pages: c.pages }))
    }
  )

const serveFaults = (state: PoolRead, c: C.ServePageFaults): Decision =>
  Either.flatMap(domainFor(state, c.vm, "page-fault", { guestMustRun: false, notWhileMigrating: false }), ({ vm }) =>
    c.faults < 1
      ? invalid(vm.id, "page-fault", "at least one fault")
      : ok(E.build(E.VmPageFaultsServed, { atUs: c.atUs, vm: vm.id, faults: c.faults, vcpuWaitUs: c.vcpuWaitUs }))
  )

const inflate = (state: PoolRead, c: C.InflateBalloon): Decision =>
  Either.flatMap(domainFor(state, c.vm, "balloon", { guestMustRun: true, notWhileMigrating: true }), ({ vm }) => {
    const pages = c.releasedPages + c.droppedPages
    if (pages < 1) return invalid(vm.id, "balloon", "an inflation gives back at least one page")
    if (c.releasedPages > vm.populatedPages || c.droppedPages > vm.pagedOutPages)
      return invalid(
        vm.id,
        "balloon",
        `gives back more than the VM has (${vm.populatedPages} resident, ${vm.pagedOutPages} paged)`
      )
    if (vm.guestPages - pages < vm.memory.targetPages)
      return invalid(vm.id, "balloon", `${vm.guestPages} - ${pages} pages passes the target ${vm.memory.targetPages}`)
    return ok(
      E.build(E.VmBalloonInflated, {
        atUs: c.atUs,
        vm: vm.id,
        releasedPages: c.releasedPages,
        droppedPages: c.droppedPages
      })
    )
  })

const deflate = (state: PoolRead, c: C.DeflateBalloon): Decision =>
  Either.flatMap(domainFor(state, c.vm, "balloon", { guestMustRun: true, notWhileMigrating: true }), ({ vm, host }) => {
    if (c.pages < 1) return invalid(vm.id, "balloon", "a deflation takes at least one page")
    if (vm.guestPages + c.pages > vm.memory.targetPages)
      return invalid(vm.id, "balloon", `${vm.guestPages} + ${c.pages} pages passes the target ${vm.memory.targetPages}`)
    const short = needFrames(host, vm.id, c.pages)
    return short ? fail(short) : ok(E.build(E.VmBalloonDeflated, { atUs: c.atUs, vm: vm.id, pages: c.pages }))
  })

export const decidePaging = (state: PoolRead, c: PagingCommand): Decision => {
  switch (c._tag) {
    case "SetPagingTarget":
      return setPagingTarget(state, c)
    case "PageOut":
      return pageOut(state, c)
    case "PageIn":
      return pageIn(state, c)
    case "ServePageFaults":
      return serveFaults(state, c)
    case "InflateBalloon":
      return inflate(state, c)
    case "DeflateBalloon":
      return deflate(state, c)
  }
}
