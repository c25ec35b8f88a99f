/**
 * The source of an app of `groups` groups, each a Store, an API that writes it and a deploy task
 * that calls the API (all declaring what they use), for tests that build a fair-sized tree in a
 * child process. `extra` is appended before `runPersona()`.
 */
export function groupsAppSource(root: string, groups: number, extra = ''): string {
  return `import { rootId, Store, ApiServer, onDeploy, runPersona, BuildTimeValue } from 'infra-generator';
import { writeFileSync } from 'node:fs';
const id = rootId('${root}');
for (let i = 0; i < ${groups}; i++) {
  const group = id\`group-\${i}\`;
  const db = new Store(group\`db\`);
  const api = new ApiServer(group\`api\`, { uses: [] });
  const put = api.defineEndpoint('/item', async (v: { k: string }) => db.set(v.k, v), { method: 'PUT' });
  onDeploy(group\`seed\`, async () => put({ k: 'x' }), { uses: [put] });
}
${extra}
runPersona();
`;
}
