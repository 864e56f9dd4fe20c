import { Context, Effect, Layer } from "effect"
import { EventStore } from "../../store/EventStore.js"
import { makeMemory } from "../../store/memory.js"
import { makeMemorySnapshots } from "../../store/memorySnapshots.js"
import { SnapshotStore } from "../../store/SnapshotStore.js"
import { branchStoreContract } from "../branches/storeContract.js"
import { CorruptStoredEvent, eventStoreContract, type ContractLayer } from "./contract.js"

const freshMemoryStore = (): ContractLayer =>
  Layer.effectContext(
    Effect.zipWith(makeMemory, makeMemorySnapshots, (store, snapshots) =>
      Context.make(EventStore, store).pipe(
        Context.add(SnapshotStore, snapshots),
        Context.add(CorruptStoredEvent, store.unsafeReplaceStoredData)
      )
    )
  )

eventStoreContract("memory", freshMemoryStore)
branchStoreContract("memory", freshMemoryStore)
