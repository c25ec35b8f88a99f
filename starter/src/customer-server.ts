/**
 * The proof of concept's customer server, in a module of its own so that main.ts and the
 * components `npx plop component` makes can both use it: main.ts creates it, hands it to the
 * example client, and gives it to createComponents() (components.json lists it under "provided").
 */
import { Store, ApiServer, type ID } from 'infra-generator';

export interface Customer {
  id: string;
  name: string;
}

export interface CustomerServer {
  postCustomer(customer: Customer): Promise<void>;
  getCustomer(id: string): Promise<Customer>;
}

export function createCustomerServer(id: ID): CustomerServer {
  // Create a store for customers (backed by postgres)
  const db = new Store(id`db`);

  // Create an Express API server
  const server = new ApiServer(id`api`);

  // Endpoint to post a customer to the database
  const postCustomer = server.defineEndpoint(
    '/api/customer',
    async (customer: Customer) => {
      await db.set(customer.id, customer);
    },
    { method: 'POST' },
  );

  // Endpoint to get a customer from the database
  const getCustomer = server.defineEndpoint(
    '/api/customer',
    async (id: string) => {
      return db.get(id);
    },
    { method: 'GET' },
  );

  return {
    postCustomer,
    getCustomer,
  };
}
