/** The one handler every API benchmark serves, on our ApiServer and on each baseline stack. */
export interface Customer {
  id: string;
  name: string;
  tags: string[];
}

export const customer: Customer = { id: '1', name: 'John Doe', tags: ['new', 'newsletter'] };

export async function handler(c: Customer): Promise<Customer & { seen: boolean }> {
  return { ...c, seen: true };
}

/** The bearer token the bench servers require (every stack checks it, as ours does). */
export const TOKEN = 'bench-token-not-secret';

/** Prints the line a parent process waits for. */
export function announce(port: number): void {
  console.log(`listening on ${port}`);
}
