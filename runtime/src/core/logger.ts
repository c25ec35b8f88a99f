/**
 * Where the runtime's own lines go: the console for the command-line tools, pino for running
 * personas, a collector in tests.
 */
export interface Logger {
  info(message: string): void;
  error(message: string, err?: unknown): void;
}

export const consoleLogger: Logger = {
  info: (message) => console.log(message),
  error: (message, err) => (err === undefined ? console.error(message) : console.error(message, err)),
};
