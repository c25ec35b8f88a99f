// plop 4 loads this file; the generators live in generators/ (see generators/index.ts).
//   npx plop component                  (asks in a terminal: kind, name, what it uses)
//   npx plop component --help           (the generator's usage: plop leaves --help after its name to it)
//   npx plop component store orders     (plop's bypass: answers by position, `_` to ask)
//   npx plop component task seed-orders -- --uses orders --dry-run   (answers by prompt name after `--`)
//   npx plop component task seed-customers -- --uses customer-server   (what main.ts provides: components.json)
export { default } from './generators/index.ts';
