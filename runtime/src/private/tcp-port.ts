/**
 * Whether `value` is a TCP port to listen on: an integer from 1 to 65535, or 0 where `anyPort`
 * allows it (the OS then picks a free one).
 */
export function isTcpPort(value: unknown, { anyPort = false }: { anyPort?: boolean } = {}): value is number {
  return Number.isInteger(value) && (value as number) >= (anyPort ? 0 : 1) && (value as number) <= 65535;
}
