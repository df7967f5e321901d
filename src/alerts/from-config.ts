import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { ConfigError, type AlertsConfig } from '../config/index.js';
import { Alerts } from './alerts.js';

/** Webhook secrets come from the environment, read once here; a missing one stops the start. */
export function alertsFromConfig(config: AlertsConfig, logger: Logger, metrics: Registry, env: NodeJS.ProcessEnv = process.env): Alerts {
  const webhooks = config.webhooks.map((hook, index) => {
    const secret = env[hook.secretEnv];
    if (secret === undefined || secret === '') throw new ConfigError(`alerts.webhooks[${index}].secretEnv: ${hook.secretEnv} is not set`);
    return { url: hook.url, secret, kinds: hook.kinds };
  });
  return new Alerts({ logger, webhooks, metrics, delivery: { attempts: config.attempts } });
}
