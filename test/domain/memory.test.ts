/**
 * `canBootHere` is `checkCanBootHere` without its error: for every host and VM, yes exactly when the
 * checker finds nothing to refuse (the planners ask the first, `decide` the second: they must agree).
 * A host's room (`hostRoom`, the figures the live pool ranks hosts by) covers what a VM needs under a
 * rule exactly when that rule's check admits the VM.
 */
import { Either } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { hostId, vmId } from "../../domain/ids.js"
import {
  admissionCheck,
  canBootHere,
  checkCanBootHere,
  hostRoom,
  roomCovers,
  vmRoomNeeded
} from "../../domain/memory.js"
import type { Host, Vm } from "../../domain/state.js"

/** Hosts and VMs around the edges of the rules: free memory near what the VM needs, either way. */
const caseArb = fc.record({
  live: fc.boolean(),
  enabled: fc.boolean(),
  totalPages: fc.integer({ min: 1, max: 4096 }),
  overheadPages: fc.integer({ min: 0, max: 512 }),
  placementPages: fc.integer({ min: 0, max: 4096 }),
  residentPages: fc.integer({ min: 0, max: 4096 }),
  reservedPages: fc.integer({ min: 0, max: 1024 }),
  dynamicMinPages: fc.integer({ min: 0, max: 2048 }),
  populatedPages: fc.integer({ min: 0, max: 2048 }),
  vmOverheadPages: fc.integer({ min: 0, max: 64 })
})

type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never

const hostOf = (c: Case): Host => ({
  id: hostId("h1"),
  memoryTotalPages: c.totalPages,
  memoryOverheadPages: c.overheadPages,
  nicBandwidthBytesPerS: 1,
  cpus: 1,
  enabled: c.enabled,
  live: c.live,
  nextDomid: 1,
  residentPages: c.residentPages,
  reservedPages: c.reservedPages,
  placementPages: c.placementPages
})

const vmOf = (c: Case): Vm => ({
  id: vmId("v1"),
  vcpus: 1,
  memory: {
    staticMinPages: c.dynamicMinPages,
    dynamicMinPages: c.dynamicMinPages,
    targetPages: c.populatedPages,
    dynamicMaxPages: Math.max(c.dynamicMinPages, c.populatedPages),
    staticMaxPages: Math.max(1, c.dynamicMinPages, c.populatedPages)
  },
  overheadPages: c.vmOverheadPages,
  powerState: "Halted",
  residentOn: undefined,
  scheduledToBeResidentOn: undefined,
  domid: -1,
  currentOperation: undefined,
  migration: undefined,
  guestPages: c.populatedPages,
  populatedPages: c.populatedPages,
  pagedOutPages: 0,
  pagingTargetPages: undefined,
  blockedOperations: [],
  ha: undefined
})

describe("canBootHere", () => {
  it("agrees with checkCanBootHere on every host and VM", () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        expect(canBootHere(hostOf(c), vmOf(c))).toBe(Either.isRight(checkCanBootHere(hostOf(c), vmOf(c))))
      }),
      { numRuns: 2_000 }
    )
  })
})

describe("hostRoom", () => {
  it("covers what a VM needs under a rule exactly when the rule's check admits it", () => {
    fc.assert(
      fc.property(caseArb, fc.constantFrom("boot" as const, "placement" as const), (c, rule) => {
        const admitted = Either.isRight(admissionCheck(rule)(hostOf(c), vmOf(c)))
        expect(roomCovers(hostRoom(hostOf(c)), vmRoomNeeded(vmOf(c), rule))).toBe(admitted)
      }),
      { numRuns: 2_000 }
    )
  })
})
