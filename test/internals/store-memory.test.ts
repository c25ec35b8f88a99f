import { storeContract } from './store-contract.ts';
import { InProcessPlatform } from 'infra-generator/internal/modes/in-process/in-process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { prefixEnd } from 'infra-generator/internal/components/store/keys';

storeContract({
  name: 'memory',
  platform: () => new InProcessPlatform({ log: { info() {}, error() {} }, codeOutsidePersonas: 'allowed' }),
});

test('the end of a prefix: its last code point stepped up, past the surrogates and past U+10FFFF', () => {
  assert.is(prefixEnd(''), undefined);
  assert.is(prefixEnd('user:'), 'user;');
  assert.is(prefixEnd('é'), 'ê');
  assert.is(prefixEnd('\ud7ff'), '\ue000');
  assert.is(prefixEnd('😀'), '😁');
  assert.is(prefixEnd('a\u{10ffff}'), 'b');
  assert.is(prefixEnd('\u{10ffff}\u{10ffff}'), undefined);
});

test.run();
