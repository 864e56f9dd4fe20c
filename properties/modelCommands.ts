/**
 * The commands of the model-based test: what each draws (indices, not ids: fast-check's commands do
 * not see the model when they are generated, #250), and how a draw resolves against the reference
 * model into a domain command, with the model's own verdict on it. Indices that point nowhere (15 for
 * a VM, 7 for a host or migration) give commands the pool must refuse.
 */
import fc from "fast-check"
import type { PoolCommand } from "../domain/commands.js"
import { hostId, migrationId, vmId } from "../domain/ids.js"
import { memoryArb, type MemoryDraw } from "./arbitraries.js"
import { constraintsHold, PoolModel, vmOverheadPages, type ModelVm, type Outcome } from "./model.js"

const PAGES_PER_MIB = 256

const stepKinds = [
  "join-host",
  "create-vm",
  "start-vm",
  "start-vm-on",
  "pause",
  "unpause",
  "suspend",
  "resume",
  "resume-on",
  "clean-shutdown",
  "hard-shutdown",
  "destroy",
  "set-target",
  "enable-host",
  "disable-host",
  "fail-host",
  "recover-host",
  "start-migration",
  "live-round",
  "stop-and-copy",
  "paused-round",
  "commit",
  "abort",
  "advance-migration"
] as const
type StepKind = (typeof stepKinds)[number]

export interface StepDraw {
  readonly kind: StepKind
  /** Index into the model's VMs (15: a VM that does not exist). */
  readonly vm: number
  /** Index into the model's hosts (7: a host that does not exist). */
  readonly host: number
  /** Index into the model's migrations in flight (7: one that does not exist). */
  readonly migration: number
  /** 10-150: a new memory target in percent of the old, a host's overhead in MiB, a round's pages. */
  readonly amount: number
  readonly flag: boolean
  readonly vcpus: number
  readonly memory: MemoryDraw
  readonly blocked: string | undefined
  readonly hostMemoryMiB: number
}

const kindArb: fc.Arbitrary<StepKind> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom<StepKind>("create-vm", "start-vm", "start-migration", "advance-migration") },
  { weight: 2, arbitrary: fc.constantFrom<StepKind>("stop-and-copy", "paused-round", "commit", "start-vm-on") },
  { weight: 2, arbitrary: fc.constantFrom<StepKind>(...stepKinds) }
)

export const stepDrawArb: fc.Arbitrary<StepDraw> = fc.record({
  kind: kindArb,
  vm: fc.nat(15),
  host: fc.nat(7),
  migration: fc.nat(7),
  amount: fc.integer({ min: 10, max: 150 }),
  flag: fc.boolean(),
  vcpus: fc.integer({ min: 1, max: 4 }),
  memory: memoryArb,
  blocked: fc.oneof(
    { weight: 15, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.constantFrom("start", "pool_migrate", "pause", "hard_shutdown", "set_memory_target") }
  ),
  hostMemoryMiB: fc.constantFrom(512, 1024, 2048)
})

export interface HostSetup {
  readonly memoryMiB: number
  readonly overheadMiB: number
}

export const hostSetupArb: fc.Arbitrary<ReadonlyArray<HostSetup>> = fc.array(
  fc.record({ memoryMiB: fc.constantFrom(512, 768, 1024, 2048), overheadMiB: fc.integer({ min: 16, max: 128 }) }),
  { minLength: 2, maxLength: 4 }
)

// --- resolving a draw against the model -----------------------------------------------------------

export interface Planned {
  readonly command: PoolCommand
  readonly text: string
  /** Checks the command in the model and, when it is allowed, applies it; returns the outcome. */
  readonly apply: () => Outcome
}

const pickVm = (model: PoolModel, i: number): ModelVm | undefined => {
  const list = model.vmList()
  return i === 15 || list.length === 0 ? undefined : list[i % list.length]
}
const pickHostId = (model: PoolModel, i: number): string => {
  const list = model.hostList()
  return i === 7 || list.length === 0 ? "h-none" : list[i % list.length]!.id
}

/** Lifecycle of one VM: the operation's name in XAPI's table and what it does when allowed. */
const vmStep = (model: PoolModel, d: StepDraw): Planned => {
  const vm = pickVm(model, d.vm)
  const id = vmId(vm?.id ?? "v-none")
  const named = d.kind === "start-vm-on" || d.kind === "resume-on" ? pickHostId(model, d.host) : undefined
  const at = { atUs: 0 }
  const boot = (operation: string, paused: boolean) => () => {
    const checked = model.vmCheck(vm, operation)
    if (checked !== "ok") return checked
    const placed = model.place(vm!, named)
    if (placed.outcome === "ok") model.boot(vm!, placed.host!, paused ? "Paused" : "Running")
    return placed.outcome
  }
  const simple = (operation: string, change: (v: ModelVm) => void) => () => {
    const checked = model.vmCheck(vm, operation)
    if (checked === "ok") change(vm!)
    return checked
  }
  const host = named === undefined ? {} : { host: hostId(named) }
  switch (d.kind) {
    case "start-vm":
    case "start-vm-on":
      return {
        command: { _tag: "StartVm", ...at, vm: id, ...host, paused: d.flag },
        text: `start ${id}${named ? ` on ${named}` : ""}${d.flag ? " paused" : ""}`,
        apply: boot(named ? "start_on" : "start", d.flag)
      }
    case "resume":
    case "resume-on":
      return {
        command: { _tag: "ResumeVm", ...at, vm: id, ...host },
        text: `resume ${id}${named ? ` on ${named}` : ""}`,
        apply: boot(named ? "resume_on" : "resume", false)
      }
    case "pause":
      return {
        command: { _tag: "PauseVm", ...at, vm: id },
        text: `pause ${id}`,
        apply: simple("pause", (v) => (v.power = "Paused"))
      }
    case "unpause":
      return {
        command: { _tag: "UnpauseVm", ...at, vm: id },
        text: `unpause ${id}`,
        apply: simple("unpause", (v) => (v.power = "Running"))
      }
    case "suspend":
      return {
        command: { _tag: "SuspendVm", ...at, vm: id },
        text: `suspend ${id}`,
        apply: simple("suspend", (v) => model.leaveHost(v, "Suspended"))
      }
    case "clean-shutdown":
    case "hard-shutdown": {
      const hard = d.kind === "hard-shutdown"
      return {
        command: { _tag: "ShutdownVm", ...at, vm: id, mode: hard ? "hard" : "clean" },
        text: `${hard ? "hard" : "clean"} shutdown ${id}`,
        apply: simple(hard ? "hard_shutdown" : "clean_shutdown", (v) => {
          if (v.migration !== undefined) model.endEarly(model.migrations.get(v.migration)!)
          model.leaveHost(v, "Halted")
        })
      }
    }
    case "destroy":
      return {
        command: { _tag: "DestroyVm", ...at, vm: id },
        text: `destroy ${id}`,
        apply: simple("destroy", (v) => model.vms.delete(v.id))
      }
    default:
      return setTarget(model, d, vm)
  }
}

const setTarget = (model: PoolModel, d: StepDraw, vm: ModelVm | undefined): Planned => {
  const target = Math.floor(((vm?.target ?? 4096) * d.amount) / 100)
  const id = vmId(vm?.id ?? "v-none")
  return {
    command: { _tag: "SetMemoryTarget", atUs: 0, vm: id, targetPages: target },
    text: `set ${id}'s memory target to ${target} pages`,
    apply: () => {
      const checked = model.vmCheck(vm, "set_memory_target")
      if (checked !== "ok") return checked
      if (!constraintsHold({ ...vm!, target })) return "MemoryConstraintViolation"
      const host = vm!.residentOn === undefined ? undefined : model.hosts.get(vm!.residentOn)
      // A running domain's balloon takes its growth from the host's free frames.
      if (host && target - vm!.guest > model.physicalFree(host)) return "HostNotEnoughFreeMemory"
      vm!.target = target
      if (!host) vm!.guest = target
      return "ok"
    }
  }
}

const createVm = (model: PoolModel, d: StepDraw): Planned => {
  const id = `v${d.vm}`
  const m = d.memory
  const overheadPages = d.flag ? d.amount : vmOverheadPages(d.vcpus, m.staticMax)
  const blocked = d.blocked === undefined ? [] : [d.blocked]
  return {
    command: {
      _tag: "CreateVm",
      atUs: 0,
      vm: vmId(id),
      vcpus: d.vcpus,
      memoryStaticMinPages: m.staticMin,
      memoryDynamicMinPages: m.dynamicMin,
      memoryTargetPages: m.target,
      memoryDynamicMaxPages: m.dynamicMax,
      memoryStaticMaxPages: m.staticMax,
      ...(d.flag ? { memoryOverheadPages: overheadPages } : {}),
      blockedOperations: blocked
    },
    text: `create ${id} (${d.vcpus} vCPU, ${m.staticMin}/${m.dynamicMin}/${m.target}/${m.dynamicMax}/${m.staticMax} pages${blocked.length ? `, blocked ${blocked[0]}` : ""})`,
    apply: () => {
      if (model.vms.has(id)) return "VmAlreadyExists"
      if (!constraintsHold(m)) return "MemoryConstraintViolation"
      model.vms.set(id, {
        id,
        vcpus: d.vcpus,
        ...m,
        guest: m.target,
        overheadPages,
        blocked,
        power: "Halted",
        residentOn: undefined,
        scheduledOn: undefined,
        domid: -1,
        migration: undefined
      })
      return "ok"
    }
  }
}

const hostStep = (model: PoolModel, d: StepDraw): Planned => {
  if (d.kind === "join-host") {
    const id = `h${d.host + 1}`
    const overheadPages = d.amount * PAGES_PER_MIB
    const totalPages = d.hostMemoryMiB * PAGES_PER_MIB
    return {
      command: {
        _tag: "JoinHost",
        atUs: 0,
        host: hostId(id),
        memoryTotalPages: totalPages,
        memoryOverheadPages: overheadPages,
        nicBandwidthBytesPerS: 125_000_000,
        cpus: 16
      },
      text: `join ${id} (${d.hostMemoryMiB} MiB, overhead ${d.amount} MiB)`,
      apply: () => {
        if (model.hosts.has(id)) return "HostAlreadyExists"
        model.hosts.set(id, { id, totalPages, overheadPages, enabled: true, live: true, nextDomid: 1 })
        return "ok"
      }
    }
  }
  const id = pickHostId(model, d.host)
  const tag = (
    {
      "enable-host": "EnableHost",
      "disable-host": "DisableHost",
      "fail-host": "FailHost",
      "recover-host": "RecoverHost"
    } as const
  )[d.kind as "enable-host" | "disable-host" | "fail-host" | "recover-host"]
  return {
    command: { _tag: tag, atUs: 0, host: hostId(id) },
    text: `${d.kind.replace("-host", "")} ${id}`,
    apply: () => {
      const h = model.hosts.get(id)
      if (!h) return "HostUnknown"
      if (tag === "EnableHost") {
        if (!h.live) return "HostNotLive"
        h.enabled = true
      } else if (tag === "DisableHost") h.enabled = false
      else if (tag === "FailHost") model.failHost(h)
      else h.live = true
      return "ok"
    }
  }
}

let migrationIds = 0

/** Migration ids restart with every run (`m1`, `m2`, ...): the model and the pool get the same ones. */
export const resetMigrationIds = (): void => {
  migrationIds = 0
}

const startMigration = (model: PoolModel, d: StepDraw): Planned => {
  const vm = pickVm(model, d.vm)
  const destination = pickHostId(model, d.host)
  const id = `m${++migrationIds}`
  return {
    command: {
      _tag: "StartMigration",
      atUs: 0,
      migration: migrationId(id),
      vm: vmId(vm?.id ?? "v-none"),
      destination: hostId(destination),
      policy: "xen"
    },
    text: `migrate ${vm?.id ?? "v-none"} to ${destination} (${id})`,
    apply: () => {
      const checked = model.vmCheck(vm, "pool_migrate")
      if (checked !== "ok") return checked
      const h = model.hosts.get(destination)
      if (!h) return "HostUnknown"
      if (vm!.residentOn === destination) return "MigrationFailed"
      const boot = model.canBoot(h, vm!)
      if (boot !== "ok") return boot
      model.migrations.set(id, {
        id,
        vm: vm!.id,
        source: vm!.residentOn!,
        destination,
        phase: "reserved",
        rounds: 0,
        reservedPages: vm!.guest + vm!.overheadPages
      })
      vm!.scheduledOn = destination
      vm!.migration = id
      return "ok"
    }
  }
}

/** A step of a migration in flight: a round, the pause, the commit or an abort. */
const migrationStep = (model: PoolModel, d: StepDraw): Planned => {
  const list = model.migrationList()
  const m = d.migration === 7 || list.length === 0 ? undefined : list[d.migration % list.length]
  const id = m?.id ?? "m-none"
  const migration = migrationId(id)
  const round = (m?.rounds ?? 0) + (d.flag && d.amount % 5 === 0 ? 2 : 1)
  const inPhase = (phases: ReadonlyArray<string>, change: () => Outcome) => () => {
    if (!m) return "MigrationUnknown"
    if (!phases.includes(m.phase)) return "MigrationBadPhase"
    return change()
  }
  const roundOf = (live: boolean): Planned => ({
    command: {
      _tag: "CompleteMigrationRound",
      atUs: 0,
      migration,
      round,
      live,
      pagesSent: d.amount,
      pagesSkipped: 0,
      bytesSent: d.amount * 4096,
      pagesDirtied: d.amount,
      durationUs: d.amount
    },
    text: `${id}: ${live ? "live" : "paused"} round ${round}`,
    apply: inPhase(live ? ["reserved", "precopy"] : ["stop-and-copy"], () => {
      if (round !== m!.rounds + 1) return "MigrationBadPhase"
      m!.rounds = round
      m!.phase = live ? "precopy" : "committing"
      return "ok"
    })
  })
  switch (d.kind) {
    case "live-round":
      return roundOf(true)
    case "paused-round":
      return roundOf(false)
    case "stop-and-copy":
      return {
        command: { _tag: "BeginStopAndCopy", atUs: 0, migration, reason: "check" },
        text: `${id}: stop and copy`,
        apply: inPhase(["reserved", "precopy"], () => ((m!.phase = "stop-and-copy"), "ok"))
      }
    case "commit":
      return {
        command: { _tag: "CommitMigration", atUs: 0, migration },
        text: `${id}: commit`,
        apply: inPhase(["committing"], () => {
          if (!model.hosts.get(m!.destination)!.live) return "MigrationFailed"
          model.commit(m!)
          return "ok"
        })
      }
    default:
      return {
        command: { _tag: "AbortMigration", atUs: 0, migration, reason: "check" },
        text: `${id}: abort`,
        apply: inPhase(["reserved", "precopy", "stop-and-copy"], () => (model.endMigration(m!), "ok"))
      }
  }
}

/** The next legal step of the chosen migration: a live round or the pause, the paused round, the commit. */
const advance = (model: PoolModel, d: StepDraw): StepDraw => {
  const list = model.migrationList()
  const m = list.length === 0 ? undefined : list[d.migration % list.length]
  const next: StepKind =
    m === undefined || m.phase === "reserved" || m.phase === "precopy"
      ? d.flag
        ? "live-round"
        : "stop-and-copy"
      : m.phase === "stop-and-copy"
        ? "paused-round"
        : "commit"
  return { ...d, kind: next, migration: d.migration % 7, flag: false }
}

export const plan = (model: PoolModel, d: StepDraw): Planned => {
  switch (d.kind) {
    case "advance-migration":
      return migrationStep(model, advance(model, d))
    case "create-vm":
      return createVm(model, d)
    case "join-host":
    case "enable-host":
    case "disable-host":
    case "fail-host":
    case "recover-host":
      return hostStep(model, d)
    case "start-migration":
      return startMigration(model, d)
    case "live-round":
    case "paused-round":
    case "stop-and-copy":
    case "commit":
    case "abort":
      return migrationStep(model, d)
    default:
      return vmStep(model, d)
  }
}
