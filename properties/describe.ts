/** A generated scenario in words, for the counterexample a failing property prints. */
import { formatDurationUs } from "../domain/units.js"
import type { ScenarioJson } from "./arbitraries.js"

interface HostJson {
  readonly id: string
  readonly memory: string
  readonly overhead: string
  readonly nic: string
}
interface VmJson {
  readonly id: string
  readonly vcpus: number
  readonly memory: { readonly dynamicMin: string; readonly target: string; readonly dynamicMax: string }
  readonly host?: string
  readonly start: boolean
  readonly workload?: {
    readonly model: string
    readonly writer?: string
    readonly dirtyRate: string
    readonly workingSet?: string
  }
}
interface OpJson {
  readonly at: string
  readonly op: string
  readonly [field: string]: unknown
}

const usOf = (at: string): number => Number(at.replace("us", ""))

const operationInWords = (op: OpJson): string => {
  const { at: _at, op: name, ...rest } = op
  const args = Object.entries(rest).map(([k, v]) => (k === "vm" || k === "host" ? String(v) : `${k} ${String(v)}`))
  if (name === "migrate") return `migrate ${String(op.vm)} → ${String(op.to)}`
  return [name, ...args].join(" ")
}

export const describeScenario = (json: ScenarioJson): string => {
  const hosts = json.hosts as ReadonlyArray<HostJson>
  const vms = json.vms as ReadonlyArray<VmJson>
  const schedule = json.schedule as ReadonlyArray<OpJson>
  const policy = typeof json.policy === "string" ? json.policy : JSON.stringify(json.policy)
  const lines = [
    `seed ${String(json.seed)}, policy ${policy}, link latency ${(json.pool as { linkLatency: string }).linkLatency}; ${String(json.description ?? "")}`,
    `hosts: ${hosts.map((h) => `${h.id} (${h.memory}, overhead ${h.overhead}, ${h.nic})`).join("; ")}`,
    ...vms.map((v) => {
      const w = v.workload
      const work = w
        ? `${w.model}${w.writer ? `/${w.writer}` : ""} ${w.dirtyRate} over ${w.workingSet ?? "all"}`
        : "idle"
      const m = v.memory
      return `VM ${v.id}: ${v.vcpus} vCPU, memory min ${m.dynamicMin} / target ${m.target} / max ${m.dynamicMax}, ${work}, ${v.start ? `started on ${v.host ?? "a host the pool picks"}` : "halted"}`
    }),
    "schedule:",
    ...schedule.map((op) => `  ${formatDurationUs(usOf(op.at))}: ${operationInWords(op)}`)
  ]
  return lines.join("\n")
}
