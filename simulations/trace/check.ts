/**
 * A record schema compiled into a plain predicate, for the hot path of validating millions of lines.
 * The schema stays the one definition: the predicate is derived from its AST (the same literals,
 * refinement filters and excess-property rule), is only trusted to say yes, and on no the schema itself
 * decodes the value and reports the path and what was expected. store/codec.ts does the same for events;
 * test/traces/records.test.ts checks the predicate against the schema on valid and invalid records.
 */
import { Option, Schema, SchemaAST as AST } from "effect"

export type Check = (value: unknown) => boolean

const parseOptions: AST.ParseOptions = {}

const isRecordObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** Compiles what it can: keywords, literals, refinements, unions, tuples, arrays, structs. */
export const compileCheck = (ast: AST.AST): Check | undefined => {
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
      return compileRefinement(ast)
    case "Union":
      return compileUnion(ast)
    case "TupleType":
      return compileTuple(ast)
    case "TypeLiteral":
      return compileStruct(ast)
    default:
      return undefined
  }
}

const compileRefinement = (ast: AST.Refinement): Check | undefined => {
  const numeric = numericRefinement(ast)
  if (numeric !== undefined) return numeric
  const from = compileCheck(ast.from)
  if (from === undefined) return undefined
  return (value) => from(value) && Option.isNone(ast.filter(value, parseOptions, ast))
}

type NumberTest = (n: number) => boolean

/**
 * Effect's own number filters (int, between, >=, >, <=, <), recognised by their schema id and read from
 * the bounds they declare: one predicate for a whole chain such as `Int.pipe(between(0, n))`, instead of
 * a closure and an Option per filter on every gfn of every line. Anything else is left to the filter.
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

const compileUnion = (ast: AST.Union): Check | undefined => {
  const checks = ast.types.map(compileCheck)
  if (!checks.every((check) => check !== undefined)) return undefined
  return (value) => checks.some((check) => check(value))
}

const compileTuple = (ast: AST.TupleType): Check | undefined => {
  if (ast.elements.some((e) => e.isOptional) || ast.rest.length > 1) return undefined
  const elements = ast.elements.map((e) => compileCheck(e.type))
  const rest = ast.rest.length === 1 ? compileCheck(ast.rest[0]!.type) : undefined
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

/** A struct with `onExcessProperty: "error"`: every key must be a declared property. */
const compileStruct = (ast: AST.TypeLiteral): Check | undefined => {
  if (ast.indexSignatures.length > 0) return undefined
  const properties = ast.propertySignatures.map((p) => ({
    name: typeof p.name === "string" ? p.name : undefined,
    optional: p.isOptional,
    check: compileCheck(p.type)
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
    // Excess properties: more keys than declared ones present means one is not declared.
    if (Object.keys(value).length === present) return true
    for (const key of Object.keys(value)) if (!names.has(key)) return false
    return true
  }
}

/** The literal value of a struct's `field`, looking through refinements; undefined if there is none. */
export const literalField = (ast: AST.AST, field: string): string | undefined => {
  if (ast._tag === "Refinement") return literalField(ast.from, field)
  if (ast._tag !== "TypeLiteral") return undefined
  const property = ast.propertySignatures.find((p) => p.name === field)
  return property?.type._tag === "Literal" && typeof property.type.literal === "string"
    ? property.type.literal
    : undefined
}
