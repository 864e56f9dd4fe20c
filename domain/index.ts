export * from "./ids.js"
export * from "./events.js"
