/** xenpool's version, as `xenpool --version` prints it and `package.json` says. */
export const version = "0.1.0"
