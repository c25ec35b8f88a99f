// plop 4 loads this file; the generators live in generators/ (see generators/index.ts).
//   npx plop component store orders
//   npx plop component task seed-orders -- --uses orders --dry-run
export { default } from './generators/index.ts';
