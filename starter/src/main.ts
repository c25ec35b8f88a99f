import { rootId, ID, runPersona, onDeploy } from 'infra-generator';
import { createCustomerServer, type CustomerServer } from './customer-server.ts';
import { createComponents } from './components/index.ts';

const id = rootId('my-app');

// Create the server (which will create its own database)
const server = createCustomerServer(id`customer-server`);

// Create the client, with injected reference to server
createExampleClient(id`example-client`, server);

// The components `npx plop component` made (src/components/), under my-app.components,
// with injected references to what they may use
createComponents(id`components`, { customerServer: server });

// Run the persona defined by the current file
runPersona();

function createExampleClient(id: ID, server: CustomerServer) {
  // The client will just be a docker container that runs at deployment time
  onDeploy(id, async () => {
    // Save customer to the database via the API server
    await server.postCustomer({ id: '1', name: 'John Doe' });

    // Load customer from the database via the API server
    const customer = await server.getCustomer('1');

    console.log(`Loaded customer: ${JSON.stringify(customer)}`);
  });
}
