/**
 * The Topic contract against PostgreSQL through pg-boss, in a database of this run's own on the
 * tests' server (support/pg-admin.ts), dropped at the end.
 */
import { randomBytes } from 'node:crypto';
import { topicContract } from './topic-contract.ts';
import { TopicPlatform } from '../support/topic-platform.ts';
import { admin, adminUrl } from '../support/pg-admin.ts';
import { PostgresTopicBackend } from 'infra-generator/internal/components/topic/postgres';
import type { Topic } from 'infra-generator';
import type { Logger } from 'infra-generator/internal/core/logger';

const database = `topics_${randomBytes(4).toString('hex')}`;
await admin(`CREATE DATABASE ${database}`);
const url = new URL(adminUrl);
url.pathname = `/${database}`;

const quiet: Logger = { info() {}, error() {} };
const backendOf = (topic: Topic<any>) =>
  new PostgresTopicBackend(topic.id.value, url.href, {
    log: quiet,
    poolMax: 4,
    queues: topic.subscriptions.map((s) => s.queue),
  });

topicContract({
  name: 'PostgreSQL (pg-boss)',
  platform: () => new TopicPlatform(backendOf),
  otherProcess: (topic) => backendOf(topic),
  after: () => admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`),
});
