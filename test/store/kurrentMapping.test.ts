/**
 * The KurrentDB adapter's mapping, without a server or the client: connection strings, stream states,
 * revisions and positions (bigints, and numbers where bigints were declared), truncation, stream
 * names, and the one-line failures.
 */
import { assert, describe, it } from "@effect/vitest"
import { Either } from "effect"
import { ExpectedRevision } from "../../store/EventStore.js"
import {
  actualRevision,
  backwardsProblem,
  catalogueStream,
  classifyError,
  compareAndSetState,
  describeProblem,
  forwardsProblem,
  nameUuid,
  noPosition,
  ownedStream,
  ownedStreamsRegex,
  parseKurrentUrl,
  positionNumber,
  readPositionAfter,
  retentionProblem,
  revisionNumber,
  toStreamState,
  type KurrentUrl
} from "../../store/kurrentMapping.js"

const parsed = (text: string): KurrentUrl => {
  const result = parseKurrentUrl(text)
  if (Either.isLeft(result)) return assert.fail(`${text} should parse: ${result.left}`)
  return result.right
}

const refused = (text: string): string => {
  const result = parseKurrentUrl(text)
  if (Either.isRight(result)) return assert.fail(`${text} should be refused`)
  assert.notInclude(result.left, "\n")
  return result.left
}

const right = <A>(either: Either.Either<A, string>): A => {
  if (Either.isLeft(either)) return assert.fail(either.left)
  return either.right
}

const left = <A>(either: Either.Either<A, string>): string => {
  if (Either.isRight(either)) return assert.fail(`expected a refusal, got ${String(either.right)}`)
  return either.left
}

describe("KurrentDB connection strings", () => {
  it("a single node: host and port, TLS on unless tls=false, the client's 10 s deadline by default", () => {
    const url = parsed("kurrentdb://localhost:2113?tls=false")
    assert.deepStrictEqual(url, {
      connectionString: "kurrentdb://localhost:2113?tls=false",
      redacted: "kurrentdb://localhost:2113?tls=false",
      discover: false,
      hosts: ["localhost:2113"],
      hasCredentials: false,
      tls: false,
      deadlineMs: 10_000,
      deprecatedScheme: false
    })
    assert.deepStrictEqual([parsed("kurrentdb://db").hosts, parsed("kurrentdb://db").tls], [["db:2113"], true])
  })

  it("a cluster of gossip seeds, DNS discovery, options in any case, credentials", () => {
    const cluster = parsed(
      "kurrentdb://admin:changeit@n1:2113,n2:2113,n3:2113?nodePreference=leader&DefaultDeadline=2500"
    )
    assert.deepStrictEqual(cluster.hosts, ["n1:2113", "n2:2113", "n3:2113"])
    assert.deepStrictEqual([cluster.hasCredentials, cluster.deadlineMs], [true, 2500])
    assert.strictEqual(
      cluster.redacted,
      "kurrentdb://admin:***@n1:2113,n2:2113,n3:2113?nodePreference=leader&DefaultDeadline=2500"
    )
    assert.isTrue(parsed("kurrentdb+discover://cluster.example.com:2113").discover)
    assert.strictEqual(parsed("kurrentdb://db:2113/").connectionString, "kurrentdb://db:2113")
  })

  it("esdb:// is rewritten to kurrentdb:// for the client (same protocol, no deprecation warning)", () => {
    const url = parsed("esdb://a:2113,b:2113?tls=false")
    assert.strictEqual(url.connectionString, "kurrentdb://a:2113,b:2113?tls=false")
    assert.strictEqual(url.redacted, "esdb://a:2113,b:2113?tls=false")
    assert.isTrue(url.deprecatedScheme)
    assert.strictEqual(parsed("esdb+discover://dns.example").connectionString, "kurrentdb+discover://dns.example")
  })

  it("what the client would only warn about is refused, naming what is wrong", () => {
    assert.include(refused("kurrentdb://db:2113?tsl=false"), "unknown option tsl; known options: tls,")
    assert.include(refused("kurrentdb://db:2113?tls=maybe"), "tls must be true or false")
    assert.include(refused("kurrentdb://db:2113?defaultDeadline=0"), "defaultDeadline must be a positive number")
    assert.include(refused("kurrentdb://db:2113?throwOnAppendFailure=false"), "not supported")
    assert.include(refused("kurrentdb://db:99999"), "db:99999 is not HOST:PORT")
    assert.include(refused("kurrentdb://a:2113,,b:2113"), "a host is missing")
    assert.include(refused("kurrentdb://db:2113/streams"), "no path")
    assert.include(refused("postgres://db"), "kurrentdb://")
    assert.include(refused("kurrentdb://db?tls"), "tls has no value")
  })
})

describe("stream states", () => {
  it("each expectation maps to the client's streamState", () => {
    assert.strictEqual(toStreamState(ExpectedRevision.any), "any")
    assert.strictEqual(toStreamState(ExpectedRevision.noStream), "no_stream")
    assert.strictEqual(toStreamState(ExpectedRevision.streamExists), "stream_exists")
    assert.strictEqual(toStreamState(ExpectedRevision.at(41)), 41n)
    assert.strictEqual(toStreamState(ExpectedRevision.at(0)), 0n)
  })

  it("appends compare and set at the revision the adapter read", () => {
    assert.strictEqual(compareAndSetState(undefined), "no_stream")
    assert.strictEqual(compareAndSetState(0), 0n)
    assert.strictEqual(compareAndSetState(Number.MAX_SAFE_INTEGER), 9_007_199_254_740_991n)
  })

  it("a WrongExpectedVersionError's actual state, as a bigint, a number or no_stream", () => {
    assert.strictEqual(right(actualRevision("no_stream")), undefined)
    assert.strictEqual(right(actualRevision(-1n)), undefined)
    assert.strictEqual(right(actualRevision(7n)), 7)
    assert.strictEqual(right(actualRevision(7)), 7)
    assert.include(left(actualRevision("stream_exists")), "unknown stream state")
  })
})

describe("revisions and positions", () => {
  it("revisions: bigints, and numbers where bigints were declared (client issue #423), as safe integers", () => {
    assert.strictEqual(right(revisionNumber(5n)), 5)
    assert.strictEqual(right(revisionNumber(5)), 5)
    assert.strictEqual(right(revisionNumber("5")), 5)
    assert.strictEqual(right(revisionNumber(9_007_199_254_740_991n)), Number.MAX_SAFE_INTEGER)
    assert.include(left(revisionNumber(9_007_199_254_740_992n)), "beyond 2^53 - 1")
    assert.include(left(revisionNumber(-1n)), "not one")
    assert.include(left(revisionNumber(1.5)), "not one")
    assert.include(left(revisionNumber(undefined)), "not one")
  })

  it("a $all position is prepare + 1; a batch sharing a commit position still gets increasing numbers", () => {
    assert.strictEqual(right(positionNumber({ commit: 4096n, prepare: 4096n })), 4097)
    const batch = [4160n, 4224n, 4288n].map((prepare) => right(positionNumber({ commit: 4352n, prepare })))
    assert.deepStrictEqual(batch, [4161, 4225, 4289])
    assert.strictEqual(right(positionNumber({ commit: 10, prepare: 3 })), 4, "numbers where bigints were declared")
  })

  it("no position, an inconsistent one, or one beyond 2^53 is refused, not guessed", () => {
    assert.include(left(positionNumber(undefined)), "no $all position")
    assert.include(left(positionNumber({ commit: noPosition, prepare: noPosition })), "no $all position")
    assert.include(left(positionNumber({ commit: 5n, prepare: 9n })), "inconsistent")
    assert.include(left(positionNumber({ commit: 2n ** 60n, prepare: 2n ** 60n })), "beyond 2^53 - 1")
  })

  it("reading after a position starts at its exact pair when known, else at (p, p) for prepare p", () => {
    assert.strictEqual(readPositionAfter(0, undefined), "start")
    assert.deepStrictEqual(readPositionAfter(4161, { commit: 4352n, prepare: 4160n }), {
      commit: 4352n,
      prepare: 4160n
    })
    assert.deepStrictEqual(readPositionAfter(4161, undefined), { commit: 4160n, prepare: 4160n })
  })
})

describe("truncation", () => {
  it("a forwards read must start where asked and have no gaps", () => {
    assert.isUndefined(forwardsProblem("pool-a", 0, [0, 1, 2]))
    assert.isUndefined(forwardsProblem("pool-a", 5, []))
    assert.include(
      forwardsProblem("pool-a", 0, [3, 4])!,
      "pool-a is truncated: its first readable revision is 3, not 0"
    )
    assert.include(forwardsProblem("pool-a", 0, [0, 2])!, "gap after revision 0")
  })

  it("a backwards read must count down to 0 when it stops short", () => {
    assert.isUndefined(backwardsProblem("pool-a", 9, 3, [9, 8, 7]))
    assert.isUndefined(backwardsProblem("pool-a", 2, 10, [2, 1, 0]))
    assert.include(backwardsProblem("pool-a", 9, 10, [9, 8, 7])!, "first readable revision is 7")
    assert.include(backwardsProblem("pool-a", 9, 10, [9, 7])!, "gap below revision 9")
  })

  it("$maxAge, $maxCount and $tb in a stream's metadata are named", () => {
    assert.isUndefined(retentionProblem("pool-a", undefined))
    assert.isUndefined(retentionProblem("pool-a", {}))
    const problem = retentionProblem("pool-a", { maxCount: 10, truncateBefore: 3 })!
    assert.include(problem, "stream pool-a has $maxCount=10, $tb=3")
  })
})

describe("stream names", () => {
  const names = [
    ["t-pool-a", "pool-a"],
    ["t-$stats", undefined],
    ["$$t-pool-a", undefined],
    [`t-${catalogueStream}`, undefined],
    ["t-snapshots-pool-a", undefined],
    ["u-pool-a", undefined],
    ["t-", undefined]
  ] as const

  it("a store owns its prefix's event streams: not system, catalogue or snapshot streams", () => {
    for (const [stream, local] of names) assert.strictEqual(ownedStream("t-", stream), local, stream)
    assert.strictEqual(ownedStream("", "pool-a"), "pool-a")
    assert.strictEqual(ownedStream("", "$all"), undefined)
  })

  it("the server-side filter says the same (as far as a JavaScript regex reads it like .NET)", () => {
    const regex = new RegExp(ownedStreamsRegex("t-"))
    for (const [stream, local] of names.slice(0, 6)) assert.strictEqual(regex.test(stream), local !== undefined, stream)
    assert.isTrue(new RegExp(ownedStreamsRegex("a.b+")).test("a.b+pool-1"))
    assert.isFalse(new RegExp(ownedStreamsRegex("a.b+")).test("axbb-pool-1"))
  })

  it("the adapter's own event ids are UUIDs made from a name, the same every time", () => {
    assert.strictEqual(nameUuid("xenpool-stream:pool-a"), nameUuid("xenpool-stream:pool-a"))
    assert.notStrictEqual(nameUuid("xenpool-stream:pool-a"), nameUuid("xenpool-stream:pool-b"))
    assert.match(nameUuid("x"), /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
  })
})

describe("failures", () => {
  const url = parsed("kurrentdb://admin:pw@db1:2113,db2:2113?tls=false&defaultDeadline=3000")
  const tlsUrl = parsed("kurrentdb://db1:2113")
  const cases: ReadonlyArray<[unknown, KurrentUrl, string, string, boolean]> = [
    [
      new Error("14 UNAVAILABLE: No connection established. Last error: Error: connect ECONNREFUSED 10.0.0.1:2113"),
      url,
      "refused",
      "connection refused at db1:2113,db2:2113",
      true
    ],
    [new Error("getaddrinfo ENOTFOUND db1"), url, "unresolved", "cannot resolve", true],
    [
      new Error("14 UNAVAILABLE: ... ssl3_get_record:wrong version number"),
      tlsUrl,
      "plainServer",
      "add tls=false",
      false
    ],
    [new Error("14 UNAVAILABLE: ... Error: self-signed certificate."), tlsUrl, "certificate", "tlsCAFile=PATH", false],
    [
      Object.assign(new Error("16 UNAUTHENTICATED: Bad"), { code: 16 }),
      url,
      "credentials",
      "check the user name and password",
      false
    ],
    [
      Object.assign(new Error("AccessDeniedError"), { type: "access-denied" }),
      tlsUrl,
      "credentials",
      "the server needs credentials",
      false
    ],
    [
      Object.assign(new Error("deadline"), { type: "deadline-exceeded" }),
      url,
      "timeout",
      "no answer from db1:2113,db2:2113 within 3 s",
      true
    ],
    [
      Object.assign(new Error("UnavailableError"), { type: "unavailable" }),
      url,
      "unavailable",
      "remove tls=false",
      true
    ],
    [
      Object.assign(new Error("UnavailableError"), { type: "unavailable" }),
      tlsUrl,
      "unavailable",
      "add tls=false",
      true
    ],
    [
      Object.assign(new Error("WrongExpectedVersion"), { type: "wrong-expected-version" }),
      url,
      "conflict",
      "another writer",
      false
    ],
    [
      Object.assign(new Error("stream pool-a deleted"), { type: "stream-deleted" }),
      url,
      "deleted",
      "deleted permanently",
      false
    ],
    [new Error('Unexpected "x" at position 12, expected host.\nkurrentdb://…\n   ^'), url, "other", "Unexpected", false]
  ]

  it("each failure is classified and told in one line naming what to check", () => {
    for (const [error, on, kind, says, transient] of cases) {
      const problem = classifyError(error)
      assert.deepStrictEqual([problem.kind, problem.transient], [kind, transient], String(error))
      const line = describeProblem(problem, on)
      assert.include(line, says)
      assert.notInclude(line, "\n")
      assert.notInclude(line, "pw")
    }
  })
})
