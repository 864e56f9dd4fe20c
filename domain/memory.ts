/**
 * Host memory, counted two ways (DESIGN.md §2), both over every VM resident on the host or scheduled
 * to be (a migrating VM counts on both hosts until the migration ends):
 * - placement free, XAPI's admission rule (ocaml/xapi/memory_check.ml):
 *   max(0, total − hostOverhead − Σ(dynamicMin + vmOverhead));
 * - physical free: total − hostOverhead − Σ(populated + vmOverhead) − Σ(incoming reservations).
 */
import { Either } from "effect"
import { HostDisabled, HostNotEnoughFreeMemory, HostNotLive } from "./errors.js"
import type { Host, MemoryConstraints, Vm } from "./state.js"

/** What a VM needs of a host to be admitted: dynamic_min + overhead. */
export const vmPlacementPages = (vm: Vm): number => vm.memory.dynamicMinPages + vm.overheadPages

/** What a VM uses of a host's physical memory: its populated pages + overhead. */
export const vmPhysicalPages = (vm: Vm): number => vm.populatedPages + vm.overheadPages

export const hostPlacementFreePages = (host: Host): number =>
  Math.max(0, host.memoryTotalPages - host.memoryOverheadPages - host.placementPages)

/** May be negative only if the accounting is broken; the invariant `hostMemoryNotOvercommitted` says so. */
export const hostPhysicalFreePages = (host: Host): number =>
  host.memoryTotalPages - host.memoryOverheadPages - host.residentPages - host.reservedPages

/**
 * XAPI's overhead: extra + shadow + 38 pages per vCPU (ocaml/xapi-idl/memory/memory.ml). We take the
 * shadow allocation as one page per 256 pages of static max (XAPI's default multiplier gives about that).
 */
export const defaultVmOverheadPages = (vcpus: number, staticMaxPages: number): number =>
  38 * vcpus + Math.ceil(staticMaxPages / 256)

/**
 * A host must leave room for guests: its overhead (Xen + dom0) below its total memory. An overhead of all
 * of it or more leaves a host that can never take a VM and whose free memory is zero or less. Undefined
 * when the host is possible.
 */
export const hostOverheadProblem = (memoryTotalPages: number, memoryOverheadPages: number): string | undefined =>
  memoryOverheadPages < memoryTotalPages
    ? undefined
    : `an overhead below the host's memory (${memoryTotalPages} pages), leaving room for VMs`

/** XAPI's admission rule on an empty host: the VM's dynamic_min + overhead within total − host overhead. */
export const fitsEmptyHost = (
  host: { readonly memoryTotalPages: number; readonly memoryOverheadPages: number },
  vm: { readonly dynamicMinPages: number; readonly overheadPages: number }
): boolean => vm.dynamicMinPages + vm.overheadPages <= host.memoryTotalPages - host.memoryOverheadPages

/** The chain in order, each with its name in messages (checked on every VM creation: nothing is built). */
const memoryChain: ReadonlyArray<readonly [string, keyof MemoryConstraints]> = [
  ["staticMin", "staticMinPages"],
  ["dynamicMin", "dynamicMinPages"],
  ["target", "targetPages"],
  ["dynamicMax", "dynamicMaxPages"],
  ["staticMax", "staticMaxPages"]
]

/** The one statement of `static_min <= dynamic_min <= target <= dynamic_max <= static_max`; undefined when it holds. */
export const memoryConstraintViolation = (m: MemoryConstraints): string | undefined => {
  for (let i = 1; i < memoryChain.length; i++) {
    const [lowName, lowKey] = memoryChain[i - 1]!
    const [highName, highKey] = memoryChain[i]!
    const low = m[lowKey]
    const high = m[highKey]
    if (low > high) return `${lowName} (${low} pages) > ${highName} (${high} pages)`
  }
  return undefined
}

export type BootCheckError = HostNotLive | HostDisabled | HostNotEnoughFreeMemory

/** Which of XAPI's placement rules the VM breaks on the host (the first), or undefined: the one statement of them. */
const placementRefusal = (host: Host, vm: Vm): "not-live" | "disabled" | "memory" | undefined =>
  !host.live
    ? "not-live"
    : !host.enabled
      ? "disabled"
      : vmPlacementPages(vm) > hostPlacementFreePages(host)
        ? "memory"
        : undefined

/** The physical rule: the host's free frames do not cover what the VM will hold there. */
const physicalRoomShort = (host: Host, vm: Vm): boolean => vmPhysicalPages(vm) > hostPhysicalFreePages(host)

/**
 * XAPI's `assert_can_boot_here` for memory: the host is live, enabled, and its placement free memory
 * covers the VM's dynamic_min + overhead. This is all XAPI checks; the physical room is the squeezer's.
 */
export const checkPlacement = (host: Host, vm: Vm): Either.Either<void, BootCheckError> => {
  switch (placementRefusal(host, vm)) {
    case undefined:
      return Either.void
    case "not-live":
      return Either.left(new HostNotLive({ host: host.id }))
    case "disabled":
      return Either.left(new HostDisabled({ host: host.id }))
    case "memory":
      return Either.left(
        new HostNotEnoughFreeMemory({
          host: host.id,
          vm: vm.id,
          requiredPages: vmPlacementPages(vm),
          availablePages: hostPlacementFreePages(host)
        })
      )
  }
}

/**
 * The host's frames now cover what the VM will hold there (its populated pages + overhead, which is
 * also a migration's reservation). When only this fails, the squeezer can make room (domain/squeezer.ts).
 */
export const checkPhysicalRoom = (host: Host, vm: Vm): Either.Either<void, HostNotEnoughFreeMemory> =>
  physicalRoomShort(host, vm)
    ? Either.left(
        new HostNotEnoughFreeMemory({
          host: host.id,
          vm: vm.id,
          requiredPages: vmPhysicalPages(vm),
          availablePages: hostPhysicalFreePages(host)
        })
      )
    : Either.void

/**
 * `checkCanBootHere` as yes or no, by the same rules, without building the error that carries the
 * evidence: for planners that ask it of every host for every VM (the consolidation controller on 800
 * hosts asks it millions of times a day, and an error with its stack trace costs microseconds).
 */
export const canBootHere = (host: Host, vm: Vm): boolean =>
  placementRefusal(host, vm) === undefined && !physicalRoomShort(host, vm)

/** What `decide` admits: the placement rule, then physical room now. */
export const checkCanBootHere = (host: Host, vm: Vm): Either.Either<void, BootCheckError> => {
  const placement = checkPlacement(host, vm)
  return Either.isLeft(placement) ? placement : checkPhysicalRoom(host, vm)
}

/**
 * Which admission a host is chosen under: `decide`'s (`boot`: `checkCanBootHere`, the placement rule and
 * the physical room) or the squeezer's (`placement`: `checkPlacement` alone, to find the host it should
 * make room on).
 */
export type AdmissionRule = "boot" | "placement"

export const admissionCheck = (rule: AdmissionRule): ((host: Host, vm: Vm) => Either.Either<void, BootCheckError>) =>
  rule === "boot" ? checkCanBootHere : checkPlacement

/**
 * A host's room as two figures, for the indexes that rank hosts by it (domain/roomIndex.ts): its
 * placement-free and physical free pages, or none at all (-∞ both) when it is not live or not enabled.
 * A host admits a VM under a rule exactly when its room covers `vmRoomNeeded` (`roomCovers`): the
 * rules above as two comparisons, which test/domain/memory.test.ts holds to `admissionCheck`.
 */
export interface Room {
  readonly placementFreePages: number
  readonly physicalFreePages: number
}

const NO_ROOM: Room = { placementFreePages: -Infinity, physicalFreePages: -Infinity }

export const hostRoom = (host: Host): Room =>
  host.live && host.enabled
    ? { placementFreePages: hostPlacementFreePages(host), physicalFreePages: hostPhysicalFreePages(host) }
    : NO_ROOM

/** What the VM needs of a host's room under `rule`: the placement rule asks nothing of the physical room. */
export const vmRoomNeeded = (vm: Vm, rule: AdmissionRule): Room => ({
  placementFreePages: vmPlacementPages(vm),
  physicalFreePages: rule === "boot" ? vmPhysicalPages(vm) : -Infinity
})

export const roomCovers = (room: Room, needed: Room): boolean =>
  room.placementFreePages >= needed.placementFreePages && room.physicalFreePages >= needed.physicalFreePages

/**
 * Of `hosts`, the first with the most placement-free memory among those whose room covers `needed`;
 * undefined when none does. A scan: the live pool answers the same from its index (`roomiestHost`).
 */
export const roomiestOf = (hosts: Iterable<Host>, needed: Room): Host | undefined => {
  let best: Host | undefined
  let bestFreePages = -Infinity
  for (const host of hosts) {
    const room = hostRoom(host)
    if (!roomCovers(room, needed)) continue
    if (best === undefined || room.placementFreePages > bestFreePages) {
      best = host
      bestFreePages = room.placementFreePages
    }
  }
  return best
}
