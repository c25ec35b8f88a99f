/**
 * The proof of concept's customer server, in a module of its own so that main.ts and the
 * components `npx plop component` makes can both use it: main.ts creates it, hands it to the
 * example client, and gives it to createComponents() (components.json lists it under "provided").
 */
import { Type, type Static } from 'typebox';
import { Store, ApiServer, type ID } from 'infra-generator';

/**
 * A customer, as a schema every call is checked against: a wrong argument (from plain
 * JavaScript, curl, …) gets 400 naming what is wrong, and never reaches the handler or the
 * store. Its type is derived from it.
 */
export const Customer = Type.Object({
  id: Type.String({ minLength: 1 }),
  name: Type.String(),
});
export type Customer = Static<typeof Customer>;

export interface CustomerServer {
  postCustomer(customer: Customer): Promise<void>;
  /** The customer with that id, or undefined. */
  getCustomer(id: string): Promise<Customer | undefined>;
}

export function createCustomerServer(id: ID): CustomerServer {
  // Create a store for customers (backed by postgres)
  const db = new Store<Customer>(id`db`);

  // Create the API server (Fastify, when deployed)
  const server = new ApiServer(id`api`);

  // Endpoint to post a customer to the database
  const postCustomer = server.defineEndpoint(
    '/api/customer',
    async (customer) => {
      await db.set(customer.id, customer);
    },
    { method: 'POST', input: Customer, output: Type.Void() },
  );

  // Endpoint to get a customer from the database
  const getCustomer = server.defineEndpoint(
    '/api/customer',
    async (id) => {
      return db.get(id);
    },
    // The output schema types the answer for callers outside the app too (build/clients/).
    { method: 'GET', input: Customer.properties.id, output: Type.Union([Customer, Type.Undefined()]) },
  );

  return {
    postCustomer,
    getCustomer,
  };
}
