/**
 * The options a KurrentDB connection string may carry, spelled as the client spells them. None of them
 * holds a secret: the redaction (store/redact.ts) shows their values and hides any other option's.
 */

/** The options the client's connection string knows. */
export const knownOptions: ReadonlyArray<string> = [
  "tls",
  "tlsVerifyCert",
  "tlsCAFile",
  "userCertFile",
  "userKeyFile",
  "defaultDeadline",
  "connectionName",
  "nodePreference",
  "maxDiscoverAttempts",
  "discoveryInterval",
  "gossipTimeout",
  "throwOnAppendFailure",
  "keepAliveInterval",
  "keepAliveTimeout"
]

/** An option name as the client matches it: ignoring case, `-` and `_`. */
export const flatOptionName = (name: string): string => name.trim().toLowerCase().replace(/[_-]/g, "")
