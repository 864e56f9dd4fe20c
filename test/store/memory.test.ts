import { Context, Effect, Layer } from "effect"
import { EventStore } from "../../store/EventStore.js"
import { makeMemory } from "../../store/memory.js"
import { CorruptStoredEvent, eventStoreContract, type ContractLayer } from "./contract.js"

const freshMemoryStore = (): ContractLayer =>
  Layer.effectContext(
    Effect.map(makeMemory, (store) =>
      Context.make(EventStore, store).pipe(Context.add(CorruptStoredEvent, store.unsafeReplaceStoredData))
    )
  )

eventStoreContract("memory", freshMemoryStore)
