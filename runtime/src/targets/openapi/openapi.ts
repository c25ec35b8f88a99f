/**
 * <build>/openapi/<api>.json: an OpenAPI 3.1 document per ApiServer (components/api/openapi.ts),
 * for callers outside the app and the tools that read OpenAPI. Versioned by the tree
 * fingerprint, so a document names the build it describes.
 */
import { join } from 'node:path';
import { openApiDocument } from '../../components/api/openapi.ts';
import type { Target } from '../target.ts';

const openApiFolder = (buildDir: string) => join(buildDir, 'openapi');

export const target: Target = {
  name: 'openapi',
  files(plan, { paths }) {
    return plan.apis.map((api) => {
      const servers = [{ url: `http://${api.service}:${api.port}`, description: "Inside the app's network (compose)" }];
      // A public API's port is published on the host (compose.ts).
      if (api.server.public) servers.push({ url: `http://localhost:${api.port}`, description: 'From the host' });
      const document = openApiDocument(api.server, { version: plan.fingerprint, servers });
      return {
        path: join(openApiFolder(paths.buildDir), `${api.server.id.value}.json`),
        text: `${JSON.stringify(document, null, 2)}\n`,
        mode: 0o644,
      };
    });
  },
  ownFolder: (paths) => ({ path: openApiFolder(paths.buildDir), suffix: '.json' }),
};
