/**
 * fast-check arbitraries for generated pools, VMs, workloads, schedules and faults, built as scenario
 * JSON (`xenpool-scenario` v1). Everything generated here has a trace record, so `xenpool check` writes
 * a counterexample as a trace that `xenpool replay` reproduces (simulations/trace/fromScenario.ts).
 *
 * Swarm testing (TigerBeetle's VOPR, Groce et al.): each case first draws a `Swarm`, which switches
 * whole fault kinds, workload kinds and policies on or off; the rest of the case only uses what is on.
 * Everything is drawn unconditionally and filtered by the swarm afterwards (`map`, never `chain`), so
 * that a counterexample shrinks cleanly.
 *
 * Units and limits: memory in pages of 4 KiB (VMs) or MiB (hosts), rates with units, times in µs. The
 * sizes are small on purpose (hosts of 512 MiB-2 GiB, VMs of 8-512 MiB on 1-10 Gbit/s links) so that a run
 * takes milliseconds, while still letting VMs fail to fit (a full pool: each VM alone fits some empty host,
 * as an input must), migrations fail to converge and links share.
 */
import fc from "fast-check"
import { defaultVmOverheadPages, fitsEmptyHost } from "../domain/memory.js"

const PAGES_PER_MIB = 256

/** The safety phase: every scheduled operation and fault falls in [0, SAFETY_PHASE_US). */
const SAFETY_PHASE_US = 8_000_000
/** The healed phase starts here: every host recovered and enabled, every link restored. */
export const HEAL_AT_US = SAFETY_PHASE_US + 1
/** Generated scenarios never run this long; reaching it is a liveness failure, not a stop. */
const SIMULATED_US_MAX = 3_600_000_000
const EVENTS_MAX = 200_000

const faultKinds = ["host-fail", "link-fail", "link-slow", "host-disable", "vm-lifecycle", "paging"] as const
type FaultKind = (typeof faultKinds)[number]
const workloadKinds = ["idle", "rate", "pages-uniform", "pages-hot-cold"] as const
type WorkloadKind = (typeof workloadKinds)[number]
const policyKinds = ["xen", "xen-legacy", "max-downtime"] as const
type PolicyKind = (typeof policyKinds)[number]

/** Which kinds of faults and workloads one case uses (swarm testing). */
interface Swarm {
  readonly faults: ReadonlyArray<FaultKind>
  readonly workloads: ReadonlyArray<WorkloadKind>
  readonly policy: PolicyKind
}

const swarmArb: fc.Arbitrary<Swarm> = fc.record({
  faults: fc.subarray([...faultKinds]),
  workloads: fc.subarray([...workloadKinds], { minLength: 1 }),
  policy: fc.constantFrom(...policyKinds)
})

// --- hosts and VMs -----------------------------------------------------------------------------

interface HostDraw {
  readonly memoryMiB: number
  readonly overheadMiB: number
  readonly nic: string
}

const hostArb: fc.Arbitrary<HostDraw> = fc.record({
  memoryMiB: fc.constantFrom(512, 768, 1024, 1536, 2048),
  overheadMiB: fc.integer({ min: 16, max: 256 }),
  nic: fc.constantFrom("1Gbit/s", "1Gbit/s", "2500Mbit/s", "10Gbit/s")
})

/** `static_min <= dynamic_min <= target <= dynamic_max <= static_max`, in pages; `broken` swaps two. */
export interface MemoryDraw {
  readonly staticMin: number
  readonly dynamicMin: number
  readonly target: number
  readonly dynamicMax: number
  readonly staticMax: number
}

/** VM memory in pages: a target of 8-64 MiB or 128-512 MiB and slack around it; one draw in 12 violates the chain. */
export const memoryArb: fc.Arbitrary<MemoryDraw> = fc
  .record({
    target: fc.oneof(
      { weight: 2, arbitrary: fc.integer({ min: 8 * PAGES_PER_MIB, max: 64 * PAGES_PER_MIB }) },
      { weight: 1, arbitrary: fc.integer({ min: 128 * PAGES_PER_MIB, max: 512 * PAGES_PER_MIB }) }
    ),
    belowMin: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 32 * PAGES_PER_MIB })),
    belowStatic: fc.integer({ min: 0, max: 4 * PAGES_PER_MIB }),
    aboveMax: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 64 * PAGES_PER_MIB })),
    aboveStatic: fc.integer({ min: 0, max: 16 * PAGES_PER_MIB }),
    broken: fc.integer({ min: 0, max: 11 })
  })
  .map(({ target, belowMin, belowStatic, aboveMax, aboveStatic, broken }) => {
    const dynamicMin = Math.max(1, target - belowMin)
    const m = {
      staticMin: Math.max(1, dynamicMin - belowStatic),
      dynamicMin,
      target,
      dynamicMax: target + aboveMax,
      staticMax: target + aboveMax + aboveStatic
    }
    // A broken chain (dynamic max below target) exercises MemoryConstraintViolation at creation.
    return broken === 0 ? { ...m, dynamicMax: target - 1 } : m
  })

interface WorkloadDraw {
  readonly kind: WorkloadKind
  /** rate: MiB/s; pages: pages/s. */
  readonly rate: number
  readonly workingSetPercent: number
}

const workloadArb: fc.Arbitrary<WorkloadDraw> = fc.record({
  kind: fc.constantFrom(...workloadKinds),
  rate: fc.integer({ min: 0, max: 4 }),
  workingSetPercent: fc.integer({ min: 1, max: 100 })
})

/** Rate choices by index: up to 300 MiB/s (beyond 1 Gbit/s: never converges) or 12,000 pages/s. */
const RATE_MIB_PER_S = [0, 8, 40, 110, 300]
const PAGES_PER_S = [0, 500, 2000, 6000, 12_000]
/** A pages-model VM is capped at 64 MiB so that page-level runs stay cheap. */
const PAGES_MODEL_MAX_PAGES = 64 * PAGES_PER_MIB

interface VmDraw {
  readonly vcpus: number
  readonly memory: MemoryDraw
  /** Index of the host to start on (modulo the host count), or undefined to let the pool place it. */
  readonly host: number | undefined
  readonly start: boolean
  readonly workload: WorkloadDraw
}

const vmArb: fc.Arbitrary<VmDraw> = fc.record({
  vcpus: fc.integer({ min: 1, max: 4 }),
  memory: memoryArb,
  host: fc.option(fc.nat(7), { nil: undefined, freq: 3 }),
  start: fc.oneof({ weight: 6, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  workload: workloadArb
})

// --- schedules ---------------------------------------------------------------------------------

const operationKinds = [
  "migrate",
  "evacuate",
  "disable-host",
  "enable-host",
  "start-vm",
  "shutdown-vm",
  "pause-vm",
  "unpause-vm",
  "suspend-vm",
  "resume-vm",
  "set-memory-target",
  "fail-host",
  "recover-host",
  "fail-link",
  "restore-link",
  "slow-link",
  "set-paging-target",
  "guest-access"
] as const
type OperationKind = (typeof operationKinds)[number]

/** Which swarm fault kind an operation needs; undefined for plain operations. */
const faultOf: Partial<Record<OperationKind, FaultKind>> = {
  "disable-host": "host-disable",
  "enable-host": "host-disable",
  evacuate: "host-disable",
  "fail-host": "host-fail",
  "recover-host": "host-fail",
  "fail-link": "link-fail",
  "restore-link": "link-fail",
  "slow-link": "link-slow",
  "shutdown-vm": "vm-lifecycle",
  "pause-vm": "vm-lifecycle",
  "unpause-vm": "vm-lifecycle",
  "suspend-vm": "vm-lifecycle",
  "resume-vm": "vm-lifecycle",
  "start-vm": "vm-lifecycle",
  "set-paging-target": "paging",
  "guest-access": "paging"
}

interface OperationDraw {
  readonly atUs: number
  readonly kind: OperationKind
  readonly vm: number
  readonly host: number
  /** slow-link percent, set-memory-target share of the VM's target (percent), shutdown: hard? */
  readonly amount: number
  readonly flag: boolean
}

const kindArb: fc.Arbitrary<OperationKind> = fc.oneof(
  { weight: 4, arbitrary: fc.constant<OperationKind>("migrate") },
  {
    weight: 3,
    arbitrary: fc.constantFrom<OperationKind>(
      "fail-host",
      "fail-link",
      "slow-link",
      "evacuate",
      "disable-host",
      "set-paging-target",
      "guest-access"
    )
  },
  { weight: 3, arbitrary: fc.constantFrom<OperationKind>(...operationKinds) }
)

/**
 * Operations cluster in a few bursts (a burst start plus up to 600 ms), so that faults land while
 * migrations started in the same burst are still in flight.
 */
const atUsArb = fc
  .tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 600_000 }))
  .map(([burst, offsetUs]) => Math.min(SAFETY_PHASE_US - 1, burst * 2_000_000 + offsetUs))

const operationArb: fc.Arbitrary<OperationDraw> = fc.record({
  atUs: atUsArb,
  kind: kindArb,
  vm: fc.nat(15),
  host: fc.nat(7),
  amount: fc.integer({ min: 10, max: 150 }),
  flag: fc.boolean()
})

// --- whole cases -------------------------------------------------------------------------------

export interface CaseDraw {
  readonly seed: number
  readonly swarm: Swarm
  readonly latencyUs: number
  readonly maxDowntimeMs: number
  readonly hosts: ReadonlyArray<HostDraw>
  readonly vms: ReadonlyArray<VmDraw>
  readonly schedule: ReadonlyArray<OperationDraw>
}

export interface CaseOptions {
  /** Only these workload kinds, whatever the swarm says (no-lost-writes wants page-level ones). */
  readonly workloads?: ReadonlyArray<WorkloadKind>
  /** These fault kinds on, whatever the swarm says (paging wants the pager). */
  readonly faults?: ReadonlyArray<FaultKind>
  /** Every VM gets a paging target of half its memory at the start, so that migrations move paged VMs. */
  readonly pageOutFirst?: boolean
  readonly maxVms?: number
  readonly maxOperations?: number
}

const caseArb = (options: CaseOptions = {}): fc.Arbitrary<CaseDraw> =>
  fc.record({
    seed: fc.nat(2 ** 31 - 1),
    swarm: swarmArb,
    latencyUs: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 2000 })),
    maxDowntimeMs: fc.integer({ min: 1, max: 300 }),
    hosts: fc.array(hostArb, { minLength: 2, maxLength: 4 }),
    vms: fc.array(vmArb, { minLength: 1, maxLength: options.maxVms ?? 6 }),
    schedule: fc.array(operationArb, { maxLength: options.maxOperations ?? 12 })
  })

export type ScenarioJson = Record<string, unknown>

const hostName = (i: number) => `h${i + 1}`
const vmName = (i: number) => `v${i + 1}`

const workloadJson = (w: WorkloadDraw, kinds: ReadonlyArray<WorkloadKind>): unknown => {
  const kind = kinds.includes(w.kind) ? w.kind : kinds[w.rate % kinds.length]!
  const workingSet = `${w.workingSetPercent}%`
  switch (kind) {
    case "idle":
      return undefined
    case "rate":
      // half of what the working set leaves was never written (zero pages), from the same draw
      return {
        model: "rate",
        dirtyRate: `${RATE_MIB_PER_S[w.rate]!}MiB/s`,
        workingSet,
        ...(w.workingSetPercent <= 98 ? { untouched: `${Math.floor((100 - w.workingSetPercent) / 2)}%` } : {})
      }
    case "pages-uniform":
    case "pages-hot-cold":
      return {
        model: "pages",
        writer: kind === "pages-uniform" ? "uniform" : "hot-cold",
        dirtyRate: `${PAGES_PER_S[w.rate]!}pages/s`,
        workingSet
      }
  }
}

const memoryJson = (m: MemoryDraw, capPages: number) => {
  const scale = m.staticMax > capPages ? capPages / m.staticMax : 1
  const pages = (n: number) => `${Math.max(1, Math.floor(n * scale))}pages`
  return {
    staticMin: pages(m.staticMin),
    dynamicMin: pages(m.dynamicMin),
    target: pages(m.target),
    dynamicMax: pages(m.dynamicMax),
    staticMax: pages(m.staticMax)
  }
}

/**
 * A VM's memory as drawn, scaled down only if it would fit no host of the pool even when empty: a
 * scenario with such a VM is refused as input (simulations/compile.ts), and a generated one must compile.
 * With static max at most `fitPages`, dynamic min + XAPI's overhead is within the roomiest host's room.
 */
const fittedMemoryJson = (m: MemoryDraw, capPages: number, vcpus: number, roomPages: number) => {
  const drawn = memoryJson(m, capPages)
  const vm = {
    dynamicMinPages: targetPagesOf({ target: drawn.dynamicMin }),
    overheadPages: defaultVmOverheadPages(vcpus, targetPagesOf({ target: drawn.staticMax }))
  }
  if (fitsEmptyHost({ memoryTotalPages: roomPages, memoryOverheadPages: 0 }, vm)) return drawn
  // dynamic min <= static max <= fitPages, and the overhead is 38 per vCPU + ceil(static max / 256)
  const fitPages = Math.floor(((roomPages - 38 * vcpus - 1) * 256) / 257)
  return memoryJson(m, Math.min(capPages, fitPages))
}

const policyJson = (draw: CaseDraw): unknown => {
  // a third of the cases run the pure model (no setup or stop-and-copy parts), read off the seed so that
  // the draws of every other case stay as they were
  const pure = draw.seed % 3 === 0
  switch (draw.swarm.policy) {
    case "xen":
    case "xen-legacy":
      return pure ? { name: draw.swarm.policy, phases: "none" } : draw.swarm.policy
    case "max-downtime":
      // A small round cap keeps a non-converging max-downtime migration cheap (the default is 10,000).
      return {
        name: "max-downtime",
        maxDowntime: `${draw.maxDowntimeMs}ms`,
        roundsMax: MAX_DOWNTIME_ROUNDS_MAX,
        ...(pure ? { phases: "none" } : {})
      }
  }
}

/** The round cap generated max-downtime policies use. */
export const MAX_DOWNTIME_ROUNDS_MAX = 30

const operationJson = (op: OperationDraw, draw: CaseDraw, targets: ReadonlyArray<number>): unknown => {
  const at = `${op.atUs}us`
  const vm = vmName(op.vm % draw.vms.length)
  const host = hostName(op.host % draw.hosts.length)
  switch (op.kind) {
    case "migrate":
      return { at, op: "migrate", vm, to: host }
    case "evacuate":
      return { at, op: "evacuate", host }
    case "disable-host":
    case "enable-host":
    case "fail-host":
    case "recover-host":
    case "fail-link":
    case "restore-link":
      return { at, op: op.kind, host }
    case "slow-link":
      return { at, op: "slow-link", host, percent: Math.min(100, op.amount) }
    case "start-vm":
      return op.flag ? { at, op: "start-vm", vm, host } : { at, op: "start-vm", vm }
    case "shutdown-vm":
      return { at, op: "shutdown-vm", vm, hard: op.flag }
    case "resume-vm":
      return op.flag ? { at, op: "resume-vm", vm, host } : { at, op: "resume-vm", vm }
    case "pause-vm":
    case "unpause-vm":
    case "suspend-vm":
      return { at, op: op.kind, vm }
    case "set-paging-target": {
      // A share of the VM's target (10-100 %): below it, the pager evicts down to it.
      const target = targets[op.vm % draw.vms.length]!
      return {
        at,
        op: "set-paging-target",
        vm,
        target: `${Math.max(0, Math.floor((target * Math.min(100, op.amount)) / 100))}pages`
      }
    }
    case "guest-access":
      return { at, op: "guest-access", vm, random: op.amount * 20 }
    case "set-memory-target": {
      const target = targets[op.vm % draw.vms.length]!
      return { at, op: "set-memory-target", vm, target: `${Math.max(1, Math.floor((target * op.amount) / 100))}pages` }
    }
  }
}

const targetPagesOf = (json: { target: string }): number => Number(json.target.replace("pages", ""))

/**
 * The scenario a case describes: the safety phase's schedule (only the swarm's kinds), then, at
 * `HEAL_AT_US`, every host recovered and enabled and every link restored.
 */
const scenarioOf = (draw: CaseDraw, options: CaseOptions = {}): ScenarioJson => {
  const kinds = options.workloads ?? draw.swarm.workloads
  const roomPages = Math.max(...draw.hosts.map((h) => (h.memoryMiB - h.overheadMiB) * PAGES_PER_MIB))
  const vms = draw.vms.map((v, i) => {
    const workload = workloadJson(v.workload, kinds)
    const pages = typeof workload === "object" && (workload as { model: string }).model === "pages"
    const memory = fittedMemoryJson(
      v.memory,
      pages ? PAGES_MODEL_MAX_PAGES : Number.MAX_SAFE_INTEGER,
      v.vcpus,
      roomPages
    )
    return {
      id: vmName(i),
      vcpus: v.vcpus,
      memory,
      ...(v.host === undefined ? {} : { host: hostName(v.host % draw.hosts.length) }),
      start: v.start,
      ...(workload === undefined ? {} : { workload })
    }
  })
  const targets = vms.map((v) => targetPagesOf(v.memory))
  const allowed = (op: OperationDraw) => {
    const fault = faultOf[op.kind]
    return fault === undefined || draw.swarm.faults.includes(fault) || (options.faults ?? []).includes(fault)
  }
  const schedule = draw.schedule
    .filter(allowed)
    .slice()
    .sort((a, b) => a.atUs - b.atUs)
    .map((op) => operationJson(op, draw, targets))
  const pageOut = options.pageOutFirst
    ? vms.map((v, i) => ({
        at: "1us",
        op: "set-paging-target",
        vm: v.id,
        target: `${Math.floor(targets[i]! / 2)}pages`
      }))
    : []
  const heal = draw.hosts.flatMap((_, i) => [
    { at: `${HEAL_AT_US}us`, op: "recover-host", host: hostName(i) },
    { at: `${HEAL_AT_US}us`, op: "enable-host", host: hostName(i) },
    { at: `${HEAL_AT_US}us`, op: "restore-link", host: hostName(i) }
  ])
  return {
    format: "xenpool-scenario",
    version: 1,
    name: "generated",
    description: `swarm: faults [${draw.swarm.faults.join(", ")}], workloads [${kinds.join(", ")}]`,
    seed: draw.seed,
    pool: { id: "check", pageSize: "4KiB", linkLatency: `${draw.latencyUs}us` },
    policy: policyJson(draw),
    hosts: draw.hosts.map((h, i) => ({
      id: hostName(i),
      memory: `${h.memoryMiB}MiB`,
      overhead: `${h.overheadMiB}MiB`,
      nic: h.nic,
      cpus: 16
    })),
    vms,
    schedule: [...pageOut, ...schedule, ...heal],
    limits: { simulatedTime: `${SIMULATED_US_MAX}us`, events: EVENTS_MAX }
  }
}

/** A case and its scenario, as the engine properties draw them. */
export const scenarioArb = (options: CaseOptions = {}): fc.Arbitrary<ScenarioJson> =>
  caseArb(options).map((draw) => scenarioOf(draw, options))
