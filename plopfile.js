// plop 4 loads this file; the generators live in generators/ (see generators/index.ts).
//   npx plop component --help           (the generator's usage: plop leaves --help after its name to it)
//   npx plop component store orders
//   npx plop component task seed-orders -- --uses orders --dry-run
//   npx plop component task seed-customers -- --uses customer-server   (what main.ts provides: components.json)
export { default } from './generators/index.ts';
