// Copies of committed audit batches outside the store: a rotated JSONL file,
// stdout, and a batched, retried, HMAC-signed webhook.
export type { AuditSink } from './sink.js';
export { createFileSink, type FileSinkOptions } from './file-sink.js';
export { createStdoutSink } from './stdout-sink.js';
export { createWebhookSink, type WebhookSinkOptions } from './webhook-sink.js';
export {
  postSigned,
  signatureOf,
  verifySignature,
  SIGNATURE_HEADER,
  WebhookDeliveryError,
  type SignedPostOptions,
} from './signed-post.js';
