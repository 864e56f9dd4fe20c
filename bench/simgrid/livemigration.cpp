/*
 * SimGrid's peer of xenpool's `engine.migration.rate.single` figure (bench/migration.ts, bench/simgrid.ts):
 * one VM migrated back and forth between two hosts by SimGrid's VM live-migration plugin.
 *
 *   livemigration time|observe PLATFORM MIGRATIONS MEMORY_BYTES BANDWIDTH_BYTES_PER_S DIRTY_RATE_BYTES_PER_S
 *                 WORKING_SET_BYTES
 *
 * prints one JSON object on stdout, with the SimGrid version and:
 * - `time`: MIGRATIONS migrations in one process, timed inside it around the loop (std::chrono), after a
 *   few untimed ones, with nothing of the driver's listening: the plugin's cost per migration, not the
 *   process start or the platform load (`setupS`, printed apart);
 * - `observe`: one migration as SimGrid simulated it: its simulated time, the time the VM was suspended,
 *   the bytes that crossed the link (SimGrid's link-load plugin) and the plugin's transfers (rounds).
 *   The instruments stay out of `time`'s process.
 *
 * How the workload maps onto the plugin (SimGrid 3.32, src/plugins/vm/VmLiveMigration.cpp):
 * - the plugin dirties `computed flops × migration speed × intensity / host speed` bytes during a round,
 *   capped at the working set, where the computed flops are those of the executions running in the VM.
 *   A busy loop (one execution that never ends) keeps the VM's one core at the host's full speed, so the
 *   dirty rate is `migration speed × intensity`: intensity = dirty rate / bandwidth.
 * - the migration speed is the link's bandwidth, and the network model is CM02 without cross-traffic, so
 *   a transfer of n bytes takes n / bandwidth seconds (LV08, the default, would run at 97% of it).
 * - the loop is the plugin's own (QEMU's): a full copy, then rounds until what is left fits in the
 *   maximum downtime (30 ms, which 3.32 has no setter for) at the bandwidth the last round measured.
 * - actors run on 256 KiB stacks, not SimGrid's default 8 MiB: the plugin starts two actors per migration,
 *   and with 8 MiB stacks mapping, faulting in and unmapping them is about 80% of its time (perf; strace
 *   counts 2 mmap, 2 munmap and 4 mprotect a migration). The peer is measured at its fastest, so that the
 *   ratio does not flatter xenpool.
 */
#include <simgrid/plugins/live_migration.h>
#include <simgrid/plugins/load.h>
#include <simgrid/s4u.hpp>
#include <simgrid/s4u/VirtualMachine.hpp>
#include <simgrid/version.h>
#include <xbt/log.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace sg4 = simgrid::s4u;

namespace {

constexpr long MIGRATIONS_MAX = 10'000'000;
/** Untimed migrations before the timed loop (first-touch allocations, the plugin's first actors). */
constexpr long WARMUP_MIGRATIONS = 10;
/** A bound on one migration's simulated time, which sizes the busy loop so that it never finishes. */
constexpr double MIGRATION_SIMULATED_S_MAX = 1000.0;
/** The mailbox the plugin's sender puts every round on (MigrationTx, src/plugins/vm/VmLiveMigration.hpp). */
const std::string MIGRATION_MAILBOX_PREFIX = "__mbox_mig_src_dst:";
const std::string LINK_NAME                = "migration";

enum class Mode { time, observe };

struct Workload {
  Mode mode;
  std::string platform;
  long migrations;
  double memory_bytes;
  double bandwidth_bytes_per_s;
  double dirty_rate_bytes_per_s;
  double working_set_bytes;
};

/** One migration as the plugin simulated it, seen through SimGrid's signals and link-load plugin. */
struct Observed {
  long rounds           = 0;
  double suspended_at_s = -1;
  double resumed_at_s   = -1;
  double total_s        = 0;
  double link_bytes     = 0;
};

double parse_number(const char* text, const char* what)
{
  char* end          = nullptr;
  const double value = std::strtod(text, &end);
  if (end == text || *end != '\0' || not std::isfinite(value) || value < 0)
    throw std::invalid_argument(std::string(what) + ": expected a non-negative number, got '" + text + "'");
  return value;
}

Workload parse_workload(int argc, char** argv)
{
  const std::string mode = argc > 1 ? argv[1] : "";
  if (argc != 8 || (mode != "time" && mode != "observe"))
    throw std::invalid_argument("usage: livemigration time|observe PLATFORM MIGRATIONS MEMORY_BYTES "
                                "BANDWIDTH_BYTES_PER_S DIRTY_RATE_BYTES_PER_S WORKING_SET_BYTES");
  const Workload w{mode == "time" ? Mode::time : Mode::observe,
                   argv[2],
                   static_cast<long>(parse_number(argv[3], "MIGRATIONS")),
                   parse_number(argv[4], "MEMORY_BYTES"),
                   parse_number(argv[5], "BANDWIDTH_BYTES_PER_S"),
                   parse_number(argv[6], "DIRTY_RATE_BYTES_PER_S"),
                   parse_number(argv[7], "WORKING_SET_BYTES")};
  if (w.migrations < 1 || w.migrations > MIGRATIONS_MAX)
    throw std::invalid_argument("MIGRATIONS: expected 1 to " + std::to_string(MIGRATIONS_MAX));
  if (w.mode == Mode::observe && w.migrations != 1)
    throw std::invalid_argument("MIGRATIONS: observe runs exactly 1");
  if (w.bandwidth_bytes_per_s <= 0 || w.memory_bytes <= 0 || w.working_set_bytes > w.memory_bytes)
    throw std::invalid_argument("expected a positive memory and bandwidth and a working set within memory");
  return w;
}

/** Counts the plugin's transfers (the rounds) and records the pause; connected in `observe` mode only. */
void listen(Observed& seen)
{
  sg4::Activity::on_completion_cb([&seen](sg4::Activity const& activity) {
    const auto* comm = dynamic_cast<sg4::Comm const*>(&activity);
    // A transfer completes on both ends; the receiver's end is the one with a destination buffer.
    if (comm != nullptr && comm->get_dst_data() == nullptr && comm->get_mailbox() != nullptr &&
        comm->get_mailbox()->get_name().rfind(MIGRATION_MAILBOX_PREFIX, 0) == 0)
      seen.rounds++;
  });
  sg4::VirtualMachine::on_suspend_cb(
      [&seen](sg4::VirtualMachine const&) { seen.suspended_at_s = sg4::Engine::get_clock(); });
  sg4::VirtualMachine::on_resume_cb(
      [&seen](sg4::VirtualMachine const&) { seen.resumed_at_s = sg4::Engine::get_clock(); });
}

/** Migrates the VM to the host it is not on; asserts the simulated-time bound the busy loop relies on. */
double migrate_once(sg4::VirtualMachine* vm, sg4::Host* h1, sg4::Host* h2)
{
  const double start_s = sg4::Engine::get_clock();
  sg_vm_migrate(vm, vm->get_pm() == h1 ? h2 : h1);
  const double took_s = sg4::Engine::get_clock() - start_s;
  xbt_assert(took_s > 0 && took_s < MIGRATION_SIMULATED_S_MAX, "a migration took %g s", took_s);
  return took_s;
}

sg4::VirtualMachine* make_vm(const Workload& w, sg4::Host* pm)
{
  auto* vm = pm->create_vm("vm", 1, static_cast<size_t>(w.memory_bytes));
  sg_vm_set_migration_speed(vm, w.bandwidth_bytes_per_s);
  sg_vm_set_dirty_page_intensity(vm, w.dirty_rate_bytes_per_s / w.bandwidth_bytes_per_s);
  sg_vm_set_working_set_memory(vm, static_cast<sg_size_t>(w.working_set_bytes));
  vm->start();
  return vm;
}

/** The `time` run: process start to platform loaded, then the loop's wall and CPU (user + system) seconds. */
struct Timed {
  double setup_s = 0;
  double loop_s  = 0;
  double cpu_s   = 0;
};

/** The driver actor: a VM with a busy loop inside, then the migrations of the mode. */
void drive(const Workload& w, Observed& seen, Timed& timed)
{
  auto* h1 = sg4::Host::by_name("h1");
  auto* h2 = sg4::Host::by_name("h2");
  // The dirty rate is the migration speed × intensity only while the VM computes at its host's full speed.
  xbt_assert(h1->get_core_count() == 1 && h2->get_core_count() == 1 && h1->get_speed() == h2->get_speed(),
             "the platform's hosts must have one core each, of the same speed");
  auto* vm = make_vm(w, h1);
  // Sized to the run, not "infinite": the plugin reads computed flops as differences of the remaining
  // amount, which must stay small enough for a double to count single flops.
  const double busy_flops =
      h1->get_speed() * MIGRATION_SIMULATED_S_MAX * static_cast<double>(w.migrations + WARMUP_MIGRATIONS + 1);
  sg4::ExecPtr busy = sg4::Exec::init()->set_flops_amount(busy_flops)->set_host(vm);
  busy->start();

  if (w.mode == Mode::observe) {
    // Tracked from inside the simulation: tracked before the run starts, 3.32 reports the link untracked.
    const sg4::Link* link = sg4::Link::by_name(LINK_NAME);
    sg_link_load_track(link);
    seen.total_s    = migrate_once(vm, h1, h2);
    seen.link_bytes = sg_link_get_cum_load(link);
  } else {
    for (long i = 0; i < WARMUP_MIGRATIONS; i++)
      migrate_once(vm, h1, h2);
    const auto loop_start        = std::chrono::steady_clock::now();
    const std::clock_t cpu_start = std::clock();
    for (long i = 0; i < w.migrations; i++)
      migrate_once(vm, h1, h2);
    timed.cpu_s  = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
    timed.loop_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - loop_start).count();
  }
  busy->cancel();
  vm->destroy();
}

std::string version()
{
  int major = 0;
  int minor = 0;
  int patch = 0;
  sg_version_get(&major, &minor, &patch);
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}

void print_timed(const Workload& w, const Timed& timed)
{
  std::printf("{\"simgrid\":\"%s\",\"migrations\":%ld,\"warmupMigrations\":%ld,\"setupS\":%.6f,\"loopS\":%.6f,"
              "\"loopCpuS\":%.6f,\"migrationsPerS\":%.1f}\n",
              version().c_str(), w.migrations, WARMUP_MIGRATIONS, timed.setup_s, timed.loop_s, timed.cpu_s,
              static_cast<double>(w.migrations) / timed.loop_s);
}

void print_observed(const Observed& seen)
{
  std::printf("{\"simgrid\":\"%s\",\"totalUs\":%.0f,\"downtimeUs\":%.0f,\"bytesSent\":%.0f,\"rounds\":%ld}\n",
              version().c_str(), seen.total_s * 1e6, (seen.resumed_at_s - seen.suspended_at_s) * 1e6,
              seen.link_bytes, seen.rounds);
}

} // namespace

int main(int argc, char** argv)
{
  const auto process_start = std::chrono::steady_clock::now();
  xbt_log_control_set("root.thres:warning");
  sg4::Engine engine(&argc, argv);
  Workload w;
  try {
    w = parse_workload(argc, argv);
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "livemigration: %s\n", e.what());
    return 2;
  }
  sg4::Engine::set_config("network/model:CM02");
  sg4::Engine::set_config("network/crosstraffic:0");
  sg4::Engine::set_config("contexts/stack-size:256");
  sg_vm_live_migration_plugin_init();
  if (w.mode == Mode::observe)
    sg_link_load_plugin_init();
  engine.load_platform(w.platform);
  const sg4::Link* link = engine.link_by_name(LINK_NAME);
  xbt_assert(link->get_bandwidth() == w.bandwidth_bytes_per_s, "the platform's link runs at %.0f B/s, not %.0f B/s",
             link->get_bandwidth(), w.bandwidth_bytes_per_s);

  Observed seen;
  Timed timed;
  if (w.mode == Mode::observe)
    listen(seen);
  timed.setup_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - process_start).count();
  sg4::Actor::create("driver", sg4::Host::by_name("h1"), [&w, &seen, &timed] { drive(w, seen, timed); });
  engine.run();
  if (w.mode == Mode::observe)
    print_observed(seen);
  else
    print_timed(w, timed);
  return 0;
}
