/** A usage or lookup error: printed as one line, exit code 2. */
export class CliError extends Error {}
