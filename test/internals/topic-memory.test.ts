/** The Topic contract against the in-memory backend (one process). */
import { topicContract } from './topic-contract.ts';
import { TopicPlatform } from '../support/topic-platform.ts';
import { MemoryTopicBackend } from 'infra-generator/internal/components/topic/memory';

topicContract({
  name: 'memory',
  platform: () => new TopicPlatform((topic) => new MemoryTopicBackend(topic.subscriptions.map((s) => s.queue.queue))),
  otherProcess: (topic, platform) => platform.topicBackend(topic),
});
