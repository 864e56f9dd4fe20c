/**
 * Limits on what a pool may hold, each with the source it comes from, checked wherever a pool is
 * defined (scenario, trace header and records, `decide`).
 */

/**
 * vCPUs of one VM. XAPI's own check, `validate_vcpus` (ocaml/xapi/xapi_vm_helpers.ml), asks only
 * `0 < VCPUs_at_startup <= VCPUs_max`; the ceiling is the hypervisor's: `HVM_MAX_VCPUS 128`, "Maximum we
 * can support with current vLAPIC ID mapping" (xen/include/public/hvm/hvm_info_table.h), which a VM
 * build with more reaches and fails on. XCP-ng states the same 128 as its HVM guest maximum.
 */
export const VCPUS_MAX = 128

/** What a VM's vCPU count must be, in the words of every error about one. */
export const VCPUS_EXPECTED = `1 to ${VCPUS_MAX} vCPUs (Xen's HVM_MAX_VCPUS)`

export const isVcpuCount = (n: number): boolean => Number.isSafeInteger(n) && n >= 1 && n <= VCPUS_MAX
