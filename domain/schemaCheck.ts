/**
 * A schema compiled into a plain predicate, for hot paths that check millions of values: encoding
 * events (store/codec.ts), reading trace records (simulations/trace/reader.ts) and decoding snapshots
 * (projections/snapshotCodec.ts). The schema stays the one definition: the predicate is derived from its
 * AST (the same keywords, literals and refinement filters), and it is only trusted to say yes. A yes
 * means the schema accepts the value and its encoding is the value itself; on a no, the caller hands the
 * value to the schema, which decides and reports the path and what was expected.
 *
 * Structs refuse keys they do not declare, whatever the schema's excess-property option: a schema that
 * ignores them would output a copy without them, so the value is not its own encoding.
 */
import { Option, Schema, SchemaAST as AST } from "effect"

export type Check = (value: unknown) => boolean

export interface CompileOptions {
  /** Check a transformation's encoded side (the caller then runs the conversion itself). Default: no. */
  readonly encodedSide?: boolean
  /** Only compile structs whose schema refuses excess properties, so that a no is the schema's no too. */
  readonly strictStructs?: boolean
}

const parseOptions: AST.ParseOptions = {}

const isRecordObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/**
 * Compiles keywords, literals, refinements, unions, tuples, arrays and structs (and, with `encodedSide`,
 * transformations); undefined when some node is anything else (declarations, bigint, index signatures).
 */
export const compileCheck = (ast: AST.AST, options: CompileOptions = {}): Check | undefined => {
  switch (ast._tag) {
    case "StringKeyword":
      return (value) => typeof value === "string"
    case "NumberKeyword":
      return (value) => typeof value === "number"
    case "BooleanKeyword":
      return (value) => typeof value === "boolean"
    case "UndefinedKeyword":
      return (value) => value === undefined
    case "Literal": {
      const literal = ast.literal
      return typeof literal === "bigint" ? undefined : (value) => value === literal
    }
    case "Refinement":
      return compileRefinement(ast, options)
    case "Transformation":
      return options.encodedSide === true ? compileCheck(ast.from, options) : undefined
    case "Union":
      return compileUnion(ast, options)
    case "TupleType":
      return compileTuple(ast, options)
    case "TypeLiteral":
      return compileStruct(ast, options)
    default:
      return undefined
  }
}

const compileRefinement = (ast: AST.Refinement, options: CompileOptions): Check | undefined => {
  const numeric = numericRefinement(ast)
  if (numeric !== undefined) return numeric
  // A filter judges the decoded value: nothing under it may be a conversion.
  const from = compileCheck(ast.from, { ...options, encodedSide: false })
  if (from === undefined) return undefined
  const filter = patternFilter(ast) ?? ((value: unknown) => Option.isNone(ast.filter(value, parseOptions, ast)))
  return (value) => from(value) && filter(value)
}

/** `Schema.pattern`'s own test, without the Option each filter call allocates. */
const patternFilter = (ast: AST.Refinement): Check | undefined => {
  if (Option.getOrUndefined(AST.getSchemaIdAnnotation(ast)) !== Schema.PatternSchemaId) return undefined
  const regex = (ast.annotations[Schema.PatternSchemaId] as { regex?: unknown } | undefined)?.regex
  if (!(regex instanceof RegExp)) return undefined
  return (value) => {
    regex.lastIndex = 0
    return regex.test(value as string)
  }
}

type NumberTest = (n: number) => boolean

/**
 * Effect's own number filters (int, between, >=, >, <=, <), recognised by their schema id and read from
 * the bounds they declare: one predicate for a whole chain such as `Int.pipe(between(0, n))`, instead of
 * a closure and an Option per filter. Anything else is left to the filter.
 */
const numericTest = (ast: AST.Refinement): NumberTest | undefined => {
  const bounds = (AST.getJSONSchemaAnnotation(ast).pipe(Option.getOrUndefined) ?? {}) as Record<string, unknown>
  const bound = (key: string): number | undefined => (typeof bounds[key] === "number" ? bounds[key] : undefined)
  const id = AST.getSchemaIdAnnotation(ast).pipe(Option.getOrUndefined)
  const min = bound("minimum")
  const max = bound("maximum")
  const above = bound("exclusiveMinimum")
  const below = bound("exclusiveMaximum")
  switch (id) {
    case Schema.IntSchemaId:
      return Number.isSafeInteger
    case Schema.BetweenSchemaId:
      return min === undefined || max === undefined ? undefined : (n) => n >= min && n <= max
    case Schema.GreaterThanOrEqualToSchemaId:
      return min === undefined ? undefined : (n) => n >= min
    case Schema.GreaterThanSchemaId:
      return above === undefined ? undefined : (n) => n > above
    case Schema.LessThanOrEqualToSchemaId:
      return max === undefined ? undefined : (n) => n <= max
    case Schema.LessThanSchemaId:
      return below === undefined ? undefined : (n) => n < below
    default:
      return undefined
  }
}

/** A chain of number filters over `number` as one predicate; undefined if any link is not one. */
const numericRefinement = (ast: AST.Refinement): Check | undefined => {
  const tests: NumberTest[] = []
  let node: AST.AST = ast
  // Bounded: each pass goes one refinement down a finite AST.
  while (node._tag === "Refinement") {
    const test = numericTest(node)
    if (test === undefined) return undefined
    tests.unshift(test)
    node = node.from
  }
  if (node._tag !== "NumberKeyword") return undefined
  const [a, b, c] = tests
  if (tests.length === 1) return (value) => typeof value === "number" && a!(value)
  if (tests.length === 2) return (value) => typeof value === "number" && a!(value) && b!(value)
  if (tests.length === 3) return (value) => typeof value === "number" && a!(value) && b!(value) && c!(value)
  return (value) => typeof value === "number" && tests.every((test) => test(value))
}

/** A union of literals is a set lookup; `X | null` tests null first; anything else tries each member. */
const compileUnion = (ast: AST.Union, options: CompileOptions): Check | undefined => {
  if (ast.types.every((t) => t._tag === "Literal" && typeof t.literal !== "bigint")) {
    const literals = new Set<unknown>(ast.types.map((t) => (t as AST.Literal).literal))
    return (value) => literals.has(value)
  }
  const others = ast.types.filter((t) => !(t._tag === "Literal" && t.literal === null))
  const checks = others.map((t) => compileCheck(t, options))
  if (!checks.every((check) => check !== undefined)) return undefined
  const compiled = checks as ReadonlyArray<Check>
  const any: Check = compiled.length === 1 ? compiled[0]! : (value) => compiled.some((check) => check(value))
  return others.length === ast.types.length ? any : (value) => value === null || any(value)
}

const compileTuple = (ast: AST.TupleType, options: CompileOptions): Check | undefined => {
  if (ast.elements.some((e) => e.isOptional) || ast.rest.length > 1) return undefined
  const elements = ast.elements.map((e) => compileCheck(e.type, options))
  const rest = ast.rest.length === 1 ? compileCheck(ast.rest[0]!.type, options) : undefined
  if (!elements.every((check) => check !== undefined) || (ast.rest.length === 1 && rest === undefined)) return undefined
  const fixed = elements as ReadonlyArray<Check>
  return (value) => {
    if (!Array.isArray(value)) return false
    if (rest === undefined ? value.length !== fixed.length : value.length < fixed.length) return false
    for (let i = 0; i < fixed.length; i++) if (!fixed[i]!(value[i])) return false
    for (let i = fixed.length; i < value.length; i++) if (!rest!(value[i])) return false
    return true
  }
}

interface Property {
  readonly name: string
  readonly optional: boolean
  readonly check: Check
}

/** Every declared property checked (an optional one may be absent or undefined), and no other key. */
const compileStruct = (ast: AST.TypeLiteral, options: CompileOptions): Check | undefined => {
  if (ast.indexSignatures.length > 0) return undefined
  if (options.strictStructs === true && !refusesExcess(ast)) return undefined
  const properties = ast.propertySignatures.map((p) => ({
    name: typeof p.name === "string" ? p.name : undefined,
    optional: p.isOptional,
    check: compileCheck(p.type, options)
  }))
  if (!properties.every((p) => p.name !== undefined && p.check !== undefined)) return undefined
  const checked = properties as ReadonlyArray<Property>
  const names = new Set(checked.map((p) => p.name))
  return (value) => {
    if (!isRecordObject(value)) return false
    let present = 0
    for (const p of checked) {
      const field = value[p.name]
      if (field === undefined) {
        if (!p.optional) return false
      } else {
        if (!p.check(field)) return false
        present++
      }
    }
    // Excess keys: more keys than declared ones present means one is not declared.
    if (Object.keys(value).length === present) return true
    for (const key of Object.keys(value)) if (!names.has(key)) return false
    return true
  }
}

const refusesExcess = (ast: AST.TypeLiteral): boolean =>
  Option.getOrUndefined(AST.getParseOptionsAnnotation(ast))?.onExcessProperty === "error"

/** The literal value of a struct's `field`, looking through refinements; undefined if there is none. */
export const literalField = (ast: AST.AST, field: string): string | undefined => {
  if (ast._tag === "Refinement") return literalField(ast.from, field)
  if (ast._tag !== "TypeLiteral") return undefined
  const property = ast.propertySignatures.find((p) => p.name === field)
  return property?.type._tag === "Literal" && typeof property.type.literal === "string"
    ? property.type.literal
    : undefined
}
